#!/usr/bin/env python3
"""The chart's own pods, run in Docker exactly as rendered (issue 19).

    python3 deploy/tests/chart_pods.py [--helm PATH] [--tag dev]

Renders `helm template -f values-prod.yaml`, overriding only host names, secrets (mode
"secret": plain Secrets instead of Key Vault) and image references (phonebill/<binary>:dev from
scripts/images.sh), then for every hook Job and every service Deployment runs its container in
Docker with exactly the rendered command/args, env (ConfigMap + Secret refs), user and group
(runAsUser/runAsGroup, fsGroup), read-only root file system, dropped capabilities and
no-new-privileges, volumes (emptyDir -> tmpfs with its sizeLimit, Secret -> files), CPU and
memory limits and ports. Containers share one Docker network where each answers to its
Service's name (auth-service, kos-mock-service, ...), as in the cluster. Then every startup,
liveness and readiness probe must answer 200 at its rendered path and port, and requests
routed by the rendered Ingress rules reach the right service.

Backing services: a private redis-server and the machine's PostgreSQL (one database per
service, reached through a socat forwarder on the Docker network's gateway), plain text for
now. PRODUCTION-SHAPE HOOK: `backing_services()` is the one place that says where PostgreSQL
and Redis are and which URLs the Secrets carry; the TLS PostgreSQL and TLS Redis Cluster of
issue 18 plug in there (rediss:// + REDIS_CLUSTER + REDIS_CA_CERT mounted as a Secret file,
sslmode=verify-full), with no change to how the pods are run.

Everything started is stopped by its id (containers, network, processes by PID) and the
databases are dropped. Prints ok/FAIL lines and "N passed, M failed"; exits 1 on a failure.
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

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy/helm/phonebill")
NS = "phonebill-prod"
DOCKER = shutil.which("docker", path="/usr/bin") or shutil.which("docker") or "docker"
PG_URL = os.environ.get("PHONEBILL_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test")

passed = failed = 0


def expect(name, cond, why=""):
    global passed, failed
    if cond:
        passed += 1
        print(f"  ok    {name}", flush=True)
    else:
        failed += 1
        print(f"  FAIL  {name}{': ' + str(why) if why else ''}", flush=True)


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
        self.databases = []

    def close(self):
        for c in self.containers:
            run(DOCKER, "rm", "-f", c, check=False)
        run(DOCKER, "network", "rm", self.network, check=False)
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        for db in self.databases:
            run("psql", PG_URL, "-qc", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)', check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)


def backing_services(stack, gateway, services):
    """Where PostgreSQL and Redis are for the pods, and the Secret values that point there.

    The production-shape hook (issue 18): replace this with the TLS PostgreSQL (verify-full,
    private CA) and the TLS Redis Cluster, returning their URLs and any CA files as Secret
    files; the pods are run the same way.
    """
    # PostgreSQL: the machine's, one database per service, through a forwarder on the gateway.
    pg = re.match(r"postgres(?:ql)?://([^@/]+)@([^:/]+):(\d+)/", PG_URL)
    user, pg_port = pg.group(1), pg.group(3)
    fwd_port = free_port()
    stack.procs.append(subprocess.Popen(
        ["socat", f"TCP-LISTEN:{fwd_port},bind={gateway},fork,reuseaddr", f"TCP:127.0.0.1:{pg_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    urls = {}
    for svc in services:
        db = f"chart_pods_{svc.replace('-', '_')}_{stack.suffix}"
        run("psql", PG_URL, "-qc", f'CREATE DATABASE "{db}"')
        stack.databases.append(db)
        urls[svc] = f"postgres://{user}@{gateway}:{fwd_port}/{db}"
    # Redis: a private redis-server on the gateway address.
    redis_port = free_port()
    stack.procs.append(subprocess.Popen(
        ["redis-server", "--bind", gateway, "--port", str(redis_port), "--save", "", "--appendonly", "no",
         "--protected-mode", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    return {"database": urls, "redis": f"redis://{gateway}:{redis_port}", "files": {}}


def render(helm, tag):
    out = run(helm, "template", "phonebill", CHART, "--namespace", NS,
              "-f", os.path.join(CHART, "values-prod.yaml"),
              # image references
              "--set", "image.registry=", "--set", f"image.tag={tag}", "--set", "image.pullPolicy=Never",
              # secrets: plain Secrets instead of Key Vault
              "--set", "secrets.mode=secret",
              # host names
              "--set", "ingress.host=localhost",
              "--set", "commonEnv.CORS_ALLOWED_ORIGINS=http://localhost:3000").stdout
    return [d for d in yaml.safe_load_all(out) if d]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--helm", default=shutil.which("helm") or os.path.join(ROOT, ".tools/bin/helm"))
    ap.add_argument("--tag", default="dev")
    args = ap.parse_args()
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
        backing = backing_services(stack, gateway, sorted(deps))

        # Secret values the rendered secretKeyRefs name, per Secret.
        kos_key = os.urandom(16).hex()
        secrets = {}
        for name in deps:
            secrets[f"{name}-env"] = {"DATABASE_URL": backing["database"][name], "REDIS_URL": backing["redis"],
                                      "KOS_API_KEY": kos_key}
            secrets[f"{name}-migrate-env"] = {"DATABASE_MIGRATION_URL": backing["database"][name]}
        # Secret volumes: auth's JWT signing key(s), <kid>.pem.
        secret_dirs = {}
        jwt_dir = os.path.join(stack.tmp, "auth-service-jwt")
        os.makedirs(jwt_dir)
        auth_env = cms.get("auth-service", {}).get("data", {})
        kid = auth_env.get("JWT_ACTIVE_KID", "key-1")
        run("openssl", "genpkey", "-algorithm", "ed25519", "-out", os.path.join(jwt_dir, f"{kid}.pem"))
        secret_dirs["auth-service-jwt"] = jwt_dir

        def docker_args(pod_spec, labels, alias):
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

        def host_port(cname, container_port):
            out = run(DOCKER, "port", cname, f"{container_port}/tcp", check=False).stdout
            return out.strip().splitlines()[0].rsplit(":", 1)[1] if out.strip() else None

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

        def via_ingress(path, method="GET"):
            _, svc = max(((p, s) for p, s in routes if path.startswith(p)), key=lambda ps: len(ps[0]))
            cname = f"{svc}-{stack.suffix}"
            hp = host_port(cname, 8080)
            return svc, http_status(f"http://127.0.0.1:{hp}{path}", method)
        for path, method, want, svc_want in [
            ("/api/v1/auth/.well-known/jwks.json", "GET", 200, "auth-service"),
            ("/api/v1/bills/menu", "GET", 401, "bill-inquiry-service"),
            ("/api/v1/products/menu", "GET", 401, "product-change-service"),
        ]:
            svc, status = via_ingress(path, method)
            expect(f"Ingress {path} -> {svc} answers {want}", svc == svc_want and status == want, f"{svc} {status}")
        expect("the KOS mock has no Ingress route", not any(s == "kos-mock-service" for _, s in routes))
    finally:
        stack.close()
    print(f"  --    chart pods: {time.monotonic() - t0:.0f} s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
