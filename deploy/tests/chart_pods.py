#!/usr/bin/env python3
"""The chart's own pods, run in Docker exactly as rendered, against the TLS production shape
(issue 19).

    python3 deploy/tests/chart_pods.py [--helm PATH] [--tag dev] [--prod-shape PATH]

Renders `helm template -f values-prod.yaml`, overriding only host names, secrets (mode
"secret": plain Secrets instead of Key Vault), image references (phonebill/<binary>:<tag> from
scripts/images.sh) and the private CA Secret (privateCa.secretName: the test's servers are
signed by a test CA, production's by Azure's public ones), then for every hook Job and every
service Deployment runs its container in Docker with exactly the rendered command/args, env
(ConfigMap + Secret refs), user and group (runAsUser/runAsGroup, fsGroup), read-only root file
system, dropped capabilities and no-new-privileges, volumes (emptyDir -> tmpfs with its
sizeLimit, Secret -> read-only files), CPU and memory limits and ports. Containers share one
Docker network where each answers to its Service's name (auth-service, kos-mock-service, ...),
as in the cluster.

Backing services: the production shape of crates/system-tests, started by its `prod-shape`
binary in backing mode (PROD_SHAPE_MODE=backing) on the Docker network's gateway address: a
PostgreSQL that accepts only TLS (the Secrets' URLs say sslmode=verify-full with sslrootcert at
the chart's mount of the private CA) with a streaming replica, and a TLS-only Redis Cluster of 3
masters + 3 replicas with an access key (rediss://, REDIS_CLUSTER=true from values-prod,
REDIS_CA_CERT rendered by the chart), whose nodes announce the gateway so cluster redirects reach
them from a container. The migration hook Jobs run first, as rendered. The demo accounts
(values-prod seeds none: the carrier provisions accounts) are provisioned once by the auth
image itself (SEED_DEMO_USERS=true in a one-off container, the only env not from the chart),
removed before the chart's auth pod starts.

Then every startup, liveness and readiness probe must answer 200 at its rendered path and
port, and the web client's calls, routed by the rendered Ingress rules to the containers, must
work: login with the web client's Origin (CORS preflight and answer), bill menu and inquiry,
product menu / customer / available / pre-check / change / status, both histories, logout
(the token refused afterwards), a stranger (no token) 401 and another customer's line 403.

Everything started is stopped by its id (containers, network, processes by PID; prod-shape
stops its servers on SIGTERM). Prints ok/FAIL lines and "N passed, M failed"; exits 1 on a
failure.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy/helm/phonebill")
NS = "phonebill-prod"
DOCKER = shutil.which("docker", path="/usr/bin") or shutil.which("docker") or "docker"
# The Secret with the private CA's ca.crt (values privateCa.secretName), as an operator creates it.
CA_SECRET = "phonebill-private-ca"
ORIGIN = "http://localhost:3000"

from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)


def run(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_status(url, method="GET", timeout=2.0):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None


def mem_bytes(q):
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|K|M|G)?", str(q))
    mult = {None: 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "K": 1000, "M": 1000**2, "G": 1000**3}
    return int(float(m.group(1)) * mult[m.group(2)])


def cpus(q):
    q = str(q)
    return float(q[:-1]) / 1000 if q.endswith("m") else float(q)


class Stack:
    """Everything this test starts, so all of it is stopped."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="phonebill-chart-pods.")
        os.chmod(self.tmp, 0o755)
        self.suffix = str(os.getpid())
        self.network = f"phonebill-chart-pods-{self.suffix}"
        self.containers = []
        self.procs = []

    def close(self):
        for c in self.containers:
            run(DOCKER, "rm", "-f", c, check=False)
        run(DOCKER, "network", "rm", self.network, check=False)
        for p in self.procs:
            # prod-shape stops its PostgreSQL and Redis nodes on SIGTERM; give it the time.
            p.terminate()
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        shutil.rmtree(self.tmp, ignore_errors=True)


