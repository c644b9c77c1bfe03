"""The cache of forwarded answers: bytes kept as the upstream sent them, served with the
asker's ID and question spliced in and the TTLs counted down.

Invariants:
- keyed by the question (name lower-cased, type, class): nothing else changes an upstream
  answer we would pass on;
- bounded in entries (`size`) and in bytes (`max_bytes`: keys, records and about 400 bytes
  of bookkeeping an entry, measured with tracemalloc), whichever binds first; least
  recently used evicted first, never cleared to make room;
- a positive answer lives its smallest TTL, at most `max_ttl` (30 s); a negative one
  (NXDOMAIN, or NOERROR without answers) the SOA's min(TTL, minimum) (RFC 2308), at most
  `max_negative_ttl` (5 s), and not at all without an SOA; SERVFAIL, other errors and
  truncated answers are never kept;
- a served TTL is the stored one (capped as above) less the time since it was stored,
  never below 0; an entry past its life is not served, except by `stale` when every
  upstream failed (RFC 8767), with TTL 30;
- an answer's A or AAAA RRset of more than one record whose owners are one compression
  pointer to an earlier name (what every upstream writes) is served rotated by one record
  each time (CoreDNS `loadbalance` does this to cached answers too); nothing can point
  into such a run, so moving its records keeps the message valid.
Imports no other part of svcdns but `wire`.
"""

from __future__ import annotations

import struct
from collections import OrderedDict
from dataclasses import dataclass

from svcdns.wire.header import (
    ANCOUNT_AT,
    FLAGS_AT,
    HEADER_SIZE,
    QDCOUNT_AT,
    RCODE_MASK,
    RR_COUNTS,
    TC,
)
from svcdns.wire.names import MAX_POINTER, POINTER_BITS, skip_name
from svcdns.wire.opt import OPT_TYPE
from svcdns.wire.record import RR_FIXED, RR_FIXED_SIZE, TTL_AT

MAX_BYTES = 32 * 1024 * 1024  # the default byte bound: a TCP answer can be 64 KB
ENTRY_OVERHEAD = 400  # bytes an entry costs beyond its key and records (tracemalloc)
ROTATION_OVERHEAD = 200  # and one with a rotatable RRset: its runs and served count
SOA = 6
NOERROR, NXDOMAIN = 0, 3


@dataclass(frozen=True, slots=True)
class Entry:
    stored: float
    expires: float
    rcode: int
    counts: tuple[int, int, int]  # answer, authority, additional (OPT removed)
    body: bytes  # the records after the question, OPT removed
    ttl_offsets: tuple[int, ...]  # where each record's TTL sits in `body`
    ttls: tuple[int, ...]  # those TTLs, capped at the entry's life
    # Rotatable address RRsets: (start in `body`, record size, records), and how many
    # times the entry was served, for where the rotation starts; () and None for most.
    runs: tuple[tuple[int, int, int], ...] = ()
    served: list[int] | None = None


def question_key(question: bytes) -> bytes:
    return question[:-4].lower() + question[-4:]


def parse_entry(
    reply: bytes,
    question_length: int,
    now: float,
    *,
    max_ttl: int,
    max_negative_ttl: int,
    rotate: bool = True,
) -> Entry | None:
    """What of `reply` may be cached, and for how long; None when nothing."""
    flags = int.from_bytes(reply[FLAGS_AT:QDCOUNT_AT], "big")
    rcode = flags & RCODE_MASK
    if flags & TC or rcode not in (NOERROR, NXDOMAIN):
        return None
    ancount, nscount, arcount = RR_COUNTS.unpack_from(reply, ANCOUNT_AT)
    position = HEADER_SIZE + question_length
    body = bytearray()
    offsets: list[int] = []
    ttls: list[int] = []
    soa_life = -1
    counts = [ancount, nscount, 0]
    runs = _Runs()
    for index in range(ancount + nscount + arcount):
        start = position
        owner_end = skip_name(reply, position)
        rtype, _, ttl, rdlength = RR_FIXED.unpack_from(reply, owner_end)
        position = owner_end + RR_FIXED_SIZE + rdlength
        if position > len(reply):
            return None
        if index < ancount:
            runs.add(reply, start, owner_end, position, len(body))
        if index >= ancount + nscount:
            if rtype == OPT_TYPE:
                continue
            counts[2] += 1
        if rtype == SOA and ancount <= index < ancount + nscount:
            minimum = int.from_bytes(reply[position - 4 : position], "big")
            soa_life = min(ttl, minimum)
        offsets.append(len(body) + (owner_end - start) + TTL_AT)
        ttls.append(ttl)
        body += reply[start:position]
    if rcode == NOERROR and ancount:
        life = min([max_ttl, *ttls[:ancount]])
    elif soa_life >= 0:
        life = min(soa_life, max_negative_ttl)
    else:
        return None  # a negative answer without an SOA is not cached (RFC 2308 5)
    if life <= 0:
        return None
    capped = tuple(min(ttl, life) for ttl in ttls)
    for offset, ttl in zip(offsets, capped, strict=True):
        struct.pack_into("!I", body, offset, ttl)  # stored as first served: capped
    counted = (counts[0], counts[1], counts[2])
    found = runs.done() if rotate else ()
    return Entry(
        now,
        now + life,
        rcode,
        counted,
        bytes(body),
        tuple(offsets),
        capped,
        found,
        [0] if found else None,
    )


