#!/usr/bin/env bash
# The whole test suite, one command (README.md): every Rust test of the workspace against the
# machine's PostgreSQL and Redis (unit, HTTP integration, both storage backends), then the
# deployment checks (Helm chart, Kubernetes schemas, checkov, hadolint) and the Terraform checks.
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

export PHONEBILL_TEST_DATABASE_URL="${PHONEBILL_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export PHONEBILL_TEST_REDIS_URL="${PHONEBILL_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

# PostgreSQL and Redis must answer; start the machine's own servers if they are installed but down.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
if ! port_open 127.0.0.1 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"; pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! port_open 127.0.0.1 6379 && command -v redis-server >/dev/null; then
  echo "starting Redis"; redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
for i in $(seq 1 30); do port_open 127.0.0.1 5432 && port_open 127.0.0.1 6379 && break; sleep 1; done
port_open 127.0.0.1 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
port_open 127.0.0.1 6379 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }

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
have_initdb() { command -v initdb || [[ -x /usr/local/bin/initdb ]] || compgen -G '/usr/lib/postgresql/*/bin/initdb'; }
have_initdb >/dev/null || missing+=(postgresql)
if ((${#missing[@]})) && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the system tests"
  sudo=""; [[ "$(id -u)" != 0 ]] && sudo="sudo"
  $sudo sh -c 'printf "#!/bin/sh\nexit 101\n" > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d'
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  $sudo rm -f /usr/sbin/policy-rc.d
fi

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

if ! $rust_only; then
  bash scripts/check-api-fuzz.sh
  bash scripts/check-deploy.sh
  bash scripts/check-terraform.sh
fi
