"""The message header (RFC 1035 4.1.1): its size, where its fields sit, its flag bits.

The flags are given twice: as bits of the 16-bit field (`QR`, `RD`...), for code that reads
it whole, and as bits of its first or second octet (`QR_HIGH`, `CD_LOW`...), for code that
reads one octet (`message[2]`, `message[3]`), as the fast path does. Constants only; imports
nothing.
"""

from __future__ import annotations

import struct

HEADER_SIZE = 12
HEADER = struct.Struct("!HHHHHH")  # ID, flags, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT
# Where each field starts.
ID_AT = 0
FLAGS_AT = 2
QDCOUNT_AT = 4
ANCOUNT_AT = 6
NSCOUNT_AT = 8
ARCOUNT_AT = 10
COUNTS = struct.Struct("!HHHH")  # QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT: from QDCOUNT_AT
RR_COUNTS = struct.Struct("!HHH")  # ANCOUNT, NSCOUNT, ARCOUNT: from ANCOUNT_AT
# QDCOUNT 1, ANCOUNT 0, NSCOUNT 0 (QDCOUNT_AT to ARCOUNT_AT): what a plain query has.
PLAIN_QUERY_COUNTS = b"\x00\x01\x00\x00\x00\x00"

# The flags field.
QR = 0x8000  # a response
OPCODE_MASK = 0x7800
OPCODE_SHIFT = 11
AA = 0x0400  # authoritative answer
TC = 0x0200  # truncated
RD = 0x0100  # recursion desired: copied to the reply
RA = 0x0080  # recursion available
CD = 0x0010  # checking disabled (RFC 4035 3.2.2): copied to the reply (RFC 6840 5.9)
# The rcode's low four bits, in the field and in message[3] alike (RFC 6891 6.1.3 keeps the
# rest in the OPT).
RCODE_MASK = 0x000F

# The same bits in the octet that holds them: message[2] (HIGH) or message[3] (LOW).
QR_HIGH = QR >> 8
OPCODE_HIGH = OPCODE_MASK >> 8
AA_HIGH = AA >> 8
TC_HIGH = TC >> 8
RD_HIGH = RD >> 8
RA_LOW = RA
CD_LOW = CD

RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
