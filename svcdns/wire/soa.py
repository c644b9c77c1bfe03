"""The SOA we answer with (RFC 1035 3.3.13): its timers and the cap on its own TTL, the same
from the full path (`core.answer.soa`) and the fast path. Constants and one packer; imports
nothing.
"""

from __future__ import annotations

import struct

REFRESH = 7200  # seconds: what a secondary that transfers the zone polls by
RETRY = 1800
EXPIRE = 86400
MAX_SOA_TTL = 300  # the SOA's own TTL: the zone's TTL, at most this (as CoreDNS)
TIMERS = struct.Struct("!IIIII")  # serial, refresh, retry, expire, minimum


def timers(serial: int, minimum: int) -> bytes:
    """The SOA rdata after its two names."""
    return TIMERS.pack(serial, REFRESH, RETRY, EXPIRE, minimum)
