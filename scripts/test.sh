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
cargo nextest run --workspace --all-features --locked --profile "$profile"

if ! $rust_only; then
  bash scripts/check-api-fuzz.sh
  bash scripts/check-deploy.sh
  bash scripts/check-terraform.sh
fi
