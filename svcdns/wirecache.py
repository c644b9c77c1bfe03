"""Cached wire replies: a repeated question is answered without parsing or encoding.

Pure bytes in, bytes out (no dnslib). The key is the request minus its ID, with the
question name lower-cased, plus the transport; so RD, EDNS (payload, version, options) and
the type all separate entries. A hit splices the request's ID and its question bytes (the
client's letter case, DNS 0x20) into the cached reply. That is only right when the reply
names the queried owner solely by compression pointers to the question, so `store` refuses
a reply that spells the name out again. Any change visible in DNS clears the cache: the
SOA serial in every negative answer changes with it anyway.
"""

from __future__ import annotations

HEADER_SIZE = 12
POINTER_BITS = 0xC0
_QR_OR_OPCODE = 0xF8  # first flags byte: QR and the 4 opcode bits


def question_end(data: bytes) -> tuple[int, int] | None:
    """(end of the name, end of the question) for a plain one-question query, else None."""
    if len(data) < HEADER_SIZE + 5 or data[2] & _QR_OR_OPCODE or data[4:6] != b"\x00\x01":
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
    if position + 4 > len(data):
        return None
    return position, position + 4


class WireCache:
    def __init__(self, *, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self.version = -1
        self._replies: dict[bytes, bytes] = {}

    @staticmethod
    def key(data: bytes, name_end: int, *, udp: bool) -> bytes:
        # Lower-case only the name: type and class bytes may fall in the ASCII letter range.
        return (
            (b"U" if udp else b"T")
            + data[2:HEADER_SIZE]
            + data[HEADER_SIZE:name_end].lower()
            + data[name_end:]
        )

    def get(self, data: bytes, *, udp: bool, version: int) -> bytes | None:
        if version != self.version:
            self._replies.clear()
            self.version = version
            return None
        bounds = question_end(data)
        if bounds is None:
            return None
        cached = self._replies.get(self.key(data, bounds[0], udp=udp))
        if cached is None:
            return None
        end = bounds[1]
        return data[:2] + cached[2:HEADER_SIZE] + data[HEADER_SIZE:end] + cached[end:]

    def store(self, data: bytes, reply: bytes, *, udp: bool, version: int) -> None:
        bounds = question_end(data)
        if bounds is None or version != self.version:
            return
        name_end, end = bounds
        name = data[HEADER_SIZE:name_end].lower()
        if reply[HEADER_SIZE:end].lower() != data[HEADER_SIZE:end].lower():
            return  # not the same question at the same place (a header-only error reply)
        if name != b"\x00" and name in reply[end:].lower():
            return  # the name is spelled out again: a splice could not fix its case
        if len(self._replies) >= self.max_entries:
            self._replies.clear()  # crude but bounded; a full cache refills from hot names
        self._replies[self.key(data, name_end, udp=udp)] = reply
