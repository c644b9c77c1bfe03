"""Forwarded replies: the upstream's answer rewritten for the client who asked. Bytes only.

The client gets its own ID, its question bytes (its letter case), its RD and CD bits, RA
set and AA clear (the answer is not ours), the upstream's rcode and records, and our OPT
when it sent one, DO copied (the upstream's OPT is removed). `opt` below is that OPT, or
empty when the client sent none. The upstream's records may point into
its question; the client's question has the same length at the same place, so they stay
valid. A reply that does not fit the client's size is cut to the question with TC.
"""

from __future__ import annotations

from svcdns.wire.header import (
    ANCOUNT_AT,
    ARCOUNT_AT,
    CD,
    COUNTS,
    FLAGS_AT,
    HEADER_SIZE,
    OPCODE_HIGH,
    PLAIN_QUERY_COUNTS,
    QDCOUNT_AT,
    QR,
    QR_HIGH,
    RA,
    RCODE_MASK,
    RD,
    RR_COUNTS,
    TC,
)
from svcdns.wire.limits import CLASSIC_UDP, MAX_TCP
from svcdns.wire.names import name_end, skip_name
from svcdns.wire.opt import OPT_TYPE, edns_udp_limit, our_opt
from svcdns.wire.record import RDLENGTH_AT, RR_FIXED_SIZE

_QR_RA = QR | RA
_RD_CD = RD | CD  # copied from the query
_QR_OPCODE = QR_HIGH | OPCODE_HIGH  # in the flags' first octet: a response, or not QUERY
# Bound here: Python 3.11 calls a method of a name imported with `from` as a module
# attribute (an unspecialised LOAD_ATTR); a cached answer is served per query.
_pack_counts = COUNTS.pack


def client_reply(upstream: bytes, query: bytes, end: int, *, opt: bytes, limit: int) -> bytes:
    """`upstream`'s answer to the question `query[HEADER_SIZE:end]`, as the client gets it."""
    flags = int.from_bytes(upstream[FLAGS_AT:QDCOUNT_AT], "big")
    ancount, nscount, arcount = RR_COUNTS.unpack_from(upstream, ANCOUNT_AT)
    position = end  # the upstream's question has the client's length
    kept = bytearray()
    additional = 0
    sections_end = -1
    for index in range(ancount + nscount + arcount):
        start = position
        owner_end = skip_name(upstream, position)
        rtype = int.from_bytes(upstream[owner_end : owner_end + 2], "big")
        rdlength_at = owner_end + RDLENGTH_AT
        rdlength = int.from_bytes(upstream[rdlength_at : rdlength_at + 2], "big")
        position = owner_end + RR_FIXED_SIZE + rdlength
        if position > len(upstream):
            raise ValueError("truncated record")
        if index == ancount + nscount:
            sections_end = len(kept)  # where the answer and authority sections end
        if index >= ancount + nscount:
            if rtype == OPT_TYPE:
                continue  # hop by hop: the client gets ours, if it sent one
            additional += 1
        kept += upstream[start:position]
    query_flags = int.from_bytes(query[FLAGS_AT:QDCOUNT_AT], "big")
    reply_flags = _QR_RA | (query_flags & _RD_CD) | (flags & TC) | (flags & RCODE_MASK)
    if sections_end < 0:
        sections_end = len(kept)
    head = query[:2] + reply_flags.to_bytes(2, "big")
    question = query[HEADER_SIZE:end]
    reply = b"".join(
        (head, _pack_counts(1, ancount, nscount, additional + bool(opt)), question, kept, opt)
    )
    if len(reply) <= limit:
        return reply
    # Too big for the client: as for our own answers, the additional section may go
    # without TC (RFC 2181 9); if that is not enough, the question alone with TC.
    without = b"".join(
        (head, _pack_counts(1, ancount, nscount, bool(opt)), question, kept[:sections_end], opt)
    )
    if len(without) <= limit:
        return without
    truncated = (reply_flags | TC).to_bytes(2, "big")
    return query[:2] + truncated + _pack_counts(1, 0, 0, bool(opt)) + question + opt


def reply_from_cache(
    query: bytes,
    end: int,
    *,
    rcode: int,
    counts: tuple[int, int, int],
    body: bytes,
    opt: bytes,
    limit: int,
) -> bytes:
    """A cached upstream answer (records after the question, no OPT) for this client."""
    flags = _QR_RA | (int.from_bytes(query[FLAGS_AT:QDCOUNT_AT], "big") & _RD_CD) | rcode
    answer, authority, additional = counts
    reply = b"".join(
        (
            query[:2],
            flags.to_bytes(2, "big"),
            _pack_counts(1, answer, authority, additional + bool(opt)),
            query[HEADER_SIZE:end],
            body,
            opt,
        )
    )
    if len(reply) <= limit:
        return reply
    counts_tc = _pack_counts(1, 0, 0, bool(opt))
    return query[:2] + (flags | TC).to_bytes(2, "big") + counts_tc + query[HEADER_SIZE:end] + opt


def plain_question(data: bytes, *, udp: bool) -> tuple[int, bytes, int] | None:
    """(question end, our OPT for the reply or b"", size limit) of a plain IN query with at
    most a good OPT (what the fast path accepts), or None: then the full parser decides."""
    size = len(data)
    if (
        size < HEADER_SIZE + 5
        or data[2] & _QR_OPCODE
        or data[QDCOUNT_AT:ARCOUNT_AT] != PLAIN_QUERY_COUNTS
    ):
        return None
    position = name_end(data, HEADER_SIZE)
    if position < 0:
        return None
    end = position + 4
    if end > size or data[end - 2 : end] != b"\x00\x01":
        return None
    # Non-ASCII names are the full parser's to judge (it refuses labels not in UTF-8), as
    # they are for the fast path: what is answered here, the full parser accepts.
    if not data[HEADER_SIZE:position].isascii():
        return None
    if data[ARCOUNT_AT:HEADER_SIZE] == b"\x00\x00":
        return (end, b"", CLASSIC_UDP if udp else MAX_TCP) if size == end else None
    if data[ARCOUNT_AT:HEADER_SIZE] != b"\x00\x01":
        return None
    limit = edns_udp_limit(data, end, size)
    if limit < 0:
        return None
    return end, our_opt(data, end), (limit if udp else MAX_TCP)


def error_reply(query: bytes, end: int, rcode: int, *, opt: bytes, recursion: bool) -> bytes:
    """SERVFAIL or REFUSED with the client's question (and our OPT), not authoritative."""
    flags = QR | (int.from_bytes(query[FLAGS_AT:QDCOUNT_AT], "big") & _RD_CD) | rcode
    if recursion:
        flags |= RA
    counts = _pack_counts(1, 0, 0, bool(opt))
    return query[:2] + flags.to_bytes(2, "big") + counts + query[HEADER_SIZE:end] + opt
