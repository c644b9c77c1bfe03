"""End-to-end tests of the wire: a real `svcdns serve` over UDP and TCP on loopback.

Covers answers and flags, negative answers with their SOA, 0x20 case, EDNS, truncation,
TCP framing and pipelining, bad input, listeners (IPv4, IPv6, several) and start-up errors.
Read-only tests share one module-scoped server on examples/cluster.yaml.
"""

from __future__ import annotations

import random
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
from builders import endpoint_slice, headless_service, namespace, to_yaml
from helpers import (
    CLUSTER_YAML,
    LOOPBACK,
    UDP_PATHS,
    ServerFactory,
    ServerProcess,
    answer_data,
    assert_authoritative,
    assert_single_soa,
    assert_udp_path,
    ipv6_loopback_available,
    make_query,
    poll,
    rrset_texts,
    run_svcdns,
    server_factory,
    tcp_frame,
    tcp_query,
    tcp_read_message,
    udp_exchange,
    udp_no_reply,
    udp_path_env,
    udp_query,
)

ZONE = "cluster.local"
WEB = f"web.shop.svc.{ZONE}"
WEB_A = f"{WEB}. 5 IN A 10.96.100.10"
WEB_SRV = f"_http._tcp.{WEB}"
BIG = "big.shop.svc.cluster.local"
BIG_COUNT = 120
BIG_ADDRESSES = [f"10.244.100.{i}" for i in range(1, BIG_COUNT + 1)]
HEADER = struct.Struct("!HHHHHH")

needs_ipv6 = pytest.mark.skipif(not ipv6_loopback_available(), reason="::1 cannot be bound")


# Every test of this module on a shared server runs on both UDP paths: recvmmsg batches
# (the default on Linux) and the one-datagram fallback.
@pytest.fixture(scope="module", params=UDP_PATHS)
def cluster_server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """examples/cluster.yaml, served on the UDP path of the parameter."""
    with server_factory() as start:
        server = start(CLUSTER_YAML, env=udp_path_env(request.param))
        assert_udp_path(server, request.param)
        yield server


