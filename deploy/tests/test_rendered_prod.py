#!/usr/bin/env python3
"""Deploy blockers of issue 19, checked on the rendered production manifests.

    python3 deploy/tests/test_rendered_prod.py RENDERED.yaml [REPO_ROOT]

RENDERED.yaml is `helm template phonebill deploy/helm/phonebill -n phonebill-prod -f values-prod.yaml`
(scripts/check-deploy.sh passes it). Each check below failed on the chart before issue 19:
the seed's service names and service accounts (4.4, 7.2.2), the RBAC roles (7.2.2), the
Application Gateway subnet in the NetworkPolicies, one certificate name shared with Terraform,
TRUST_X_FORWARDED_FOR, preStop + SHUTDOWN_DELAY_SECONDS within terminationGracePeriodSeconds,
kos-mock's REDIS_URL, no KOS mock route in the public Ingress, the migration hook Job, and the
parity of the env the chart sets with what each binary reads (env_parity.py).

Prints "ok"/"FAIL" lines and "N passed, M failed"; exits 1 on any failure.
"""
import glob
import os
import re
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import env_parity  # noqa: E402

SERVICES = ["auth-service", "bill-inquiry-service", "product-change-service", "kos-mock-service"]
GATEWAY_SUBNET = "10.0.4.0/24"  # seed 4.1.1 Gateway Subnet (deploy/terraform envs/prod)
KOS_PATHS = ("/api/v1/kos", "/api/kos", "/api/v1/mock-datas")

from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)


