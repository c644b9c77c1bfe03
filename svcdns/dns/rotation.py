"""Round robin of multi-address answers, as CoreDNS's `loadbalance` and BIND's cyclic
rrset-order: each time an owner's A (or AAAA) RRset is answered, it starts one record
later than the time before, so clients that take the first address spread over them all.

Turns are counted per owner and type (a client asking A then AAAA must not see the A set
always start at the same record), keyed by the lower-case wire name. Bounded: a table
holds one entry per multi-address owner asked; past `MAX_OWNERS` it starts afresh, which
costs only where each rotation starts. Pure state, no clock; imports only the core.
"""

from __future__ import annotations

from svcdns.core.rr import Record, RRType
from svcdns.core.wire import UnencodableName, name_wire

MAX_OWNERS = 65_536  # per type: multi-address owners are headless Services, a few thousand
A, AAAA = int(RRType.A), int(RRType.AAAA)


class Rotation:
    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._turns: dict[int, dict[bytes, int]] = {A: {}, AAAA: {}}

    def turn(self, owner: bytes, rtype: int, count: int) -> int:
        """Where the RRset of `count` records of `owner` and `rtype` starts this time."""
        turns = self._turns[rtype]
        done = turns.get(owner, 0)
        if done == 0 and len(turns) >= MAX_OWNERS:
            turns.clear()
        turns[owner] = done + 1
        return done % count

    def records(self, section: tuple[Record, ...]) -> tuple[Record, ...]:
        """A section with each A/AAAA RRset of more than one record rotated (the full path)."""
        if not self.enabled:
            return section
        out = list(section)
        start = 0
        while start < len(out):
            end = start + 1
            first = out[start]
            while end < len(out) and (out[end].name, out[end].rtype) == (first.name, first.rtype):
                end += 1
            if end - start > 1 and first.rtype in (A, AAAA):
                try:
                    owner = name_wire(first.name)
                except UnencodableName:
                    owner = first.name.encode()
                shift = self.turn(owner, first.rtype, end - start)
                out[start:end] = out[start + shift : end] + out[start : start + shift]
            start = end
        return tuple(out)
