"""Propagation delay: an API change to the right DNS answer, with N services loaded.

Starts the fake API server (tests/fakeapi.py) with N ClusterIP Services spread over 100
namespaces, starts `svcdns serve --kubeconfig` against it, then changes one Service's
clusterIP at a time and queries svcdns over UDP in a tight loop until the new address is
answered. Reports the sync time, p50/p99 propagation, and svcdns's memory, plus the delay
as a ratio of one plain query round trip measured in the same run (these machines are noisy).

    python bench/propagation.py [--services 10000] [--changes 300]
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import dns.message
import dns.query

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
from fakeapi import FakeApiServer  # noqa: E402


def service(index: int, ip: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": f"svc-{index}", "namespace": f"ns-{index % 100}"},
        "spec": {"clusterIP": ip, "clusterIPs": [ip], "ports": [{"name": "http", "port": 80}]},
    }


def address(index: int, generation: int) -> str:
    return f"10.{96 + generation % 100}.{index // 250}.{index % 250 + 1}"


def rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


def wait_line(process: subprocess.Popen[str], pattern: str, timeout: float) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    assert process.stderr is not None
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        match = re.search(pattern, line)
        if match:
            return match
    raise SystemExit(f"svcdns did not print {pattern!r} in {timeout} s")


def ready(ops: str) -> bool:
    try:
        with urllib.request.urlopen(f"{ops}/ready", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=300)
    args = parser.parse_args()

    fake = FakeApiServer()
    fake.start()
    for ns in range(100):
        fake.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"ns-{ns}"}})
    for index in range(args.services):
        fake.apply(service(index, address(index, 0)))
    folder = Path(tempfile.mkdtemp(prefix="svcdns-bench-"))
    kubeconfig = fake.write_kubeconfig(folder / "kubeconfig")
    command = [
        sys.executable,
        "-m",
        "svcdns",
        "serve",
        "--kubeconfig",
        str(kubeconfig),
        "--listen",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--upstream",
        "none",
    ]
    started = time.monotonic()
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        ops = "http://" + wait_line(process, r"ops on http://(\S+)", 30).group(1)
        port = int(wait_line(process, r"on 127\.0\.0\.1:(\d+) \(udp\+tcp\)", 30).group(1))
        while not ready(ops):
            time.sleep(0.01)
        sync_seconds = time.monotonic() - started
        subprocess.Popen(["cat"], stdin=process.stderr, stdout=subprocess.DEVNULL)  # keep draining

        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        round_trips = []
        for index in range(500):
            query = dns.message.make_query(f"svc-{index}.ns-{index % 100}.svc.cluster.local", "A")
            begin = time.perf_counter()
            dns.query.udp(query, "127.0.0.1", port=port, timeout=2, sock=sock)
            round_trips.append(time.perf_counter() - begin)

        delays = []
        for change in range(args.changes):
            index = (change * 7919) % args.services
            new_ip = address(index, change + 1)
            name = f"svc-{index}.ns-{index % 100}.svc.cluster.local"
            query = dns.message.make_query(name, "A")
            begin = time.perf_counter()
            fake.apply(service(index, new_ip))
            while True:
                reply = dns.query.udp(query, "127.0.0.1", port=port, timeout=2, sock=sock)
                if any(r.address == new_ip for rrset in reply.answer for r in rrset):
                    break
            delays.append(time.perf_counter() - begin)
        rtt = statistics.median(round_trips)
        result = {
            "services": args.services,
            "sync_seconds": round(sync_seconds, 2),
            "query_rtt_ms_p50": round(rtt * 1000, 3),
            "propagation_ms_p50": round(percentile(delays, 0.50) * 1000, 2),
            "propagation_ms_p99": round(percentile(delays, 0.99) * 1000, 2),
            "propagation_p50_in_rtts": round(percentile(delays, 0.50) / rtt, 1),
            "propagation_p99_in_rtts": round(percentile(delays, 0.99) / rtt, 1),
            "svcdns_rss_mib": round(rss_mib(process.pid), 1),
        }
        print(json.dumps(result, indent=2))
    finally:
        process.terminate()
        process.wait(timeout=10)
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
