#!/usr/bin/env python3
"""The chart's analysis and autoscaling queries on a real Prometheus (issue 19).

    python3 deploy/tests/prometheus_analysis.py [--helm PATH] [--bin target/debug]

Runs a local stack from the debug binaries (auth with the demo users, product-change, and
three "versions" of bill-inquiry, each on its own kos-mock: healthy, failing, slow) and
Debian's `prometheus` scraping all of them every second. Each bill-inquiry version carries
its own `rollouts_pod_template_hash` label, as the chart's PodMonitor relabeling gives the
pods of one ReplicaSet. Then, on that Prometheus:

- the AnalysisTemplate's queries (rendered by `helm template -f values-prod.yaml`, the
  Rollout's args substituted) pass for the healthy version and fail for the version that
  answers 5xx and for the slow one (mean-latency threshold lowered for the test with
  `--set-json rollouts.analysis.maxAvgLatencySeconds=0.3`; the slow KOS answers in 0.6 s), and
  an analysis of a hash nobody has (no data) fails;
- the KEDA ScaledObjects' Prometheus queries return a value;
- every metric name and label that deploy/terraform's alert rules and the workbook query is
  in the live /actuator/prometheus output of these services (names from other exporters —
  kube-state-metrics, node exporter — and labels the scrape adds are listed below).

Traffic goes to 127.0.0.1 only, bounded in count; every process started is stopped by PID and
the temporary directory removed. Prints ok/FAIL lines and "N passed, M failed".
"""
import argparse
import collections
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy/helm/phonebill")
NS = "phonebill-prod"
# Not ours: metrics of kube-state-metrics and the node exporter (the AKS add-ons scrape them).
FOREIGN_METRICS = {"kube_pod_container_status_restarts_total", "node_cpu_seconds_total",
                   "node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes"}
# Labels the scrape adds (PodMonitor relabeling / Prometheus target labels), and `le`.
SCRAPE_LABELS = {"namespace", "pod", "instance", "job", "component", "rollouts_pod_template_hash", "le"}
PROMQL_WORDS = {"sum", "rate", "by", "without", "avg", "max", "min", "count", "histogram_quantile", "increase",
                "avg_over_time", "or", "and", "unless", "vector", "irate", "on", "ignoring", "group_left",
                "group_right", "bool", "offset", "abs", "clamp_min", "clamp_max", "len", "result"}

from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


