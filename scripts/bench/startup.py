#!/usr/bin/env python3
"""Start-up time of the all-in-one binary from a fresh data directory (issue 3's "done when").

Spawns `phonebill` on a free-ish port in a temp dir, polls /actuator/health and then
/actuator/health/readiness every 5 ms, prints both times, stops the process. Bounded: gives up
after 20 s.

    python3 scripts/bench/startup.py [path/to/phonebill]   (default target/release/phonebill)
"""
import subprocess
import sys
import tempfile
import time
import urllib.request

binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/phonebill"
port = "18555"


def wait_for(path, start, limit):
    while time.time() - start < limit:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=0.5).read()
            return time.time() - start
        except Exception:
            time.sleep(0.005)
    return None


with tempfile.TemporaryDirectory() as data:
    start = time.time()
    proc = subprocess.Popen([binary, "--port", port, "--data-dir", data],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        health = wait_for("/actuator/health", start, 20)
        ready = wait_for("/actuator/health/readiness", start, 20)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
fmt = lambda t: "never" if t is None else f"{t:.3f} s"
print(f"{binary}: health 200 after {fmt(health)}, readiness 200 after {fmt(ready)}")
