#!/usr/bin/env bash
# The whole test suite, one command (README.md): every Rust test of the workspace against the
# machine's PostgreSQL and Redis, or private ones it starts when none answer (unit, HTTP
# integration, both storage backends), then the
# deployment checks (Helm chart, Kubernetes schemas, checkov, hadolint), the Terraform checks and
# the runtime check (images from the debug binaries, the chart's pods in Docker against the TLS
# production shape, Prometheus analysis: scripts/check-runtime.sh).
#
#   bash scripts/test.sh              everything
#   bash scripts/test.sh --rust-only  only the Rust tests (GitHub's rust job; infra has its own job)
#
# Reads PHONEBILL_TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and
# PHONEBILL_TEST_REDIS_URL (default redis://127.0.0.1:6379). Each test creates its own database
# and Redis key prefix, so tests run in parallel.
set -euo pipefail
cd "$(dirname "$0")/.."

rust_only=false
[[ "${1:-}" == "--rust-only" ]] && rust_only=true

# The repository explains itself (issue 21): no tracked file may point at documents a clone does
# not have (the workspace's ../shared, its SPEC and DESIGN files). docs/api.md §9 may name them
# as history; everything from its "## 9." heading on is exempt.
outside=$(git grep -n -I -E '\.\./shared|(SPEC|DESIGN)[.]md' -- . ':!docs/api.md' ':!scripts/test.sh' || true)
api_md=$(awk '/^## 9[.]/{exit} /\.\.\/shared|(SPEC|DESIGN)[.]md/{print "docs/api.md:" NR ":" $0}' docs/api.md)
if [[ -n "$outside$api_md" ]]; then
  echo "links to files outside the repository (use docs/api.md or docs/architecture.md):" >&2
  printf '%s\n' "$outside" "$api_md" | sed '/^$/d' >&2
  exit 1
fi

