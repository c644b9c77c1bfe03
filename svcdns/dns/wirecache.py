"""Cached wire replies: a repeated question is answered without parsing or encoding.

Pure bytes in, bytes out (no dnslib). The key is what the answer depends on: transport,
the RD and CD bits, the lower-cased name, type and class, and EDNS (present, version, payload
class); EDNS options and the DO bit change nothing we send, so they do not split entries.
A hit splices the request's ID and its question bytes (the client's letter case, DNS 0x20)
into the cached reply. That is only right when the reply names the queried owner solely by
compression pointers to the question, so `store` refuses a reply that spells it out again.
A UDP reply is kept only if it is whole and fits the smallest payload of its class. The
cache is bounded in bytes, and any change visible in DNS clears it: the SOA serial in every
negative answer changes with it anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

HEADER_SIZE = 12
POINTER_BITS = 0xC0
OPT = 41
_QR_OR_OPCODE = 0xF8  # first flags byte: QR and the 4 opcode bits
_RD = 0x01
_TC = 0x02
_CD = 0x10  # second flags byte
# EDNS payload classes by their smallest size: a reply that fits it fits the whole class.
_PAYLOAD_CLASSES = (4096, 1232, 512)
CLASSIC_SIZE = 512


@dataclass(frozen=True, slots=True)
class Question:
    key: bytes
    end: int  # where the question section ends
    udp_room: int  # the smallest UDP payload the request's class allows


def _payload_class(payload: int) -> int:
    return next(size for size in _PAYLOAD_CLASSES if payload >= size or size == CLASSIC_SIZE)


def read_question(data: bytes, *, udp: bool) -> Question | None:
    """The cache key of a plain query (one question, at most an OPT), else None."""
    if (
        len(data) < HEADER_SIZE + 5
        or data[2] & _QR_OR_OPCODE
        or data[4:10] != b"\x00\x01\x00\x00\x00\x00"
        or data[10:12] not in (b"\x00\x00", b"\x00\x01")
    ):
        return None
    position = HEADER_SIZE
    while True:
        length = data[position]
        if length & POINTER_BITS:
            return None  # compression in a question: leave it to the full parser
        position += 1 + length
        if length == 0:
            break
        if position >= len(data):
            return None
    name_end, end = position, position + 4
    if end > len(data):
        return None
    rest = data[end:]
    edns, room = b"", CLASSIC_SIZE
    if data[11]:  # one additional record: it must be exactly one well-formed OPT
        if (
            len(rest) < 11
            or rest[0] != 0
            or int.from_bytes(rest[1:3], "big") != OPT
            or len(rest) != 11 + int.from_bytes(rest[9:11], "big")
        ):
            return None
        room = _payload_class(int.from_bytes(rest[3:5], "big"))
        edns = bytes((1, rest[6])) + room.to_bytes(2, "big")
    elif rest:
        return None
    key = (
        (b"U" if udp else b"T")
        + bytes((data[2] & _RD, data[3] & _CD))
        # Lower-case only the name: type and class bytes may fall in the ASCII letter range.
        + data[HEADER_SIZE:name_end].lower()
        + data[name_end:end]
        + edns
    )
    return Question(key, end, room)


class WireCache:
    def __init__(self, *, max_bytes: int = 32 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self.version = -1
        self._replies: dict[bytes, bytes] = {}
        self._size = 0

    def __len__(self) -> int:
        return len(self._replies)

    def get(self, data: bytes, *, udp: bool, version: int) -> bytes | None:
        if version != self.version:
            self._clear(version)
            return None
        question = read_question(data, udp=udp)
        if question is None:
            return None
        cached = self._replies.get(question.key)
        if cached is None:
            return None
        end = question.end
        return data[:2] + cached[2:HEADER_SIZE] + data[HEADER_SIZE:end] + cached[end:]

    def store(self, data: bytes, reply: bytes, *, udp: bool, version: int) -> None:
        question = read_question(data, udp=udp)
        if question is None or version != self.version:
            return
        end = question.end
        if reply[HEADER_SIZE:end].lower() != data[HEADER_SIZE:end].lower():
            return  # not the same question at the same place (a header-only error reply)
        if udp and (reply[2] & _TC or len(reply) > question.udp_room):
            return  # cut to this client's size: another in the same class may take more
        name = data[HEADER_SIZE : end - 4].lower()
        if name != b"\x00" and name in reply[end:].lower():
            return  # the name is spelled out again: a splice could not fix its case
        if self._size + len(reply) > self.max_bytes:
            self._clear(version)  # crude but bounded; a full cache refills from hot names
        self._replies[question.key] = reply
        self._size += len(reply)

    def _clear(self, version: int) -> None:
        self._replies.clear()
        self._size = 0
        self.version = version
