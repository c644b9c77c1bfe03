"""Helper processes of `propagation.py --cluster`: the churning fake API, a UDP load client.

    python bench/churn_api.py api CLUSTER_JSON --kubeconfig PATH --queries PATH [--tls]
    python bench/churn_api.py load --port PORT --qps RATE --seconds S --queries PATH

`api` loads every object of a generated `cluster.json` (bench/cluster.py) into
`fakeapi.FakeApiServer` (bench/fakeapi), writes a kubeconfig for it and a dnsperf query file (the A
names of the ClusterIP Services and of their ready endpoints), prints one JSON line
`{"type": "ready", ...}` on stdout, then obeys JSON commands read from stdin:

- `{"cmd": "churn", "rate": R, "seconds": S, "sample_every": N, "hold": H}`: for S seconds,
  R times a second (on a fixed schedule, catching up without sleeping when late), flip the
  ready (and serving) condition of one endpoint of a ClusterIP Service's EndpointSlice and
  `apply()` the slice, walking a seeded permutation of all such endpoints (so consecutive
  changes hit different Services). Every Nth change is printed as a `sample` line (the
  endpoint's DNS name, its address, whether it is ready now, and the CLOCK_MONOTONIC time
  `apply()` returned); a sampled endpoint is left alone for H seconds so that no later
  change undoes what is being probed. A `churned` line ends the command.
- `{"cmd": "quit"}`, or stdin closing, or an hour passing: stop the server and exit.

It runs in a process of its own so that its CPU time (/proc/PID/stat) is told apart from
the bench's and svcdns's, and so that its threads do not share a GIL with the probes. The
garbage collector is off in it (the loaded objects are also frozen out of its reach):
otherwise full collections pause the churn and the watch streams for about a second over
the loaded cluster, 50-150 ms over the churn's history, pauses of the harness, not svcdns's.

`load` is the fixed-rate UDP client used when dnsperf is not installed: it sends the query
file's names round-robin at `--qps` for `--seconds`, waits 1 s for late answers and prints
one JSON line with the counts, in the shape `propagation.py` reads from dnsperf.
"""

from __future__ import annotations

import argparse
import gc
import json
import queue
import random
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakeapi import FakeApiServer  # bench/fakeapi, beside this file

ZONE = "cluster.local"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MAX_LIFETIME = 3600.0  # seconds: the command loop's bound
CHURN_SEED = 7


@dataclass(frozen=True)
class Candidate:
    """One endpoint that a change may flip: which slice, which entry, and its DNS name."""

    slice_key: tuple[str, str]
    index: int
    address: str
    name: str


def dashed(address: str) -> str:
    return address.replace(".", "-").replace(":", "-")


