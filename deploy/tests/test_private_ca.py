#!/usr/bin/env python3
"""The chart's private-CA value (privateCa), checked on two prod renderings.

    python3 deploy/tests/test_private_ca.py DEFAULT.yaml WITH_CA.yaml

DEFAULT.yaml is `helm template -f values-prod.yaml` as is: production trusts Azure's public CAs,
so no container mounts a CA and no REDIS_CA_CERT is set. WITH_CA.yaml adds
`--set privateCa.secretName=<name>` (scripts/check-deploy.sh passes both): then every service
container and every migration hook Job mounts that Secret's ca.crt read-only at one path,
nothing else of the Secret, and every service's REDIS_CA_CERT names the mounted file. This is
what deploy/tests/chart_pods.py relies on to run the pods against TLS servers signed by a test CA.

Prints "ok"/"FAIL" lines and "N passed, M failed"; exits 1 on any failure.
"""
import sys

import yaml

from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)


def load(path):
    by = {}
    for d in yaml.safe_load_all(open(path)):
        if d:
            by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    return by


def pods(by):
    """(name, pod spec) of every phonebill service Deployment and every hook Job."""
    out = [(n, d["spec"]["template"]["spec"]) for n, d in by.get("Deployment", {}).items()
           if d["metadata"].get("labels", {}).get("tier") == "application"]
    out += [(n, d["spec"]["template"]["spec"]) for n, d in by.get("Job", {}).items()]
    return out


def ca_mounts(spec):
    """The volume mounts of the private-CA volume, and that volume (or None)."""
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    mounts = [m for c in spec["containers"] for m in c.get("volumeMounts", []) if m["name"] == "private-ca"]
    return mounts, vols.get("private-ca")


def main():
    default, with_ca = load(sys.argv[1]), load(sys.argv[2])
    secret = None
    for name, spec in pods(default):
        mounts, vol = ca_mounts(spec)
        expect(f"default: {name} mounts no private CA", not mounts and vol is None, (mounts, vol))
    for name, cm in default.get("ConfigMap", {}).items():
        expect(f"default: ConfigMap {name} sets no REDIS_CA_CERT", "REDIS_CA_CERT" not in cm.get("data", {}))

    paths = set()
    p = pods(with_ca)
    expect("with privateCa.secretName: the services and hook Jobs are rendered", len(p) >= 8, [n for n, _ in p])
    for name, spec in p:
        mounts, vol = ca_mounts(spec)
        ok = (len(mounts) == 1 and mounts[0].get("readOnly") is True and vol is not None
              and "secret" in vol and vol["secret"].get("items") == [{"key": "ca.crt", "path": "ca.crt"}])
        expect(f"with privateCa.secretName: {name} mounts the Secret's ca.crt read-only (only that key)", ok, (mounts, vol))
        if ok:
            paths.add(mounts[0]["mountPath"])
            secret = vol["secret"]["secretName"]
    expect("with privateCa.secretName: one mount path for every container", len(paths) == 1, paths)
    path = next(iter(paths), None)
    for name, dep in with_ca.get("Deployment", {}).items():
        if dep["metadata"].get("labels", {}).get("tier") != "application":
            continue
        cm = with_ca.get("ConfigMap", {}).get(name, {}).get("data", {})
        expect(f"with privateCa.secretName: {name} REDIS_CA_CERT = {path}/ca.crt",
               cm.get("REDIS_CA_CERT") == f"{path}/ca.crt", cm.get("REDIS_CA_CERT"))
    expect("with privateCa.secretName: the volume names that Secret", secret is not None, secret)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
