"""wire.names: the walkers, on uncompressed, compressed and malformed names."""

from __future__ import annotations

import dns.message
import dns.rrset
import pytest
from helpers import wire

from svcdns.wire.names import (
    MAX_NAME,
    QUESTION_POINTER,
    labels,
    name_end,
    question_end,
    read_name,
    skip_name,
)

HEADER = "1234 0100 0001 0000 0000 0000"
# "Web" "b" root | type A | class IN
QUERY = wire(f"{HEADER}  03 576562 01 62 00  0001 0001")
# A response: the question, then an answer owned by a pointer to it (c00c) and a CNAME
# whose target "x" + pointer to "b" (offset 16) is compressed mid-name.
RESPONSE = wire(
    "1234 8180 0001 0001 0000 0000  03 576562 01 62 00  0001 0001"
    "  c00c 0005 0001 0000001e 0004  01 78 c010"
)


def test_the_question_pointer_points_after_the_header() -> None:
    assert wire("c00c") == QUESTION_POINTER


@pytest.mark.parametrize(
    ("message", "position", "end"),
    [
        pytest.param(QUERY, 12, 19, id="uncompressed"),
        pytest.param(RESPONSE, 23, 25, id="a-pointer"),
        pytest.param(RESPONSE, 35, 39, id="a-label-then-a-pointer"),
        pytest.param(wire("00"), 0, 1, id="the-root"),
    ],
)
def test_skip_name_finds_where_a_name_ends(message: bytes, position: int, end: int) -> None:
    assert skip_name(message, position) == end


def test_skip_name_raises_when_the_message_ends_first() -> None:
    with pytest.raises(IndexError):
        skip_name(wire("03 576562 01"), 0)


def test_name_end_and_question_end_on_an_uncompressed_question() -> None:
    assert name_end(QUERY, 12) == 19
    assert question_end(QUERY) == 23 == len(QUERY)
    made = dns.message.make_query("Web.shop.svc.cluster.local", "SRV", use_edns=0).to_wire()
    assert question_end(made) == 12 + len(b"\x03Web\x04shop\x03svc\x07cluster\x05local\x00") + 4


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(wire(f"{HEADER}  03 576562 c00c  0001 0001"), id="a-pointer"),
        pytest.param(wire(f"{HEADER}  43 576562 00  0001 0001"), id="label-type-01"),
        pytest.param(wire(f"{HEADER}  83 576562 00  0001 0001"), id="label-type-10"),
        pytest.param(wire(f"{HEADER}  03 576562 01 62 00"), id="nothing-after-the-root"),
        pytest.param(wire(f"{HEADER}  03 576562 09 62"), id="a-label-past-the-end"),
        pytest.param(wire(HEADER) + b"\x01a" * 128 + wire("00 0001 0001"), id="over-255"),
    ],
)
def test_name_end_refuses_what_is_not_a_plain_uncompressed_name(message: bytes) -> None:
    assert name_end(message, 12) == -1
    assert question_end(message) == -1


def test_a_name_of_255_octets_is_accepted() -> None:
    name = b"\x01a" * 127 + b"\x00"  # 255 octets, the root included
    assert len(name) == MAX_NAME
    message = wire(HEADER) + name + wire("0001 0001")
    assert question_end(message) == len(message)


def test_labels_reads_an_uncompressed_name() -> None:
    assert labels(QUERY, 12) == ([b"Web", b"b"], 18)  # at the root label


def test_labels_stops_at_its_budget() -> None:
    found, position = labels(QUERY, 12, budget=3)
    assert (found, position) == ([b"Web"], 16)  # "Web" took 4 octets: no further label


@pytest.mark.parametrize("name", ["05 6162", "05 6162 00", "03 576562"], ids=str)
def test_labels_fails_when_the_message_ends_before_the_root(name: str) -> None:
    with pytest.raises(IndexError):
        labels(wire(name), 0)


def test_labels_refuses_a_pointer() -> None:
    with pytest.raises(ValueError, match="uncompressed"):
        labels(RESPONSE, 35)


def test_read_name_follows_pointers() -> None:
    assert read_name(RESPONSE, 12) == "Web.b"
    assert read_name(RESPONSE, 23) == "Web.b"
    assert read_name(RESPONSE, 35) == "x.b"
    assert read_name(wire("00"), 0) == ""


def test_the_walkers_agree_with_dnspythons_compression() -> None:
    query = dns.message.make_query("web.shop.svc.cluster.local", "A")
    reply = dns.message.make_response(query)
    reply.answer.append(
        dns.rrset.from_text("web.shop.svc.cluster.local.", 5, "IN", "CNAME", "x.svc.cluster.local.")
    )
    data = reply.to_wire()
    owner = question_end(data)
    assert data[owner : owner + 2] == QUESTION_POINTER  # dnspython compresses the owner
    rdata = skip_name(data, owner) + 10
    assert read_name(data, rdata) == "x.svc.cluster.local"
    assert skip_name(data, rdata) == len(data)
