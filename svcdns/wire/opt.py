"""The OPT pseudo-record (RFC 6891 6.1.2): ours, the client's, and the DO bit between them.

Ours offers a 1232-byte payload, extended rcode 0, version 0, no options; its DO bit is the
query's (RFC 3225 3: DO is copied to the reply), so it comes in two spellings. The same bytes
go upstream, DO clear. A client's OPT that ends its query, is version 0 and well formed
gives the fast path its UDP size limit; any other is the full parser's to judge. Pure
functions of bytes; imports only `wire.header` and `wire.limits`.
"""

from __future__ import annotations

from svcdns.wire.header import HEADER_SIZE, RCODE_MASK
from svcdns.wire.limits import OUR_PAYLOAD

OPT_TYPE = 41
OPT_TYPE_WIRE = OPT_TYPE.to_bytes(2, "big")
OPT_HEAD = b"\x00" + OPT_TYPE_WIRE  # how an OPT starts: the root as owner, then the type
OPT_SIZE = 11  # without options: owner 1, type 2, payload 2, TTL 4, rdata length 2
# Where the fields sit from the OPT's start: the payload in the class field, then the TTL
# field's extended rcode, version and flags, then the length of the options.
PAYLOAD_AT = 3
EXTENDED_RCODE_AT = 5
VERSION_AT = 6
DO_AT = 7  # the flags' first octet, which holds DO
OPTIONS_LENGTH_AT = 9
DO = 0x8000  # in the TTL field's flags (RFC 3225)
DO_HIGH = DO >> 8  # the same bit in the octet at DO_AT
BADVERS_HIGH = 1  # the extended rcode of BADVERS (16): its bits above the header's four


def opt_record(payload: int, *, do: bool = False) -> bytes:
    """An OPT without options: root owner, `payload`, extended rcode 0, version 0, and no
    flag but DO when `do`."""
    flags = DO if do else 0
    return (
        OPT_HEAD + payload.to_bytes(2, "big") + b"\x00\x00" + flags.to_bytes(2, "big") + b"\x00\x00"
    )


OUR_OPT = opt_record(OUR_PAYLOAD)
OUR_OPT_DO = opt_record(OUR_PAYLOAD, do=True)


def our_opt(query: bytes, start: int) -> bytes:
    """The OPT our reply carries for the well-formed OPT at `start` of `query`: DO copied."""
    return OUR_OPT_DO if query[start + DO_AT] & DO_HIGH else OUR_OPT


def reply_opt(do: bool) -> bytes:
    """The OPT our reply carries for a query whose OPT was parsed, DO as `do`."""
    return OUR_OPT_DO if do else OUR_OPT


def edns_udp_limit(query: bytes, start: int, size: int) -> int:
    """The largest UDP reply the client takes (`limits.udp_limit` of its payload) by the
    well-formed, version-0 OPT at `start` that ends the `size` bytes of `query`; -1 for any
    other OPT (even one with a bad option is the full parser's to judge).

    This runs for every EDNS query of the fast path, so the layout above is written out in
    numbers (a name would cost a lookup each): OPT_SIZE 11, PAYLOAD_AT 3, VERSION_AT 6,
    OPTIONS_LENGTH_AT 9, and `udp_limit`'s 512 and 65507. tests/wire holds them equal."""
    if (
        size < start + 11
        or query[start] != 0
        or query[start + 1 : start + 3] != b"\x00\x29"  # OPT_TYPE_WIRE
        or query[start + 6] != 0  # the version: above 0 gets BADVERS from the full path
        or int.from_bytes(query[start + 9 : start + 11], "big") != size - start - 11
    ):
        return -1
    position = start + 11
    while position < size:  # each option: code, length, data (RFC 6891 6.1.2)
        if position + 4 > size:
            return -1
        position += 4 + int.from_bytes(query[position + 2 : position + 4], "big")
    if position != size:
        return -1
    return min(max(512, int.from_bytes(query[start + 3 : start + 5], "big")), 65507)


def is_badvers(reply: bytes) -> bool:
    """Whether `reply` says BADVERS (rcode 16): header rcode 0 and an extended rcode of 1 in
    the OPT that ends it, which is where the full path puts its OPT."""
    return (
        reply[3] & RCODE_MASK == 0
        and len(reply) >= HEADER_SIZE + OPT_SIZE
        and reply[-OPT_SIZE : -OPT_SIZE + len(OPT_HEAD)] == OPT_HEAD
        and reply[EXTENDED_RCODE_AT - OPT_SIZE] == BADVERS_HIGH
    )
