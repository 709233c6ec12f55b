#!/usr/bin/env bash
# Benchmark (issue 3): /actuator/health through phonebill's full middleware stack versus a bare
# axum handler returning the same body, measured one after the other in the same run with wrk on
# 127.0.0.1. Bounded: each measurement lasts DURATION seconds, then everything started is stopped.
#
#   bash scripts/bench/health-stack.sh            (DURATION=10 CONNECTIONS=64 THREADS=2 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -q -p phonebill --bin phonebill --example bare_axum
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT

RUST_LOG=warn LOG_FORMAT=json ./target/release/phonebill --port 18081 --data-dir "$tmp/data" >"$tmp/phonebill.log" 2>&1 &
pids+=($!)
PORT=18080 ./target/release/examples/bare_axum >"$tmp/bare.log" 2>&1 &
pids+=($!)
for port in 18080 18081; do
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/actuator/health" >/dev/null && break; sleep 0.1; done
done

run() { # name port
  echo "== $1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$2/actuator/health" | tee "$tmp/$1.txt"
}
run bare-axum 18080
run phonebill-stack 18081
bare=$(awk '/Requests\/sec/ {print $2}' "$tmp/bare-axum.txt")
stack=$(awk '/Requests\/sec/ {print $2}' "$tmp/phonebill-stack.txt")
echo
echo "bare axum: $bare req/s, phonebill stack: $stack req/s, ratio: $(awk -v a="$stack" -v b="$bare" 'BEGIN {printf "%.1f %%", 100*a/b}')"
