"""Fuzzing the codec, the handler and the fast path (seed and size: tests/fuzzing.py).

Inputs are random bytes, random well-formed queries (any name of the zone or outside it,
any type, class, flags, EDNS), and byte-level mutants of both. For every input:

- the handler never raises; it drops, or replies with the query's ID, QR set, the query's
  opcode, an rcode it may send, and a size the transport allows;
- the codec raises only its own errors (Drop, FormErr, NotImp) or parses;
- where the fast path answers, the full path answers the same (differential), and the
  fast path never answers what the full parser rejects.
"""

from __future__ import annotations

import struct

import dns.edns
import dns.flags
import dns.message
import dns.name
import dns.rdataclass
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st
from test_fastpath import MUTATION, SEEDS, cluster, differ, mutate

from svcdns.dns.codec import Drop, FormErr, NotImp, parse_query
from svcdns.dns.forwarded import plain_question

ZONE_NAMES = [
    "web.shop.svc.cluster.local",
    "_http._tcp.web.shop.svc.cluster.local",
    "db-0.db.shop.svc.cluster.local",
    "db.shop.svc.cluster.local",
    "ext.shop.svc.cluster.local",
    "shop.svc.cluster.local",
    "svc.cluster.local",
    "cluster.local",
    "10-244-1-10.shop.pod.cluster.local",
    "10.100.96.10.in-addr.arpa",
    "nosuch.shop.svc.cluster.local",
    "web.shop.svc.cluster.local.shop.svc.cluster.local",
    "example.com",
    "dns-version.cluster.local",
    "ns.dns.cluster.local",
]
RCODES = {0, 1, 2, 3, 4, 5, 9, 16}  # NOERROR..REFUSED, NOTAUTH, BADVERS
HEADER = struct.Struct("!HHHHHH")

labels = st.text("abcdefghijklmnopqrstuvwxyzABC0123456789-_", min_size=1, max_size=20)
names = st.one_of(
    st.sampled_from(ZONE_NAMES),
    st.lists(labels, min_size=1, max_size=6).map(".".join),
    st.builds(lambda prefix, name: f"{prefix}.{name}", labels, st.sampled_from(ZONE_NAMES)),
)
options = st.lists(
    st.builds(
        dns.edns.GenericOption,
        st.integers(min_value=0, max_value=65535),
        st.binary(max_size=40),
    ),
    max_size=3,
)


@st.composite
def queries(draw: st.DrawFn) -> bytes:
    """A well-formed query of any shape dnspython can write."""
    name = draw(names)
    try:
        qname = dns.name.from_text(name)
    except dns.name.NameTooLong:
        qname = dns.name.from_text("toolong.example")
    message = dns.message.make_query(
        qname,
        draw(st.integers(min_value=0, max_value=65535)),
        draw(st.sampled_from([dns.rdataclass.IN, dns.rdataclass.IN, dns.rdataclass.CH, 254, 255])),
        use_edns=draw(st.sampled_from([-1, 0, 0, 1])),
        payload=draw(st.integers(min_value=0, max_value=65535)),
        options=draw(options),
        id=draw(st.integers(min_value=0, max_value=65535)),
    )
    message.flags = draw(st.integers(min_value=0, max_value=0xFFFF)) & ~0x000F & ~0x8000
    return bytes(message.to_wire())


inputs = st.one_of(
    st.binary(max_size=600),
    queries(),
    st.builds(mutate, queries(), st.lists(MUTATION, min_size=1, max_size=4)),
    st.builds(mutate, st.sampled_from(SEEDS), st.lists(MUTATION, min_size=1, max_size=4)),
)


def check_reply(wire: bytes, reply: bytes, *, udp: bool) -> None:
    ident, flags, qdcount, *_ = HEADER.unpack_from(reply)
    asked_id, asked_flags = struct.unpack_from("!HH", wire)
    assert ident == asked_id
    assert flags & 0x8000, "QR set"
    assert (flags >> 11) & 0xF == (asked_flags >> 11) & 0xF, "the query's opcode"
    assert flags & 0xF in RCODES
    assert qdcount <= 1
    if udp:
        try:
            limit = parse_query(wire).udp_limit()  # 512, or the client's EDNS payload
        except (Drop, FormErr, NotImp):
            limit = 512
        assert len(reply) <= limit
    assert len(reply) <= 65535


@fuzz
@given(wire=inputs, udp=st.booleans())
def test_fuzz_handler_never_raises_and_replies_well(wire: bytes, udp: bool) -> None:
    handler = cluster()
    reply = handler.handle(wire, udp=udp)
    if isinstance(reply, bytes):
        check_reply(wire, reply, udp=udp)
    fast = handler.fast.answer(wire, udp=udp)
    if fast is not None:
        check_reply(wire, fast, udp=udp)


@fuzz
@given(wire=inputs)
def test_fuzz_codec_raises_only_its_own_errors(wire: bytes) -> None:
    try:
        query = parse_query(wire)
    except (Drop, FormErr, NotImp):
        return
    assert query.name == query.name.lower()
    assert query.header.qdcount == 1


@fuzz
@given(wire=inputs, udp=st.booleans())
def test_fuzz_fast_path_agrees_with_the_full_path(wire: bytes, udp: bool) -> None:
    handler = cluster()
    fast, _ = differ(handler, wire, udp=udp)
    if fast is None:
        return
    # What the fast path answers, the full parser accepts.
    try:
        parse_query(wire)
    except (FormErr, NotImp, Drop) as error:
        raise AssertionError(f"fast path answered what the parser rejects: {error}") from None


@fuzz
@given(wire=inputs, udp=st.booleans())
def test_fuzz_forward_cache_reader_accepts_only_what_the_parser_accepts(
    wire: bytes, udp: bool
) -> None:
    """The forward cache answers a hit from `plain_question`'s reading, before any parse:
    it must never accept what the full parser refuses (issue 9, fault 1)."""
    if plain_question(wire, udp=udp) is None:
        return
    try:
        query = parse_query(wire)
    except (FormErr, NotImp, Drop) as error:
        raise AssertionError(f"plain_question accepted what the parser rejects: {error}") from None
    assert query.qclass == 1
