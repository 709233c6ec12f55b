#!/usr/bin/env bash
# The deployment, run for real on one machine (issue 19). From the repository root:
#
#   bash scripts/check-runtime.sh                 release-profile images (<= 40 MB), ~15 min
#                                                 of which most is the release build
#   PROFILE=dev MAX_MB=100 SKIP_CARGO=1 bash scripts/check-runtime.sh
#                                                 what scripts/test.sh runs: images from the
#                                                 debug binaries it already built, no cargo
#
#   1. scripts/images.sh             the four images built (local base images), <= MAX_MB,
#                                    run read-only / non-root / no capabilities, health UP
#   2. deploy/tests/chart_pods.py    the chart's prod pods (hook Jobs, Deployments) run in
#                                    Docker exactly as rendered against the TLS production
#                                    shape (prod-shape, backing mode: TLS PostgreSQL verify-full,
#                                    TLS Redis Cluster); every probe 200; the web client's calls
#                                    through the rendered Ingress routes
#   3. deploy/tests/prometheus_analysis.py
#                                    Debian's prometheus scraping a local stack (debug binaries):
#                                    AnalysisTemplate passes a healthy version, fails 5xx / slow /
#                                    no data; KEDA queries answer; alert/workbook names emitted
#
# Environment: PROFILE (image | dev), TAG (default dev), MAX_MB (default 40) go to images.sh, and
# TAG to chart_pods.py; SKIP_CARGO=1 runs no cargo at all (the service binaries, prod-shape and
# the debug binaries of part 3 must already be in target/).
#
# Installs docker.io and prometheus from Debian when missing and starts dockerd when none answers
# (and stops only a dockerd it started). The TLS servers of part 2 are the system tests' own
# (PostgreSQL server binaries, redis-server: installed by scripts/test.sh). Tools for helm come
# from scripts/tools/helm.sh (.tools/). Prints each part's counts and time, and the total.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/dockerd.sh
. "$ROOT/scripts/lib/dockerd.sh"
trap docker_down EXIT
start=$(date +%s)
export TAG="${TAG:-dev}"
docker_up
HELM="$(bash scripts/tools/helm.sh)"
PY=python3
[ -x .tools/venv-deploy/bin/python ] && PY=.tools/venv-deploy/bin/python
"$PY" -c 'import yaml' 2>/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-yaml >/dev/null
command -v prometheus >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
target_dir="${CARGO_TARGET_DIR:-target}"

rc=0
part() { # part NAME CMD...: run one part, print its time
  local t0; t0=$(date +%s)
  echo "== $1"; shift
  "$@" || rc=1
  echo "   ($(( $(date +%s) - t0 )) s)"
}
part "images" env KEEP_DOCKERD=1 bash scripts/images.sh
[ "${SKIP_CARGO:-0}" = 1 ] || cargo build --locked -q -p phonebill-system-tests --bin prod-shape
part "chart pods" "$PY" deploy/tests/chart_pods.py --helm "$HELM" --tag "$TAG" \
  --prod-shape "$target_dir/debug/prod-shape"
[ "${SKIP_CARGO:-0}" = 1 ] || cargo build --locked -q -p phonebill-auth -p phonebill-bill-inquiry \
  -p phonebill-product-change -p phonebill-kos-mock --bins
part "prometheus analysis" "$PY" deploy/tests/prometheus_analysis.py --helm "$HELM" --bin "$target_dir/debug"
echo "check-runtime: $(( $(date +%s) - start )) s, rc=$rc"
exit "$rc"
