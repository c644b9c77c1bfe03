"""Forwarded replies: the upstream's answer rewritten for the client who asked. Bytes only.

The client gets its own ID, its question bytes (its letter case), its RD and CD bits, RA
set and AA clear (the answer is not ours), the upstream's rcode and records, and our OPT
when it sent one, DO copied (the upstream's OPT is removed). `opt` below is that OPT, or
empty when the client sent none. The upstream's records may point into
its question; the client's question has the same length at the same place, so they stay
valid. A reply that does not fit the client's size is cut to the question with TC.
"""

from __future__ import annotations

import struct

from svcdns.dns.fastpath import opt_payload, our_opt, skip_name

HEADER_SIZE = 12
OPT_TYPE = 41
_COUNTS = struct.Struct("!HHHH")
_QR_RA = 0x8080
_RD = 0x0100
_CD = 0x0010
_TC = 0x0200


def question_end(data: bytes) -> int:
    """Where the question of a parsed query ends; -1 when its name uses compression."""
    position = HEADER_SIZE
    while True:
        length = data[position]
        if length & 0xC0:
            return -1
        position += 1 + length
        if length == 0:
            return position + 4


def client_reply(upstream: bytes, query: bytes, end: int, *, opt: bytes, limit: int) -> bytes:
    """`upstream`'s answer to the question `query[12:end]`, as the client gets it."""
    flags = int.from_bytes(upstream[2:4], "big")
    ancount, nscount, arcount = struct.unpack_from("!HHH", upstream, 6)
    position = end  # the upstream's question has the client's length
    kept = bytearray()
    additional = 0
    sections_end = -1
    for index in range(ancount + nscount + arcount):
        start = position
        owner_end = skip_name(upstream, position)
        rtype = int.from_bytes(upstream[owner_end : owner_end + 2], "big")
        rdlength = int.from_bytes(upstream[owner_end + 8 : owner_end + 10], "big")
        position = owner_end + 10 + rdlength
        if position > len(upstream):
            raise ValueError("truncated record")
        if index == ancount + nscount:
            sections_end = len(kept)  # where the answer and authority sections end
        if index >= ancount + nscount:
            if rtype == OPT_TYPE:
                continue  # hop by hop: the client gets ours, if it sent one
            additional += 1
        kept += upstream[start:position]
    query_flags = int.from_bytes(query[2:4], "big")
    reply_flags = _QR_RA | (query_flags & (_RD | _CD)) | (flags & _TC) | (flags & 0xF)
    if sections_end < 0:
        sections_end = len(kept)
    head = query[:2] + reply_flags.to_bytes(2, "big")
    question = query[HEADER_SIZE:end]
    reply = b"".join(
        (head, _COUNTS.pack(1, ancount, nscount, additional + bool(opt)), question, kept, opt)
    )
    if len(reply) <= limit:
        return reply
    # Too big for the client: as for our own answers, the additional section may go
    # without TC (RFC 2181 9); if that is not enough, the question alone with TC.
    without = b"".join(
        (head, _COUNTS.pack(1, ancount, nscount, bool(opt)), question, kept[:sections_end], opt)
    )
    if len(without) <= limit:
        return without
    truncated = (reply_flags | _TC).to_bytes(2, "big")
    return query[:2] + truncated + _COUNTS.pack(1, 0, 0, bool(opt)) + question + opt


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
    flags = _QR_RA | (int.from_bytes(query[2:4], "big") & (_RD | _CD)) | rcode
    answer, authority, additional = counts
    reply = b"".join(
        (
            query[:2],
            flags.to_bytes(2, "big"),
            _COUNTS.pack(1, answer, authority, additional + bool(opt)),
            query[HEADER_SIZE:end],
            body,
            opt,
        )
    )
    if len(reply) <= limit:
        return reply
    counts_tc = _COUNTS.pack(1, 0, 0, bool(opt))
    return query[:2] + (flags | _TC).to_bytes(2, "big") + counts_tc + query[HEADER_SIZE:end] + opt


def plain_question(data: bytes, *, udp: bool) -> tuple[int, bytes, int] | None:
    """(question end, our OPT for the reply or b"", size limit) of a plain IN query with at
    most a good OPT (what the fast path accepts), or None: then the full parser decides."""
    size = len(data)
    if size < HEADER_SIZE + 5 or data[2] & 0xF8 or data[4:10] != b"\x00\x01\x00\x00\x00\x00":
        return None
    position = HEADER_SIZE
    while True:
        length = data[position]
        if length & 0xC0 or position - HEADER_SIZE > 255:
            return None
        position += 1 + length
        if position >= size:
            return None
        if length == 0:
            break
    end = position + 4
    if end > size or data[end - 2 : end] != b"\x00\x01":
        return None
    # Non-ASCII names are the full parser's to judge (it refuses labels not in UTF-8), as
    # they are for the fast path: what is answered here, the full parser accepts.
    if not data[HEADER_SIZE:position].isascii():
        return None
    if data[10:12] == b"\x00\x00":
        return (end, b"", 512 if udp else 65535) if size == end else None
    if data[10:12] != b"\x00\x01":
        return None
    payload = opt_payload(data, end, size)
    if payload < 0:
        return None
    return end, our_opt(data, end), (min(max(512, payload), 65507) if udp else 65535)


def error_reply(query: bytes, end: int, rcode: int, *, opt: bytes, recursion: bool) -> bytes:
    """SERVFAIL or REFUSED with the client's question (and our OPT), not authoritative."""
    flags = 0x8000 | (int.from_bytes(query[2:4], "big") & (_RD | _CD)) | rcode
    if recursion:
        flags |= 0x0080
    counts = _COUNTS.pack(1, 0, 0, bool(opt))
    return query[:2] + flags.to_bytes(2, "big") + counts + query[HEADER_SIZE:end] + opt
