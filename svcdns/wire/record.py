"""A resource record's fixed fields (RFC 1035 4.1.3): type, class, TTL and rdata length,
right after the owner name. Constants only; imports nothing.
"""

from __future__ import annotations

import struct

RR_FIXED = struct.Struct("!HHIH")  # type, class, TTL, rdata length
RR_FIXED_SIZE = RR_FIXED.size
TTL_AT = 4  # from the end of the owner name
RDLENGTH_AT = 8
