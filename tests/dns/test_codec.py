"""Codec golden tests: wire hex (spaced by field) <-> messages, both ways."""

import dns.flags
import dns.message
import dns.rdatatype
import pytest
from helpers import wire

from svcdns.core.answer import Answer
from svcdns.core.rr import Rcode, Record, RRType
from svcdns.dns.codec import Drop, FormErr, NotImp, encode_reply, error_reply, parse_query

# id=1234 flags=0100 (RD) qd=1 an=0 ns=0 ar=0 | "Web" "b" root | type A | class IN
QUERY = "1234 0100 0001 0000 0000 0000  03 576562 01 62 00  0001 0001"
# The same with an OPT: root owner, type 41, payload 1232, ext-rcode 0, version 0, flags 0, rdlen 0
OPT = "00 0029 04d0 00 00 0000 0000"
QUERY_EDNS = (
    "1234 0100 0001 0000 0000 0001  03 576562 01 62 00  0001 0001  00 0029 04d0 00 00 0000 0000"
)


def test_parse_query_keeps_case_for_echo_and_lowers_the_key() -> None:
    query = parse_query(wire(QUERY))
    assert (query.header.id, query.name, query.qtype, query.qclass) == (0x1234, "web.b", 1, 1)
    assert query.edns is None
    assert query.udp_limit() == 512


def test_parse_query_reads_edns_payload_and_version() -> None:
    query = parse_query(wire(QUERY_EDNS))
    assert query.edns is not None
    assert (query.edns.payload, query.edns.version) == (1232, 0)
    assert query.udp_limit() == 1232


def test_small_edns_payload_still_allows_512() -> None:
    small = QUERY_EDNS.replace("0029 04d0", "0029 0100")  # payload 256
    assert parse_query(wire(small)).udp_limit() == 512


