"""Overload through a real server: one client over --max-qps-per-client, and a flood.

Each blasting client has a loopback address of its own (127.0.0.0/8 is all loopback), so
the per-client limit sees them apart from the probe. Nothing here asserts a timing: the
probe's answered fraction and latency under a blast are measured by `bench/blast.py`.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import socket
import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.exception
import dns.message
import dns.rcode
import pytest
from helpers import (
    ServerFactory,
    ServerProcess,
    answer_data,
    drain,
    get,
    http_status,
    make_query,
    ops_url,
    poll,
    tcp_frame,
)

BLASTER, PROBE = "127.0.0.3", "127.0.0.4"
FLOODERS = ("127.0.0.5", "127.0.0.6", "127.0.0.7", "127.0.0.8")
WEB = "web.shop.svc.cluster.local"
# What README (PROTOCOL, limits) states for a flood on examples/cluster.yaml: resident
# memory stays under this, whatever the flood.
FLOOD_RSS_BOUND = 150 * 1024 * 1024
FLOOD_SECONDS = 3.0
TCP_FLOOD_CONNECTIONS = 300


def metric(server: ServerProcess, name: str) -> float:
    text = get(f"{ops_url(server)}/metrics")[2]
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match is not None, f"{name} not in /metrics"
    return float(match.group(1))


def rss_bytes(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} for {pid}")


def udp_socket(source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((source, 0))
    return sock


def test_one_client_over_the_rate_is_dropped_and_counted(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--max-qps-per-client", "50")
    sent = 300
    with udp_socket(BLASTER) as blaster:
        received = 0
        # In batches, read between them: the server must see every datagram (a burst
        # could overflow a receive buffer the kernel caps at rmem_max), and all 300 still
        # go out in well under a second.
        for start in range(0, sent, 25):
            for ident in range(start, start + 25):
                wire = make_query(WEB, "A", id=ident).to_wire()
                blaster.sendto(wire, (server.host, server.port))
            received += drain(blaster, quiet=0.02)
        received += drain(blaster, quiet=0.5)
    # At most two one-second windows' worth: the burst may straddle a window's end.
    assert 50 <= received <= 100
    assert metric(server, "svcdns_rate_limited_total") == sent - received
    # Another client is not affected: every one of its queries is answered.
    with udp_socket(PROBE) as probe:
        probe.settimeout(2)
        for ident in range(20):
            probe.sendto(make_query(WEB, "A", id=ident).to_wire(), (server.host, server.port))
            reply = dns.message.from_wire(probe.recv(4096))
            assert (reply.id, reply.rcode(), answer_data(reply, "A")) == (
                ident,
                0,
                ["10.96.100.10"],
            )
    lines = [line for line in server.lines if "--max-qps-per-client" in line]
    assert len(lines) == 1
    assert lines[0].endswith(
        f"dropped since the last such line (at most one in 10 s; last from {BLASTER})"
    )


def test_no_limit_with_zero(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--max-qps-per-client", "0")
    with udp_socket(BLASTER) as blaster:
        blaster.settimeout(2)
        for ident in range(200):
            blaster.sendto(make_query(WEB, "A", id=ident).to_wire(), (server.host, server.port))
            assert dns.message.from_wire(blaster.recv(4096)).rcode() == dns.rcode.NOERROR
    assert "svcdns_rate_limited" not in get(f"{ops_url(server)}/metrics")[2]


def test_one_address_asking_at_full_rate_is_never_dropped_with_default_flags(
    start_server: ServerFactory,
) -> None:
    """No per-client cap by default: a node-local cache or a benchmark asking from one
    address with hundreds of queries in flight (full batches) gets every answer."""
    server = start_server("examples/cluster.yaml")
    total, in_flight = 20_000, 160  # more than a batch (64): batches come back full
    answered = 0
    with udp_socket(BLASTER) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)  # room for replies
        client.settimeout(5)
        for ident in range(in_flight):
            client.sendto(make_query(WEB, "A", id=ident).to_wire(), (server.host, server.port))
        for ident in range(in_flight, total + in_flight):
            reply = dns.message.from_wire(client.recv(4096))
            assert (reply.rcode(), answer_data(reply, "A")) == (0, ["10.96.100.10"])
            answered += 1
            if ident < total:
                wire = make_query(WEB, "A", id=ident & 0xFFFF).to_wire()
                client.sendto(wire, (server.host, server.port))
    assert answered == total
    assert metric(server, "svcdns_overload_dropped_total") == 0
    assert "svcdns_rate_limited" not in get(f"{ops_url(server)}/metrics")[2]


def test_under_overload_a_light_client_is_answered_and_the_heaviest_is_dropped(
    start_server: ServerFactory,
) -> None:
    """The server is stopped (SIGSTOP) while one address fills its receive queue and a
    probe asks now and then; once it runs again, its batches come back full from a full
    queue: overload. The probe's queries are all answered, the blaster's excess dropped
    unread, counted and logged once."""
    server = start_server("examples/cluster.yaml")
    target = (server.host, server.port)
    probes = {}
    server.proc.send_signal(signal.SIGSTOP)
    try:
        with udp_socket(BLASTER) as blaster, udp_socket(PROBE) as probe:
            blaster.setblocking(False)
            for number in range(20_000):
                # Five probes among the first 200 datagrams: in the queue on any kernel
                # (rmem_default holds 256 of these), one or two a batch.
                if number % 40 == 0 and len(probes) < 5:
                    query = make_query(WEB, "A", id=1000 + number)
                    probe.sendto(query.to_wire(), target)
                    probes[query.id] = query
                with contextlib.suppress(BlockingIOError):
                    blaster.sendto(make_query(WEB, "A", id=number).to_wire(), target)
            server.proc.send_signal(signal.SIGCONT)
            probe.settimeout(5)
            answered = []
            for _ in probes:
                reply = dns.message.from_wire(probe.recv(4096))
                assert (reply.rcode(), answer_data(reply, "A")) == (0, ["10.96.100.10"])
                answered.append(reply.id)
    finally:
        server.proc.send_signal(signal.SIGCONT)
    assert sorted(answered) == sorted(probes)
    assert metric(server, "svcdns_overload_dropped_total") > 0
    line = server.wait_for_line(lambda text: "overloaded:" in text, 5)
    assert line is not None and line.endswith(
        f"dropped since the last such line (at most one in 10 s; heaviest last: {BLASTER})"
    )
    assert server.count_lines(lambda text: "overloaded:" in text) == 1
    # Once the backlog is read, the server answers as before. Polled: while Linux reads a
    # backlog, it frees the queue's memory in chunks (a quarter of the buffer), and a
    # datagram arriving before a chunk is freed is dropped by the kernel.
    assert poll(lambda: web_answered(server), timeout=10)


def web_answered(server: ServerProcess) -> bool:
    try:
        reply = server.udp(WEB, "A")
    except dns.exception.Timeout:
        return False
    return (reply.rcode(), answer_data(reply, "A")) == (0, ["10.96.100.10"])


def _random_name(rng: random.Random) -> str:
    label = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=rng.randint(1, 20)))
    return rng.choice([f"{label}.shop.svc.cluster.local", f"{label}.cluster.local", f"{label}"])


def _udp_flood(server: ServerProcess, source: str, stop: threading.Event, seed: int) -> None:
    rng = random.Random(seed)
    with udp_socket(source) as sock:
        sock.setblocking(False)
        while not stop.is_set():
            for _ in range(100):
                wire = make_query(_random_name(rng), "A").to_wire()
                try:
                    sock.sendto(wire, (server.host, server.port))
                except BlockingIOError:
                    break
            try:  # read what came back now and then, never waiting
                while True:
                    sock.recv(4096)
            except BlockingIOError:
                pass


def _tcp_flood(server: ServerProcess, stop: threading.Event, seed: int) -> list[socket.socket]:
    """Connections that pipeline queries and never read, and some that stop mid-frame."""
    rng = random.Random(seed)
    opened: list[socket.socket] = []
    for number in range(TCP_FLOOD_CONNECTIONS):
        if stop.is_set():
            break
        try:
            sock = socket.create_connection((server.host, server.port), timeout=1)
        except OSError:
            continue  # the connection cap reached: what the flood is meant to find
        opened.append(sock)
        sock.setblocking(False)
        if number % 10 == 0:
            sock.send(struct.pack("!H", 512) + b"\x12\x34")  # a frame that never ends
            continue
        batch = b"".join(
            tcp_frame(make_query(_random_name(rng), "TXT").to_wire()) for _ in range(200)
        )
        with contextlib.suppress(BlockingIOError):
            sock.send(batch)
    return opened


@pytest.fixture
def flood_stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def test_flood_on_udp_and_tcp_keeps_health_and_memory_bounded(
    start_server: ServerFactory, flood_stop: threading.Event
) -> None:
    server = start_server("examples/cluster.yaml")
    health = f"{ops_url(server)}/health"
    idle = rss_bytes(server.proc.pid)
    threads = [
        threading.Thread(target=_udp_flood, args=(server, source, flood_stop, seed), daemon=True)
        for seed, source in enumerate(FLOODERS)
    ]
    for thread in threads:
        thread.start()
    sockets = _tcp_flood(server, flood_stop, 99)
    statuses: list[int] = []
    peak = idle
    try:
        deadline = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < deadline:
            statuses.append(http_status(health))
            peak = max(peak, rss_bytes(server.proc.pid))
            time.sleep(0.1)
    finally:
        flood_stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for sock in sockets:
            sock.close()
    high_water = rss_bytes(server.proc.pid, "VmHWM")
    print(
        f"\nflood: idle {idle / 2**20:.0f} MiB, peak sampled {peak / 2**20:.0f} MiB, "
        f"high-water {high_water / 2**20:.0f} MiB, {len(sockets)} TCP connections, "
        f"{len(statuses)} health checks"
    )
    assert statuses and set(statuses) == {200}
    assert high_water <= FLOOD_RSS_BOUND
    # And it answers right afterwards.
    reply = server.udp(WEB, "A")
    assert (reply.rcode(), answer_data(reply, "A")) == (0, ["10.96.100.10"])
    assert server.proc.poll() is None