class Procs:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="phonebill-prom.")
        self.procs = []

    def start(self, name, argv, env):
        log = open(os.path.join(self.tmp, f"{name}.log"), "w")
        full = {"PATH": os.environ.get("PATH", ""), "RUST_LOG": "warn", "LOG_FORMAT": "json", **env}
        p = subprocess.Popen(argv, env=full, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append((name, p))
        return p

    def wait_http(self, url, seconds=60):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            s, _ = http("GET", url, timeout=1)
            if s == 200:
                return True
            time.sleep(0.3)
        return False

    def close(self):
        for _, p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for _, p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def promql_names(expr):
    """(metric names, label names) a PromQL expression refers to (enough for our queries)."""
    expr = re.sub(r"\$\{[^}]*\}", "1", expr)           # terraform interpolations
    labels = set()
    for m in re.finditer(r"\{([^}]*)\}", expr):       # matchers
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", m.group(1)))
    for m in re.finditer(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
        labels |= {x.strip() for x in m.group(1).split(",") if x.strip()}
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\b(?:by|without)\s*\([^)]*\)", "", bare)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r'"[^"]*"', "", bare)
    names = {t for t in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare)
             if t not in PROMQL_WORDS and not re.fullmatch(r"[0-9e]+", t)}
    return names, labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helm", default=shutil.which("helm") or os.path.join(ROOT, ".tools/bin/helm"))
    ap.add_argument("--bin", default=os.path.join(ROOT, "target/debug"))
    args = ap.parse_args()
    t0 = time.monotonic()
    out = subprocess.run([args.helm, "template", "phonebill", CHART, "-n", NS, "-f",
                          os.path.join(CHART, "values-prod.yaml"),
                          "--set-json", "rollouts.analysis.maxAvgLatencySeconds=0.3"],
                         check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    at = next(d for d in docs if d["kind"] == "AnalysisTemplate")
    scaled = [d for d in docs if d["kind"] == "ScaledObject"]

    P = Procs()
    try:
        ports = {}

        def svc(name, binary, env):
            ports[name] = free_port()
            data = os.path.join(P.tmp, name)
            os.makedirs(data)
            P.start(name, [os.path.join(args.bin, binary)],
                    {"PORT": str(ports[name]), "BIND_ADDRESS": "127.0.0.1", "DATA_DIR": data, **env})
            return f"http://127.0.0.1:{ports[name]}"

        auth = svc("auth", "auth-service", {"SEED_DEMO_USERS": "true", "ARGON2_MEMORY_KIB": "1024"})
        jwks = f"{auth}/api/v1/auth/.well-known/jwks.json"
        kos_key = os.urandom(8).hex()
        kos = {}
        for v in ("v1", "v2", "v3"):
            kos[v] = svc(f"kos-{v}", "kos-mock-service", {
                "KOS_STORE": "memory", "KOS_FAULTS_ENABLED": "true", "KOS_API_KEY": kos_key,
                "KOS_SIMULATION": "off", "JWKS_URL": jwks})
        common = {"JWKS_URL": jwks, "KOS_API_KEY": kos_key, "CACHE_L1_TTL_SECONDS": "1",
                  "BREAKER_FAILURE_THRESHOLD": "1000"}
        bills = {v: svc(f"bill-{v}", "bill-inquiry-service",
                        {**common, "KOS_BASE_URL": kos[v], "KOS_SERVICE_NAME": "bill-inquiry-service"})
                 for v in ("v1", "v2", "v3")}
        product = svc("product", "product-change-service",
                      {**common, "KOS_BASE_URL": kos["v1"], "KOS_SERVICE_NAME": "product-change-service"})
        for name, base in [("auth", auth), *[(f"kos-{v}", u) for v, u in kos.items()],
                           *[(f"bill-{v}", u) for v, u in bills.items()], ("product", product)]:
            expect(f"{name} is up", P.wait_http(f"{base}/actuator/health"))

        # Prometheus scraping every service each second; the bill versions as three ReplicaSets.
        prom_port = free_port()
        targets = [{"targets": [f"127.0.0.1:{ports['auth']}", f"127.0.0.1:{ports['product']}",
                                f"127.0.0.1:{ports['kos-v1']}"], "labels": {"namespace": NS}}]
        for v in ("v1", "v2", "v3"):
            targets.append({"targets": [f"127.0.0.1:{ports[f'bill-{v}']}"],
                            "labels": {"namespace": NS, "rollouts_pod_template_hash": f"hash-{v}"}})
        cfg = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
               "scrape_configs": [{"job_name": "phonebill", "metrics_path": "/actuator/prometheus",
                                   "static_configs": targets}]}
        with open(os.path.join(P.tmp, "prometheus.yml"), "w") as f:
            yaml.safe_dump(cfg, f)
        P.start("prometheus", ["prometheus", f"--config.file={P.tmp}/prometheus.yml",
                               f"--storage.tsdb.path={P.tmp}/tsdb", f"--web.listen-address=127.0.0.1:{prom_port}"], {})
        prom = f"http://127.0.0.1:{prom_port}"
        expect("prometheus is up", P.wait_http(f"{prom}/-/ready"))

        def query(q):
            s, body = http("GET", f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": q}))
            if s != 200:
                return None, body
            return [float(r["value"][1]) for r in json.loads(body)["data"]["result"]], body

        # Faults: v2's KOS fails every call, v3's answers slowly.
        s, _ = http("PUT", f"{kos['v2']}/api/v1/kos/admin/faults",
                    {"endpoint": "bill-inquiry", "mode": "error", "count": 100000})
        expect("kos-v2 fault (error) set", s is not None and s < 300, s)
        s, _ = http("PUT", f"{kos['v3']}/api/v1/kos/admin/faults",
                    {"endpoint": "bill-inquiry", "mode": "slow", "count": 100000, "delayMs": 600})
        expect("kos-v3 fault (slow 600 ms) set", s is not None and s < 300, s)

        # Traffic: bounded, 127.0.0.1 only.
        s, body = http("POST", f"{auth}/api/v1/auth/login", {"userId": "mvno001", "password": "Phonebill1!"})
        expect("demo user logs in", s == 200, body[:200])
        token = json.loads(body)["access_token"] if s == 200 else ""
        statuses = {v: [] for v in bills}
        # Five past months in turn, so (with a 1 s L1 TTL) every inquiry reaches KOS.
        today = time.gmtime()
        months = [f"{(today.tm_year * 12 + today.tm_mon - 1 - b) // 12}{(today.tm_mon - 1 - b) % 12 + 1:02d}"
                  for b in range(1, 6)]
        end = time.monotonic() + 25
        n = 0
        while time.monotonic() < end and n < 400:
            for v, base in bills.items():
                st, _ = http("POST", f"{base}/api/v1/bills/inquiry",
                             {"lineNumber": "010-1234-5678", "inquiryMonth": months[n % 5]},
                             token=token, timeout=10)
                statuses[v].append(st)
            http("GET", f"{auth}/api/v1/auth/.well-known/jwks.json")
            http("GET", f"{product}/api/v1/products/menu", token=token)
            n += 1
        seen = {v: dict(collections.Counter(st)) for v, st in statuses.items()}
        print(f"  --    {n} rounds; statuses per version: {seen}")
        expect("v1 answers 2xx", statuses["v1"] and all(s and s < 300 for s in statuses["v1"]), seen["v1"])
        expect("v2 answers 5xx", statuses["v2"] and all(s and s >= 500 for s in statuses["v2"]), seen["v2"])
        time.sleep(3)

        def analysis(new_hash):
            results = {}
            for m in at["spec"]["metrics"]:
                q = m["provider"]["prometheus"]["query"].replace("{{args.service-name}}", "bill-inquiry") \
                    .replace("{{args.new-hash}}", new_hash)
                vals, raw = query(q)
                cond = m["successCondition"]
                limit = float(re.search(r"<=\s*([0-9.]+)", cond).group(1))
                # successCondition: len(result) > 0 && result[0] <= limit (checked verbatim below)
                ok = vals is not None and len(vals) > 0 and vals[0] <= limit
                results[m["name"]] = (ok, vals)
            return results

        expect("the analysis conditions are `len(result) > 0 && result[0] <= X`",
               all(re.fullmatch(r"len\(result\) > 0 && result\[0\] <= [0-9.]+", m["successCondition"])
                   for m in at["spec"]["metrics"]))
        r1, r2, r3, r0 = analysis("hash-v1"), analysis("hash-v2"), analysis("hash-v3"), analysis("hash-none")
        expect("healthy version: error-rate and mean-latency pass", all(ok for ok, _ in r1.values()), r1)
        expect("5xx version: error-rate fails", not r2["error-rate"][0], r2)
        expect("slow version: mean-latency fails", not r3["mean-latency"][0], r3)
        expect("slow version: error-rate passes (it is slow, not failing)", r3["error-rate"][0], r3)
        expect("no data (unknown ReplicaSet): the analysis fails", not any(ok for ok, _ in r0.values()), r0)

        # KEDA queries (namespace label from the scrape, as the PodMonitor sets it).
        for so in scaled:
            for t in so["spec"]["triggers"]:
                if t["type"] != "prometheus":
                    continue
                vals, raw = query(t["metadata"]["query"])
                expect(f"KEDA query of {so['metadata']['name']} returns a value on Prometheus",
                       vals is not None and len(vals) == 1, raw[:200])
        vals, _ = query([t for so in scaled if so["metadata"]["name"] == "auth-service"
                         for t in so["spec"]["triggers"] if t["type"] == "prometheus"][0]["metadata"]["query"])
        expect("auth requests per second is above 0 under the traffic", bool(vals) and vals[0] > 0, vals)

        # Alert rules and workbook: every metric name and label is one the services emit.
        live = ""
        for base in (auth, product, kos["v1"], bills["v1"], bills["v2"]):
            live += http("GET", f"{base}/actuator/prometheus")[1] + "\n"
        emitted = {}
        for line in live.splitlines():
            m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})?\s", line)
            if m and not line.startswith("#"):
                emitted.setdefault(m.group(1), set()).update(re.findall(r'([a-zA-Z_]+)="', m.group(2) or ""))
        alerts = open(os.path.join(ROOT, "deploy/terraform/modules/alerts/main.tf")).read()
        exprs = re.findall(r"expression\s*=\s*<<-EOT\n(.*?)\n\s*EOT", alerts, re.S)
        wb = json.load(open(os.path.join(ROOT, "deploy/terraform/modules/alerts/workbook.json")))

        def walk(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    if k == "query" and isinstance(v, str) and "queryText" in v:
                        exprs.append(json.loads(v)["queryText"].replace("{Service}", "x"))
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(wb)
        expect(f"alert rules and workbook: {len(exprs)} PromQL expressions found", len(exprs) >= 10)
        for e in exprs:
            names, labels = promql_names(e)
            ours = names - FOREIGN_METRICS
            missing = sorted(n for n in ours if n not in emitted)
            label_sets = set().union(*(emitted.get(n, set()) for n in ours)) if ours else set()
            bad = sorted(lbl for lbl in labels - SCRAPE_LABELS if ours and lbl not in label_sets)
            expect(f"query {' '.join(e.split())[:90]}: names {sorted(ours) or '(foreign only)'} emitted, labels present",
                   not missing and not bad, f"missing metrics {missing}, missing labels {bad}")
    finally:
        P.close()
    print(f"  --    prometheus analysis: {time.monotonic() - t0:.0f} s")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