@pytest.fixture(scope="module", params=UDP_PATHS)
def big_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose headless `big.shop` has 120 ready endpoints (an A RRset of ~2 KB)."""
    path = tmp_path_factory.mktemp("big") / "big.yaml"
    path.write_text(
        to_yaml(namespace("shop"), headless_service("big"), endpoint_slice("big", BIG_ADDRESSES)),
        encoding="utf-8",
    )
    with server_factory() as start:
        server = start(path, env=udp_path_env(request.param))
        assert_udp_path(server, request.param)
        yield server


def assert_web_alive(server: ServerProcess) -> None:
    """The good query every bad-input test ends with."""
    reply = server.udp(WEB, "A")
    assert_authoritative(reply)
    assert rrset_texts(reply) == [WEB_A]


def raw_query(
    ident: int = 0x1234, flags: int = 0x0100, qdcount: int = 1, question: bytes | None = None
) -> bytes:
    if question is None:
        question = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"
    return HEADER.pack(ident, flags, qdcount, 0, 0, 0) + question


def header_of(wire: bytes) -> tuple[int, int, int]:
    """(id, flags, rcode) of a raw reply."""
    ident, flags, *_ = HEADER.unpack_from(wire)
    return ident, flags, flags & 0xF


# -- answers over UDP and TCP ------------------------------------------------------------


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_cluster_ip_a_record(cluster_server: ServerProcess, transport: str) -> None:
    reply = getattr(cluster_server, transport)(WEB, "A")
    assert_authoritative(reply)
    assert rrset_texts(reply) == [WEB_A]
    assert reply.authority == []


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_srv_record_with_target_address_in_additional(
    cluster_server: ServerProcess, transport: str
) -> None:
    reply = getattr(cluster_server, transport)(WEB_SRV, "SRV")
    assert_authoritative(reply)
    assert rrset_texts(reply) == [f"{WEB_SRV}. 5 IN SRV 0 100 80 {WEB}."]
    assert rrset_texts(reply, "additional") == [WEB_A]


def test_nxdomain_carries_one_soa(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp("nosuch.shop.svc.cluster.local", "A")
    assert_authoritative(reply, dns.rcode.NXDOMAIN)
    assert_single_soa(reply)


def test_nodata_carries_one_soa(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp("shop.svc.cluster.local", "A")
    assert_authoritative(reply, dns.rcode.NOERROR)
    assert_single_soa(reply)


def test_query_case_is_echoed_in_question_and_answer(cluster_server: ServerProcess) -> None:
    mixed = "wEb.ShOp.SvC.cLuStEr.LoCaL"
    reply = cluster_server.udp(mixed, "A")
    assert_authoritative(reply)
    assert reply.question[0].name.to_text() == f"{mixed}."
    assert [rrset.name.to_text() for rrset in reply.answer] == [f"{mixed}."]
    assert answer_data(reply, "A") == ["10.96.100.10"]


def test_name_outside_the_zones_is_refused(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp("example.com", "A")
    assert reply.rcode() == dns.rcode.REFUSED
    assert not reply.flags & dns.flags.AA
    assert reply.answer == []


# -- EDNS ----------------------------------------------------------------------------------


def test_edns_query_gets_opt_back(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp(WEB, "A", use_edns=0, payload=4096)
    assert_authoritative(reply)
    assert reply.edns == 0
    assert rrset_texts(reply) == [WEB_A]


def test_query_without_edns_gets_no_opt(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp(WEB, "A")
    assert reply.edns == -1
    assert reply.opt is None


def test_edns_version_1_gets_badvers(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp(WEB, "A", use_edns=1)
    assert reply.rcode() == dns.rcode.BADVERS == 16
    assert reply.edns == 0, "BADVERS is carried in an OPT record of our version"
    assert reply.answer == []


@pytest.mark.parametrize(
    ("qname", "rdtype", "rcode"),
    [
        pytest.param(WEB, "A", dns.rcode.NOERROR, id="fast-path-answer"),
        pytest.param(f"nosuch.shop.svc.{ZONE}", "A", dns.rcode.NXDOMAIN, id="fast-path-negative"),
        pytest.param(WEB, "ANY", dns.rcode.NOERROR, id="full-path-any"),
        pytest.param(ZONE, "SOA", dns.rcode.NOERROR, id="full-path-apex"),
        pytest.param("example.com", "A", dns.rcode.REFUSED, id="full-path-refused"),
    ],
)
@pytest.mark.parametrize("tcp", [False, True], ids=["udp", "tcp"])
def test_the_do_bit_is_copied_into_the_reply(
    cluster_server: ServerProcess, qname: str, rdtype: str, rcode: int, tcp: bool
) -> None:
    """RFC 3225 3: "the DO bit of the query MUST be copied in the response"; a query
    without it gets a reply without it."""
    ask = cluster_server.tcp if tcp else cluster_server.udp
    reply = ask(qname, rdtype, use_edns=0, want_dnssec=True)
    assert reply.rcode() == rcode
    assert reply.edns == 0 and reply.ednsflags & dns.flags.DO
    assert reply.payload == 1232
    plain = ask(qname, rdtype, use_edns=0)
    assert plain.rcode() == rcode
    assert plain.edns == 0 and not plain.ednsflags & dns.flags.DO


def test_badvers_copies_the_do_bit(cluster_server: ServerProcess) -> None:
    reply = cluster_server.udp(WEB, "A", use_edns=1, want_dnssec=True)
    assert reply.rcode() == dns.rcode.BADVERS
    assert reply.ednsflags & dns.flags.DO


# -- truncation ----------------------------------------------------------------------------


def udp_wire(server: ServerProcess, qname: str, rdtype: str, **kwargs: Any) -> bytes:
    return udp_exchange(server.port, make_query(qname, rdtype, **kwargs).to_wire())


def big_addresses(reply: dns.message.Message) -> list[str]:
    return sorted(answer_data(reply, "A"), key=lambda a: int(a.rsplit(".", 1)[1]))


def test_big_answer_without_edns_is_truncated_to_512(big_server: ServerProcess) -> None:
    wire = udp_wire(big_server, BIG, "A")
    reply = dns.message.from_wire(wire)
    assert reply.flags & dns.flags.TC
    assert len(wire) <= 512
    assert reply.answer == [], "an RRset that does not fit whole is left out"
    assert reply.rcode() == dns.rcode.NOERROR


def test_big_answer_with_edns_1232_is_truncated(big_server: ServerProcess) -> None:
    wire = udp_wire(big_server, BIG, "A", use_edns=0, payload=1232)
    reply = dns.message.from_wire(wire)
    assert reply.flags & dns.flags.TC
    assert len(wire) <= 1232
    assert reply.answer == []


def test_big_answer_fits_edns_4096(big_server: ServerProcess) -> None:
    wire = udp_wire(big_server, BIG, "A", use_edns=0, payload=4096)
    reply = dns.message.from_wire(wire)
    assert not reply.flags & dns.flags.TC
    assert len(wire) <= 4096
    assert big_addresses(reply) == BIG_ADDRESSES
    assert [rrset.ttl for rrset in reply.answer] == [5]


def test_big_answer_over_tcp_is_whole(big_server: ServerProcess) -> None:
    reply = big_server.tcp(BIG, "A")
    assert_authoritative(reply)
    assert big_addresses(reply) == BIG_ADDRESSES


def test_big_srv_truncation_only_when_answer_is_incomplete(big_server: ServerProcess) -> None:
    qname = f"_http._tcp.{BIG}"
    query = make_query(qname, "SRV", use_edns=0, payload=65535)
    with tcp_connect(big_server) as sock:
        sock.sendall(tcp_frame(query.to_wire()))
        full_wire = tcp_read_message(sock)
    full = dns.message.from_wire(full_wire)
    assert len(answer_data(full, "SRV")) == BIG_COUNT
    assert sum(len(rrset) for rrset in full.additional) == BIG_COUNT
    for payload in (512, 1232, 4096, len(full_wire) - 50, 65535):
        wire = udp_wire(big_server, qname, "SRV", use_edns=0, payload=payload)
        reply = dns.message.from_wire(wire)
        assert len(wire) <= payload
        answers = len(answer_data(reply, "SRV"))
        truncated = bool(reply.flags & dns.flags.TC)
        assert truncated == (answers < BIG_COUNT), f"payload {payload}: TC iff answer incomplete"
        assert answers in (0, BIG_COUNT), "the SRV RRset is sent whole or not at all"


def test_big_srv_drops_additional_without_tc(big_server: ServerProcess) -> None:
    qname = f"_http._tcp.{BIG}"
    query = make_query(qname, "SRV", use_edns=0, payload=65535)
    with tcp_connect(big_server) as sock:
        sock.sendall(tcp_frame(query.to_wire()))
        full_size = len(tcp_read_message(sock))
    # Room for the whole answer, not for all 120 target addresses in additional.
    payload = full_size - 50
    wire = udp_wire(big_server, qname, "SRV", use_edns=0, payload=payload)
    reply = dns.message.from_wire(wire)
    assert len(wire) <= payload
    assert not reply.flags & dns.flags.TC
    assert len(answer_data(reply, "SRV")) == BIG_COUNT
    assert sum(len(rrset) for rrset in reply.additional) < BIG_COUNT


# -- TCP framing ---------------------------------------------------------------------------


def tcp_connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection((server.host, server.port), timeout=2)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def test_pipelined_tcp_queries_on_one_connection(cluster_server: ServerProcess) -> None:
    queries = {
        101: make_query(WEB, "A", id=101),
        102: make_query("db.shop.svc.cluster.local", "A", id=102),
        103: make_query("nosuch.shop.svc.cluster.local", "A", id=103),
    }
    with tcp_connect(cluster_server) as sock:
        sock.sendall(b"".join(tcp_frame(q.to_wire()) for q in queries.values()))
        replies = {}
        for _ in queries:
            reply = dns.message.from_wire(tcp_read_message(sock))
            replies[reply.id] = reply
        assert sorted(replies) == [101, 102, 103]
        for ident, reply in replies.items():
            assert queries[ident].is_response(reply)
        assert rrset_texts(replies[101]) == [WEB_A]
        assert sorted(answer_data(replies[102], "A")) == ["10.244.2.10", "10.244.2.11"]
        assert replies[103].rcode() == dns.rcode.NXDOMAIN
        fourth = make_query(WEB_SRV, "SRV", id=104)
        sock.sendall(tcp_frame(fourth.to_wire()))
        reply = dns.message.from_wire(tcp_read_message(sock))
        assert reply.id == 104
        assert answer_data(reply, "SRV") == [f"0 100 80 {WEB}."]


def test_tcp_query_split_across_two_sends(cluster_server: ServerProcess) -> None:
    framed = tcp_frame(make_query(WEB, "A", id=4242).to_wire())
    with tcp_connect(cluster_server) as sock:
        sock.sendall(framed[:5])
        sock.settimeout(0.2)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # half a message is not answered
        sock.settimeout(2)
        sock.sendall(framed[5:])
        reply = dns.message.from_wire(tcp_read_message(sock))
    assert reply.id == 4242
    assert rrset_texts(reply) == [WEB_A]


# -- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("wire", [b"", b"\x12\x34\x01\x00\x00"], ids=["empty", "5-bytes"])
def test_datagram_shorter_than_header_is_dropped(
    cluster_server: ServerProcess, wire: bytes
) -> None:
    udp_no_reply(cluster_server.port, wire)
    assert_web_alive(cluster_server)


def test_response_packet_is_dropped(cluster_server: ServerProcess) -> None:
    udp_no_reply(cluster_server.port, raw_query(flags=0x8000 | 0x0400))
    assert_web_alive(cluster_server)


@pytest.mark.parametrize("qdcount", [0, 2])
def test_question_count_other_than_one_is_formerr(
    cluster_server: ServerProcess, qdcount: int
) -> None:
    one = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"
    wire = raw_query(ident=0xBEEF, qdcount=qdcount, question=one * qdcount)
    ident, flags, rcode = header_of(udp_exchange(cluster_server.port, wire))
    assert ident == 0xBEEF
    assert flags & 0x8000, "QR set"
    assert rcode == dns.rcode.FORMERR
    assert_web_alive(cluster_server)


@pytest.mark.parametrize(
    "question",
    [
        b"\x03web\x04sh",  # a label longer than the packet
        b"\x03web\x00\x00",  # no room for type and class
        b"\xc0\x0c\x00\x01\x00\x01",  # a compression pointer to itself
    ],
    ids=["cut-label", "cut-type", "pointer-loop"],
)
def test_garbled_question_is_formerr(cluster_server: ServerProcess, question: bytes) -> None:
    wire = raw_query(ident=0x0ABC, question=question)
    ident, flags, rcode = header_of(udp_exchange(cluster_server.port, wire))
    assert (ident, rcode) == (0x0ABC, dns.rcode.FORMERR)
    assert flags & 0x8000
    assert_web_alive(cluster_server)


WEB_QUESTION = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00\x00\x01\x00\x01"
ROOT_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize(
    ("counts", "tail"),
    [
        ((0, 0, 1), b"\x01a" + ROOT_OPT),  # owner "a", not the root
        ((1, 0, 0), ROOT_OPT),  # in the answer section
        ((0, 1, 0), ROOT_OPT),  # in the authority section
    ],
    ids=["opt-owner-not-root", "opt-in-answer", "opt-in-authority"],
)
@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_misplaced_opt_is_formerr(
    cluster_server: ServerProcess, counts: tuple[int, int, int], tail: bytes, transport: str
) -> None:
    """RFC 6891 6.1.1, on both paths: asked first with a good query, the name is then as ready
    as it gets for the fast path, which must still refuse the bad one."""
    assert_web_alive(cluster_server)
    header = struct.pack("!HHHHHH", 0x0DD0, 0x0100, 1, *counts)
    wire = header + WEB_QUESTION + tail
    if transport == "udp":
        reply = udp_exchange(cluster_server.port, wire)
    else:
        with socket.create_connection((cluster_server.host, cluster_server.port), 2) as sock:
            sock.sendall(tcp_frame(wire))
            reply = tcp_read_message(sock)
    ident, flags, rcode = header_of(reply)
    assert (ident, rcode) == (0x0DD0, dns.rcode.FORMERR)
    assert flags & 0x8000
    assert_web_alive(cluster_server)


@pytest.mark.parametrize("opcode", [dns.opcode.NOTIFY, dns.opcode.STATUS])
def test_unsupported_opcode_is_notimp(
    cluster_server: ServerProcess, opcode: dns.opcode.Opcode
) -> None:
    query = make_query(WEB, "A", id=777)
    query.set_opcode(opcode)
    ident, flags, rcode = header_of(udp_exchange(cluster_server.port, query.to_wire()))
    assert (ident, rcode) == (777, dns.rcode.NOTIMP)
    assert flags & 0x8000
    assert (flags >> 11) & 0xF == opcode, "the reply keeps the query's opcode"
    assert_web_alive(cluster_server)


@pytest.mark.parametrize("rdtype", ["AXFR", "IXFR"])
def test_zone_transfer_over_udp_is_refused(cluster_server: ServerProcess, rdtype: str) -> None:
    reply = cluster_server.udp("cluster.local", rdtype)
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.answer == []
    assert_web_alive(cluster_server)


def test_chaos_class_is_refused(cluster_server: ServerProcess) -> None:
    reply = udp_query(cluster_server.port, "version.bind", "TXT", rdclass=dns.rdataclass.CH)
    assert reply.rcode() == dns.rcode.REFUSED
    assert reply.answer == []
    assert_web_alive(cluster_server)


def test_random_datagrams_do_not_stop_the_server(cluster_server: ServerProcess) -> None:
    rng = random.Random(0)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(200):
            size = rng.randrange(0, 600)
            sock.sendto(rng.randbytes(size), (LOOPBACK, cluster_server.port))

    # A burst may overflow the socket buffer, so the kernel may drop a datagram (as UDP
    # does); a client retries. What matters: the server answers again once it is drained.
    def answered() -> bool:
        query = make_query(WEB, "A")
        try:
            reply = dns.query.udp(query, LOOPBACK, port=cluster_server.port, timeout=0.5)
        except dns.exception.Timeout:
            return False
        return rrset_texts(reply) == [WEB_A]

    assert poll(answered, timeout=5), "no answer after the random datagrams"
    assert_web_alive(cluster_server)
    assert cluster_server.proc.poll() is None
    stderr = cluster_server.stderr_text()
    assert "Traceback" not in stderr and "handler raised" not in stderr, stderr


def test_tcp_garbage_then_good_query(cluster_server: ServerProcess) -> None:
    rng = random.Random(1)
    good = make_query(WEB, "A", id=0x5151)
    with tcp_connect(cluster_server) as sock:
        sock.sendall(tcp_frame(b"junk") + tcp_frame(rng.randbytes(40)))
        try:
            sock.sendall(tcp_frame(good.to_wire()))
            reply = None
            while reply is None or reply.id != good.id:
                wire = tcp_read_message(sock)
                if len(wire) >= 12 and HEADER.unpack_from(wire)[0] == good.id:
                    reply = dns.message.from_wire(wire)
        except ConnectionError:  # the server may close it; a new connection must work
            reply = tcp_query(cluster_server.port, WEB, "A")
    assert rrset_texts(reply) == [WEB_A]
    assert_web_alive(cluster_server)


# -- listeners -----------------------------------------------------------------------------


@needs_ipv6
def test_ipv6_listener_answers_udp_and_tcp(start_server: ServerFactory) -> None:
    server = start_server(listen=["[::1]:0"])
    assert server.host == "::1"
    for reply in (server.udp(WEB, "A"), server.tcp(WEB, "A")):
        assert_authoritative(reply)
        assert rrset_texts(reply) == [WEB_A]


@needs_ipv6
@pytest.mark.parametrize("path", UDP_PATHS)
def test_two_listeners_both_answer(start_server: ServerFactory, path: str) -> None:
    server = start_server(listen=["127.0.0.1:0", "[::1]:0"], env=udp_path_env(path))
    assert_udp_path(server, path)
    assert [a.host for a in server.addresses] == ["127.0.0.1", "::1"]
    for address in server.addresses:
        for query in (udp_query, tcp_query):
            reply = query(address.port, WEB, "A", host=address.host)
            assert rrset_texts(reply) == [WEB_A]


# -- start-up errors -----------------------------------------------------------------------


def assert_one_line_error(result: Any) -> str:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one stderr line, got:\n{result.stderr}"
    assert "Traceback" not in result.stderr
    return str(lines[0])


def serve(*args: str) -> list[str]:
    return ["serve", "--upstream", "none", *args]


def test_port_in_use_exits_with_one_line(cluster_server: ServerProcess) -> None:
    busy = f"127.0.0.1:{cluster_server.port}"
    result = run_svcdns(serve("--manifests", "examples/cluster.yaml", "--listen", busy), timeout=5)
    line = assert_one_line_error(result)
    assert line.startswith("svcdns: cannot listen on"), line
    assert busy in line
    assert_web_alive(cluster_server)


def test_invalid_yaml_at_start_exits_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("items:\n  - kind: Service\n   bad: [unclosed\n", encoding="utf-8")
    result = run_svcdns(serve("--manifests", str(broken), "--listen", "127.0.0.1:0"))
    line = assert_one_line_error(result)
    assert str(broken) in line


def test_missing_manifests_file_exits_with_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    result = run_svcdns(serve("--manifests", str(missing), "--listen", "127.0.0.1:0"))
    line = assert_one_line_error(result)
    assert str(missing) in line


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--pods", "bogus"), ("--ttl", "-1"), ("--listen", "nonsense")],
)
def test_wrong_flag_value_exits_with_one_line(flag: str, value: str) -> None:
    args = serve("--manifests", "examples/cluster.yaml", flag, value)
    if flag != "--listen":
        args += ["--listen", "127.0.0.1:0"]
    line = assert_one_line_error(run_svcdns(args))
    assert line.startswith("svcdns: "), line
    assert flag in line and value in line, line