def emit(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class ChurningApi:
    """The fake API server loaded with a cluster, and the endpoint changes it can make."""

    def __init__(self, *, tls: bool = False) -> None:
        self.fake = FakeApiServer(tls=tls)
        self.slices: dict[tuple[str, str], dict[str, Any]] = {}
        self.candidates: list[Candidate] = []
        self.counts: dict[str, int] = {}
        self.query_names: list[str] = []

    def load(self, cluster: Path) -> float:
        started = time.monotonic()
        gc.disable()
        with cluster.open(encoding="utf-8") as source:
            items: list[dict[str, Any]] = json.load(source)["items"]
        clusterip: set[tuple[str, str]] = set()
        for item in items:
            kind = str(item.get("kind"))
            self.counts[kind] = self.counts.get(kind, 0) + 1
            metadata = item.get("metadata") or {}
            namespace, name = metadata.get("namespace", ""), metadata.get("name", "")
            if kind == "Service":
                spec = item.get("spec") or {}
                ip = spec.get("clusterIP")
                if ip and ip != "None" and not spec.get("publishNotReadyAddresses"):
                    clusterip.add((namespace, name))
                    self.query_names.append(f"{name}.{namespace}.svc.{ZONE}")
            stored = self.fake.apply(item)
            if kind == "EndpointSlice":
                service = (metadata.get("labels") or {}).get(SERVICE_NAME_LABEL)
                if (namespace, service) in clusterip and item.get("addressType") == "IPv4":
                    self._add_slice(stored, namespace, str(service))
        del items
        self.fake.encode_lists()  # every list is served as the next one: no cold first list
        # The loaded cluster is millions of long-lived containers, and the churn's history
        # soon adds hundreds of thousands: full collections over them pause this process
        # for 0.05-1 s (the churn, the watch streams), pauses of the harness, not of svcdns.
        # Loading and serving make next to no reference cycles, so the collector stays off
        # for the life of this process; what was loaded is frozen out of its reach anyway.
        gc.collect()
        gc.freeze()
        self.fake.start()
        return time.monotonic() - started

    def _add_slice(self, stored: dict[str, Any], namespace: str, service: str) -> None:
        key = (namespace, str(stored["metadata"]["name"]))
        self.slices[key] = stored
        for index, endpoint in enumerate(stored.get("endpoints") or ()):
            addresses = endpoint.get("addresses") or []
            if len(addresses) != 1 or endpoint.get("hostname"):
                continue  # names by hostname are left alone: one address, one dashed name
            name = f"{dashed(addresses[0])}.{service}.{namespace}.svc.{ZONE}"
            self.candidates.append(Candidate(key, index, addresses[0], name))
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                self.query_names.append(name)

    def write_queries(self, path: Path) -> int:
        names = list(self.query_names)
        random.Random(CHURN_SEED).shuffle(names)
        path.write_text("".join(f"{name} A\n" for name in names), encoding="ascii")
        return len(names)

    def flip(self, candidate: Candidate) -> bool:
        """Flip one endpoint's ready/serving condition and apply its slice; ready now?"""
        stored = self.slices[candidate.slice_key]
        conditions = stored["endpoints"][candidate.index].setdefault("conditions", {})
        ready = conditions.get("ready") is False  # the new value: the opposite
        conditions["ready"] = ready
        conditions["serving"] = ready
        self.slices[candidate.slice_key] = self.fake.apply(stored)
        return ready

    def churn(self, rate: float, seconds: float, sample_every: int, hold: float) -> None:
        order = list(range(len(self.candidates)))
        random.Random(CHURN_SEED).shuffle(order)
        held: dict[int, float] = {}  # candidate -> monotonic time it may change again
        total = int(rate * seconds)
        cursor, applied, samples, late_max, skipped = 0, 0, 0, 0.0, 0
        started = time.monotonic()
        deadline = started + seconds
        for change in range(total):
            target = started + change / rate
            now = time.monotonic()
            late_max = max(late_max, now - target)
            if now >= deadline:
                break
            if target > now:
                time.sleep(target - now)
            chosen = -1
            for _ in range(len(order)):  # skip the held ones; at most one full turn
                candidate = order[cursor % len(order)]
                cursor += 1
                if held.get(candidate, 0.0) <= now:
                    chosen = candidate
                    break
                skipped += 1
            if chosen < 0:
                break  # every endpoint is held: the cluster is too small for this rate
            ready = self.flip(self.candidates[chosen])
            committed = time.monotonic()
            applied += 1
            if change % sample_every == 0:
                held[chosen] = committed + hold
                samples += 1
                target_endpoint = self.candidates[chosen]
                emit(
                    {
                        "type": "sample",
                        "seq": change,
                        "t": committed,
                        "name": target_endpoint.name,
                        "address": target_endpoint.address,
                        "ready": ready,
                    }
                )
        finished = time.monotonic()
        emit(
            {
                "type": "churned",
                "requested": total,
                "applied": applied,
                "samples": samples,
                "started": started,
                "finished": finished,
                "seconds": finished - started,
                "rate": applied / max(finished - started, 1e-9),
                "late_max_ms": late_max * 1000,
                "held_skips": skipped,
                "watches": self.watch_count(),
            }
        )

    def watch_count(self) -> int:
        return sum(1 for method, target in self.fake.requests if "watch=true" in target)


def read_lines(lines: queue.Queue[str]) -> None:
    """Hand stdin's lines over, then "" at its end."""
    for line in sys.stdin:
        lines.put(line)
    lines.put("")


def serve_api(args: argparse.Namespace) -> int:
    api = ChurningApi(tls=args.tls)
    try:
        load_seconds = api.load(args.cluster)
        kubeconfig = api.fake.write_kubeconfig(args.kubeconfig)
        queries = api.write_queries(args.queries)
        emit(
            {
                "type": "ready",
                "url": api.fake.url,
                "kubeconfig": str(kubeconfig),
                "load_seconds": load_seconds,
                "objects": api.counts,
                "candidates": len(api.candidates),
                "clusterip_slices": len(api.slices),
                "queries": queries,
            }
        )
        commands: queue.Queue[str] = queue.Queue()
        threading.Thread(target=read_lines, args=(commands,), daemon=True).start()
        deadline = time.monotonic() + MAX_LIFETIME
        while time.monotonic() < deadline:
            try:
                line = commands.get(timeout=1.0)
            except queue.Empty:
                continue
            if not line:
                break  # the bench went away
            command = json.loads(line)
            if command.get("cmd") == "churn":
                api.churn(
                    float(command["rate"]),
                    float(command["seconds"]),
                    max(1, int(command.get("sample_every", 50))),
                    float(command.get("hold", 5.0)),
                )
            elif command.get("cmd") == "quit":
                break
    finally:
        api.fake.stop()
    return 0


def run_load(args: argparse.Namespace) -> int:
    """Open loop: send on a fixed schedule whatever the answers do; count what comes back."""
    import dns.message  # only this subcommand needs dnspython

    names = args.queries.read_text(encoding="ascii").split("\n")
    wires = []
    for line in names[:20_000]:
        if line.strip():
            name, rdtype = line.split()
            wires.append(dns.message.make_query(name, rdtype).to_wire()[2:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sock.connect(("127.0.0.1", args.port))
    sock.setblocking(False)
    sent = answered = 0
    started = time.monotonic()
    end = started + args.seconds
    drain_end = end + 1.0
    while True:
        now = time.monotonic()
        if now >= drain_end or (now >= end and answered >= sent):
            break
        due = min(int((now - started) * args.qps), int(args.seconds * args.qps))
        burst = 0
        while sent < due and burst < 256:  # bounded per pass
            wire = wires[sent % len(wires)]
            try:
                sock.send((sent & 0xFFFF).to_bytes(2, "big") + wire)
            except BlockingIOError:
                break
            sent += 1
            burst += 1
        readable, _, _ = select.select([sock], [], [], 0.0005)
        for _ in range(1024):
            if not readable:
                break
            try:
                sock.recv(4096)
            except (BlockingIOError, ConnectionRefusedError):
                break
            answered += 1
    elapsed = min(time.monotonic(), end) - started
    sock.close()
    lost = max(0, sent - answered)
    print(
        json.dumps(
            {
                "tool": "python",
                "sent": sent,
                "completed": answered,
                "lost": lost,
                "lost_percent": 100 * lost / max(sent, 1),
                "seconds": elapsed,
                "qps": answered / max(elapsed, 1e-9),
            }
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    api = commands.add_parser("api", help="serve a cluster.json from the fake API server")
    api.add_argument("cluster", type=Path)
    api.add_argument("--kubeconfig", type=Path, required=True)
    api.add_argument("--queries", type=Path, required=True, help="dnsperf file to write")
    api.add_argument("--tls", action="store_true", help="HTTPS (client-go sends tokens only so)")
    load = commands.add_parser("load", help="fixed-rate UDP queries (no dnsperf)")
    load.add_argument("--port", type=int, required=True)
    load.add_argument("--qps", type=float, required=True)
    load.add_argument("--seconds", type=float, required=True)
    load.add_argument("--queries", type=Path, required=True)
    args = parser.parse_args(argv)
    return serve_api(args) if args.command == "api" else run_load(args)


if __name__ == "__main__":
    raise SystemExit(main())
