"""Queries per second over UDP, against a bare Python UDP echo loop in the same run.

The echo loop is the ceiling of this machine's Python datagram path, so the ratio
svcdns/echo says what the event loop and the DNS work cost, whatever the noise on these
2 cores. The
client keeps a window of queries in flight from one socket. Query mixes:

- hit:  `web.shop.svc.cluster.local A`
- miss: what a pod's ndots:5 search path sends first (`example.com.shop.svc.cluster.local`)
- srv:  `_mysql._tcp.db.shop.svc.cluster.local SRV` (two targets, additional records)

    python bench/qps.py [--seconds 3] [--window 64]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import dns.message

REPO = Path(__file__).resolve().parent.parent
MIXES = {
    "hit": ("web.shop.svc.cluster.local", "A"),
    "miss": ("example.com.shop.svc.cluster.local", "A"),
    "srv": ("_mysql._tcp.db.shop.svc.cluster.local", "SRV"),
}


def load(port: int, wire: bytes, *, seconds: float, window: int) -> float:
    """Answered queries per second, keeping `window` in flight."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect(("127.0.0.1", port))
    sock.settimeout(0.05)
    for _ in range(window):
        sock.send(wire)
    answered, deadline = 0, time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < deadline:
        try:
            sock.recv(4096)
        except TimeoutError:  # a lost datagram: top the window up again
            sock.send(wire)
            continue
        answered += 1
        sock.send(wire)
    elapsed = time.perf_counter() - started
    sock.close()
    return answered / elapsed


# The ceiling: a blocking recvfrom/sendto loop in one Python process, with the same 4 MiB
# receive buffer as svcdns's listener. No DNS work, no event loop: what Python's UDP
# path can do on this machine.
ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
while True:
    data, address = s.recvfrom(4096)
    s.sendto(data, address)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=64)
    args = parser.parse_args()
    echo = subprocess.Popen([sys.executable, "-c", ECHO], stdout=subprocess.PIPE, text=True)
    command = [
        sys.executable,
        "-m",
        "svcdns",
        "serve",
        "--manifests",
        "examples/cluster.yaml",
        "--listen",
        "127.0.0.1:0",
        "--http",
        "none",
        "--upstream",
        "none",
    ]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert echo.stdout is not None and server.stderr is not None
        echo_port = int(echo.stdout.readline())
        while not (
            match := re.search(r"127\.0\.0\.1:(\d+) \(udp\+tcp\)", server.stderr.readline())
        ):
            pass
        port = int(match.group(1))
        results: dict[str, float] = {}
        sample = dns.message.make_query(*MIXES["hit"]).to_wire()
        results["echo_qps"] = round(
            load(echo_port, sample, seconds=args.seconds, window=args.window)
        )
        for mix, (name, rdtype) in MIXES.items():
            wire = dns.message.make_query(name, rdtype).to_wire()
            qps = load(port, wire, seconds=args.seconds, window=args.window)
            results[f"{mix}_qps"] = round(qps)
            results[f"{mix}_vs_echo"] = round(qps / results["echo_qps"], 3)
        print(json.dumps(results, indent=2))
    finally:
        for process in (server, echo):
            process.terminate()
            process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