export PHONEBILL_TEST_DATABASE_URL="${PHONEBILL_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export PHONEBILL_TEST_REDIS_URL="${PHONEBILL_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

# PostgreSQL and Redis must answer. When nothing answers on the addresses the test URLs name
# (a fresh machine), private servers are started for this run in a temp dir, on free ports, and
# stopped at the end (by PID / pg_ctl), as the system tests do; the machine's own services are
# never started, stopped or reconfigured.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
host_port() { # URL -> "host port" (defaults: 127.0.0.1, given port)
  local rest="${1#*://}"; rest="${rest#*@}"; rest="${rest%%/*}"; rest="${rest%%\?*}"
  local host="${rest%:*}" port="${rest##*:}"
  [[ "$rest" == *:* ]] || port="$2"
  echo "${host:-127.0.0.1} $port"
}
sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo"
apt_install() { # packages... (without starting their services: policy-rc.d exit 101)
  command -v apt-get >/dev/null || { echo "cannot install $* (no apt-get)" >&2; return 1; }
  echo "installing $*"
  $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "$@"
  $sudo rm -f /usr/sbin/policy-rc.d
}
pg_bin() { # the newest server tool: PATH, /usr/local/bin or Debian's /usr/lib/postgresql/*/bin
  command -v "$1" 2>/dev/null && return
  [[ -x "/usr/local/bin/$1" ]] && { echo "/usr/local/bin/$1"; return; }
  ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PRIVATE_DIR=""; PRIVATE_REDIS_PID=""; PRIVATE_PG_DATA=""
as_pg() { if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_private() {
  [[ -n "$PRIVATE_REDIS_PID" ]] && kill "$PRIVATE_REDIS_PID" 2>/dev/null || true
  [[ -n "$PRIVATE_PG_DATA" ]] && as_pg "$(pg_bin pg_ctl)" stop -D "$PRIVATE_PG_DATA" -m fast -w >/dev/null 2>&1 || true
  [[ -n "$PRIVATE_DIR" ]] && rm -rf "$PRIVATE_DIR"
  # An EXIT trap's last status becomes the script's under `set -e`: a run that started no
  # private server must still exit 0.
  return 0
}
trap stop_private EXIT
private_dir() {
  [[ -n "$PRIVATE_DIR" ]] || { PRIVATE_DIR=$(mktemp -d /tmp/phonebill-test-servers.XXXXXX); chmod 755 "$PRIVATE_DIR"; }
}

read -r pg_host pg_port < <(host_port "$PHONEBILL_TEST_DATABASE_URL" 5432)
if ! port_open "$pg_host" "$pg_port"; then
  [[ -n "$(pg_bin initdb)" ]] || apt_install postgresql
  private_dir; port=$(free_port); PRIVATE_PG_DATA="$PRIVATE_DIR/pg"
  [[ "$(id -u)" == 0 ]] && chown postgres: "$PRIVATE_DIR"
  echo "no PostgreSQL on $pg_host:$pg_port: starting a private one on 127.0.0.1:$port"
  as_pg "$(pg_bin initdb)" -D "$PRIVATE_PG_DATA" -A trust -U postgres -E UTF8 --no-sync >/dev/null
  as_pg "$(pg_bin pg_ctl)" start -w -t 60 -D "$PRIVATE_PG_DATA" -l "$PRIVATE_DIR/pg.log" \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $PRIVATE_DIR -c max_connections=300" >/dev/null
  as_pg "$(pg_bin psql)" -h 127.0.0.1 -p "$port" -U postgres -qc 'CREATE DATABASE test' postgres
  export PHONEBILL_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test"
fi
read -r redis_host redis_port < <(host_port "$PHONEBILL_TEST_REDIS_URL" 6379)
if ! port_open "$redis_host" "$redis_port"; then
  command -v redis-server >/dev/null || apt_install redis-server
  private_dir; port=$(free_port)
  echo "no Redis on $redis_host:$redis_port: starting a private one on 127.0.0.1:$port"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$PRIVATE_DIR" \
    --logfile "$PRIVATE_DIR/redis.log" >/dev/null 2>&1 &
  PRIVATE_REDIS_PID=$!
  for _ in $(seq 1 50); do port_open 127.0.0.1 "$port" && break; sleep 0.2; done
  export PHONEBILL_TEST_REDIS_URL="redis://127.0.0.1:$port"
fi
read -r pg_host pg_port < <(host_port "$PHONEBILL_TEST_DATABASE_URL" 5432)
read -r redis_host redis_port < <(host_port "$PHONEBILL_TEST_REDIS_URL" 6379)
port_open "$pg_host" "$pg_port" || { echo "PostgreSQL is not reachable on $pg_host:$pg_port" >&2; exit 1; }
port_open "$redis_host" "$redis_port" || { echo "Redis is not reachable on $redis_host:$redis_port" >&2; exit 1; }

if ! cargo nextest --version >/dev/null 2>&1; then
  echo "installing cargo-nextest"; cargo install cargo-nextest --locked
fi

profile=default
[[ "${CI:-}" == "true" ]] && profile=ci
# The system tests (crates/system-tests) start a private redis-server and PostgreSQL cluster and
# kill them; install the server packages if missing (without starting their own services: the
# machine's servers already use 5432/6379; policy-rc.d exit 101 = "do not start").
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
# The production-shape tests put HAProxy in front of the replicas (the ingress) and read its
# routes from the chart (helm template).
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || missing+=(haproxy)
[[ -n "$(pg_bin initdb)" ]] || missing+=(postgresql)
((${#missing[@]})) && apt_install "${missing[@]}"

PHONEBILL_HELM="$(bash scripts/tools/helm.sh)"
export PHONEBILL_HELM

# They also start the service binaries as processes; build them in the same profile as the
# tests so they are next to the test executables.
cargo build --workspace --bins --all-features --locked
cargo nextest run --workspace --all-features --locked --profile "$profile"

# Load-harness smoke run (issue 11): a few seconds at low load against the all-in-one, failing
# unless every request succeeded and the JSON result is valid. It uses the debug binaries the
# test build above already produced (`phonebill`, and `loadtest` via its integration test), so
# it adds no build; full runs are manual, in release mode (docs/benchmarks.md, "Load harness").
target_dir="${CARGO_TARGET_DIR:-target}"
"$target_dir/debug/loadtest" --bin-dir "$target_dir/debug" --out-dir "$target_dir/loadtest-smoke" smoke
# The same journey through the production shape (issue 18: two replicas of every service behind
# HAProxy with the chart's Ingress routes, on the machine's PostgreSQL and Redis): ~15 s; fails
# unless every request succeeded and HAProxy counted at least the requests the harness recorded.
"$target_dir/debug/loadtest" --target production --bin-dir "$target_dir/debug" \
  --out-dir "$target_dir/loadtest-smoke" smoke

if ! $rust_only; then
  bash scripts/check-api-fuzz.sh
  bash scripts/check-deploy.sh
  bash scripts/check-terraform.sh
  # Issue 19, the deployment run for real (scripts/check-runtime.sh): the four images built from
  # the debug binaries built above and run as the chart renders them (hook Jobs, Deployments,
  # probes, the web client's calls through the Ingress routes) against the TLS production shape
  # (prod-shape, also built above), then Debian's prometheus evaluating the AnalysisTemplate's and
  # KEDA's queries on the same binaries. SKIP_CARGO=1: no second build (the release profile
  # alone would take longer than the rest of this script). MAX_MB=100: a debug binary carries
  # line tables and unoptimised code (~55 MB an image here); the 40 MB bound is the release
  # images' (`bash scripts/check-runtime.sh` with its defaults, docs/deployment.md). Installs
  # docker.io (and starts dockerd) when missing.
  PROFILE=dev TAG=test MAX_MB=100 SKIP_CARGO=1 bash scripts/check-runtime.sh
fi
