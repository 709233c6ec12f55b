#!/usr/bin/env bash
# The production shape on one machine (README, "Production shape on one machine").
#
#   bash scripts/prod-shape.sh up     build, start in the background, print the ingress URL
#   bash scripts/prod-shape.sh down   stop it (by the PID it recorded) and everything it started
#
# Needs redis-server/redis-cli, PostgreSQL server tools, haproxy, openssl (installed if missing,
# as scripts/test.sh does) and helm (scripts/tools/helm.sh). State and logs: .prod-shape/.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=".prod-shape"; pidfile="$dir/pid"; state="$dir/state"
case "${1:-}" in
  up)
    if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
      echo "already running (pid $(cat "$pidfile")):"; cat "$state"; exit 0
    fi
    mkdir -p "$dir"; rm -f "$state"
    PHONEBILL_HELM="$(bash scripts/tools/helm.sh)"; export PHONEBILL_HELM
    for tool in redis-server haproxy; do
      command -v "$tool" >/dev/null || [[ -x "/usr/sbin/$tool" ]] || { echo "missing $tool: apt-get install redis-server haproxy postgresql" >&2; exit 1; }
    done
    cargo build --workspace --bins --all-features --locked
    PHONEBILL_BIN_DIR="$PWD/target/debug" PROD_SHAPE_STATE="$state" \
      nohup target/debug/prod-shape > "$dir/prod-shape.log" 2>&1 &
    echo $! > "$pidfile"
    for _ in $(seq 1 240); do
      [[ -s "$state" ]] && { cat "$state"; echo "up: $(grep '^ingress=' "$state" | cut -d= -f2)"; exit 0; }
      kill -0 "$(cat "$pidfile")" 2>/dev/null || { echo "prod-shape failed:" >&2; tail -n 40 "$dir/prod-shape.log" >&2; rm -f "$pidfile"; exit 1; }
      sleep 1
    done
    echo "not up after 240 s; see $dir/prod-shape.log" >&2; exit 1
    ;;
  down)
    [[ -f "$pidfile" ]] || { echo "not running"; exit 0; }
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid"
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      kill -0 "$pid" 2>/dev/null && { echo "pid $pid still running after 30 s; sending SIGKILL" >&2; kill -KILL "$pid"; }
    fi
    rm -f "$pidfile" "$state"; echo "down"
    ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
