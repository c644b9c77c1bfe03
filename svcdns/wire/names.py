"""Names inside messages (RFC 1035 3.1 and 4.1.4): walked, skipped and read; never built.

A name is length-prefixed labels ending in the root's zero octet; a length octet with both
top bits set starts a two-octet pointer to an earlier name instead. Every walk over a name
in a message is here, so one rule decides what each caller accepts. Pure functions of
bytes; imports only `wire.header`.
"""

from __future__ import annotations

from svcdns.wire.header import HEADER_SIZE

MAX_LABEL = 63  # octets (RFC 1035 2.3.4)
MAX_NAME = 255  # octets of a name in wire form, the root label included
# In a length octet, bits that mark no plain label: 11 a pointer, 01 and 10 unused (RFC 6891 5).
POINTER_BITS = 0xC0
POINTER = 0xC000  # the same two bits in a pointer's 16-bit form
MAX_POINTER = 0x3FFF  # the largest offset a pointer holds; also the mask of that offset
# A pointer to the question's name, which starts right after the header.
QUESTION_POINTER = (POINTER | HEADER_SIZE).to_bytes(2, "big")


def skip_name(message: bytes, position: int) -> int:
    """Where the name at `position` ends, compressed or not (a pointer ends it). IndexError
    when the message ends first."""
    while True:
        length = message[position]
        if length & POINTER_BITS:
            return position + 2
        if length == 0:
            return position + 1
        position += 1 + length


def name_end(message: bytes, position: int) -> int:
    """Where the uncompressed name at `position` ends (after its root label); -1 when it
    holds a pointer or another label type, has a label starting more than 255 octets in, or
    leaves nothing after it in `message`."""
    size = len(message)
    start = position
    while True:
        length = message[position]
        if length & POINTER_BITS or position - start > MAX_NAME:
            return -1
        position += 1 + length
        if position >= size:
            return -1
        if length == 0:
            return position


def question_end(message: bytes) -> int:
    """Where the question of a one-question message ends (name, type, class); -1 unless
    its name is uncompressed (`name_end`). The message must be longer than a header."""
    end = name_end(message, HEADER_SIZE)
    return -1 if end < 0 else end + 4


def labels(message: bytes, position: int, *, budget: int = MAX_NAME) -> tuple[list[bytes], int]:
    """The labels of the uncompressed name at `position`, and where the walk stopped: at
    the root label, or at the first label that starts `budget` octets or more in. A label
    cut short by the message's end is returned short. ValueError at a pointer (or another
    label type); IndexError when the message ends before a length octet."""
    found: list[bytes] = []
    size = 0
    while message[position] and size < budget:
        length = message[position]
        if length & POINTER_BITS:
            raise ValueError("not an uncompressed name")
        found.append(message[position + 1 : position + 1 + length])
        size += length + 1
        position += 1 + length
    return found, position


def read_name(message: bytes, position: int) -> str:
    """The name at `position` as text without the trailing dot, pointers followed. For
    names of our own making: their pointers only go backwards, so the walk ends."""
    found: list[bytes] = []
    while True:
        length = message[position]
        if length & POINTER_BITS:
            position = int.from_bytes(message[position : position + 2], "big") & MAX_POINTER
            continue
        if length == 0:
            return b".".join(found).decode("latin-1")
        found.append(message[position + 1 : position + 1 + length])
        position += 1 + length
