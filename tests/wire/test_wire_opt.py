"""wire.opt: our OPT's golden bytes, DO copied, and which client OPTs the fast path takes."""

from __future__ import annotations

import dns.edns
import dns.flags
import dns.message
import dns.rcode
import pytest
from helpers import wire

from svcdns.wire.header import HEADER_SIZE
from svcdns.wire.names import question_end
from svcdns.wire.opt import (
    DO_AT,
    DO_HIGH,
    OPT_SIZE,
    OPT_TYPE_WIRE,
    OPTIONS_LENGTH_AT,
    OUR_OPT,
    OUR_OPT_DO,
    PAYLOAD_AT,
    VERSION_AT,
    edns_udp_limit,
    is_badvers,
    opt_record,
    our_opt,
    reply_opt,
)

# root owner | type 41 | payload 1232 | ext-rcode 0 | version 0 | flags (DO) | rdlen 0
GOLDEN = "00 0029 04d0 00 00 0000 0000"
GOLDEN_DO = "00 0029 04d0 00 00 8000 0000"
QUERY = "1234 0100 0001 0000 0000 0001  01 61 00  0001 0001"  # "a", A, IN; one additional


def test_our_opt_is_the_golden_bytes() -> None:
    assert OUR_OPT == wire(GOLDEN) == opt_record(1232)
    assert OUR_OPT_DO == wire(GOLDEN_DO) == opt_record(1232, do=True)
    assert opt_record(4096) == wire("00 0029 1000 00 00 0000 0000")


def test_the_layout_is_where_dnspython_writes_it() -> None:
    """`edns_udp_limit` spells these offsets as numbers: they must be these."""
    assert (OPT_SIZE, PAYLOAD_AT, VERSION_AT, OPTIONS_LENGTH_AT) == (11, 3, 6, 9)
    assert OPT_TYPE_WIRE == b"\x00\x29"
    data = dns.message.make_query("a.b", "A", use_edns=0, payload=4096, want_dnssec=True).to_wire()
    opt = data[question_end(data) :]
    assert len(opt) == OPT_SIZE and opt[1:3] == OPT_TYPE_WIRE
    assert int.from_bytes(opt[PAYLOAD_AT : PAYLOAD_AT + 2], "big") == 4096
    assert opt[VERSION_AT] == 0 and opt[DO_AT] & DO_HIGH
    assert opt[OPTIONS_LENGTH_AT:] == b"\x00\x00"


@pytest.mark.parametrize("dnssec", [True, False], ids=["do", "no-do"])
def test_do_is_copied_from_the_query(dnssec: bool) -> None:
    data = dns.message.make_query("a.b", "A", use_edns=0, want_dnssec=dnssec).to_wire()
    assert our_opt(data, question_end(data)) == (OUR_OPT_DO if dnssec else OUR_OPT)
    assert reply_opt(dnssec) == our_opt(data, question_end(data))


def test_only_do_is_copied_from_the_flags() -> None:
    other_flags = wire(QUERY + "00 0029 04d0 00 00 7fff 0000")  # every flag but DO
    assert our_opt(other_flags, 19) == OUR_OPT


@pytest.mark.parametrize(
    ("payload", "limit"),
    [
        pytest.param(0, 512, id="zero"),
        pytest.param(100, 512, id="below-512"),
        pytest.param(512, 512, id="classic"),
        pytest.param(1232, 1232, id="flag-day"),
        pytest.param(4096, 4096, id="large"),
        pytest.param(65535, 65507, id="above-a-datagram"),
    ],
)
def test_the_udp_limit_of_a_plain_opt(payload: int, limit: int) -> None:
    data = wire(QUERY) + opt_record(payload)
    assert edns_udp_limit(data, 19, len(data)) == limit


def test_an_opt_with_options_is_taken() -> None:
    cookie = dns.edns.GenericOption(dns.edns.OptionType.COOKIE, b"\x01" * 8)
    data = dns.message.make_query("a.b", "A", use_edns=0, options=[cookie]).to_wire()
    assert edns_udp_limit(data, question_end(data), len(data)) == 1232


@pytest.mark.parametrize(
    "opt",
    [
        pytest.param("00 0029 04d0 00 01 0000 0000", id="version-1"),
        pytest.param("01 61 00 0029 04d0 00 00 0000 0000", id="owner-not-root"),
        pytest.param("00 0010 04d0 00 00 0000 0000", id="not-an-opt"),
        pytest.param("00 0029 04d0 00 00 0000", id="cut-short"),
        pytest.param("00 0029 04d0 00 00 0000 0000 ff", id="a-byte-after-it"),
        pytest.param("00 0029 04d0 00 00 0000 0003 000a 00", id="an-option-cut-short"),
        pytest.param("00 0029 04d0 00 00 0000 0005 000a 0002 01", id="option-past-rdata"),
        pytest.param("00 0029 04d0 00 00 0000 0004 000a 0002", id="options-past-the-end"),
    ],
)
def test_any_other_opt_is_the_full_parsers(opt: str) -> None:
    data = wire(QUERY + opt)
    assert edns_udp_limit(data, 19, len(data)) == -1


def test_badvers_is_read_from_the_opt_that_ends_a_reply() -> None:
    query = dns.message.make_query("a.b", "A", use_edns=1)
    badvers = dns.message.make_response(query)
    badvers.set_rcode(dns.rcode.BADVERS)
    assert is_badvers(badvers.to_wire())
    fine = dns.message.make_response(query)
    assert not is_badvers(fine.to_wire())
    assert not is_badvers(dns.message.make_response(dns.message.make_query("a.b", "A")).to_wire())


def test_badvers_needs_a_header_and_an_opt() -> None:
    assert not is_badvers(wire("1234 8000 0000 0000 0000 0000"))
    short = wire("1234 8000 0000 0000 0000 0001") + wire(GOLDEN)[:-1]
    assert len(short) < HEADER_SIZE + len(OUR_OPT)
    assert not is_badvers(short)
