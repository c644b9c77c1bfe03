"""The blob layout: an owner's ready answer bytes, per type, as the index stores them.

Per type, a type header of five u16 (type, answer count, additional count, answer length,
additional length), then the answer bytes and the additional bytes; the types follow one
another. A big blob is stored deflated, marked by a first octet no type header starts with.
What the bytes mean (records whose owner points at the question) is `core.wire`'s; this
module only knows how they are laid out. Pure; imports nothing of svcdns.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

TYPE_HEADER = struct.Struct("!HHHHH")  # type, ANCOUNT, ARCOUNT, answer octets, additional
TYPE_HEADER_SIZE = TYPE_HEADER.size
DEFLATED = 0xFF  # first octet of a stored blob that is deflated (a plain one starts with 0x00)
DEFLATE_ABOVE = 1024  # bytes: the SRV sets of big headless Services, a tenth of the size


def deflate(blob: bytes) -> bytes:
    """How a blob is stored: as it is, or deflated when big. Big blobs are the SRV sets of
    headless Services (fifty targets spelled out, RFC 2782); deflated they shrink sevenfold
    and inflate in about 8 microseconds, a cost only their own queries pay."""
    if len(blob) <= DEFLATE_ABOVE:
        return blob
    return bytes((DEFLATED,)) + zlib.compress(blob, 1)


def inflate(stored: bytes) -> bytes:
    return zlib.decompress(memoryview(stored)[1:]) if stored[0] == DEFLATED else stored


def blob_types(blob: bytes) -> Iterator[tuple[int, int, int, bytes, bytes]]:
    """(type, answer count, additional count, answer bytes, additional bytes) per type."""
    position = 0
    while position < len(blob):
        rtype, ancount, arcount, anlen, arlen = TYPE_HEADER.unpack_from(blob, position)
        position += TYPE_HEADER_SIZE
        answer = blob[position : position + anlen]
        additional = blob[position + anlen : position + anlen + arlen]
        position += anlen + arlen
        yield rtype, ancount, arcount, answer, additional
