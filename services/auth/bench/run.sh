#!/usr/bin/env bash
# Benchmark of the auth service (docs/benchmarks.md): logins/s at the real Argon2id cost,
# /actuator/health p99 during the login storm, and token verification cost (same run).
# Needs: a release build of auth-service (CARGO_TARGET_DIR/release/auth-service) and oha.
set -euo pipefail
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/auth-service}
PORT=${PORT:-18081}
DUR=${DUR:-20s}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export PORT DATA_DIR=$WORK SEED_DEMO_USERS=true AUTH_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn
"$BIN" >"$WORK/log" 2>&1 &
PID=$!
BASE=http://127.0.0.1:$PORT
for _ in $(seq 1 100); do
  curl -fsS "$BASE/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"userId":"mvno001","password":"Phonebill1!"}' -o "$WORK/login.json" 2>/dev/null && break
  sleep 0.2
done
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["access_token"])' "$WORK/login.json")
echo "== login storm (${DUR}, 8 connections) with /actuator/health probed at 50 req/s"
oha -z "$DUR" -c 8 --no-tui -m POST -H 'content-type: application/json' \
  -d '{"userId":"mvno001","password":"Phonebill1!"}' "$BASE/api/v1/auth/login" >"$WORK/login.txt" &
L=$!
sleep 1
oha -z 15s -c 1 -q 50 --no-tui "$BASE/actuator/health" >"$WORK/health.txt"
wait $L
cat "$WORK/login.txt"; echo "-- health during storm"; cat "$WORK/health.txt"
echo "== unprotected vs token-verifying vs protected (10s each, 16 connections)"
for url in "$BASE/api/v1/auth/health" "$BASE/api/v1/auth/verify?token=$TOKEN"; do
  echo "-- ${url%%\?*}"; oha -z 10s -c 16 --no-tui "$url"
done
echo "-- /api/v1/auth/user-info (bearer)"
oha -z 10s -c 16 --no-tui -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/auth/user-info"
