"""SIGHUP over real sockets: each setting the reload applies takes effect in the running
server, and its one log line names every setting that changed, applied or not.

The forwarding settings (upstreams, the TTL) have their SIGHUP test in test_e2e_forward;
here the server's own: TCP limits, the per-client rate, zone transfers, the lame duck and
the watch timeout.
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from builders import namespace
from fakeapi import FakeApiServer
from helpers import (
    CLUSTER_YAML,
    SVCDNS,
    ServerFactory,
    ServerProcess,
    answered,
    closed_by_server,
    connect,
    drain,
    get,
    make_query,
    ops_url,
    poll,
)

WEB = "web.shop.svc.cluster.local"
SIGHUP_LINE = "SIGHUP: read"


def configured(start_server: ServerFactory, config: Path, settings: str) -> ServerProcess:
    """A server on the example cluster whose --config file holds `settings`."""
    config.write_text(settings, encoding="utf-8")
    return start_server(CLUSTER_YAML, "--config", str(config))


def reload(server: ServerProcess, config: Path, settings: str) -> str:
    """Write `settings` into the --config file, send SIGHUP and return the line it logs."""
    before = server.count_lines(lambda text: SIGHUP_LINE in text)
    config.write_text(settings, encoding="utf-8")
    server.proc.send_signal(signal.SIGHUP)
    assert poll(lambda: server.count_lines(lambda text: SIGHUP_LINE in text) > before, timeout=5)
    return [line for line in server.lines if SIGHUP_LINE in line][-1]


def burst(server: ServerProcess, count: int) -> int:
    """Send `count` UDP queries from one address; the replies received. In batches, read
    between them: the server sees every datagram, and all go out well within a second."""
    received = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for start in range(0, count, 25):
            for ident in range(start, min(start + 25, count)):
                sock.sendto(make_query(WEB, "A", id=ident).to_wire(), (server.host, server.port))
            received += drain(sock, quiet=0.02)
        received += drain(sock, quiet=0.5)
    return received


def test_sighup_applies_the_tcp_limits(start_server: ServerFactory, tmp_path: Path) -> None:
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "tcp-max-connections: 1000\n")
    line = reload(
        server,
        config,
        "tcp-max-connections: 1\ntcp-idle-timeout: 1\nstartup-timeout: 9\n",
    )
    assert line.endswith(
        "--tcp-idle-timeout, --tcp-max-connections applied; "
        "needs a restart to change: --startup-timeout"
    ), line
    with connect(server) as first:
        assert answered(first, 1)
        with connect(server) as second:  # over the new cap of one: closed at once
            assert closed_by_server(second)
        started = time.monotonic()
        assert closed_by_server(first)  # idle for the new timeout, not the default 10 s
        assert time.monotonic() - started < 4
    with connect(server) as again:  # its slot is free again
        assert answered(again, 2)


def test_sighup_starts_changes_and_stops_the_per_client_rate(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "max-qps-per-client: 0\n")
    assert burst(server, 60) == 60  # no limit
    assert "svcdns_rate_limited" not in get(f"{ops_url(server)}/metrics")[2]

    line = reload(server, config, "max-qps-per-client: 10\n")
    assert line.endswith("--max-qps-per-client applied"), line
    # At most two one-second windows' worth: the burst may straddle a window's end.
    assert 10 <= burst(server, 60) <= 20
    assert "svcdns_rate_limited_total" in get(f"{ops_url(server)}/metrics")[2]

    reload(server, config, "max-qps-per-client: 50\n")
    # The last burst's count may carry into this window: at least 50 - 10 get through.
    assert 40 <= burst(server, 150) <= 100

    reload(server, config, "max-qps-per-client: 0\n")
    assert burst(server, 60) == 60


def test_sighup_applies_transfer_to_and_says_so(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "ttl: 5\n")
    query = dns.message.make_query("cluster.local", "AXFR")
    reply = dns.query.tcp(query, server.host, port=server.port, timeout=5)
    assert reply.rcode() == dns.rcode.REFUSED

    line = reload(server, config, "transfer-to: [127.0.0.1/32]\n")
    assert line.endswith("--transfer-to applied"), line
    messages = list(dns.query.xfr(server.host, "cluster.local", port=server.port))
    assert messages and messages[0].rcode() == dns.rcode.NOERROR


def test_sighup_applies_the_lameduck(start_server: ServerFactory, tmp_path: Path) -> None:
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "lameduck: 0\n")
    line = reload(server, config, "lameduck: 2\n")
    assert line.endswith("--lameduck applied"), line
    server.proc.send_signal(signal.SIGTERM)
    assert server.wait_for_line(lambda text: "stopping in 2.0 s (lame duck" in text, 5), (
        server.stderr_text()
    )
    assert server.udp(WEB).rcode() == dns.rcode.NOERROR  # still answering in the lame duck
    assert server.proc.wait(timeout=10) == 0


# -- the API source ------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    server = FakeApiServer()
    server.start()
    server.apply(namespace("shop"))
    yield server
    server.stop()


def watch_timeouts(fake: FakeApiServer) -> list[str]:
    """The timeoutSeconds of every Services watch svcdns asked for, in order."""
    found = []
    for _, path in fake.requests:
        route, _, query = path.partition("?")
        if route.endswith("/services") and "watch=true" in query:
            found += [p.partition("=")[2] for p in query.split("&") if p.startswith("timeoutS")]
    return found


def test_sighup_applies_the_watch_timeout_to_the_next_watch(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    config = tmp_path / "svcdns.yaml"
    config.write_text("watch-timeout: 300\n", encoding="utf-8")
    kubeconfig = fake.write_kubeconfig(tmp_path / "kubeconfig")
    args = [*SVCDNS, "serve", "--kubeconfig", str(kubeconfig), "--config", str(config)]
    server = ServerProcess([*args, "--listen", "127.0.0.1:0", "--http", "none"])
    try:
        server.wait_ready()
        assert poll(lambda: watch_timeouts(fake) == ["300"], timeout=5), fake.requests
        line = reload(server, config, "watch-timeout: 7\n")
        assert line.endswith("--watch-timeout applied"), line
        fake.drop_watches()  # the watch under way ends: the next one is asked with 7 s
        assert poll(lambda: watch_timeouts(fake)[1:2] == ["7"], timeout=10), fake.requests
        assert set(watch_timeouts(fake)[1:]) == {"7"}
    finally:
        server.stop()


DB_PEERS = "db-peers.shop.svc.cluster.local"  # headless, three ready endpoints


def first_addresses(server: ServerProcess, times: int) -> list[str]:
    firsts = []
    for _ in range(times):
        reply = server.udp(DB_PEERS, "A")
        assert reply.rcode() == dns.rcode.NOERROR and len(reply.answer[0]) == 3
        firsts.append(reply.answer[0][0].address)
    return firsts


def test_rotation_is_on_by_default_and_sighup_turns_it_off_and_on(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """Issue 13, point 5: a headless Service's addresses turn from answer to answer, so
    clients taking the first spread over every pod; `rotate: false` keeps one order."""
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "ttl: 5\n")
    assert len(set(first_addresses(server, 3))) == 3
    line = reload(server, config, "rotate: false\n")
    assert "--rotate applied" in line
    assert len(set(first_addresses(server, 4))) == 1
    reload(server, config, "rotate: true\n")
    assert len(set(first_addresses(server, 3))) == 3


def test_no_rotate_keeps_one_order(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--no-rotate")
    assert len(set(first_addresses(server, 4))) == 1


def test_a_reload_that_also_changes_the_zone_applies_only_the_ttl(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """The zone needs a restart: a SIGHUP that changes it with the TTL must not hand the new
    zone to the answerer while the index and the fast path still serve the old one."""
    config = tmp_path / "svcdns.yaml"
    server = configured(start_server, config, "ttl: 5\n")
    line = reload(server, config, "ttl: 7\nzone: other.local\n")
    assert "--ttl applied" in line and "needs a restart to change: --zone" in line
    for rdtype in ("A", "SOA", "ANY"):  # the fast path, and the full path's answerer
        assert server.udp(WEB, rdtype).rcode() == dns.rcode.NOERROR
    assert server.udp(WEB, "A").answer[0].ttl == 7
    apex = server.udp("cluster.local", "SOA")
    assert apex.rcode() == dns.rcode.NOERROR and apex.answer[0].ttl == 7
    assert server.udp("web.shop.svc.other.local", "A").rcode() == dns.rcode.REFUSED
