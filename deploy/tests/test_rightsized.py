#!/usr/bin/env python3
"""The capacity model of docs/capacity.md, recomputed, against values-rightsized.yaml.

    python3 deploy/tests/test_rightsized.py PROD.yaml RIGHTSIZED.yaml VALUES_RIGHTSIZED

PROD.yaml is `helm template -f values-prod.yaml`; RIGHTSIZED.yaml adds
`-f values-rightsized.yaml` (scripts/check-deploy.sh renders both). The model's measured
inputs are below, as docs/capacity.md lists them; the script derives from them the pods each
service needs at 1,000 and 10,000 users, the memory a pod holds at its share of the users and
the nodes the pods fill, and checks that the overlay sets exactly that, that the rendering
carries it, and that the overlay changes nothing but pod sizes and replica bounds.

Prints "ok"/"FAIL" lines and "N passed, M failed"; exits 1 on any failure.
"""
import math
import sys

import yaml

from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)

# --- measured (docs/capacity.md "Inputs"; docs/benchmarks.md, release build, services mode,
# the journey with KOS at the seed's latencies, 2-core machine) -------------------------------
USERS = {"phase1": 1_000, "phase2": 10_000}
# cores used by each service process in the journey (CPU % of one core / 100)
CORES = {
    "billInquiry": {"phase1": 0.123, "phase2": 0.352},
    "productChange": {"phase1": 0.080, "phase2": 0.341},
    "kosMock": {"phase1": 0.016, "phase2": 0.033},
}
LOGIN_CPU_S = 0.0158          # one Argon2id login (m=19 MiB, t=2), auth-service CPU
VISIT_S = 600                 # assumption: one login per user per 10-minute visit
# memory: RSS at rest plus per open client connection (bill/product, 1k and 10k journeys),
# or the lifetime peak for services whose RSS does not grow with users
RSS_BASE_MIB = {"billInquiry": 57, "productChange": 54}
KIB_PER_CONN = {"billInquiry": 12, "productChange": 16}
RSS_FLAT_MIB = {"auth": 68, "kosMock": 47}

# --- assumptions (docs/capacity.md "Assumptions") --------------------------------------------
PRODUCTION_FACTOR = 1.5       # TLS to PostgreSQL/Redis, info-level JSON logs, an Azure vCPU
HPA_TARGET = 0.70             # values-prod: targetCPUUtilizationPercentage 70
FLOOR = {"auth": 3, "billInquiry": 3, "productChange": 2, "kosMock": 2}   # availability
# Standard_D2s_v3 (2 vCPU, 8 GiB): allocatable after AKS's reservations, less the DaemonSets
# of the application pool (CNI, kube-proxy, CSI drivers, monitoring agents)
NODE_CPU, NODE_MIB = 1.9 - 0.25, (5.4 - 0.6) * 1024
ZONES = 3

FULL = {"auth": "auth-service", "billInquiry": "bill-inquiry-service",
        "productChange": "product-change-service", "kosMock": "kos-mock-service"}


def cpu(q):
    """Kubernetes CPU quantity -> cores."""
    q = str(q)
    return int(q[:-1]) / 1000 if q.endswith("m") else float(q)


def mib(q):
    """Kubernetes memory quantity (Mi/Gi) -> MiB."""
    q = str(q)
    if q.endswith("Gi"):
        return float(q[:-2]) * 1024
    if q.endswith("Mi"):
        return float(q[:-2])
    raise ValueError(f"unexpected memory quantity {q}")


def cores(key, phase):
    """Cores the service uses on the measuring machine at the phase's users."""
    if key == "auth":
        return USERS[phase] / VISIT_S * LOGIN_CPU_S
    return CORES[key][phase]


def pods(key, phase, request_cpu):
    """Pods so that the production CPU sits at the HPA target of their requests."""
    need = math.ceil(cores(key, phase) * PRODUCTION_FACTOR / (HPA_TARGET * request_cpu) - 1e-9)
    return max(FLOOR[key], need)


def rss_mib(key, users_per_pod):
    if key in RSS_FLAT_MIB:
        return RSS_FLAT_MIB[key]
    return RSS_BASE_MIB[key] + users_per_pod * KIB_PER_CONN[key] / 1024


def load(path):
    by = {}
    for d in yaml.safe_load_all(open(path)):
        if d:
            by[(d["kind"], d["metadata"]["name"])] = d
    return by