@pytest.mark.parametrize(
    ("data", "error"),
    [
        pytest.param("1234 0100 0001", Drop, id="shorter-than-header"),
        pytest.param("1234 8100 0001 0000 0000 0000 00 0001 0001", Drop, id="qr-set"),
        pytest.param("1234 2100 0001 0000 0000 0000 00 0001 0001", NotImp, id="opcode-notify"),
        pytest.param("1234 0100 0000 0000 0000 0000", FormErr, id="qdcount-0"),
        pytest.param("1234 0100 0002 0000 0000 0000 00 0001 0001", FormErr, id="qdcount-2"),
        pytest.param("1234 0100 0001 0000 0000 0000 05 6162", FormErr, id="label-cut-short"),
        pytest.param("1234 0100 0001 0000 0000 0000 00 0001", FormErr, id="no-qclass"),
        pytest.param(
            QUERY_EDNS.replace("0000 0001", "0000 0002") + "00 0029 04d0 00 00 0000 0000",
            FormErr,
            id="two-opt-records",
        ),
        # RFC 6891 6.1.1: an OPT owned by a name other than the root, or outside additional.
        pytest.param(
            QUERY_EDNS.replace("00 0029 04d0", "01 61 00 0029 04d0"), FormErr, id="opt-owner-a"
        ),
        pytest.param(
            QUERY.replace("0000 0000 0000", "0001 0000 0000") + OPT, FormErr, id="opt-in-answer"
        ),
        pytest.param(
            QUERY.replace("0000 0000 0000", "0000 0001 0000") + OPT,
            FormErr,
            id="opt-in-authority",
        ),
    ],
)
def test_parse_errors_carry_their_reply(data: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_query(wire(data))


def test_error_reply_is_header_only_with_id_opcode_and_rd() -> None:
    query_header = parse_query(wire(QUERY)).header
    assert error_reply(query_header, Rcode.FORMERR) == wire("1234 8101 0000 0000 0000 0000")


A_RECORD = Record("web.b", RRType.A, 5, "10.96.0.10")
# flags 8500: QR AA RD | question echoed | answer: pointer c00c to "Web.b", A IN ttl 5, 4 bytes
REPLY = (
    "1234 8500 0001 0001 0000 0000  03 576562 01 62 00 0001 0001"
    "  c00c 0001 0001 00000005 0004 0a60000a"
)


def test_encode_reply_golden_and_owner_in_the_clients_case() -> None:
    query = parse_query(wire(QUERY))
    reply = encode_reply(query, Answer(Rcode.NOERROR, answer=(A_RECORD,)), udp=True)
    assert reply.hex() == wire(REPLY).hex()
    assert dns.message.from_wire(reply).answer[0].name.to_text() == "Web.b."


def test_encode_reply_with_edns_echoes_an_opt() -> None:
    query = parse_query(wire(QUERY_EDNS))
    reply = encode_reply(query, Answer(Rcode.NOERROR, answer=(A_RECORD,)), udp=True)
    # Same as REPLY with ARCOUNT 1 and our OPT (payload 1232) at the end.
    expected = REPLY.replace("0001 0001 0000 0000", "0001 0001 0000 0001", 1)
    assert reply.hex() == wire(expected + " 00 0029 04d0 00 00 0000 0000").hex()


def test_badvers_goes_into_the_opt_extended_rcode() -> None:
    query = parse_query(wire(QUERY_EDNS))
    reply = encode_reply(query, Answer(Rcode.BADVERS, authoritative=False), udp=True)
    # header rcode 0 (low 4 bits of 16), OPT ttl high byte 1 (high bits of 16)
    expected = (
        "1234 8100 0001 0000 0000 0001  03 576562 01 62 00 0001 0001  00 0029 04d0 01 00 0000 0000"
    )
    assert reply.hex() == wire(expected).hex()


def many_addresses(count: int) -> tuple[Record, ...]:
    return tuple(
        Record("web.b", RRType.A, 5, f"10.244.{i // 250}.{i % 250 + 1}") for i in range(count)
    )


def test_udp_reply_too_big_is_cut_at_the_rrset_with_tc() -> None:
    query = parse_query(wire(QUERY))
    reply = encode_reply(query, Answer(Rcode.NOERROR, answer=many_addresses(40)), udp=True)
    # 40 A records need 12 + 11 + 40*16 bytes > 512: the one RRset goes, TC is set.
    assert reply.hex() == wire("1234 8700 0001 0000 0000 0000  03 576562 01 62 00 0001 0001").hex()
    over_tcp = encode_reply(query, Answer(Rcode.NOERROR, answer=many_addresses(40)), udp=False)
    assert len(dns.message.from_wire(over_tcp).answer[0]) == 40


def test_additional_records_may_go_without_tc() -> None:
    query = parse_query(wire(QUERY))
    extra = tuple(Record(f"host{i}.b", RRType.A, 5, f"10.244.0.{i + 1}") for i in range(40))
    reply = encode_reply(
        query, Answer(Rcode.NOERROR, answer=(A_RECORD,), additional=extra), udp=True
    )
    message = dns.message.from_wire(reply)
    assert len(reply) <= 512
    assert not message.flags & dns.flags.TC
    assert len(message.answer) == 1
    assert 0 < len(message.additional) < 40  # whole RRsets, as many as fit


def test_authority_that_does_not_fit_sets_tc() -> None:
    query = parse_query(wire(QUERY))
    big_authority = many_addresses(40)
    reply = encode_reply(
        query, Answer(Rcode.NOERROR, answer=(A_RECORD,), authority=big_authority), udp=True
    )
    message = dns.message.from_wire(reply)
    assert message.flags & dns.flags.TC
    assert [rrset.rdtype for rrset in message.answer] == [dns.rdatatype.A]
    assert message.authority == []


def test_tcp_reply_is_capped_at_65535_bytes() -> None:
    query = parse_query(wire(QUERY))
    huge = Answer(Rcode.NOERROR, answer=many_addresses(5000))  # about 80 KB
    reply = encode_reply(query, huge, udp=False)
    message = dns.message.from_wire(reply)
    assert len(reply) <= 65535
    assert message.flags & dns.flags.TC
    assert message.answer == []


def encode_name(*labels: bytes) -> str:
    return " ".join(f"{len(label):02x} {label.hex()}" for label in labels) + " 00"


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param((b"a" * 64, b"b"), id="label-of-64"),
        pytest.param(tuple([b"a" * 63] * 4), id="name-over-255"),
    ],
)
def test_names_beyond_rfc1035_limits_are_formerr(labels: tuple[bytes, ...]) -> None:
    data = wire("1234 0100 0001 0000 0000 0000 " + encode_name(*labels) + " 0001 0001")
    with pytest.raises(FormErr):
        parse_query(data)


def test_a_dot_inside_a_label_does_not_alias_another_name() -> None:
    data = wire("1234 0100 0001 0000 0000 0000 " + encode_name(b"web.shop", b"svc") + " 0001 0001")
    assert parse_query(data).name == "web\\.shop.svc"


def test_cd_bit_is_copied() -> None:
    with_cd = QUERY.replace("1234 0100", "1234 0110", 1)
    reply = encode_reply(parse_query(wire(with_cd)), Answer(Rcode.NOERROR), udp=True)
    assert reply[2:4].hex() == "8510"  # QR AA RD | CD
