"""Forwarding, against a real second DNS server on loopback (tests/upstream.py).

svcdns answers its zones itself and sends every other name upstream; the client gets its
own ID and question back with RA set and AA clear. Stub domains pick their own servers;
a truncated UDP reply is asked again over TCP; a silent upstream gives way to the next,
and none at all gives SERVFAIL; replies with a wrong ID or question are ignored; clients
outside --allow-recursion get REFUSED.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from helpers import (
    CLUSTER_YAML,
    UDP_PATHS,
    ServerFactory,
    ServerProcess,
    answer_data,
    assert_udp_path,
    free_port,
    get,
    ops_url,
    run_svcdns,
    udp_path_env,
)
from upstream import Behaviour, UpstreamServer

NAME = "api.example.com"


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(records={NAME: "192.0.2.10", "db.corp.example": "192.0.2.20"})
    server.start()
    yield server
    server.stop()


def asked(server: UpstreamServer) -> list[tuple[str, str]]:
    """The questions an upstream received, but for svcdns's loop check at start."""
    return [(name, how) for name, how in server.questions if "svcdns-loop-check" not in name]


def forwarding(
    start_server: ServerFactory,
    *upstreams: UpstreamServer,
    extra: tuple[str, ...] = (),
    path: str = "batched",
) -> ServerProcess:
    """A server forwarding to `upstreams`, on UDP path `path` (helpers.UDP_PATHS)."""
    args: list[str] = []
    for server in upstreams:
        args += ["--upstream", server.address]
    started = start_server(CLUSTER_YAML, *args, *extra, upstream=None, env=udp_path_env(path))
    assert_udp_path(started, path)
    return started


def ask(
    server: ServerProcess,
    name: str,
    *,
    source: str = "127.0.0.1",
    tcp: bool = False,
    timeout: float = 6.0,
) -> dns.message.Message:
    query = dns.message.make_query(name, "A")
    if tcp:
        return dns.query.tcp(query, server.host, port=server.port, timeout=timeout)
    return dns.query.udp(query, server.host, port=server.port, timeout=timeout, source=source)


@pytest.mark.parametrize("path", UDP_PATHS)
def test_the_do_bit_is_copied_into_forwarded_cached_and_refused_replies(
    start_server: ServerFactory, upstream: UpstreamServer, path: str
) -> None:
    """RFC 3225 3, on the forwarding paths: the first (upstream) answer, the cached one
    (served before any parsing) and a REFUSED one for a client outside --allow-recursion."""
    server = forwarding(
        start_server, upstream, extra=("--allow-recursion", "127.0.0.1/32"), path=path
    )
    for source in ("127.0.0.1", "127.0.0.1", "127.0.0.2"):  # upstream, cache, refused
        for want_dnssec in (True, False):
            query = dns.message.make_query(NAME, "A", use_edns=0, want_dnssec=want_dnssec)
            reply = dns.query.udp(query, server.host, port=server.port, timeout=6, source=source)
            refused = source == "127.0.0.2"
            assert reply.rcode() == (dns.rcode.REFUSED if refused else dns.rcode.NOERROR)
            assert answer_data(reply, "A") == ([] if refused else ["192.0.2.10"])
            assert reply.edns == 0
            assert bool(reply.ednsflags & dns.flags.DO) == want_dnssec, (source, want_dnssec)
    assert asked(upstream) == [(f"{NAME}.", "udp")]


@pytest.mark.parametrize("path", UDP_PATHS)
def test_a_name_outside_the_zones_is_forwarded(
    start_server: ServerFactory, upstream: UpstreamServer, path: str
) -> None:
    server = forwarding(start_server, upstream, path=path)
    query = dns.message.make_query("Api.Example.COM", "A")
    reply = dns.query.udp(query, server.host, port=server.port, timeout=6)
    assert reply.id == query.id
    assert reply.rcode() == dns.rcode.NOERROR
    assert reply.question[0].name.to_text() == "Api.Example.COM."  # the client's letter case
    assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert reply.flags & dns.flags.RD
    assert answer_data(reply, "A") == ["192.0.2.10"]
    assert reply.answer[0].ttl == 30  # the upstream said 60; the cache serves at most 30
    assert asked(upstream)[-1][1] == "udp"


