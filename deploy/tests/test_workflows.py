#!/usr/bin/env python3
"""Release-path checks of issue 19 on .github/workflows (run by scripts/check-deploy.sh).

- every `uses:` is pinned by a full commit SHA (a tag or branch can be moved);
- release.yml never pushes to main (branch protection refuses it): it pushes a release/ branch
  and opens a pull request;
- the job that pushes to ACR runs on the self-hosted runner in the VNet (the registry admits
  only ci_egress_cidrs on its public endpoint, empty by default), and terraform envs/prod has
  that runner's subnet.
Prints "ok"/"FAIL" lines and "N passed, M failed"; exits 1 on any failure.
"""
import glob
import os
import re
import sys

import yaml

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
from checks import expect, summary  # noqa: E402  (deploy/tests is on the path)


for path in sorted(glob.glob(os.path.join(root, ".github/workflows/*.yml"))):
    text = open(path).read()
    uses = re.findall(r"^\s*(?:-\s*)?uses:\s*(\S+)", text, re.M)
    unpinned = [u for u in uses if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u)]
    expect(f"{os.path.basename(path)}: every action pinned by commit SHA ({len(uses)} uses)", not unpinned, unpinned)

release = yaml.safe_load(open(os.path.join(root, ".github/workflows/release.yml")))
steps = [s for job in release["jobs"].values() for s in job.get("steps", [])]
runs = "\n".join(s.get("run", "") for s in steps)
expect("release.yml does not push to main", not re.search(r"git push\b[^\n]*\b(main|HEAD:main)\b", runs))
expect("release.yml opens a pull request", "gh pr create" in runs)
for name, job in release["jobs"].items():
    if any("docker push" in s.get("run", "") for s in job.get("steps", [])):
        labels = job["runs-on"] if isinstance(job["runs-on"], list) else [job["runs-on"]]
        expect(f"release.yml job {name} (pushes to ACR) runs on the self-hosted VNet runner",
               "self-hosted" in labels and "phonebill-vnet" in labels, labels)
tf = open(os.path.join(root, "deploy/terraform/envs/prod/main.tf")).read()
expect("terraform envs/prod has the runner subnet", 'resource "azurerm_subnet" "runner"' in tf and "RunnerSubnet" in tf)

sys.exit(summary())
