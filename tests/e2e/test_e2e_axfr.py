"""Zone transfers: AXFR over TCP for clients in --transfer-to, read back with dnspython and
compared with `svcdns records`; REFUSED for everyone else and over UDP; IXFR as AXFR."""

from __future__ import annotations

import socket

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.zone
from helpers import CLUSTER_YAML, ServerFactory, run_svcdns, tcp_frame, tcp_read_message


def records_lines() -> set[str]:
    result = run_svcdns(["records", "--manifests", str(CLUSTER_YAML)])
    assert result.returncode == 0, result.stderr
    return {" ".join(line.split()) for line in result.stdout.splitlines() if "\tSOA\t" not in line}


def test_axfr_of_the_cluster_zone_is_what_svcdns_records_prints(
    start_server: ServerFactory,
) -> None:
    server = start_server(CLUSTER_YAML, "--transfer-to", "127.0.0.0/8")
    zone = dns.zone.from_xfr(dns.query.xfr(server.host, "cluster.local", port=server.port))
    transferred = set()
    for name, rdataset in zone.iterate_rdatasets():
        if rdataset.rdtype == dns.rdatatype.SOA:
            continue
        owner = "cluster.local." if str(name) == "@" else f"{name}.cluster.local."
        kind = dns.rdatatype.to_text(rdataset.rdtype)
        for rdata in rdataset:
            text = rdata.to_text(origin=zone.origin, relativize=False)
            transferred.add(" ".join(f"{owner} {rdataset.ttl} IN {kind} {text}".split()))
    expected = {line for line in records_lines() if ".arpa." not in line.split()[0]}
    assert transferred == expected


def test_axfr_of_a_reverse_zone_holds_the_cluster_ptrs(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--transfer-to", "127.0.0.1/32")
    messages = list(dns.query.xfr(server.host, "in-addr.arpa", port=server.port, relativize=False))
    answers = [rrset for message in messages for rrset in message.answer]
    assert answers[0].rdtype == answers[-1].rdtype == dns.rdatatype.SOA
    ptrs = {rrset.name.to_text() for rrset in answers if rrset.rdtype == dns.rdatatype.PTR}
    assert "10.100.96.10.in-addr.arpa." in ptrs
    assert all(name.endswith(".in-addr.arpa.") for name in ptrs)


def test_axfr_is_refused_outside_transfer_to_and_over_udp(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML)  # --transfer-to: none
    query = dns.message.make_query("cluster.local", "AXFR")
    assert dns.query.tcp(query, server.host, port=server.port, timeout=5).rcode() == (
        dns.rcode.REFUSED
    )
    allowed = start_server(CLUSTER_YAML, "--transfer-to", "127.0.0.0/8")
    udp = dns.query.udp(query, allowed.host, port=allowed.port, timeout=5)
    assert udp.rcode() == dns.rcode.REFUSED


def test_ixfr_is_answered_with_the_whole_zone(start_server: ServerFactory) -> None:
    server = start_server(CLUSTER_YAML, "--transfer-to", "127.0.0.0/8")
    query = dns.message.make_query("cluster.local", "IXFR")
    with socket.create_connection((server.host, server.port), timeout=5) as sock:
        sock.sendall(tcp_frame(query.to_wire()))
        answers = []
        while True:
            message = dns.message.from_wire(tcp_read_message(sock))
            assert message.id == query.id and message.rcode() == dns.rcode.NOERROR
            answers += message.answer
            soas = [rrset for rrset in answers if rrset.rdtype == dns.rdatatype.SOA]
            if len(soas) == 2:
                break
    assert answers[0].rdtype == answers[-1].rdtype == dns.rdatatype.SOA
    assert any(rrset.name.to_text() == "web.shop.svc.cluster.local." for rrset in answers)