def test_nxdomain_from_upstream_keeps_its_soa(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    reply = ask(server, "nosuch.example.com")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert [rrset.name.to_text() for rrset in reply.authority] == ["example."]
    assert not reply.flags & dns.flags.AA


def test_cluster_names_stay_authoritative_with_forwarding_on(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    reply = ask(server, "web.shop.svc.cluster.local")
    assert reply.flags & dns.flags.AA
    assert answer_data(reply, "A") == ["10.96.100.10"]
    assert asked(upstream) == []


def test_a_stub_domain_goes_to_its_own_servers(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    corp = UpstreamServer(records={"db.corp.example": "198.51.100.7"}).start()
    try:
        stub = ("--stub-domain", f"corp.example={corp.address}")
        server = forwarding(start_server, upstream, extra=stub)
        assert answer_data(ask(server, "db.corp.example"), "A") == ["198.51.100.7"]
        assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
        assert [name for name, _ in asked(corp)] == ["db.corp.example."]
        assert [name for name, _ in asked(upstream)] == [f"{NAME}."]
    finally:
        corp.stop()


def test_a_truncated_udp_reply_is_asked_again_over_tcp(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.behaviour = Behaviour(truncate_udp=True)
    server = forwarding(start_server, upstream)
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
    assert [transport for _, transport in asked(upstream)] == ["udp", "tcp"]


def test_a_silent_upstream_gives_way_to_the_next_then_servfail(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    silent = UpstreamServer(behaviour=Behaviour(silent=True)).start()
    try:
        server = forwarding(start_server, silent, upstream)
        started = time.monotonic()
        assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
        assert 1.5 < time.monotonic() - started < 4  # one 2 s try timed out first
        # The silent one is now tried last: the next question is answered at once.
        started = time.monotonic()
        assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
        assert time.monotonic() - started < 1.0
        only_silent = forwarding(start_server, silent)
        reply = ask(only_silent, NAME)
        assert reply.rcode() == dns.rcode.SERVFAIL
        assert reply.flags & dns.flags.RA
    finally:
        silent.stop()


@pytest.mark.parametrize("spoof", ["id", "question", "garbage"])
def test_a_reply_that_does_not_match_is_ignored(
    start_server: ServerFactory, upstream: UpstreamServer, spoof: str
) -> None:
    upstream.behaviour = Behaviour(spoof_first=spoof)
    server = forwarding(start_server, upstream)
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]  # never 6.6.6.6


def test_forwarding_over_tcp_from_the_client(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    assert answer_data(ask(server, NAME, tcp=True), "A") == ["192.0.2.10"]


@pytest.mark.parametrize("path", UDP_PATHS)
def test_clients_outside_allow_recursion_are_refused(
    start_server: ServerFactory, upstream: UpstreamServer, path: str
) -> None:
    server = forwarding(
        start_server, upstream, extra=("--allow-recursion", "127.0.0.1/32"), path=path
    )
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.2", 0))
        except OSError:
            pytest.fail("127.0.0.2 is not usable on this machine")
    refused = ask(server, NAME, source="127.0.0.2")
    assert refused.rcode() == dns.rcode.REFUSED
    assert not refused.flags & dns.flags.RA
    # Cluster names are answered for everyone.
    assert ask(server, "web.shop.svc.cluster.local", source="127.0.0.2").rcode() == 0
    assert len(asked(upstream)) == 1


# -- the cache of forwarded answers ------------------------------------------------------


def test_a_cached_answer_counts_its_ttl_down_and_is_not_asked_again(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    first = ask(server, NAME)
    assert first.answer[0].ttl == 30  # the upstream's 60, capped by --cache-ttl
    time.sleep(1.2)
    query = dns.message.make_query("API.example.com", "A")
    again = dns.query.udp(query, server.host, port=server.port, timeout=6)
    assert again.id == query.id and again.question[0].name.to_text() == "API.example.com."
    assert answer_data(again, "A") == ["192.0.2.10"]
    assert again.answer[0].ttl in (28, 29)
    assert again.flags & dns.flags.RA and not again.flags & dns.flags.AA
    assert answer_data(ask(server, NAME, tcp=True), "A") == ["192.0.2.10"]
    assert len(asked(upstream)) == 1


def test_a_negative_answer_is_cached_briefly(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    assert ask(server, "nosuch.example.com").rcode() == dns.rcode.NXDOMAIN
    again = ask(server, "nosuch.example.com")
    assert again.rcode() == dns.rcode.NXDOMAIN
    assert again.authority[0].ttl <= 5  # SOA min(60, 30), capped at 5 s
    assert len(asked(upstream)) == 1


def test_servfail_is_not_cached(start_server: ServerFactory, upstream: UpstreamServer) -> None:
    upstream.behaviour = Behaviour(silent=True)
    server = forwarding(start_server, upstream)
    assert ask(server, NAME).rcode() == dns.rcode.SERVFAIL
    upstream.behaviour = Behaviour()
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]


def test_identical_questions_in_flight_share_one_upstream_query(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.behaviour = Behaviour(delay=0.5)
    server = forwarding(start_server, upstream)
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(3)]
    try:
        queries = [dns.message.make_query(NAME, "A") for _ in sockets]
        for sock, query in zip(sockets, queries, strict=True):
            sock.settimeout(6)
            sock.sendto(query.to_wire(), (server.host, server.port))
        replies = [dns.message.from_wire(sock.recv(4096)) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert [r.id for r in replies] == [q.id for q in queries]
    assert all(answer_data(r, "A") == ["192.0.2.10"] for r in replies)
    assert len(asked(upstream)) == 1


def test_the_cache_evicts_the_least_recently_used(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.records.update({"a.example": "192.0.2.1", "b.example": "192.0.2.2"})
    server = forwarding(start_server, upstream, extra=("--cache-size", "2"))
    for name in (NAME, "a.example", NAME, "b.example"):  # NAME used again: a.example is oldest
        ask(server, name)
    assert len(asked(upstream)) == 3
    ask(server, NAME)
    assert len(asked(upstream)) == 3  # still cached
    ask(server, "a.example")
    assert len(asked(upstream)) == 4  # evicted, asked again


def test_a_forwarding_loop_stops_the_server_with_one_line() -> None:
    port = free_port()
    # Its own address as its upstream: the loop check's question comes straight back.
    args = ["serve", "--manifests", str(CLUSTER_YAML), "--listen", f"127.0.0.1:{port}"]
    result = run_svcdns([*args, "--upstream", f"127.0.0.1:{port}", "--http", "none"], timeout=20)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1
    assert f"forwarding loop: a question sent to upstream 127.0.0.1:{port} came back" in errors[0]


def test_forwarding_turned_on_by_sighup_is_checked_for_a_loop(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    """As at start: the first upstreams a SIGHUP brings are asked the loop check's question."""
    config = tmp_path / "svcdns.yaml"
    config.write_text("upstream: none\n")
    server = start_server(CLUSTER_YAML, "--config", str(config), upstream=None)
    config.write_text(f"upstream: ['127.0.0.1:{server.port}']\n")  # itself: a loop
    server.proc.send_signal(signal.SIGHUP)
    assert server.proc.wait(timeout=20) == 1
    line = server.wait_for_line(lambda text: "forwarding loop" in text, 5)
    assert line is not None and f"upstream 127.0.0.1:{server.port} came back" in line


def test_the_loop_check_passes_a_real_upstream(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    assert server.wait_for_line(lambda line: "forwarding loop" in line, 3) is None
    assert any("svcdns-loop-check" in name for name, _ in upstream.questions)
    assert server.proc.poll() is None


def test_a_failing_upstream_is_checked_with_root_ns_and_used_again(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    flaky = UpstreamServer(records={NAME: "203.0.113.9"}, behaviour=Behaviour(silent=True))
    flaky.start()
    try:
        server = forwarding(start_server, flaky, upstream)
        assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]  # flaky timed out
        flaky.behaviour = Behaviour()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and (".", "udp") not in asked(flaky):
            time.sleep(0.1)
        assert (".", "udp") in asked(flaky)  # the `. NS` health check
        time.sleep(0.3)
        # Healthy again, it is asked first (a new name, so nothing comes from the cache).
        flaky.records["fresh.example"] = "203.0.113.10"
        upstream.records["fresh.example"] = "192.0.2.11"
        assert answer_data(ask(server, "fresh.example"), "A") == ["203.0.113.10"]
    finally:
        flaky.stop()


def test_metrics_count_forwarding_the_cache_and_badvers(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    base = ops_url(server)
    # Let the loop check's question finish, so the counts below are only ours.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not upstream.questions:
        time.sleep(0.05)
    ask(server, NAME)  # a miss: asked upstream, then cached
    # Zone questions the fast path hands on, with the cache not empty, are not
    # forward-cache misses (issue 13, point 8): pod names, the apex, ANY, special names.
    for name, rdtype in [
        *((f"10-244-0-{n}.shop.pod.cluster.local", "A") for n in range(1, 6)),
        ("cluster.local", "SOA"),
        ("web.shop.svc.cluster.local", "ANY"),
        ("dns-version.cluster.local", "TXT"),
    ]:
        query = dns.message.make_query(name, rdtype)
        assert dns.query.udp(query, server.host, port=server.port, timeout=6).rcode() == 0
    ask(server, NAME)  # from the cache
    badvers = dns.message.make_query("web.shop.svc.cluster.local", "A", use_edns=1)
    reply = dns.query.udp(badvers, server.host, port=server.port, timeout=6)
    assert reply.rcode() == dns.rcode.BADVERS
    text = get(f"{base}/metrics")[2]
    up = upstream.address
    assert f'svcdns_forward_requests_total{{rcode="NOERROR",upstream="{up}"}} 1.0' in text
    assert f'svcdns_forward_requests_total{{rcode="NXDOMAIN",upstream="{up}"}} 1.0' in text
    assert f'svcdns_forward_duration_seconds_count{{upstream="{up}"}} 2.0' in text
    assert f'svcdns_upstream_healthy{{upstream="{up}"}} 1.0' in text
    assert "svcdns_cache_hits_total 1.0" in text
    assert "svcdns_cache_misses_total 1.0" in text
    assert "svcdns_cache_entries 1.0" in text
    assert 'svcdns_dns_responses_total{rcode="BADVERS"} 1.0' in text
    assert 'svcdns_dns_responses_total{rcode="NOERROR"} 10.0' in text


def test_serve_stale_answers_from_an_expired_entry_when_upstreams_fail(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.behaviour = Behaviour(ttl=1)
    server = forwarding(start_server, upstream, extra=("--serve-stale", "60"))
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
    upstream.behaviour = Behaviour(silent=True)
    time.sleep(1.2)  # the entry has expired
    stale = ask(server, NAME)
    assert stale.rcode() == dns.rcode.NOERROR
    assert answer_data(stale, "A") == ["192.0.2.10"]
    assert stale.answer[0].ttl == 30  # RFC 8767


def test_an_external_name_target_is_looked_up_upstream(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.records["www.example.com"] = "192.0.2.30"
    server = forwarding(start_server, upstream)
    for transport in ("udp", "tcp"):
        reply = ask(server, "ext.shop.svc.cluster.local", tcp=transport == "tcp")
        assert reply.rcode() == dns.rcode.NOERROR
        assert [rrset.to_text() for rrset in reply.answer] == [
            "ext.shop.svc.cluster.local. 5 IN CNAME www.example.com.",
            "www.example.com. 30 IN A 192.0.2.30",
        ]
        # AA: the CNAME at the name asked is ours (RFC 1035 4.1.1), as CoreDNS sets it.
        assert reply.flags & dns.flags.RA and reply.flags & dns.flags.AA
    assert len(asked(upstream)) == 1  # the second came from the cache
    cname = dns.query.udp(
        dns.message.make_query("ext.shop.svc.cluster.local", "CNAME"),
        server.host,
        port=server.port,
        timeout=6,
    )
    assert cname.flags & dns.flags.AA  # asked for the CNAME itself: ours, not chased
    assert [rrset.to_text() for rrset in cname.answer] == [
        "ext.shop.svc.cluster.local. 5 IN CNAME www.example.com."
    ]


def test_an_external_name_into_the_zone_is_never_sent_upstream(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    """Found side by side with CoreDNS (issue 13): with forwarding on, a chain that ends in
    the zone at a name without the type asked was sent upstream, whose NXDOMAIN was passed
    on for a name that exists. It is CNAME, then NODATA with our SOA (RFC 1034 4.3.2 3a,
    RFC 2308 2.2)."""
    server = forwarding(start_server, upstream)
    for rdtype in ("AAAA", "TXT", "MX"):
        query = dns.message.make_query("web-alias.shop.svc.cluster.local", rdtype)
        reply = dns.query.udp(query, server.host, port=server.port, timeout=6)
        assert reply.rcode() == dns.rcode.NOERROR, rdtype
        assert reply.flags & dns.flags.AA
        assert [rrset.to_text() for rrset in reply.answer] == [
            "web-alias.shop.svc.cluster.local. 5 IN CNAME web.shop.svc.cluster.local."
        ]
        assert [rrset.name.to_text() for rrset in reply.authority] == ["cluster.local."]
        assert reply.authority[0].rdtype == dns.rdatatype.SOA
    assert asked(upstream) == []


def test_an_external_name_whose_target_does_not_exist_carries_the_upstream_soa(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    """The CNAME is ours, the NXDOMAIN is the target's (RFC 6604): the upstream's SOA comes
    with it, so a resolver can cache the denial for its negative TTL (RFC 2308 2.1)."""
    server = forwarding(start_server, upstream)  # the upstream has no www.example.com
    reply = ask(server, "ext.shop.svc.cluster.local")
    assert reply.rcode() == dns.rcode.NXDOMAIN
    assert reply.flags & dns.flags.AA and reply.flags & dns.flags.RA
    assert [rrset.to_text() for rrset in reply.answer] == [
        "ext.shop.svc.cluster.local. 5 IN CNAME www.example.com."
    ]
    assert [rrset.rdtype for rrset in reply.authority] == [dns.rdatatype.SOA]


@pytest.mark.parametrize("path", UDP_PATHS)
def test_log_queries_says_where_each_answer_came_from_in_json(
    start_server: ServerFactory, upstream: UpstreamServer, path: str
) -> None:
    import json

    server = forwarding(
        start_server, upstream, extra=("--log-queries", "--log-format", "json"), path=path
    )
    ask(server, "web.shop.svc.cluster.local")
    ask(server, NAME)
    ask(server, NAME)
    ask(server, NAME, tcp=True)

    def queries() -> list[dict[str, object]]:
        lines = [json.loads(line) for line in server.lines if line.startswith("{")]
        return [line for line in lines if line.get("logger") == "svcdns.query"]

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len(queries()) < 4:
        time.sleep(0.05)
    found = [(q["name"], q["type"], q["rcode"], q["from"], q["client"]) for q in queries()]
    assert found == [
        ("web.shop.svc.cluster.local", "A", "NOERROR", "zone", "127.0.0.1"),
        (NAME, "A", "NOERROR", "upstream", "127.0.0.1"),
        (NAME, "A", "NOERROR", "cache", "127.0.0.1"),
        (NAME, "A", "NOERROR", "cache", "127.0.0.1"),  # TCP: through the full path, cached
    ]
    assert all(isinstance(q["duration_ms"], float) for q in queries())
    every = [json.loads(line) for line in server.lines if line.startswith("{")]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in every)


# -- SIGHUP ----------------------------------------------------------------------------------


def test_sighup_applies_new_upstreams_and_ttl_without_losing_a_query(
    start_server: ServerFactory, upstream: UpstreamServer, tmp_path: Path
) -> None:
    other = UpstreamServer(records={NAME: "203.0.113.77"}).start()
    config = tmp_path / "svcdns.yaml"
    config.write_text(f"ttl: 5\nupstream: [{upstream.address}]\ncache-size: 0\n")
    try:
        server = start_server(CLUSTER_YAML, "--config", str(config), upstream=None)
        assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
        lost: list[str] = []
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                try:
                    ask(server, "web.shop.svc.cluster.local", timeout=2)
                except Exception as error:
                    lost.append(repr(error))

        asker = threading.Thread(target=keep_asking)
        asker.start()
        config.write_text(f"ttl: 30\nupstream: [{other.address}]\nnamespaces: [shop]\n")
        server.proc.send_signal(signal.SIGHUP)
        line = server.wait_for_line(lambda text: "SIGHUP: read" in text, 5)
        time.sleep(0.3)
        stop.set()
        asker.join()
        assert lost == []
        assert line is not None and "--ttl, --upstream" in line
        assert "needs a restart to change: --namespaces" in line
        assert ask(server, "web.shop.svc.cluster.local").answer[0].ttl == 30
        assert answer_data(ask(server, NAME), "A") == ["203.0.113.77"]
        # A broken file changes nothing, in one line.
        config.write_text("ttl: [\n")
        server.proc.send_signal(signal.SIGHUP)
        assert server.wait_for_line(lambda text: "keeping the current settings" in text, 5)
        assert ask(server, "web.shop.svc.cluster.local").answer[0].ttl == 30
    finally:
        other.stop()


def test_forwarding_turned_on_by_sighup_is_counted(
    start_server: ServerFactory, upstream: UpstreamServer, tmp_path: Path
) -> None:
    """The forwarding metrics are there from the start, so forwarding that a SIGHUP turns
    on is counted like forwarding that was on from the start."""
    config = tmp_path / "svcdns.yaml"
    config.write_text("upstream: none\n")
    server = start_server(CLUSTER_YAML, "--config", str(config), upstream=None)
    assert ask(server, NAME).rcode() == dns.rcode.REFUSED
    assert "svcdns_forward_in_flight 0.0" in get(f"{ops_url(server)}/metrics")[2]
    config.write_text(f"upstream: [{upstream.address}]\n")
    server.proc.send_signal(signal.SIGHUP)
    assert server.wait_for_line(lambda text: "SIGHUP: read" in text, 5)
    assert answer_data(ask(server, NAME), "A") == ["192.0.2.10"]
    text = get(f"{ops_url(server)}/metrics")[2]
    up = upstream.address
    assert f'svcdns_forward_requests_total{{rcode="NOERROR",upstream="{up}"}} 1.0' in text
    assert "svcdns_cache_misses_total 1.0" in text


def test_above_max_concurrent_a_question_gets_servfail_at_once(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    upstream.records["other.example"] = "192.0.2.40"
    server = forwarding(start_server, upstream, extra=("--max-concurrent", "1"))
    deadline = time.monotonic() + 5  # let the loop check's question finish first
    while time.monotonic() < deadline and not upstream.questions:
        time.sleep(0.05)
    time.sleep(0.2)
    upstream.behaviour = Behaviour(delay=1.0)
    slow = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        slow.settimeout(6)
        first = dns.message.make_query(NAME, "A")
        slow.sendto(first.to_wire(), (server.host, server.port))
        time.sleep(0.2)  # the first is upstream now
        started = time.monotonic()
        second = ask(server, "other.example")
        assert second.rcode() == dns.rcode.SERVFAIL
        assert time.monotonic() - started < 0.5  # not queued behind the first
        assert answer_data(dns.message.from_wire(slow.recv(4096)), "A") == ["192.0.2.10"]
    finally:
        slow.close()


def test_a_forwarded_answer_too_big_for_udp_is_cut_with_tc(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    many = [f"192.0.2.{n}" for n in range(1, 41)]
    upstream.records["many.example"] = " ".join(many)
    server = forwarding(start_server, upstream)
    plain = ask(server, "many.example")  # 40 addresses do not fit in 512 bytes
    assert plain.flags & dns.flags.TC and plain.answer == []
    over_tcp = ask(server, "many.example", tcp=True)
    assert sorted(answer_data(over_tcp, "A")) == sorted(many)
    query = dns.message.make_query("many.example", "A", use_edns=0, payload=4096)
    big = dns.query.udp(query, server.host, port=server.port, timeout=6)
    assert not big.flags & dns.flags.TC and len(answer_data(big, "A")) == 40


def test_a_forwarded_answer_with_several_addresses_is_rotated_from_the_cache(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    """As CoreDNS's `loadbalance` does to what its cache serves (issue 13, point 5)."""
    three = ["192.0.2.1", "192.0.2.2", "192.0.2.3"]
    upstream.records["three.example"] = " ".join(three)
    server = forwarding(start_server, upstream)
    answers = [answer_data(ask(server, "three.example"), "A") for _ in range(3)]
    assert all(sorted(found) == three for found in answers)
    assert {found[0] for found in answers} == set(three)
    assert asked(upstream) == [("three.example.", "udp")]  # once: the rest from the cache


def test_a_reverse_name_that_is_not_the_clusters_is_forwarded(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    server = forwarding(start_server, upstream)
    reply = dns.query.udp(
        dns.message.make_query("1.2.0.192.in-addr.arpa", "PTR"),
        server.host,
        port=server.port,
        timeout=6,
    )
    assert reply.rcode() == dns.rcode.NXDOMAIN  # the upstream's answer, not ours
    assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert ("1.2.0.192.in-addr.arpa.", "udp") in asked(upstream)
    ours = dns.query.udp(
        dns.message.make_query("10.100.96.10.in-addr.arpa", "PTR"),
        server.host,
        port=server.port,
        timeout=6,
    )
    assert ours.flags & dns.flags.AA  # a cluster address: answered by the zone
    assert len(asked(upstream)) == 1


def test_unreadable_upstream_replies_are_servfail_and_logged_once(
    start_server: ServerFactory,
) -> None:
    names = [f"host{number}.cut.example" for number in range(30)]
    broken = UpstreamServer(
        records=dict.fromkeys(names, "192.0.2.1"), behaviour=Behaviour(cut_records=True)
    ).start()
    try:
        server = forwarding(start_server, broken)
        rcodes = {server.udp(name, "A").rcode() for name in names}
        assert rcodes == {dns.rcode.SERVFAIL}
        lines = [line for line in server.lines if "unreadable replies from upstream" in line]
        assert len(lines) == 1, server.stderr_text()
        assert lines[0].endswith(
            "1 unreadable replies from upstream (SERVFAIL) since the last such line"
            " (at most one in 10 s; last: ValueError: 'host0.cut.example')"
        )
    finally:
        broken.stop()
