"""Wire format: the only module importing dnslib.

Parses queries (raising `WireError` subclasses that carry the rcode to answer with) and
encodes responses, with EDNS0 (RFC 6891) and UDP truncation at whole RRsets (RFC 2181
section 9: TC only when the answer or authority could not fit; additional data may go).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dnslib

from svcdns.core.answer import Answer
from svcdns.core.rr import Rcode, Record, RRType, SOAData, SRVData
from svcdns.wire.header import (
    CD,
    HEADER,
    HEADER_SIZE,
    OPCODE_MASK,
    OPCODE_SHIFT,
    QR,
    RCODE_MASK,
    RD,
)
from svcdns.wire.limits import MAX_TCP, OUR_PAYLOAD, udp_limit
from svcdns.wire.names import MAX_LABEL, MAX_NAME
from svcdns.wire.opt import DO

CLASS_IN = 1


class WireError(Exception):
    """A query that cannot be answered normally; `rcode` is the reply (None: drop it)."""

    rcode: Rcode | None = Rcode.FORMERR


class Drop(WireError):
    rcode = None


class FormErr(WireError):
    rcode = Rcode.FORMERR


class NotImp(WireError):
    rcode = Rcode.NOTIMP


@dataclass(frozen=True, slots=True)
class Header:
    id: int
    flags: int
    qdcount: int

    @property
    def opcode(self) -> int:
        return (self.flags & OPCODE_MASK) >> OPCODE_SHIFT


@dataclass(frozen=True, slots=True)
class Edns:
    payload: int
    version: int
    do: bool = False  # DNSSEC OK (RFC 3225): copied into the reply's OPT


@dataclass(frozen=True, slots=True)
class Query:
    header: Header
    name: str  # lower-case, without the trailing dot: the lookup key
    qtype: int
    qclass: int
    edns: Edns | None
    question: Any  # the parsed dnslib question, echoed exactly as sent (0x20 case)

    def udp_limit(self) -> int:
        """The largest UDP reply the client accepts (RFC 6891 section 6.2.5)."""
        return udp_limit(None if self.edns is None else self.edns.payload)


def read_header(data: bytes) -> Header:
    if len(data) < HEADER_SIZE:
        raise Drop("shorter than a DNS header")
    ident, flags, qdcount, _, _, _ = HEADER.unpack_from(data)
    return Header(ident, flags, qdcount)


def parse_query(data: bytes) -> Query:
    header = read_header(data)
    if header.flags & QR:
        raise Drop("a response, not a query")
    if header.opcode != 0:
        raise NotImp(f"opcode {header.opcode}")
    if header.qdcount != 1:
        raise FormErr(f"QDCOUNT {header.qdcount}")
    try:
        record = dnslib.DNSRecord.parse(data)
    except (dnslib.DNSError, ValueError, IndexError, struct.error, UnicodeError) as error:
        raise FormErr(f"unparsable: {error}") from None
    options = [rr for rr in record.ar if rr.rtype == RRType.OPT]
    if len(options) > 1:
        raise FormErr("more than one OPT record")
    # RFC 6891 6.1.1: the OPT is a pseudo-record of the additional section, owned by the root.
    if any(rr.rtype == RRType.OPT for rr in (*record.rr, *record.auth)):
        raise FormErr("OPT outside the additional section")
    if options and options[0].rname.label:
        raise FormErr("OPT owner is not the root")
    edns = None
    if options:
        opt = options[0]
        edns = Edns(payload=opt.rclass, version=(opt.ttl >> 16) & 0xFF, do=bool(opt.ttl & DO))
    question = record.q
    labels = question.qname.label
    # dnslib reads names it could not write back: RFC 1035 2.3.4 limits are checked here.
    too_long = sum(len(label) + 1 for label in labels) + 1 > MAX_NAME
    if too_long or any(len(label) > MAX_LABEL for label in labels):
        raise FormErr("name too long")
    # A dot inside a label must not make the name look like another one: escape it.
    name = b".".join(label.replace(b".", b"\\.") for label in labels).decode("latin-1").lower()
    return Query(header, name, question.qtype, question.qclass, edns, question)


def error_reply(header: Header, rcode: Rcode) -> bytes:
    """A header-only reply, for queries whose question cannot be trusted."""
    flags = QR | (header.flags & OPCODE_MASK) | (header.flags & RD) | int(rcode)
    return HEADER.pack(header.id, flags, 0, 0, 0, 0)


def _rdata(record: Record) -> Any:
    data = record.data
    if isinstance(data, SOAData):
        times = (data.serial, data.refresh, data.retry, data.expire, data.minimum)
        return dnslib.SOA(data.mname + ".", data.rname + ".", times)
    if isinstance(data, SRVData):
        return dnslib.SRV(data.priority, data.weight, data.port, data.target + ".")
    factories: dict[RRType, Callable[[str], Any]] = {
        RRType.A: dnslib.A,
        RRType.AAAA: dnslib.AAAA,
        RRType.CNAME: lambda target: dnslib.CNAME(target + "."),
        RRType.PTR: lambda target: dnslib.PTR(target + "."),
        RRType.NS: lambda target: dnslib.NS(target + "."),
        RRType.TXT: dnslib.TXT,
    }
    return factories[record.rtype](data)


def _rrsets(records: Sequence[Record], query: Query) -> list[list[Any]]:
    """dnslib RRs grouped by RRset; the queried name keeps the letter case the client sent."""
    groups: dict[tuple[str, RRType], list[Any]] = {}
    for record in records:
        owner = query.question.qname if record.name == query.name else record.name + "."
        rr = dnslib.RR(owner, int(record.rtype), CLASS_IN, record.ttl, _rdata(record))
        groups.setdefault((record.name, record.rtype), []).append(rr)
    return list(groups.values())


def encode_reply(query: Query, result: Answer, *, udp: bool, recursion: bool = False) -> bytes:
    """The reply to `query`, cut at whole RRsets with TC where it does not fit: the client's
    size over UDP, 65535 bytes over TCP."""
    # RD and CD are copied from the query (RFC 1035 4.1.1; RFC 6840 5.9 for CD).
    flags = query.header.flags
    bits: dict[str, int] = {"qr": 1, "rd": int(bool(flags & RD)), "cd": int(bool(flags & CD))}
    bits |= {"aa": int(result.authoritative), "ra": int(recursion)}
    rcode = int(result.rcode)
    header = dnslib.DNSHeader(id=query.header.id, rcode=rcode & RCODE_MASK, **bits)
    opt = []
    if query.edns is not None:
        # RFC 3225 3: the DO bit of the query is copied into the response.
        edns_flags = "do" if query.edns.do else ""
        opt = [dnslib.EDNS0(udp_len=OUR_PAYLOAD, ext_rcode=rcode >> 4, flags=edns_flags)]
    sections = [_rrsets(s, query) for s in (result.answer, result.authority, result.additional)]

    def pack(counts: tuple[int, int, int]) -> bytes:
        reply = dnslib.DNSRecord(header=header, q=query.question)
        for section, add, count in zip(sections, _ADDERS, counts, strict=True):
            for rrset in section[:count]:
                for rr in rrset:
                    add(reply, rr)
        for rr in opt:
            reply.add_ar(rr)
        return bytes(reply.pack())

    wire = pack((len(sections[0]), len(sections[1]), len(sections[2])))
    # Over TCP the 2-byte length prefix caps a message at 65535 bytes (RFC 1035 4.2.2).
    limit = query.udp_limit() if udp else MAX_TCP
    if len(wire) <= limit:
        return wire
    kept: list[int] = []
    for index, section in enumerate(sections):

        def fits(count: int, index: int = index) -> bool:
            return len(pack(_counts(kept, index, count))) <= limit

        count = _largest_fitting(fits, len(section))
        kept.append(count)
        if count < len(section):
            if index < 2:  # answer or authority lost an RRset: the client must retry over TCP
                header.tc = 1
            break
    return pack(_counts(kept, len(kept), 0))


def _counts(kept: list[int], index: int, count: int) -> tuple[int, int, int]:
    counts = [*kept[:index], count, 0, 0]
    return counts[0], counts[1], counts[2]


def _largest_fitting(fits: Callable[[int], bool], total: int) -> int:
    """Binary search for the largest n in [0, total] with fits(n); fits is monotone."""
    low, high = 0, total
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


_ADDERS: tuple[Callable[[Any, Any], None], ...] = (
    lambda reply, rr: reply.add_answer(rr),
    lambda reply, rr: reply.add_auth(rr),
    lambda reply, rr: reply.add_ar(rr),
)


def chased_reply(query: Query, cnames: Sequence[Record], upstream: bytes, *, udp: bool) -> bytes:
    """An ExternalName answered with its target's records from upstream: our CNAME(s), then
    the upstream's answer records, its rcode and, for a negative answer, its SOA (RFC 2308
    2.1); RA set, and AA, as the CNAME at the question's name is ours (RFC 1035 4.1.1)."""
    found = upstream_answer(upstream)
    if found is None:
        return encode_reply(query, Answer(Rcode.SERVFAIL, authoritative=False), udp=udp)
    answer = Answer(found.rcode, answer=(*cnames, *found.answer), authority=found.authority)
    return encode_reply(query, answer, udp=udp, recursion=True)


