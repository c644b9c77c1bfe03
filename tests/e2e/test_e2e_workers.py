"""`--workers N`: processes sharing the DNS port, supervised by the parent.

Each test starts `svcdns serve --workers 2` on a free port and talks to it over real
sockets: every worker answers, /ready and /metrics speak for all of them, a killed worker is
replaced, SIGTERM drains them all, and a worker that cannot start ends the server.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from pathlib import Path

import dns.message
import dns.rcode
from helpers import (
    SVCDNS,
    ServerFactory,
    ServerProcess,
    answer_data,
    get,
    ops_url,
    poll,
    run_svcdns,
    serve_args,
)

WEB = "web.shop.svc.cluster.local"
_STARTED = re.compile(r"worker (\d+) started \(pid (\d+)\)")


def worker_pids(server: ServerProcess) -> dict[int, int]:
    """The newest pid of each worker, from the supervisor's log."""
    pids: dict[int, int] = {}
    for line in server.lines:
        match = _STARTED.search(line)
        if match:
            pids[int(match.group(1))] = int(match.group(2))
    return pids


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited: only its parent has not read its status yet.
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


def ask_from_new_sockets(server: ServerProcess, count: int) -> list[dns.message.Message]:
    """Each query from its own source port, so SO_REUSEPORT spreads them over the workers."""
    replies = []
    for _ in range(count):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(2)
            query = dns.message.make_query(WEB, "A")
            sock.sendto(query.to_wire(), (server.host, server.port))
            replies.append(dns.message.from_wire(sock.recv(4096)))
    return replies


def workers_server(start_server: ServerFactory, *extra: str) -> ServerProcess:
    server = start_server(Path("examples/cluster.yaml"), "--workers", "2", *extra)
    base = ops_url(server)
    poll(lambda: get(f"{base}/ready")[0] == 200, timeout=10)
    poll(lambda: len(worker_pids(server)) == 2, timeout=5)
    return server


def test_every_worker_answers_and_metrics_add_them_up(start_server: ServerFactory) -> None:
    server = workers_server(start_server)
    base = ops_url(server)
    replies = ask_from_new_sockets(server, 60)
    assert {r.rcode() for r in replies} == {dns.rcode.NOERROR}
    assert {tuple(answer_data(r, "A")) for r in replies} == {("10.96.100.10",)}
    # The parent's sum over the workers is exactly what was sent, in one sample.
    status, _, text = get(f"{base}/metrics")
    assert status == 200
    assert 'svcdns_dns_requests_total{transport="udp"} 60.0' in text
    assert 'svcdns_dns_responses_total{rcode="NOERROR"} 60.0' in text
    assert "svcdns_source_synced 1.0" in text
    # And each worker answered some of them (60 source ports: both get a share).
    worker_urls = [
        m.group(1)
        for line in server.lines
        if (m := re.search(r"\[worker \d\]: ops on (http://\S+)", line))
    ]
    assert len(worker_urls) == 2
    shares = []
    for url in worker_urls:
        own = get(f"{url}/metrics")[2]
        found = re.search(r'svcdns_dns_requests_total\{transport="udp"\} (\S+)', own)
        assert found, own
        shares.append(float(found.group(1)))
    assert sum(shares) == 60 and min(shares) > 0


def test_a_killed_worker_is_replaced_and_ready_comes_back(start_server: ServerFactory) -> None:
    server = workers_server(start_server)
    base = ops_url(server)
    victim = worker_pids(server)[1]
    os.kill(victim, signal.SIGKILL)
    replaced = poll(lambda: worker_pids(server)[1] != victim, timeout=10)
    assert replaced
    assert server.wait_for_line(lambda line: "worker 1 exited (-9); restarting" in line, 5)
    poll(lambda: get(f"{base}/ready")[0] == 200, timeout=10)
    assert {r.rcode() for r in ask_from_new_sockets(server, 20)} == {dns.rcode.NOERROR}
    assert alive(worker_pids(server)[0]) and alive(worker_pids(server)[1])


def test_sigterm_drains_every_worker_with_the_lame_duck(start_server: ServerFactory) -> None:
    server = workers_server(start_server, "--lameduck", "1")
    base = ops_url(server)
    pids = list(worker_pids(server).values())
    server.proc.send_signal(signal.SIGTERM)
    # /ready turns 503 at once while the workers keep answering through the lame duck.
    poll(lambda: get(f"{base}/ready")[0] == 503, timeout=2)
    assert {r.rcode() for r in ask_from_new_sockets(server, 10)} == {dns.rcode.NOERROR}
    started = time.monotonic()
    assert server.proc.wait(timeout=1 + 2) == 0
    assert time.monotonic() - started < 3
    assert not any(alive(pid) for pid in pids)


def test_a_worker_that_cannot_start_ends_the_server(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: List\nitems: [\n", encoding="utf-8")
    args = serve_args(broken, "--workers", "2")
    result = run_svcdns(args[len(SVCDNS) :], timeout=20)
    assert result.returncode != 0
    assert "invalid YAML" in result.stderr
    assert "before it was ready" in result.stderr


def test_sighup_reaches_every_worker(start_server: ServerFactory, tmp_path: Path) -> None:
    config = tmp_path / "svcdns.yaml"
    config.write_text("ttl: 5\n")
    server = workers_server(start_server, "--config", str(config))
    config.write_text("ttl: 20\n")
    server.proc.send_signal(signal.SIGHUP)
    for number in (0, 1):
        line = server.wait_for_line(lambda text, n=number: f"[worker {n}]: SIGHUP: read" in text, 5)
        assert line is not None and "--ttl applied" in line, server.stderr_text()
    assert server.proc.poll() is None
    assert {r.answer[0].ttl for r in ask_from_new_sockets(server, 20)} == {20}
