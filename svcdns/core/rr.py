"""DNS resource records as plain values: the vocabulary the pure core speaks.

Names are lower-case, absolute, without the trailing dot. `codec` turns these into wire
format; `to_text` gives zone-file lines (RFC 1035 section 5). Imports only the stdlib.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RRType(enum.IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    IXFR = 251
    AXFR = 252
    ANY = 255


class Rcode(enum.IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5
    BADVERS = 16


@dataclass(frozen=True, slots=True)
class SOAData:
    mname: str
    rname: str
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    def to_text(self) -> str:
        return (
            f"{self.mname}. {self.rname}. {self.serial} {self.refresh} {self.retry} "
            f"{self.expire} {self.minimum}"
        )


@dataclass(frozen=True, slots=True)
class SRVData:
    priority: int
    weight: int
    port: int
    target: str

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}."


# A/AAAA: the address text; NS/CNAME/PTR: the target name; TXT: the string.
RData = str | SOAData | SRVData

_NAME_TARGETS = (RRType.NS, RRType.CNAME, RRType.PTR)


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    rtype: RRType
    ttl: int
    data: RData

    def to_text(self) -> str:
        if isinstance(self.data, SOAData | SRVData):
            rdata = self.data.to_text()
        elif self.rtype in _NAME_TARGETS:
            rdata = f"{self.data}."
        elif self.rtype == RRType.TXT:
            rdata = '"' + self.data.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            rdata = self.data
        return f"{self.name}.\t{self.ttl}\tIN\t{self.rtype.name}\t{rdata}"


RRset = tuple[Record, ...]
