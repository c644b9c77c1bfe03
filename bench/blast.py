"""One client blasting, one client probing: does the probe still get its answers?

A cluster DNS must not let one pod in a crash loop take name resolution from the node.
The blaster is one loopback address (127.0.0.3) sending from 3 UDP sockets (`--sockets`)
the `hits` names as fast as one Python process can, never waiting for a reply (it reads
what comes back now and then, so its receive buffers never block the sender). The probe,
on 127.0.0.4, asks one name every 10 ms as a pod would and waits up to 1 s for each answer:
its answered fraction and latency are the figures. Each server is measured alone (no
blast), then under the blast, one at a time:

- svcdns with default flags: no per-client cap; under overload (a full batch with the
  receive queue half full) the answers are shared by source and the blaster's excess is
  dropped unread (README PROTOCOL);
- svcdns with the explicit cap `--max-qps-per-client 5000`;
- svcdns on the one-datagram path (`SVCDNS_UDP_IO=datagram`, the fallback where recvmmsg
  is missing): no cap and no fairness, every datagram served in arrival order;
- Knot DNS (one UDP worker, no rate limiting) on the same records: the reference.

    python bench/blast.py [--size small|large] [--seconds 10] [--sockets 3] [--workdir DIR]
    bench/knot.sh is not needed: this installs knot with apt-get when it is missing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import dns.message
from knot import (
    Server,
    ensure_cluster,
    ensure_tools,
    http_ready,
    soa_answers,
    start,
    wait_until,
    write_knot_conf,
    zones_of,
)
from processes import free_port

BLASTER, PROBE = "127.0.0.3", "127.0.0.4"
PROBE_INTERVAL = 0.010
PROBE_TIMEOUT = 1.0


@dataclass
class Result:
    server: str
    blast: bool
    blaster_sent_per_s: float
    blaster_answered_per_s: float
    probe_sent: int
    probe_answered_pct: float
    probe_p50_ms: float
    probe_p99_ms: float


def hits(path: Path, limit: int = 100_000) -> list[bytes]:
    """Wire queries for the first `limit` lines of a dnsperf query file."""
    wires = []
    for line in path.read_text().splitlines()[:limit]:
        name, rtype = line.split()
        wires.append(dns.message.make_query(name, rtype).to_wire())
    return wires


def blaster(
    port: int, wires: list[bytes], sockets: int, stop: EventType, counts: Any
) -> None:  # runs in its own process
    socks = []
    for _ in range(sockets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((BLASTER, 0))
        sock.setblocking(False)
        socks.append(sock)
    target = ("127.0.0.1", port)
    sent = answered = 0
    while not stop.is_set():
        for number, wire in enumerate(wires):
            try:
                socks[number % sockets].sendto(wire, target)
                sent += 1
            except BlockingIOError:
                pass
            if sent % 64 == 0:
                for sock in socks:
                    try:
                        while True:
                            sock.recv(4096)
                            answered += 1
                    except BlockingIOError:
                        pass
                if stop.is_set():
                    break
    counts[0], counts[1] = sent, answered


def probe(port: int, question: bytes, seconds: float) -> tuple[int, list[float]]:
    """(queries sent, latencies in ms of the answered ones)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((PROBE, 0))
    sock.settimeout(PROBE_TIMEOUT)
    latencies: list[float] = []
    sent = 0
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        ident = sent & 0xFFFF
        wire = ident.to_bytes(2, "big") + question[2:]
        began = time.perf_counter()
        sock.sendto(wire, ("127.0.0.1", port))
        sent += 1
        try:
            while True:
                reply = sock.recv(4096)
                if reply[:2] == wire[:2]:
                    latencies.append((time.perf_counter() - began) * 1000)
                    break
        except TimeoutError:
            pass
        next_at += PROBE_INTERVAL
        time.sleep(max(0.0, next_at - time.monotonic()))
    sock.close()
    return sent, latencies