class _Runs:
    """Finds the rotatable address RRsets of an answer section, record by record."""

    def __init__(self) -> None:
        self.found: list[tuple[int, int, int]] = []
        self._key = b""  # owner pointer, type and class of the run so far
        self._start = self._size = self._count = 0

    def add(self, reply: bytes, start: int, owner_end: int, end: int, at: int) -> None:
        fixed = reply[owner_end : owner_end + 4]  # type and class
        pointer = owner_end - start == 2 and reply[start] & POINTER_BITS == POINTER_BITS
        address = fixed[:2] in (_A, _AAAA) and end - owner_end - RR_FIXED_SIZE == _SIZES[fixed[:2]]
        key = reply[start:owner_end] + fixed if pointer and address else b""
        if key and key == self._key:
            self._count += 1
            return
        self._close()
        # Only a pointer to a name before this record: nothing can point into the run.
        backwards = pointer and int.from_bytes(reply[start:owner_end], "big") & MAX_POINTER < start
        if key and backwards:
            self._key, self._start, self._size, self._count = key, at, end - start, 1

    def _close(self) -> None:
        if self._count > 1:
            self.found.append((self._start, self._size, self._count))
        self._key, self._count = b"", 0

    def done(self) -> tuple[tuple[int, int, int], ...]:
        self._close()
        return tuple(self.found)


_A, _AAAA = b"\x00\x01", b"\x00\x1c"
_SIZES = {_A: 4, _AAAA: 16}


def rotated(entry: Entry, body: bytes | bytearray) -> bytes:
    """`body` (the entry's, TTLs as served) with each address run turned by one more
    record than last time; one copy at most."""
    if entry.served is None:
        return bytes(body)
    turn = entry.served[0]
    entry.served[0] = turn + 1
    out = body if isinstance(body, bytearray) else bytearray(body)
    for start, size, count in entry.runs:
        shift = (turn % count) * size
        end = start + size * count
        out[start:end] = out[start + shift : end] + out[start : start + shift]
    return bytes(out)


STALE_TTL = 30  # RFC 8767 4: the TTL of a stale answer


def stale_body(entry: Entry) -> bytes:
    body = bytearray(entry.body)
    for offset in entry.ttl_offsets:
        struct.pack_into("!I", body, offset, STALE_TTL)
    return rotated(entry, body)


def served_body(entry: Entry, now: float) -> bytes:
    """The entry's records with their TTLs counted down to `now`."""
    elapsed = int(now - entry.stored)
    if not elapsed:
        return rotated(entry, entry.body)
    body = bytearray(entry.body)
    for offset, ttl in zip(entry.ttl_offsets, entry.ttls, strict=True):
        struct.pack_into("!I", body, offset, max(0, ttl - elapsed))
    return rotated(entry, body)


class ForwardCache:
    def __init__(
        self,
        *,
        size: int = 10_000,
        max_ttl: int = 30,
        max_negative_ttl: int = 5,
        max_bytes: int = MAX_BYTES,
        rotate: bool = True,
    ) -> None:
        self.size = size
        self.rotate = rotate  # serve address RRsets rotated (see the module docstring)
        self.max_bytes = max_bytes
        self.bytes = 0  # what the entries cost, by `_cost`
        self.max_ttl = max_ttl
        self.max_negative_ttl = max_negative_ttl
        self.hits = 0
        self.misses = 0
        self.evictions = 0
        self._entries: OrderedDict[bytes, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, question: bytes, now: float, *, count_miss: bool = True) -> Entry | None:
        """The live entry (a hit, moved to the front), or None (a miss, counted only when
        `count_miss`: a look-up before the question is known to be forwarded is not one)."""
        key = question_key(question)
        entry = self._entries.get(key)
        if entry is None or entry.expires <= now:
            self.misses += count_miss
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def stale(self, question: bytes, now: float, *, within: float) -> Entry | None:
        """An entry expired no more than `within` seconds ago (or still live)."""
        entry = self._entries.get(question_key(question))
        return entry if entry is not None and entry.expires + within > now else None

    def peek(self, question: bytes, now: float) -> Entry | None:
        """The live entry, without counting a hit or touching the LRU order."""
        entry = self._entries.get(question_key(question))
        return entry if entry is not None and entry.expires > now else None

    def put(self, question: bytes, reply: bytes, now: float) -> Entry | None:
        entry = parse_entry(
            reply,
            len(question),
            now,
            max_ttl=self.max_ttl,
            max_negative_ttl=self.max_negative_ttl,
            rotate=self.rotate,
        )
        if entry is None or self.size <= 0:
            return entry
        key = question_key(question)
        replaced = self._entries.pop(key, None)
        if replaced is not None:
            self.bytes -= _cost(key, replaced)
        self._entries[key] = entry
        self.bytes += _cost(key, entry)
        while len(self._entries) > self.size or self.bytes > self.max_bytes:
            old_key, old = self._entries.popitem(last=False)
            self.bytes -= _cost(old_key, old)
            self.evictions += 1
        return entry


def _cost(key: bytes, entry: Entry) -> int:
    rotation = ROTATION_OVERHEAD * bool(entry.runs)
    return len(key) + len(entry.body) + ENTRY_OVERHEAD + 16 * len(entry.ttls) + rotation