def main():
    rendered = sys.argv[1]
    root = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "..", "..")
    docs = [d for d in yaml.safe_load_all(open(rendered)) if d]
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    # the phonebill services; the collector and the query proxy are third-party images
    deps = {n: d for n, d in by.get("Deployment", {}).items()
            if d["metadata"].get("labels", {}).get("tier") == "application"}
    cms = by.get("ConfigMap", {})

    def pod_env(dep):
        """Env names -> value ("<secret>" for secretKeyRef) as the container sees it."""
        c = dep["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for ef in c.get("envFrom", []):
            cm = cms.get(ef.get("configMapRef", {}).get("name"), {})
            env.update(cm.get("data", {}))
        for e in c.get("env", []):
            env[e["name"]] = e.get("value", "<secret>" if "valueFrom" in e else "")
        return env

    # ---- seed names (4.4) and service accounts (7.2.2) ----
    expect("Deployments are named as the seed's services", sorted(deps) == sorted(SERVICES), sorted(deps))
    expect("Rollouts are named as the seed's services",
           sorted(by.get("Rollout", {})) == sorted(SERVICES), sorted(by.get("Rollout", {})))
    svcs = by.get("Service", {})
    expect("Services <name>.phonebill-prod.svc.cluster.local exist for every seed service",
           all(s in svcs for s in SERVICES), sorted(svcs))
    for name, dep in deps.items():
        sa = dep["spec"]["template"]["spec"]["serviceAccountName"]
        expect(f"{name} runs as service account {name}-sa", sa == f"{name}-sa", sa)
    sas = by.get("ServiceAccount", {})
    expect("ServiceAccount deployment-sa exists", "deployment-sa" in sas, sorted(sas))

    # ---- RBAC (7.2.2) ----
    roles = by.get("Role", {})
    expect("Roles application-reader and application-writer exist",
           {"application-reader", "application-writer"} <= set(roles), sorted(roles))
    expect("no Role grants access to Secrets",
           all("secrets" not in r.get("resources", []) for role in roles.values() for r in role.get("rules", [])))
    reader = roles.get("application-reader", {})
    expect("application-reader only reads",
           bool(reader) and all(set(r["verbs"]) <= {"get", "list", "watch"} for r in reader.get("rules", [])))
    rbs = by.get("RoleBinding", {})

    def bound(role):
        return {s["name"] for b in rbs.values() if b["roleRef"]["name"] == role for s in b.get("subjects", [])}
    expect("every service account is bound to application-reader",
           {f"{s}-sa" for s in SERVICES} <= bound("application-reader"), bound("application-reader"))
    expect("deployment-sa is bound to application-writer", "deployment-sa" in bound("application-writer"))

    # ---- NetworkPolicy admits the Application Gateway subnet ----
    for name in SERVICES:
        np = by.get("NetworkPolicy", {}).get(name, {"spec": {}})
        cidrs = {f.get("ipBlock", {}).get("cidr") for rule in np["spec"].get("ingress", []) for f in rule.get("from", [])}
        expect(f"NetworkPolicy {name} admits the gateway subnet {GATEWAY_SUBNET}", GATEWAY_SUBNET in cidrs, cidrs)

    # ---- certificate name: one value shared with Terraform ----
    tf = os.path.join(root, "deploy/terraform")
    variables = open(os.path.join(tf, "envs/prod/variables.tf")).read()
    m = re.search(r'variable "appgw_ssl_certificate_name"\s*{[^}]*?default\s*=\s*"([^"]+)"', variables, re.S)
    tf_name = m.group(1) if m else None
    appgw = open(os.path.join(tf, "modules/appgw/main.tf")).read()
    expect("terraform appgw certificate name comes from var.ssl_certificate_name (no literal)",
           re.search(r'ssl_certificate\s*=\s*var\.ssl_certificate_name', appgw) is not None)
    outputs = open(os.path.join(tf, "envs/prod/outputs.tf")).read()
    expect("terraform prod outputs appgw_ssl_certificate_name", 'output "appgw_ssl_certificate_name"' in outputs)
    for name, ing in by.get("Ingress", {}).items():
        cert = ing["metadata"].get("annotations", {}).get("appgw.ingress.kubernetes.io/appgw-ssl-certificate")
        expect(f"Ingress {name} certificate {cert!r} = terraform appgw_ssl_certificate_name {tf_name!r}",
               cert is not None and cert == tf_name)
        paths = [(p["path"], p["backend"]["service"]["name"]) for r in ing["spec"]["rules"] for p in r["http"]["paths"]]
        expect(f"Ingress {name} routes no KOS mock path from the Internet",
               not [p for p in paths if p[0].startswith(KOS_PATHS) or p[1] == "kos-mock-service"], paths)
        for path, backend in paths:
            expect(f"Ingress {name} {path} -> {backend} (a seed service)", backend in SERVICES)

    # ---- env: forwarded-for, shutdown timing, kos-mock Redis ----
    auth_env = pod_env(deps.get("auth-service", {"spec": {"template": {"spec": {"containers": [{}]}}}}))
    expect("auth-service TRUST_X_FORWARDED_FOR=true (the login limit counts clients, not the gateway)",
           auth_env.get("TRUST_X_FORWARDED_FOR") == "true", auth_env.get("TRUST_X_FORWARDED_FOR"))
    for name, dep in deps.items():
        spec = dep["spec"]["template"]["spec"]
        env = pod_env(dep)
        c = spec["containers"][0]
        pre = c.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)
        delay = int(env.get("SHUTDOWN_DELAY_SECONDS", "0"))
        grace = int(env.get("SHUTDOWN_GRACE_SECONDS", "25"))
        tgps = spec.get("terminationGracePeriodSeconds", 30)
        expect(f"{name} preStop sleep > 0 and SHUTDOWN_DELAY_SECONDS > 0 (no 502s on scale-down)",
               pre > 0 and delay > 0, f"preStop={pre} delay={delay}")
        expect(f"{name} preStop {pre} + delay {delay} + grace {grace} + 5 <= terminationGracePeriodSeconds {tgps}",
               pre + delay + grace + 5 <= tgps)
        for var in ("KOS_BASE_URL", "JWKS_URL"):
            if var in env:
                host = re.sub(r"^https?://([^:/]+).*$", r"\1", env[var])
                expect(f"{name} {var} points at a rendered Service ({host})", host in svcs, env[var])
    kos_env = pod_env(deps.get("kos-mock-service", {"spec": {"template": {"spec": {"containers": [{}]}}}}))
    expect("kos-mock-service gets REDIS_URL (revocations shared by every pod)", "REDIS_URL" in kos_env)
    # One Redis (the clustered Premium cache) behind every REDIS_URL: every service speaks the
    # cluster protocol to it, or none does (kos-mock without it refused to start on the cluster,
    # deploy/tests/chart_pods.py).
    clustered = {n: pod_env(d).get("REDIS_CLUSTER", "false") for n, d in deps.items() if "REDIS_URL" in pod_env(d)}
    expect("every service with REDIS_URL sets the same REDIS_CLUSTER (true in prod)",
           set(clustered.values()) == {"true"}, clustered)

    # ---- migrations as a pre-install/pre-upgrade hook ----
    jobs = by.get("Job", {})
    for name, dep in deps.items():
        env = pod_env(dep)
        if "DATABASE_URL" not in env:
            continue
        job = jobs.get(f"{name}-migrate")
        expect(f"{name}-migrate Job exists", job is not None)
        if job is None:
            continue
        ann = job["metadata"].get("annotations", {})
        hooks = set(ann.get("helm.sh/hook", "").split(","))
        expect(f"{name}-migrate is a pre-install and pre-upgrade hook", {"pre-install", "pre-upgrade"} <= hooks, hooks)
        jc = job["spec"]["template"]["spec"]["containers"][0]
        expect(f"{name}-migrate runs `{name} migrate` from the service's image",
               jc.get("args") == ["migrate"] and jc["image"] == dep["spec"]["template"]["spec"]["containers"][0]["image"])
        expect(f"{name}-migrate gets DATABASE_MIGRATION_URL", any(e["name"] == "DATABASE_MIGRATION_URL" for e in jc.get("env", [])))
        w = int(ann.get("helm.sh/hook-weight", "0"))
        sa = job["spec"]["template"]["spec"]["serviceAccountName"]
        sa_doc = sas.get(sa, {})
        expect(f"{name}-migrate service account {sa} is an earlier hook",
               "pre-install" in sa_doc.get("metadata", {}).get("annotations", {}).get("helm.sh/hook", "")
               and int(sa_doc["metadata"]["annotations"].get("helm.sh/hook-weight", "0")) < w)
        for v in job["spec"]["template"]["spec"].get("volumes", []):
            spc = v.get("csi", {}).get("volumeAttributes", {}).get("secretProviderClass")
            if spc:
                doc = by.get("SecretProviderClass", {}).get(spc, {})
                a = doc.get("metadata", {}).get("annotations", {})
                expect(f"{name}-migrate SecretProviderClass {spc} is an earlier hook",
                       "pre-install" in a.get("helm.sh/hook", "") and int(a.get("helm.sh/hook-weight", "0")) < w)
        expect(f"{name} does not migrate on start (DATABASE_MIGRATE_ON_START=false)",
               env.get("DATABASE_MIGRATE_ON_START") == "false")

    # ---- metrics -> autoscaling -> rollback ----
    pms = by.get("PodMonitor", {})
    expect("a PodMonitor (Azure Monitor managed Prometheus) scrapes the services", len(pms) == 1, sorted(pms))
    for pm in pms.values():
        sel = pm["spec"]["selector"]["matchLabels"]
        covered = [n for n, d in deps.items()
                   if all(d["spec"]["template"]["metadata"]["labels"].get(k) == v for k, v in sel.items())]
        expect("the PodMonitor selects every service's pods", sorted(covered) == sorted(SERVICES), covered)
        ep = pm["spec"]["podMetricsEndpoints"][0]
        expect("the PodMonitor scrapes /actuator/prometheus on the http port",
               ep.get("path") == "/actuator/prometheus" and ep.get("port") == "http")
        targets = {r.get("targetLabel"): r.get("sourceLabels") for r in ep.get("relabelings", [])}
        expect("the PodMonitor keeps the Rollouts ReplicaSet hash as rollouts_pod_template_hash",
               targets.get("rollouts_pod_template_hash") == ["__meta_kubernetes_pod_label_rollouts_pod_template_hash"])
        expect("the PodMonitor keeps namespace and pod", "namespace" in targets and "pod" in targets)
    sos = by.get("ScaledObject", {})
    seed_custom = {  # seed 3.3.2: metric -> per-pod threshold
        "auth-service": ("auth_requests_total", 50),
        "bill-inquiry-service": ("bill_inquiry_active_connections", 30),
        "product-change-service": ("product_change_queue_length", 5),
    }
    # Each service registers its own families (services/*/src/metrics.rs; common holds only the
    # mechanism and the shared HTTP/cache/KOS families).
    sources = [os.path.join(root, "crates/common/src/metrics.rs")] + sorted(
        glob.glob(os.path.join(root, "services/*/src/metrics.rs")))
    emitted = "".join(open(f, encoding="utf-8").read() for f in sources)
    for name, (metric, threshold) in seed_custom.items():
        so = sos.get(name)
        expect(f"{name} scales through a KEDA ScaledObject", so is not None)
        if so is None:
            continue
        prom = [t for t in so["spec"]["triggers"] if t["type"] == "prometheus"]
        q = prom[0]["metadata"]["query"] if prom else ""
        expect(f"{name} scales on {metric} with threshold {threshold} per pod (seed 3.3.2)",
               len(prom) == 1 and metric in q and float(prom[0]["metadata"]["threshold"]) == threshold
               and prom[0].get("metricType") == "AverageValue", prom)
        expect(f"{name}: {metric} is a metric the services register", f'"{metric}"' in emitted)
        expect(f"{name}: the KEDA query is limited to namespace phonebill-prod", 'namespace="phonebill-prod"' in q, q)
        ref = prom[0].get("authenticationRef", {}).get("name") if prom else None
        expect(f"{name}: the Prometheus trigger authenticates with Workload Identity",
               by.get("TriggerAuthentication", {}).get(ref, {}).get("spec", {}).get("podIdentity", {}).get("provider")
               == "azure-workload")
    for name in seed_custom:
        expect(f"{name}: no second HPA next to KEDA's", name not in by.get("HorizontalPodAutoscaler", {}))
    for at_name, at in by.get("AnalysisTemplate", {}).items():
        expect(f"AnalysisTemplate {at_name} takes the new ReplicaSet's hash",
               {"service-name", "new-hash"} <= {a["name"] for a in at["spec"]["args"]})
        for m in at["spec"]["metrics"]:
            q = m["provider"]["prometheus"]["query"]
            counts = q.count("rollouts_pod_template_hash=\"{{args.new-hash}}\"")
            expect(f"AnalysisTemplate {at_name} {m['name']}: every selector is limited to the new pods",
                   counts >= 2 and counts == q.count("http_server_request_duration_seconds"), q)
            expect(f"AnalysisTemplate {at_name} {m['name']}: no data fails (no vector() fallback for the request rate)",
                   "len(result) > 0" in m["successCondition"] and "vector(1)" not in q and not q.rstrip().endswith("or vector(0)"), q)
        addr = at["spec"]["metrics"][0]["provider"]["prometheus"]["address"]
        host = re.sub(r"^https?://([^.:/]+).*$", r"\1", addr)
        expect(f"AnalysisTemplate {at_name} queries a rendered Service ({host})", host in svcs, addr)
    for ro_name, ro in by.get("Rollout", {}).items():
        args = ro["spec"]["strategy"]["blueGreen"].get("postPromotionAnalysis", {}).get("args", [])
        expect(f"Rollout {ro_name} passes the Latest pod-template hash to the analysis",
               any(a["name"] == "new-hash" and a.get("valueFrom", {}).get("podTemplateHashValue") == "Latest" for a in args))
    # ---- traces ----
    for name, dep in deps.items():
        ep = pod_env(dep).get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        host = re.sub(r"^https?://([^:/]+).*$", r"\1", ep)
        expect(f"{name} exports traces to a rendered collector Service ({ep!r})", bool(ep) and host in svcs)
    col = cms.get("otel-collector", {}).get("data", {}).get("config.yaml")
    cfg = yaml.safe_load(col) if col else {}
    pipe = cfg.get("service", {}).get("pipelines", {}).get("traces", {})
    expect("the collector samples 10 % of traces (seed 8.1.1)",
           cfg.get("processors", {}).get("probabilistic_sampler", {}).get("sampling_percentage") == 10
           and "probabilistic_sampler" in pipe.get("processors", []))
    expect("the collector exports to Application Insights (azuremonitor)", pipe.get("exporters") == ["azuremonitor"])

    # ---- env parity: chart env vs what each binary reads ----
    def binary_of(container):
        return container["image"].rsplit("/", 1)[-1].split("@")[0].split(":")[0]
    for name, dep in deps.items():
        binary = binary_of(dep["spec"]["template"]["spec"]["containers"][0])
        problems = env_parity.check(root, binary, set(pod_env(dep)))
        expect(f"{name} env parity (chart sets only what the binary reads; sets what it needs)",
               not problems, "; ".join(problems))
    for name, job in jobs.items():
        binary = binary_of(job["spec"]["template"]["spec"]["containers"][0])
        names = {e["name"] for e in job["spec"]["template"]["spec"]["containers"][0].get("env", [])}
        problems = env_parity.check(root, binary, names, required=False)
        expect(f"{name} env parity", not problems, "; ".join(problems))

    return summary()


if __name__ == "__main__":
    sys.exit(main())
