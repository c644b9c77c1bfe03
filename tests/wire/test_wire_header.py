"""wire.header: the header's layout and flag bits, against dnspython's reading of them."""

from __future__ import annotations

import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import pytest
from helpers import wire

from svcdns.wire import header
from svcdns.wire.header import (
    AA,
    AA_HIGH,
    ANCOUNT_AT,
    ARCOUNT_AT,
    CD,
    CD_LOW,
    COUNTS,
    FLAGS_AT,
    HEADER,
    HEADER_SIZE,
    NSCOUNT_AT,
    OPCODE_HIGH,
    OPCODE_MASK,
    OPCODE_SHIFT,
    PLAIN_QUERY_COUNTS,
    QDCOUNT_AT,
    QR,
    QR_HIGH,
    RA,
    RA_LOW,
    RCODE_MASK,
    RCODE_NAMES,
    RD,
    RD_HIGH,
    RR_COUNTS,
    TC,
    TC_HIGH,
)


def test_a_header_packs_to_the_golden_bytes() -> None:
    # id 1234 | QR AA RD RA CD, opcode 0, rcode 3 | QD 1, AN 2, NS 3, AR 4
    packed = HEADER.pack(0x1234, QR | AA | RD | RA | CD | 3, 1, 2, 3, 4)
    assert packed == wire("1234 8593 0001 0002 0003 0004")
    assert len(packed) == HEADER_SIZE == HEADER.size
    assert packed[QDCOUNT_AT:] == COUNTS.pack(1, 2, 3, 4)
    assert packed[ANCOUNT_AT:] == RR_COUNTS.pack(2, 3, 4)
    assert (packed[NSCOUNT_AT:ARCOUNT_AT], packed[ARCOUNT_AT:HEADER_SIZE]) == (b"\0\3", b"\0\4")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        pytest.param(QR, dns.flags.QR, id="qr"),
        pytest.param(AA, dns.flags.AA, id="aa"),
        pytest.param(TC, dns.flags.TC, id="tc"),
        pytest.param(RD, dns.flags.RD, id="rd"),
        pytest.param(RA, dns.flags.RA, id="ra"),
        pytest.param(CD, dns.flags.CD, id="cd"),
    ],
)
def test_each_flag_is_the_bit_dnspython_reads(ours: int, theirs: int) -> None:
    assert ours == int(theirs)


def test_the_octet_forms_are_the_field_bits_in_their_octet() -> None:
    flags = wire("ff ff")
    assert [QR_HIGH << 8, OPCODE_HIGH << 8, AA_HIGH << 8, TC_HIGH << 8, RD_HIGH << 8] == [
        QR,
        OPCODE_MASK,
        AA,
        TC,
        RD,
    ]
    assert (RA_LOW, CD_LOW) == (RA, CD)
    assert all(bit < 0x100 for bit in (QR_HIGH, OPCODE_HIGH, AA_HIGH, TC_HIGH, RD_HIGH))
    assert flags[0] & (QR_HIGH | OPCODE_HIGH | AA_HIGH | TC_HIGH | RD_HIGH) == 0xFF
    assert flags[1] & (RA_LOW | 0x70 | RCODE_MASK) == 0xFF  # Z, AD and CD between RA and rcode


def test_opcode_and_rcode_read_from_a_message() -> None:
    message = dns.message.make_query("a.b", "A")
    message.set_opcode(dns.opcode.NOTIFY)
    message.set_rcode(dns.rcode.NXDOMAIN)
    data = message.to_wire()
    flags = int.from_bytes(data[FLAGS_AT:QDCOUNT_AT], "big")
    assert (flags & OPCODE_MASK) >> OPCODE_SHIFT == dns.opcode.NOTIFY
    assert flags & RCODE_MASK == data[3] & RCODE_MASK == dns.rcode.NXDOMAIN


def test_a_plain_query_has_the_plain_counts() -> None:
    data = dns.message.make_query("a.b", "A", use_edns=0).to_wire()
    assert data[QDCOUNT_AT:ARCOUNT_AT] == PLAIN_QUERY_COUNTS


def test_rcode_names_are_dnspythons() -> None:
    assert all(
        dns.rcode.to_text(dns.rcode.Rcode(code)) == name for code, name in RCODE_NAMES.items()
    )


def test_the_module_holds_constants_only() -> None:
    assert not [name for name, value in vars(header).items() if callable(value) and name[0] != "_"]
