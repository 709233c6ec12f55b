"""The ok/FAIL bookkeeping the deploy check scripts share (chart_pods, prometheus_analysis,
test_private_ca, test_rendered_prod, test_workflows): `expect` prints one line per check and
counts it, `summary` prints "N passed, M failed" and returns the exit status (0 only when
nothing failed). The scripts run as `python3 deploy/tests/<script>.py`, so this directory is on
their import path."""

_counts = {"passed": 0, "failed": 0}


def expect(name, cond, why=""):
    """Records one check: `ok    name`, or `FAIL  name: why`."""
    if cond:
        _counts["passed"] += 1
        print(f"  ok    {name}", flush=True)
    else:
        _counts["failed"] += 1
        print(f"  FAIL  {name}{': ' + str(why) if why else ''}", flush=True)


def summary():
    """Prints the totals; the process exit status for them."""
    print(f"{_counts['passed']} passed, {_counts['failed']} failed")
    return 0 if _counts["failed"] == 0 else 1