def measure(
    name: str, port: int, wires: list[bytes], seconds: float, blast: bool, sockets: int = 3
) -> Result:
    stop = multiprocessing.Event()
    counts = multiprocessing.Array("q", 2)
    process = None
    if blast:
        process = multiprocessing.Process(target=blaster, args=(port, wires, sockets, stop, counts))
        process.start()
        time.sleep(0.5)  # the blast is on before the probe starts
    began = time.monotonic()
    sent, latencies = probe(port, wires[0], seconds)  # a name the blast asks too
    elapsed = time.monotonic() - began
    if process is not None:
        stop.set()
        process.join(timeout=10)
    latencies.sort()
    result = Result(
        server=name,
        blast=blast,
        blaster_sent_per_s=counts[0] / (elapsed + 0.5) if blast else 0.0,
        blaster_answered_per_s=counts[1] / (elapsed + 0.5) if blast else 0.0,
        probe_sent=sent,
        probe_answered_pct=100.0 * len(latencies) / max(1, sent),
        probe_p50_ms=statistics.median(latencies) if latencies else float("nan"),
        probe_p99_ms=latencies[int(0.99 * (len(latencies) - 1))] if latencies else float("nan"),
    )
    print(
        f"{name:<22} blast={'yes' if blast else 'no ':<3} "
        f"blaster {result.blaster_sent_per_s:>8.0f}/s sent {result.blaster_answered_per_s:>7.0f}/s "
        f"answered | probe {result.probe_answered_pct:5.1f}% answered, "
        f"p50 {result.probe_p50_ms:.2f} ms, p99 {result.probe_p99_ms:.2f} ms",
        flush=True,
    )
    return result


def run(args: argparse.Namespace, servers: dict[str, Server]) -> list[Result]:
    tools = ensure_tools()
    workdir: Path = args.workdir
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_cluster(args.size, workdir, False)
    manifests = workdir / "cluster.json"
    wires = hits(workdir / "hits.txt")
    results: list[Result] = []

    variants = (
        ("svcdns (default flags)", [], {}),
        ("svcdns (cap 5000/s)", ["--max-qps-per-client", "5000"], {}),
        ("svcdns (one datagram a callback)", [], {"SVCDNS_UDP_IO": "datagram"}),
    )
    for label, flags, env in variants:
        port, http_port = free_port(), free_port()
        command = [sys.executable, "-m", "svcdns", "serve", "--manifests", str(manifests)]
        command += ["--listen", f"127.0.0.1:{port}", "--http", f"127.0.0.1:{http_port}"]
        command += ["--upstream", "none", *flags]
        server = servers[label] = start(
            label, command, port, workdir / "blast-svcdns.log", env={**os.environ, **env}
        )
        wait_until(server, lambda http_port=http_port: http_ready(http_port), 900, "/ready")
        for blast in (False, True):
            results.append(measure(label, port, wires, args.seconds, blast, args.sockets))
        server.stop()
        del servers[label]

    knot_dir = workdir / "knot"
    zones = list(zones_of(manifests, knot_dir))
    port = free_port()
    conf = write_knot_conf(knot_dir, zones, port)
    knot = servers["knot"] = start(
        "knot", [tools["knotd"], "-c", str(conf)], port, workdir / "blast-knot.log"
    )
    wait_until(knot, lambda: soa_answers(port, zones), 300, "SOA")
    for blast in (False, True):
        results.append(measure("knot (reference)", port, wires, args.seconds, blast, args.sockets))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("small", "large"), default="small")
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement")
    parser.add_argument("--sockets", type=int, default=3, help="the blaster's UDP sockets")
    parser.add_argument("--workdir", type=Path, help="default /tmp/svcdns-bench-<size>")
    args = parser.parse_args(argv)
    args.workdir = (args.workdir or Path(f"/tmp/svcdns-bench-{args.size}")).resolve()
    servers: dict[str, Server] = {}
    try:
        results = run(args, servers)
    except (RuntimeError, subprocess.CalledProcessError) as error:
        print(f"blast.py: {error}", file=sys.stderr)
        return 1
    finally:
        for server in servers.values():
            server.stop()
    print("\n| server | blast | blaster sent/s | blaster answered/s ", end="")
    print("| probe answered | p50 ms | p99 ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        print(
            f"| {r.server} | {'yes' if r.blast else 'no'} | {r.blaster_sent_per_s:,.0f} "
            f"| {r.blaster_answered_per_s:,.0f} | {r.probe_answered_pct:.1f} % "
            f"| {r.probe_p50_ms:.2f} | {r.probe_p99_ms:.2f} |"
        )
    path = args.workdir / "blast.json"
    path.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
