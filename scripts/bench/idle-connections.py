#!/usr/bin/env python3
"""Memory per idle keep-alive connection of a running server (docs/benchmarks.md, issue 11).

Opens N connections to 127.0.0.1:PORT (200 at a time), sends one GET of PATH on each and reads
the answer, keeps them all open for a second, then prints the server's RSS (VmRSS of PID)
before and after and the difference per connection; closes everything and prints the RSS once
more. Bounded: N connections, one request each, a 60 s limit per connection.

    scripts/bench/idle-connections.py PID PORT N PATH [BEARER_TOKEN]

e.g. against the bare ceiling:  loadtest bare-server --port 18090 &
                                scripts/bench/idle-connections.py $! 18090 5000 /bare
"""
import asyncio
import resource
import sys


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    raise SystemExit(f"no VmRSS for pid {pid}")


async def open_one(port: int, request: bytes, conns: list) -> None:
    r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 60)
    w.write(request)
    await w.drain()
    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 60)
    if not head.startswith(b"HTTP/1.1 2"):
        raise SystemExit(f"unexpected answer: {head[:80]!r}")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await asyncio.wait_for(r.readexactly(int(line.split(b":")[1])), 60)
    conns.append(w)


async def main() -> None:
    if len(sys.argv) < 5:
        raise SystemExit(__doc__)
    pid, port, n, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    auth = f"Authorization: Bearer {sys.argv[5]}\r\n" if len(sys.argv) > 5 else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    before = rss_mib(pid)
    conns: list = []
    gate = asyncio.Semaphore(200)

    async def one() -> None:
        async with gate:
            await open_one(port, request, conns)

    await asyncio.gather(*(one() for _ in range(n)))
    await asyncio.sleep(1)
    after = rss_mib(pid)
    per = (after - before) * 1024 / max(1, len(conns))
    print(f"connections={len(conns)} rss_before={before:.1f} MiB rss_open={after:.1f} MiB "
          f"per_connection={per:.1f} KiB")
    for w in conns:
        w.close()
    await asyncio.sleep(1)
    print(f"rss_after_close={rss_mib(pid):.1f} MiB")


asyncio.run(main())
