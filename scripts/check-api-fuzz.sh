#!/usr/bin/env bash
# API fuzzing: schemathesis generates requests from every service's OpenAPI document (examples,
# coverage and fuzzing phases) and sends them to the all-in-one `phonebill` binary, authenticated
# as a demo user. A run fails on any 5xx, any response whose status, content type or body is not
# what the document says, and on any clear-text line number or token in the server's debug log.
#
#   bash scripts/check-api-fuzz.sh            (scripts/test.sh runs it after the Rust tests)
#
# Variables: API_FUZZ_EXAMPLES (examples per operation and phase, default 50), API_FUZZ_SEED
# (default 20250914, so a run can be repeated), API_FUZZ_KEEP=1 keeps the work directory
# (server log, reports). Installs schemathesis (pinned) into target/venv-schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
examples="${API_FUZZ_EXAMPLES:-50}"
seed="${API_FUZZ_SEED:-20250914}"
venv="$PWD/target/venv-schemathesis"
target_dir="${CARGO_TARGET_DIR:-target}"
start_time=$(date +%s)

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
py="$venv/bin/python"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ "${API_FUZZ_KEEP:-}" == "1" ]]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# The same build as the test run before it (scripts/test.sh), so this is no rebuild there:
# `cargo build -p phonebill` alone would resolve features differently and recompile.
if [[ -z "${API_FUZZ_BIN:-}" ]]; then
  if ! cargo test --no-run --quiet --workspace --all-features --locked >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    exit 1
  fi
fi
bin="${API_FUZZ_BIN:-$target_dir/debug/phonebill}"
[[ -x "$bin" ]] || { echo "no phonebill binary at $bin" >&2; exit 1; }

port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
# Debug level and JSON lines: the log scan below must see everything the services can write.
# The login rate limit is off so the fuzzer reaches the login logic instead of 429s.
RUST_LOG=debug LOG_FORMAT=json AUTH_RATE_LIMIT_PER_MINUTE=0 \
  "$bin" --port "$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  if "$py" -c "import urllib.request,sys; urllib.request.urlopen('$base/actuator/health/readiness', timeout=1)" 2>/dev/null; then
    break
  fi
  kill -0 "$server_pid" 2>/dev/null || { echo "phonebill exited at start:"; tail -20 "$work/server.log"; exit 1; }
  sleep 0.2
done

# login USER PASSWORD → access token
login() {
  "$py" - "$base" "$1" "$2" <<'EOF'
import json, sys, urllib.request
base, user, password = sys.argv[1:4]
req = urllib.request.Request(base + "/api/v1/auth/login", method="POST",
    data=json.dumps({"userId": user, "password": password}).encode(),
    headers={"content-type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=10))["access_token"])
EOF
}

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
failed=()
# One worker: schemathesis 4.32 hit internal errors (its own KeyError / SystemError) with two.
# fuzz LABEL SERVICE TOKEN [extra schemathesis options...]
fuzz() {
  local label=$1 name=$2 token=$3
  shift 3
  echo "== schemathesis: $label ($base/v3/api-docs/$name $*)"
  # Run from the work directory: schemathesis keeps its replay cache in ./.schemathesis.
  if ! (cd "$work" && "$venv/bin/schemathesis" run "$base/v3/api-docs/$name" --url "$base" \
      -H "Authorization: Bearer $token" \
      --checks "$checks" --phases examples,coverage,fuzzing \
      --max-examples "$examples" --seed "$seed" --workers 1 \
      --request-timeout 20 --no-color --output-truncate false \
      --suppress-health-check all "$@") >"$work/$label.txt" 2>&1; then
    failed+=("$label")
    # Every failure with its curl reproduction.
    sed -n '/^=* FAILURES =*$/,/^=* SUMMARY =*$/p' "$work/$label.txt" | head -300
  fi
  sed -n '/^=* SUMMARY =*$/,$p' "$work/$label.txt" | grep -E 'Selected|Tested|generated|Failures|❌|issues|failures' || true
}

# Customer-facing services as mvno001 (its line has bills and products). Product change runs
# after bill inquiry because it may move mvno001 to another plan.
user_token=$(login mvno001 'Phonebill1!')
fuzz bill-inquiry bill-inquiry "$user_token"
fuzz product-change product-change "$user_token"
# Auth as the admin, so the admin-only endpoints are reached too; logout (it would end the
# session every other request uses) runs alone at the end with its own token.
admin_token=$(login admin 'Admin1234!')
fuzz auth auth "$admin_token" --exclude-path /api/v1/auth/logout
fuzz auth-logout auth "$(login mvno003 'Phonebill3!')" --include-path /api/v1/auth/logout
# KOS mock last, and its admin endpoints after everything else: they script faults, latency and
# failure rates (a `500 9999` by design) for every request that follows.
fuzz kos-mock kos-mock "$user_token" --exclude-path-regex '/admin/'
fuzz kos-mock-admin kos-mock "$user_token" --include-path-regex '/admin/'

kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true
server_pid=""

# Scan every tracing line (JSON). The plain-text start-up banner is left out: it prints the
# demo users' credentials and lines on purpose (docs/api.md §8, local mode only).
grep '^{' "$work/server.log" >"$work/server.jsonl" || true
echo "== log scan ($(wc -l <"$work/server.jsonl") JSON log lines at debug level)"
if ! bash scripts/check-log-secrets.sh "$work/server.jsonl"; then
  failed+=("log-scan")
fi

echo "== api fuzz: $(( $(date +%s) - start_time ))s"
if (( ${#failed[@]} )); then
  echo "API fuzzing failed: ${failed[*]} (rerun with API_FUZZ_KEEP=1 to keep $work)" >&2
  exit 1
fi
echo "API fuzzing: no server error, no contract violation, no secret in the log"
