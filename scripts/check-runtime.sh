#!/usr/bin/env bash
# The deployment, run for real on one machine (issue 19). From the repository root:
#
#   bash scripts/check-runtime.sh
#
#   1. scripts/images.sh             the four images built (local base images), <= 40 MB,
#                                    run read-only / non-root / no capabilities, health UP
#   2. deploy/tests/chart_pods.py    the chart's prod pods (hook Jobs, Deployments) run in
#                                    Docker exactly as rendered; every probe 200; Ingress routes
#   3. deploy/tests/prometheus_analysis.py
#                                    Debian's prometheus scraping a local stack (debug binaries):
#                                    AnalysisTemplate passes a healthy version, fails 5xx / slow /
#                                    no data; KEDA queries answer; alert/workbook names emitted
#
# Needs PostgreSQL (PHONEBILL_TEST_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/test);
# installs docker.io and prometheus from Debian when missing and starts dockerd when none answers
# (and stops only a dockerd it started). Tools for helm come from scripts/check-deploy.sh
# (.tools/). Prints each part's counts and the total time.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=scripts/lib/dockerd.sh
. "$ROOT/scripts/lib/dockerd.sh"
trap docker_down EXIT
start=$(date +%s)
docker_up
[ -x .tools/bin/helm ] || command -v helm >/dev/null || bash scripts/check-deploy.sh >/dev/null 2>&1 || true
PY=python3
[ -x .tools/venv-deploy/bin/python ] && PY=.tools/venv-deploy/bin/python
command -v prometheus >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
command -v socat >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends socat >/dev/null

rc=0
echo "== images"
KEEP_DOCKERD=1 bash scripts/images.sh || rc=1
echo "== chart pods"
"$PY" deploy/tests/chart_pods.py || rc=1
echo "== prometheus analysis"
cargo build --locked -q -p phonebill-auth -p phonebill-bill-inquiry -p phonebill-product-change -p phonebill-kos-mock --bins
"$PY" deploy/tests/prometheus_analysis.py || rc=1
echo "check-runtime: $(( $(date +%s) - start )) s, rc=$rc"
exit "$rc"