def diff(a, b, path=""):
    """Paths where two manifests differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += diff(a.get(k), b.get(k), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            out += diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [path]


ALLOWED = {
    "Deployment": (".spec.template.spec.containers[0].resources", ".spec.replicas"),
    "Rollout": (".spec.replicas",),
    "ScaledObject": (".spec.minReplicaCount", ".spec.maxReplicaCount"),
    "HorizontalPodAutoscaler": (".spec.minReplicas", ".spec.maxReplicas"),
}


def main():
    prod_path, right_path, values_path = sys.argv[1:4]
    values = yaml.safe_load(open(values_path))
    prod, right = load(prod_path), load(right_path)

    requests_p2 = {"cpu": 0.0, "mib": 0.0}
    biggest = {"cpu": 0.0, "mib": 0.0}
    at_max = {"cpu": 0.0, "mib": 0.0}
    for key, full in FULL.items():
        s = values[key]
        req, lim = s["resources"]["requests"], s["resources"]["limits"]
        a = s["autoscaling"]
        p1, p2 = pods(key, "phase1", cpu(req["cpu"])), pods(key, "phase2", cpu(req["cpu"]))
        expect(f"model: {key} phase 1 = {p1} pods = replicaCount = minReplicas",
               s["replicaCount"] == p1 and a["minReplicas"] == p1, (s["replicaCount"], a["minReplicas"]))
        expect(f"model: {key} maxReplicas = 2 x phase 2 ({p2} pods)", a["maxReplicas"] == 2 * p2, a["maxReplicas"])
        # phase 2 must stay under the HPA target with the phase-2 pods
        util = cores(key, "phase2") * PRODUCTION_FACTOR / (p2 * cpu(req["cpu"]))
        expect(f"model: {key} phase 2 CPU {util:.0%} of requests <= {HPA_TARGET:.0%}", util <= HPA_TARGET + 1e-9, util)
        # memory: the request holds about twice the RSS at the phase-2 share of users, and the
        # memory HPA target (80 %) is not reached by that RSS alone
        rss = rss_mib(key, USERS["phase2"] / p2)
        m = mib(req["memory"])
        expect(f"model: {key} memory request {m:.0f} MiB is 1.75-3 x RSS {rss:.0f} MiB at phase 2",
               1.75 * rss <= m <= 3 * rss, (m, rss))
        expect(f"model: {key} memory limit = 2 x request", mib(lim["memory"]) == 2 * m, lim)
        expect(f"model: {key} CPU limit 1000m (a request's burst runs at a full core)", cpu(lim["cpu"]) == 1.0, lim)
        expect(f"model: {key} limit fits one node ({NODE_CPU:.2f} CPU)", cpu(lim["cpu"]) <= NODE_CPU, lim)
        prod_pdb = prod.get(("PodDisruptionBudget", full))
        if prod_pdb is not None:
            ma = prod_pdb["spec"]["minAvailable"]
            expect(f"model: {key} PDB minAvailable {ma} < minReplicas {p1} (a node can drain)", ma < p1, ma)
        requests_p2["cpu"] += p2 * cpu(req["cpu"])
        requests_p2["mib"] += p2 * m
        at_max["cpu"] += a["maxReplicas"] * cpu(req["cpu"])
        at_max["mib"] += a["maxReplicas"] * m
        # blue-green (Argo Rollouts) runs a second full set of one service during a release
        if p2 * cpu(req["cpu"]) > biggest["cpu"]:
            biggest = {"cpu": p2 * cpu(req["cpu"]), "mib": p2 * m}

        # ... and the rendering carries it
        dep = right.get(("Deployment", full))
        if dep is None:
            expect(f"rendered: {full} Deployment", False, "missing")
            continue
        res = dep["spec"]["template"]["spec"]["containers"][0]["resources"]
        expect(f"rendered: {full} resources = the overlay", res == {"requests": req, "limits": lim}, res)
        so = right.get(("ScaledObject", full))
        hpa = right.get(("HorizontalPodAutoscaler", full))
        bounds = ((so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) if so else
                  (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) if hpa else None)
        expect(f"rendered: {full} autoscaling {p1}..{2 * p2}", bounds == (p1, 2 * p2), bounds)

    def nodes(need):
        return max(ZONES, math.ceil(max(need["cpu"] / NODE_CPU, need["mib"] / NODE_MIB) - 1e-9))

    release = {"cpu": requests_p2["cpu"] + biggest["cpu"], "mib": requests_p2["mib"] + biggest["mib"]}
    n2 = nodes(release)
    expect(f"model: phase 2 ({requests_p2['cpu']:.2f} CPU, + {biggest['cpu']:.2f} during a release) "
           f"fits {ZONES} D2s_v3 nodes", n2 == ZONES, n2)
    n_max = nodes(at_max)
    expect(f"model: every service at maxReplicas ({at_max['cpu']:.2f} CPU) fits the Terraform "
           f"pool's 10 nodes ({n_max} D2s_v3)", n_max <= 10, n_max)

    # The overlay is an overlay: the same manifests, differing only in pod sizes and bounds.
    expect("rendered: the same manifests with and without the overlay", set(prod) == set(right),
           sorted(set(prod) ^ set(right)))
    for ident in sorted(set(prod) & set(right)):
        changed = diff(prod[ident], right[ident])
        allowed = ALLOWED.get(ident[0], ())
        stray = [p for p in changed if not p.startswith(allowed)] if allowed else changed
        if changed or ident[0] in ALLOWED:
            expect(f"rendered: {ident[0]}/{ident[1]} changes only {', '.join(allowed) or 'nothing'}",
                   not stray, stray)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