def upstream_answer(upstream: bytes) -> Answer | None:
    """An upstream's reply as an answer of the records we can carry on: its rcode, its answer
    records and, for a negative answer, its SOA; None when it cannot be read."""
    try:
        reply = dnslib.DNSRecord.parse(upstream)
    except (dnslib.DNSError, ValueError, IndexError, struct.error, UnicodeError):
        return None
    found = [r for r in map(_record_of, reply.rr) if r is not None]
    authority: list[Record] = []
    if not found:
        soas = (_record_of(rr) for rr in reply.auth if rr.rtype == RRType.SOA)
        authority = [r for r in soas if r is not None][:1]
    rcode = Rcode(reply.header.rcode) if reply.header.rcode in (0, 2, 3, 5) else Rcode.SERVFAIL
    return Answer(rcode, answer=tuple(found), authority=tuple(authority))


def _record_of(rr: Any) -> Record | None:
    """An upstream record we can carry on (addresses, names, SRV, SOA); None otherwise."""
    owner = str(rr.rname).rstrip(".").lower()
    rdata = rr.rdata
    try:
        if rr.rtype in (RRType.A, RRType.AAAA):
            return Record(owner, RRType(rr.rtype), rr.ttl, str(rdata))
        if rr.rtype in (RRType.CNAME, RRType.PTR):
            return Record(owner, RRType(rr.rtype), rr.ttl, str(rdata.label).rstrip("."))
        if rr.rtype == RRType.SRV:
            target = str(rdata.target).rstrip(".")
            data = SRVData(rdata.priority, rdata.weight, rdata.port, target)
            return Record(owner, RRType.SRV, rr.ttl, data)
        if rr.rtype == RRType.SOA:
            times = rdata.times
            soa = SOAData(str(rdata.mname).rstrip("."), str(rdata.rname).rstrip("."), *times)
            return Record(owner, RRType.SOA, rr.ttl, soa)
    except (AttributeError, TypeError, ValueError):
        return None
    return None


def question_message(name: str, qtype: str) -> bytes:
    """A query for `name` and `qtype` (a type name such as A or SRV); raises ValueError."""
    try:
        return bytes(dnslib.DNSRecord.question(name, qtype).pack())
    except (dnslib.DNSError, ValueError, KeyError, AttributeError) as error:
        raise ValueError(f"{name[:100]!r} {qtype[:20]!r}: {error}") from None


def dig_text(reply: bytes) -> str:
    """A reply shown as `dig` shows one."""
    return str(dnslib.DNSRecord.parse(reply))