def backing_services(stack, gateway, services, prod_shape, ca_mount):
    """Where PostgreSQL and Redis are for the pods, and the Secret values that point there.

    `prod-shape` (crates/system-tests) in backing mode: TLS-only PostgreSQL (+ replica) and a
    TLS-only Redis Cluster, listening on, certified for and announcing `gateway`. One database
    per service on it; the URLs name the CA at `ca_mount` (where the chart mounts it).
    """
    state = os.path.join(stack.tmp, "prod-shape.state")
    log = open(os.path.join(stack.tmp, "prod-shape.log"), "w")
    env = dict(os.environ, PROD_SHAPE_MODE="backing", PROD_SHAPE_ADDR=gateway, PROD_SHAPE_STATE=state)
    proc = subprocess.Popen([prod_shape], env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.procs.append(proc)
    end = time.monotonic() + 180
    while not os.path.exists(state):
        if proc.poll() is not None or time.monotonic() > end:
            log.flush()
            tail = open(log.name).read()[-1500:]
            raise SystemExit(f"prod-shape (backing) did not come up (exit {proc.poll()}):\n{tail}")
        time.sleep(0.2)
    time.sleep(0.1)  # written in one call; let it land
    st = dict(line.split("=", 1) for line in open(state).read().splitlines() if "=" in line)
    host, port = st["pg_host"], st["pg_port"]
    urls, migrate_urls, host_urls = {}, {}, {}
    tls = f"sslmode=verify-full&sslrootcert={ca_mount}/ca.crt"
    for svc in services:
        # As docs/deployment.md "Database roles and migrations" says an operator does: a database
        # per service, deploy/sql/roles.sql for its owner (migrate Job) and app (pods, no DDL) roles.
        db = f"chart_pods_{svc.replace('-', '_')}"
        run("psql", st["pg_admin_url"], "-qc", f'CREATE DATABASE "{db}"')
        admin_db = st["pg_admin_url"].replace("/postgres?", f"/{db}?")
        owner, app, owner_pw, app_pw = f"{db}_owner", f"{db}_app", os.urandom(12).hex(), os.urandom(12).hex()
        run("psql", admin_db, "-q", "-v", f"owner={owner}", "-v", f"app={app}", "-v", f"owner_password={owner_pw}",
            "-v", f"app_password={app_pw}", "-f", os.path.join(ROOT, "deploy/sql/roles.sql"))
        urls[svc] = f"postgres://{app}:{app_pw}@{host}:{port}/{db}?{tls}"
        migrate_urls[svc] = f"postgres://{owner}:{owner_pw}@{host}:{port}/{db}?{tls}"
        host_urls[svc] = admin_db.replace("postgres://postgres@", f"postgres://{app}:{app_pw}@")
    ca_dir = os.path.join(stack.tmp, "private-ca")
    os.makedirs(ca_dir)
    shutil.copy(st["ca_cert"], os.path.join(ca_dir, "ca.crt"))
    return {"database": urls, "migration": migrate_urls, "app_on_host": host_urls, "redis": st["redis_url"],
            "files": {CA_SECRET: ca_dir}, "state": st}


def render(helm, tag):
    out = run(helm, "template", "phonebill", CHART, "--namespace", NS,
              "-f", os.path.join(CHART, "values-prod.yaml"),
              # image references
              "--set", "image.registry=", "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never",
              # secrets: plain Secrets instead of Key Vault
              "--set", "secrets.mode=secret",
              # host names
              "--set", "ingress.host=localhost",
              "--set", f"commonEnv.CORS_ALLOWED_ORIGINS={ORIGIN}",
              # the private CA the test's TLS servers are signed by
              "--set", f"privateCa.secretName={CA_SECRET}").stdout
    return [d for d in yaml.safe_load_all(out) if d]


def month_back(n):
    """YYYYMM, n months before this one in KST (the services' billing clock)."""
    d = (datetime.now(timezone.utc) + timedelta(hours=9)).replace(day=1)
    y, m = d.year, d.month - n
    while m < 1:
        y, m = y - 1, m + 12
    return f"{y:04d}{m:02d}"


def data(doc):
    """The `data` of the services' envelope ({} when absent)."""
    return doc.get("data") or {} if isinstance(doc, dict) else {}


def web_client(via_ingress):
    """The web client's calls through the ingress (crates/system-tests/tests/production_shape.rs,
    "The web client's calls"), plus the product change the web client offers, a stranger and
    another customer's line. values-prod runs the KOS mock with its realistic simulation
    (latency and a small failure rate, docs/api.md §5.7), so a call that KOS answered with a
    documented 5xx is retried (at most 3 times, counted in the output), and a slow KOS may answer
    202 with a request id to poll, as the web client does."""
    line, other_line = "01012345678", "01012347777"  # mvno001's, mvno002's (docs/api.md §8)
    retries = 0

    def call(path, method="GET", token=None, body=None, headers=None):
        nonlocal retries
        for attempt in range(4):
            r = via_ingress(path, method, token, body, headers)
            if r[1] not in (502, 503, 504) or attempt == 3:
                return r
            retries += 1
            time.sleep(0.5)
        return r

    def poll(path, token, done):
        """GET `path` until it answers 200 and `done(doc)` (at most 20 s): a 202 answer's
        request id, or a history that the services write behind the answer (group commit)."""
        end = time.monotonic() + 20
        while True:
            r = call(path, token=token)
            if (r[1] == 200 and done(r[3])) or time.monotonic() > end:
                return r
            time.sleep(0.5)

    # CORS preflight, then login with the web client's Origin.
    _, st, h, _ = via_ingress("/api/v1/auth/login", "OPTIONS", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    expect(f"CORS preflight of login from {ORIGIN} is allowed", st in (200, 204)
           and h.get("access-control-allow-origin") == ORIGIN, (st, h))
    _, st, h, doc = call("/api/v1/auth/login", "POST", body={"userId": "mvno001", "password": "Phonebill1!"},
                         headers={"Origin": ORIGIN})
    token = doc.get("access_token") if isinstance(doc, dict) else None
    expect("login mvno001 -> 200 with an access token and the web client's Origin allowed",
           st == 200 and bool(token) and h.get("access-control-allow-origin") == ORIGIN, (st, h.get("access-control-allow-origin"), doc))
    if not token:
        return

    # Bills: menu, inquiry (poll a 202), history.
    _, st, _, doc = call("/api/v1/bills/menu", token=token)
    expect("GET /api/v1/bills/menu -> 200 naming mvno001's line", st == 200 and line in json.dumps(doc).replace("-", ""), (st, doc))
    month = month_back(1)
    _, st, _, doc = call("/api/v1/bills/inquiry", "POST", token, {"lineNumber": line, "inquiryMonth": month})
    if st == 202:
        rid = data(doc).get("requestId")
        _, st, _, doc = poll(f"/api/v1/bills/inquiry/{rid}", token, lambda d: "PROCESSING" not in json.dumps(data(d)))
    expect(f"POST /api/v1/bills/inquiry {line} {month} -> 200 with the bill", st == 200 and month in json.dumps(doc), (st, doc))
    _, st, _, doc = poll("/api/v1/bills/history", token, lambda d: month in json.dumps(d))
    expect("GET /api/v1/bills/history -> 200 listing the inquiry", st == 200 and month in json.dumps(doc), (st, doc))

    # Product change: menu, customer, available products, pre-check, change, its status, history.
    _, st, _, doc = call("/api/v1/products/menu", token=token)
    expect("GET /api/v1/products/menu -> 200", st == 200, (st, doc))
    _, st, _, doc = call(f"/api/v1/products/customer?lineNumber={line}", token=token)
    text = json.dumps(doc)
    current = re.search(r'"(?:currentProductCode|productCode)": "([^"]+)"', text)
    expect(f"GET /api/v1/products/customer?lineNumber={line} -> 200 with the current product", st == 200 and current, (st, doc))
    current = current.group(1) if current else ""
    _, st, _, doc = call(f"/api/v1/products/available?currentProductCode={current}", token=token)
    codes = [c for c in re.findall(r'"productCode": "([^"]+)"', json.dumps(doc)) if c != current]
    expect("GET /api/v1/products/available -> 200 with another product", st == 200 and codes, (st, doc))
    target = codes[0] if codes else ""
    change = {"lineNumber": line, "currentProductCode": current, "targetProductCode": target}
    _, st, _, doc = call("/api/v1/products/change/validation", "POST", token, change)
    expect(f"POST /api/v1/products/change/validation {current} -> {target}: 200 SUCCESS",
           st == 200 and data(doc).get("validationResult") == "SUCCESS", (st, doc))
    _, st, _, doc = call("/api/v1/products/change", "POST", token, change)
    rid = data(doc).get("requestId")
    expect("POST /api/v1/products/change -> 200 COMPLETED or 202 PROCESSING with a request id",
           (st, data(doc).get("processStatus")) in ((200, "COMPLETED"), (202, "PROCESSING")) and rid, (st, doc))
    if rid:
        _, st, _, doc = poll(f"/api/v1/products/change/{rid}", token, lambda d: data(d).get("processStatus") != "PROCESSING")
        expect(f"GET /api/v1/products/change/{rid} -> 200 COMPLETED", st == 200 and data(doc).get("processStatus") == "COMPLETED", (st, doc))
    _, st, _, doc = poll("/api/v1/products/history", token, lambda d: bool(rid) and rid in json.dumps(d))
    expect("GET /api/v1/products/history -> 200 listing the change", st == 200 and bool(rid) and rid in json.dumps(doc), (st, doc))

    # Who may see what: a stranger, another customer's line.
    _, st, _, doc = call("/api/v1/bills/menu")
    expect("a stranger (no token): GET /api/v1/bills/menu -> 401", st == 401, (st, doc))
    _, st, _, doc = call("/api/v1/bills/inquiry", "POST", None, {"lineNumber": line, "inquiryMonth": month})
    expect("a stranger (no token): POST /api/v1/bills/inquiry -> 401", st == 401, (st, doc))
    _, st, _, doc = call("/api/v1/bills/inquiry", "POST", token, {"lineNumber": other_line, "inquiryMonth": month})
    expect(f"mvno001 asking the bill of mvno002's line {other_line} -> 403", st == 403, (st, doc))
    _, st, _, doc = call(f"/api/v1/products/customer?lineNumber={other_line}", token=token)
    expect(f"mvno001 asking the products of mvno002's line {other_line} -> 403", st == 403, (st, doc))

    # Logout: the token is refused afterwards (the deny list in the Redis Cluster).
    _, st, _, doc = call("/api/v1/auth/logout", "POST", token, {})
    expect("POST /api/v1/auth/logout -> 200", st == 200, (st, doc))
    st, end = None, time.monotonic() + 5
    while time.monotonic() < end and st != 401:
        _, st, _, _ = call("/api/v1/bills/menu", token=token)
        time.sleep(0.2)
    expect("after logout the token is refused (401) by bill-inquiry", st == 401, st)
    print(f"  --    web client: {retries} retries of a KOS-caused 5xx", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helm", default=shutil.which("helm") or os.path.join(ROOT, ".tools/bin/helm"))
    ap.add_argument("--tag", default="dev")
    ap.add_argument("--prod-shape", default=os.path.join(ROOT, "target/debug/prod-shape"),
                    help="the prod-shape binary of crates/system-tests (cargo build -p phonebill-system-tests)")
    args = ap.parse_args()
    if not os.access(args.prod_shape, os.X_OK):
        raise SystemExit(f"{args.prod_shape} missing: cargo build -p phonebill-system-tests --bin prod-shape")
    t0 = time.monotonic()
    docs = render(args.helm, args.tag)
    by = {}
    for d in docs:
        by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    cms = by.get("ConfigMap", {})
    deps = {n: d for n, d in by.get("Deployment", {}).items()
            if d["metadata"].get("labels", {}).get("tier") == "application"}
    jobs = by.get("Job", {})
    services = by.get("Service", {})

    stack = Stack()
    try:
        run(DOCKER, "network", "create", stack.network)
        net = json.loads(run(DOCKER, "network", "inspect", stack.network).stdout)[0]
        gateway = net["IPAM"]["Config"][0]["Gateway"]
        # Where the chart mounts the private CA (the same path in every container).
        mounts = {m["mountPath"] for d in list(deps.values()) + list(jobs.values())
                  for c in d["spec"]["template"]["spec"]["containers"]
                  for m in c.get("volumeMounts", []) if m["name"] == "private-ca"}
        expect("the chart mounts the private CA at one path in every service and hook Job", len(mounts) == 1, mounts)
        ca_mount = next(iter(mounts), "/etc/phonebill/private-ca")
        t_backing = time.monotonic()
        backing = backing_services(stack, gateway, sorted(deps), args.prod_shape, ca_mount)
        print(f"  --    TLS PostgreSQL + TLS Redis Cluster on {gateway}: {time.monotonic() - t_backing:.0f} s", flush=True)
        for name, d in list(deps.items()) + list(jobs.items()):
            c = d["spec"]["template"]["spec"]["containers"][0]
            vols = {v["name"]: v for v in d["spec"]["template"]["spec"].get("volumes", [])}
            m = [m for m in c.get("volumeMounts", []) if m["name"] == "private-ca"]
            expect(f"{name} mounts Secret {CA_SECRET} read-only at {ca_mount}",
                   len(m) == 1 and m[0].get("readOnly") is True
                   and vols.get("private-ca", {}).get("secret", {}).get("secretName") == CA_SECRET, m)
        for name in deps:
            ca_env = cms.get(name, {}).get("data", {}).get("REDIS_CA_CERT")
            expect(f"{name} REDIS_CA_CERT is the mounted CA", ca_env == f"{ca_mount}/ca.crt", ca_env)

        # Secret values the rendered secretKeyRefs name, per Secret.
        kos_key = os.urandom(16).hex()
        secrets = {}
        for name in deps:
            secrets[f"{name}-env"] = {"DATABASE_URL": backing["database"][name], "REDIS_URL": backing["redis"],
                                      "KOS_API_KEY": kos_key}
            secrets[f"{name}-migrate-env"] = {"DATABASE_MIGRATION_URL": backing["migration"][name]}
        # Secret volumes: auth's JWT signing key(s), <kid>.pem.
        secret_dirs = {}
        jwt_dir = os.path.join(stack.tmp, "auth-service-jwt")
        os.makedirs(jwt_dir)
        auth_env = cms.get("auth-service", {}).get("data", {})
        kid = auth_env.get("JWT_ACTIVE_KID", "key-1")
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", os.path.join(jwt_dir, f"{kid}.pem"))
        secret_dirs["auth-service-jwt"] = jwt_dir
        secret_dirs.update(backing["files"])

        def docker_args(pod_spec, labels, alias, extra_env=None):
            c = pod_spec["containers"][0]
            psc, csc = pod_spec.get("securityContext", {}), c.get("securityContext", {})
            uid = csc.get("runAsUser", psc.get("runAsUser"))
            gid = csc.get("runAsGroup", psc.get("runAsGroup"))
            a = ["--network", stack.network, "--network-alias", alias, "--user", f"{uid}:{gid}"]
            if psc.get("fsGroup") is not None:
                a += ["--group-add", str(psc["fsGroup"])]
            if csc.get("readOnlyRootFilesystem"):
                a.append("--read-only")
            for cap in csc.get("capabilities", {}).get("drop", []):
                a += ["--cap-drop", cap]
            if csc.get("allowPrivilegeEscalation") is False:
                a += ["--security-opt", "no-new-privileges"]
            lim = c.get("resources", {}).get("limits", {})
            if "memory" in lim:
                a += ["--memory", str(mem_bytes(lim["memory"]))]
            if "cpu" in lim:
                a += ["--cpus", f"{cpus(lim['cpu']):.2f}"]
            env = {}
            for ef in c.get("envFrom", []):
                env.update(cms[ef["configMapRef"]["name"]]["data"])
            for e in c.get("env", []):
                if "value" in e:
                    env[e["name"]] = e["value"]
                else:
                    ref = e["valueFrom"]["secretKeyRef"]
                    env[e["name"]] = secrets[ref["name"]][ref["key"]]
            env.update(extra_env or {})
            envfile = os.path.join(stack.tmp, f"{alias}-{len(stack.containers)}.env")
            with open(envfile, "w") as f:
                for k, v in env.items():
                    f.write(f"{k}={v}\n")
            a += ["--env-file", envfile]
            vols = {v["name"]: v for v in pod_spec.get("volumes", [])}
            for m in c.get("volumeMounts", []):
                v = vols[m["name"]]
                if "emptyDir" in v:
                    size = mem_bytes(v["emptyDir"].get("sizeLimit", "64Mi"))
                    # as the kubelet makes an emptyDir: world-writable, group fsGroup
                    a += ["--tmpfs", f"{m['mountPath']}:rw,size={size},uid=0,gid={psc.get('fsGroup', 0)},mode=0777"]
                elif "secret" in v:
                    src = secret_dirs[v["secret"]["secretName"]]
                    mode = v["secret"].get("defaultMode", 0o644)
                    for fn in os.listdir(src):
                        os.chown(os.path.join(src, fn), 0, psc.get("fsGroup", 0))
                        os.chmod(os.path.join(src, fn), mode)
                    a += ["--mount", f"type=bind,source={src},destination={m['mountPath']},readonly"]
                else:
                    raise SystemExit(f"volume {m['name']} of {alias}: unsupported kind {sorted(v)}")
            for p in c.get("ports", []):
                a += ["-p", f"127.0.0.1::{p['containerPort']}"]
            if c.get("command"):
                a += ["--entrypoint", c["command"][0]]
            cmd = (c.get("command", [])[1:] + c.get("args", [])) if c.get("command") else c.get("args", [])
            return a, c["image"], cmd

        # 1. Hook Jobs first, as Helm (Argo CD PreSync) runs them before any pod of the release;
        # the Jobs of one weight run at once, and each must exit 0 within its deadline (at most
        # 120 s here).
        by_weight = {}
        for name, job in jobs.items():
            w = int(job["metadata"]["annotations"].get("helm.sh/hook-weight", "0"))
            by_weight.setdefault(w, []).append((name, job))
        for w in sorted(by_weight):
            running = []
            for name, job in by_weight[w]:
                a, image, cmd = docker_args(job["spec"]["template"]["spec"], {}, name)
                cname = f"{name}-{stack.suffix}"
                stack.containers.append(cname)
                run(DOCKER, "run", "-d", "--name", cname, *a, image, *cmd)
                running.append((name, cname, cmd, int(job["spec"].get("activeDeadlineSeconds", 600))))
            end = time.monotonic() + min(max(r[3] for r in running), 120)
            for name, cname, cmd, _ in running:
                try:
                    code = run(DOCKER, "wait", cname, check=False,
                               timeout=max(end - time.monotonic(), 1)).stdout.strip()
                except subprocess.TimeoutExpired:
                    code = "none: still running at the deadline"
                logs = run(DOCKER, "logs", "--tail", "5", cname, check=False)
                expect(f"hook Job {name} (`{' '.join(cmd)}`) exits 0", code == "0",
                       f"exit {code}: {(logs.stdout + logs.stderr)[-400:]}")
                run(DOCKER, "rm", "-f", cname, check=False)

        def host_port(cname, container_port):
            out = run(DOCKER, "port", cname, f"{container_port}/tcp", check=False).stdout
            return out.strip().splitlines()[0].rsplit(":", 1)[1] if out.strip() else None

        # 1b. The accounts. values-prod seeds no demo users (the carrier provisions accounts);
        # here the auth image provisions them once, in a one-off container that is the auth pod
        # as rendered plus SEED_DEMO_USERS=true, removed once ready (readiness waits for the seed).
        auth_dep = next(d for n, d in deps.items() if n.startswith("auth"))
        auth_spec = auth_dep["spec"]["template"]["spec"]
        a, image, cmd = docker_args(auth_spec, {}, "auth-provision", {"SEED_DEMO_USERS": "true"})
        cname = f"auth-provision-{stack.suffix}"
        stack.containers.append(cname)
        run(DOCKER, "run", "-d", "--name", cname, *a, image, *cmd)
        rp = auth_spec["containers"][0]["readinessProbe"]["httpGet"]["path"]
        hp, status, end = host_port(cname, 8080), None, time.monotonic() + 90
        while time.monotonic() < end and status != 200:
            status = http_status(f"http://127.0.0.1:{hp}{rp}")
            time.sleep(0.5)
        expect("the demo accounts are provisioned (auth image, SEED_DEMO_USERS=true, ready)", status == 200,
               f"{status}; logs: " + run(DOCKER, "logs", "--tail", "8", cname, check=False).stderr[-600:])
        run(DOCKER, "rm", "-f", cname, check=False)

        # 2. The services, each under its Service's name.
        started = {}
        for name, dep in deps.items():
            spec = dep["spec"]["template"]["spec"]
            labels = dep["spec"]["template"]["metadata"]["labels"]
            svc = [s for s, d in services.items() if not s.endswith("-preview")
                   and all(labels.get(k) == v for k, v in d["spec"]["selector"].items())]
            alias = svc[0] if svc else name
            a, image, cmd = docker_args(spec, labels, alias)
            cname = f"{alias}-{stack.suffix}"
            stack.containers.append(cname)
            r = run(DOCKER, "run", "-d", "--name", cname, *a, image, *cmd, check=False)
            expect(f"{name} container starts ({image}, user {spec['containers'][0]['securityContext'].get('runAsUser')}, read-only)",
                   r.returncode == 0, r.stderr[-300:])
            started[name] = (cname, spec["containers"][0])

        # 3. Probes at their rendered paths and ports.
        for name, (cname, c) in started.items():
            ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
            for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
                probe = c.get(kind)
                if not probe:
                    continue
                g = probe["httpGet"]
                cport = ports.get(g["port"], g["port"])
                hp = host_port(cname, cport)
                budget = probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3) + probe.get("initialDelaySeconds", 0)
                end = time.monotonic() + max(budget, 30)
                status = None
                while time.monotonic() < end:
                    status = http_status(f"http://127.0.0.1:{hp}{g['path']}") if hp else None
                    if status == 200:
                        break
                    time.sleep(0.5)
                expect(f"{name} {kind} GET {g['path']} on {g['port']} ({cport}) -> 200", status == 200,
                       f"{status}; logs: " + run(DOCKER, "logs", "--tail", "5", cname, check=False).stderr[-400:])

        # 4. The rendered Ingress rules route each prefix to the right service.
        ing = next(iter(by.get("Ingress", {}).values()))
        routes = [(p["path"], p["backend"]["service"]["name"]) for r in ing["spec"]["rules"] for p in r["http"]["paths"]]

        def via_ingress(path, method="GET", token=None, body=None, headers=None):
            """The request as the ingress routes it: the longest rendered prefix names the
            Service, whose container answers. Returns (service, status, headers, JSON or None)."""
            _, svc = max(((p, s) for p, s in routes if path.split("?")[0].startswith(p)), key=lambda ps: len(ps[0]))
            hp = host_port(f"{svc}-{stack.suffix}", 8080)
            h = dict(headers or {})
            if token:
                h["Authorization"] = f"Bearer {token}"
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                h["Content-Type"] = "application/json"
            req = urllib.request.Request(f"http://127.0.0.1:{hp}{path}", data=data, method=method, headers=h)
            try:
                with urllib.request.urlopen(req, timeout=15) as r:
                    status, rh, raw = r.status, dict(r.headers), r.read()
            except urllib.error.HTTPError as e:
                status, rh, raw = e.code, dict(e.headers), e.read()
            except (urllib.error.URLError, OSError) as e:
                return svc, None, {}, str(e)
            try:
                doc = json.loads(raw) if raw else None
            except ValueError:
                doc = raw.decode(errors="replace")
            return svc, status, {k.lower(): v for k, v in rh.items()}, doc

        for path, method, want, svc_want in [
            ("/api/v1/auth/.well-known/jwks.json", "GET", 200, "auth-service"),
            ("/api/v1/bills/menu", "GET", 401, "bill-inquiry-service"),
            ("/api/v1/products/menu", "GET", 401, "product-change-service"),
        ]:
            svc, status, _, _ = via_ingress(path, method)
            expect(f"Ingress {path} -> {svc} answers {want}", svc == svc_want and status == want, f"{svc} {status}")

        web_client(via_ingress)

        # The pods ran with the app role: it has no DDL rights (the migrate Job's owner role had).
        for name, url in backing["app_on_host"].items():
            r = run("psql", url, "-qc", "CREATE TABLE chart_pods_ddl_probe (x int)", check=False)
            expect(f"{name}'s DATABASE_URL role may not CREATE TABLE", r.returncode != 0 and "permission denied" in r.stderr,
                   r.stderr[-200:])
        expect("the KOS mock has no Ingress route", not any(s == "kos-mock-service" for _, s in routes))
    finally:
        stack.close()
    print(f"  --    chart pods: {time.monotonic() - t0:.0f} s")
    return summary()


if __name__ == "__main__":
    sys.exit(main())
