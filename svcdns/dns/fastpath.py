"""The fast path: a plain query answered from ready bytes, with no parsing library.

Reads the question by hand, looks its lower-cased wire name up in the index's blobs, and
writes the reply as header + the client's own question bytes (its letter case, DNS 0x20) +
the owner's ready RRset bytes, whose pointers all lead into that question. Negative answers
come from a template holding the current SOA, so a serial bump can never leave a stale one.

It answers only what it is sure of and returns None for everything else, which the handler
gives to the full parser: anything not a plain IN query with at most a well-formed OPT, EDNS
version above 0, ANY, zone transfers, special names (apex, `dns-version`, `ns.dns`,
`<ns>.svc`, pods), CNAMEs into the zone, SRV sets the index implies rather than stores (at
an endpoint name or a ClusterIP name held as a packed address, and at a headless name:
`RecordIndex.endpoint_ports`, `service_ports`, `srv_from_endpoints`), names outside the
zone, and any time before the first sync. The same input gets the same reply either way;
`tests/dns/test_fastpath.py` compares the two paths. No sockets, no clocks, no dnslib.
"""

from __future__ import annotations

from svcdns.core.state import ClusterState
from svcdns.dns.rotation import Rotation
from svcdns.wire.blob import DEFLATED, TYPE_HEADER, TYPE_HEADER_SIZE, inflate
from svcdns.wire.header import (
    AA_HIGH,
    ANCOUNT_AT,
    ARCOUNT_AT,
    CD_LOW,
    HEADER_SIZE,
    OPCODE_HIGH,
    PLAIN_QUERY_COUNTS,
    QDCOUNT_AT,
    QR_HIGH,
    RD_HIGH,
    RR_COUNTS,
    TC_HIGH,
)
from svcdns.wire.limits import CLASSIC_UDP, MAX_TCP
from svcdns.wire.names import MAX_LABEL, MAX_NAME, POINTER, QUESTION_POINTER, skip_name
from svcdns.wire.opt import edns_udp_limit, our_opt
from svcdns.wire.record import RDLENGTH_AT, RR_FIXED, RR_FIXED_SIZE
from svcdns.wire.soa import MAX_SOA_TTL, timers

_CLASS_IN = b"\x00\x01"
# Bound once from `wire.header`, as module globals: the hot path reads no attribute.
_QR_OPCODE = QR_HIGH | OPCODE_HIGH  # a response, or an opcode other than QUERY
_AA_QR = AA_HIGH | QR_HIGH
_QD_AN_NS = slice(QDCOUNT_AT, ARCOUNT_AT)  # a slice made once, not per query
_AR = slice(ARCOUNT_AT, HEADER_SIZE)
# Methods bound here: Python 3.11 calls a method of a name imported with `from` as a module
# attribute (an unspecialised LOAD_ATTR), which costs the hot path 3%.
_pack_counts = RR_COUNTS.pack
_unpack_type = TYPE_HEADER.unpack_from
_CNAME = 5
_ROTATED = (1, 28)  # A, AAAA
_SRV = b"\x00\x21"
_SLOW_TYPES = frozenset((251, 252, 255))  # IXFR, AXFR, ANY: the full path decides
_SLOW_TYPE_BYTES = frozenset(t.to_bytes(2, "big") for t in _SLOW_TYPES)
_NXDOMAIN = 3
_NOERROR = 0
_SPECIAL_SINGLE = frozenset((b"dns-version", b"dns", b"svc", b"pod"))
_ADDRESS_TYPE = {4: b"\x00\x01", 16: b"\x00\x1c"}  # packed length -> A or AAAA
# Reply flags of a NOERROR answer by the query's RD and CD bits: QR, AA, RD and CD copied.
_NOERROR_FLAGS = {rd | cd: bytes((_AA_QR | rd, cd)) for rd in (0, RD_HIGH) for cd in (0, CD_LOW)}
# Counts of a one-record answer: QD 1, AN 1, NS 0, AR 0, or 1 for our OPT.
_ONE_ANSWER = {
    False: b"\x00\x01\x00\x01\x00\x00\x00\x00",
    True: b"\x00\x01\x00\x01\x00\x00\x00\x01",
}


class FastPath:
    def __init__(self, state: ClusterState, rotation: Rotation | None = None) -> None:
        self.state = state
        # Multi-address answers start one record later each time (`dns.rotation`).
        self.rotation = rotation or Rotation()
        index = state.index
        self._blobs = index.blobs
        self._addresses = index.addresses
        self._pointers = index.pointers
        self._endpoint_ports = index.endpoint_ports
        self._service_ports = index.service_ports
        self._srv_from_endpoints = index.srv_from_endpoints
        self._srv_section = index.srv_section
        # With forwarding on, an ExternalName's target outside the zones is looked up too.
        self.chase_external = False
        self.refresh()

    def refresh(self) -> None:
        """Bytes that depend on the settings (the TTL), made again after they change."""
        state, index = self.state, self.state.index
        ttl = index.ttl.to_bytes(4, "big")
        # Answer section of a single-address owner, but for the address itself.
        self._address_rr = {
            4: QUESTION_POINTER + b"\x00\x01\x00\x01" + ttl + b"\x00\x04",
            16: QUESTION_POINTER + b"\x00\x1c\x00\x01" + ttl + b"\x00\x10",
        }
        self._pointer_rr = QUESTION_POINTER + b"\x00\x0c\x00\x01" + ttl
        self._interior = index.interior
        self._zone = index.zone_wire
        settings = state.settings
        self._soa_ttl = min(settings.ttl, MAX_SOA_TTL)
        self._minimum = settings.ttl
        self._soa_serial = -1
        self._soa_by_offset: dict[int, bytes] = {}

    def answer(self, data: bytes, udp: bool = True) -> bytes | None:
        """The reply to `data`, or None when the full path must decide."""
        size = len(data)
        if (
            size < HEADER_SIZE + 5
            or data[2] & _QR_OPCODE
            or data[_QD_AN_NS] != PLAIN_QUERY_COUNTS
            or not self.state.synced
        ):
            return None
        end = data.find(0, HEADER_SIZE)  # the root label, if no label holds a zero byte
        if end < 0:
            return None
        question_end = end + 5
        if question_end > size or data[end + 3 : question_end] != _CLASS_IN:
            return None
        additional = data[_AR]
        if additional == b"\x00\x00":
            if size != question_end:
                return None
            limit = CLASSIC_UDP if udp else MAX_TCP
            opt = b""
        elif additional == b"\x00\x01":
            udp_limit = edns_udp_limit(data, question_end, size)
            if udp_limit < 0:
                return None
            limit = udp_limit if udp else MAX_TCP
            opt = our_opt(data, question_end)
        else:
            return None
        qtype = data[end + 1 : end + 3]
        if qtype in _SLOW_TYPE_BYTES:
            return None
        name = data[HEADER_SIZE : end + 1].lower()
        # The tables in the order queries find them: addresses (service and endpoint names),
        # pointers (reverse names), blobs (SRV and the rest).
        packed = self._addresses.get(name)
        if packed is not None:
            if qtype == _ADDRESS_TYPE[len(packed)]:
                # One address record: the reply always fits in 512 bytes.
                return b"".join(
                    (
                        data[:2],
                        _NOERROR_FLAGS[(data[2] & RD_HIGH) | (data[3] & CD_LOW)],
                        _ONE_ANSWER[bool(opt)],
                        data[HEADER_SIZE:question_end],
                        self._address_rr[len(packed)],
                        packed,
                        opt,
                    )
                )
            if qtype == _SRV and name in self._srv_from_endpoints:
                return self._built(data, question_end, name, opt, limit)
            if qtype == _SRV and (
                name in self._service_ports or name[1 + name[0] :] in self._endpoint_ports
            ):
                return None  # an implied SRV set (an endpoint's, a ClusterIP's): the full path
            return self._nodata(data, question_end, name, qtype, opt, limit)
        target = self._pointers.get(name)
        if target is not None:
            if qtype == b"\x00\x0c":
                answer = self._pointer_rr + len(target).to_bytes(2, "big") + target
                return _positive(data, question_end, 1, 0, answer, len(answer), opt, limit)
            return self._nodata(data, question_end, name, qtype, opt, limit)
        blob = self._blobs.get(name)
        if blob is None:
            # Unknown names: only now check the name is well formed (a known one must be).
            rcode = self._negative_rcode(name)
            if rcode < 0:
                return None
            return self._negative(data, question_end, name, rcode, opt, limit)
        qtype_number = int.from_bytes(qtype, "big")
        if blob[0] == DEFLATED:
            blob = inflate(blob)
        position, blob_size = 0, len(blob)
        while position < blob_size:
            rtype, ancount, arcount, anlen, arlen = _unpack_type(blob, position)
            start = position + TYPE_HEADER_SIZE
            if rtype in (qtype_number, _CNAME):
                if rtype == _CNAME and (
                    self._cname_into_zone(blob, start + anlen)
                    or (self.chase_external and qtype_number != _CNAME)
                ):
                    return None  # the chase needs the answerer (or the upstream)
                body = blob[start : start + anlen + arlen]
                if ancount > 1 and rtype in _ROTATED and self.rotation.enabled:
                    # Every record of an address RRset has one size (the owner a pointer).
                    shift = self.rotation.turn(name, rtype, ancount) * (anlen // ancount)
                    body = body[shift:anlen] + body[:shift] + body[anlen:]
                return _positive(data, question_end, ancount, arcount, body, anlen, opt, limit)
            position = start + anlen + arlen
        if qtype == _SRV and name in self._srv_from_endpoints:
            return self._built(data, question_end, name, opt, limit)
        return self._nodata(data, question_end, name, qtype, opt, limit)

    def _built(
        self, data: bytes, question_end: int, name: bytes, opt: bytes, limit: int
    ) -> bytes | None:
        """A headless name's SRV set, built from its endpoints' the first time it is asked
        (`RecordIndex.srv_section`); None (the full path) when it does not fit a message."""
        section = self._srv_section(name)
        if section is None:
            return None
        _, ancount, arcount, anlen, _ = _unpack_type(section, 0)
        body = section[TYPE_HEADER_SIZE:]
        return _positive(data, question_end, ancount, arcount, body, anlen, opt, limit)

    def _nodata(
        self, data: bytes, question_end: int, name: bytes, qtype: bytes, opt: bytes, limit: int
    ) -> bytes | None:
        if not name.endswith(self._zone):
            return None  # NODATA at a reverse name: that zone's SOA is the full path's
        return self._negative(data, question_end, name, _NOERROR, opt, limit)

    def _cname_into_zone(self, blob: bytes, answer_end: int) -> bool:
        return blob[:answer_end].endswith(self._zone)

    def _negative_rcode(self, name: bytes) -> int:
        """NXDOMAIN or NODATA for a well-formed name in the zone that is not special; -1 for
        anything the full path must see."""
        zone = self._zone
        # Non-ASCII labels: the full parser refuses some (FORMERR); let it judge them all.
        if not name.endswith(zone) or len(name) > MAX_NAME or not name.isascii():
            return -1
        relative_end = len(name) - len(zone)
        labels: list[int] = []  # start of each label before the zone
        position = 0
        while position < relative_end:
            length = name[position]
            if length == 0 or length > MAX_LABEL:
                return -1
            labels.append(position)
            position += 1 + length
        if position != relative_end or not labels:
            return -1
        last = name[labels[-1] + 1 : relative_end]
        count = len(labels)
        if last == b"pod" or (count == 1 and last in _SPECIAL_SINGLE):
            return -1
        if count == 2 and (last in (b"svc", b"dns")):
            return -1
        return _NOERROR if self._interior.get(name, 0) > 0 else _NXDOMAIN

    def _negative(
        self, data: bytes, question_end: int, name: bytes, rcode: int, opt: bytes, limit: int
    ) -> bytes:
        """NXDOMAIN or NODATA (RFC 2308): the zone's current SOA in authority."""
        reply = b"".join(
            (
                data[:2],
                bytes((_AA_QR | (data[2] & RD_HIGH), (data[3] & CD_LOW) | rcode)),
                b"\x00\x01\x00\x00\x00\x01",
                b"\x00\x01" if opt else b"\x00\x00",
                data[HEADER_SIZE:question_end],
                self._soa(question_end),
                opt,
            )
        )
        return reply

    def _soa(self, at: int) -> bytes:
        """The zone's SOA record written at message offset `at`: its owner spelled out (in
        our letter case, not the client's), its names pointing at that owner."""
        serial = self.state.serial
        if serial != self._soa_serial:
            self._soa_by_offset.clear()
            self._soa_serial = serial
        record = self._soa_by_offset.get(at)
        if record is None:
            zone = (POINTER | at).to_bytes(2, "big")
            rdata = b"".join(
                (
                    b"\x02ns\x03dns",
                    zone,
                    b"\x0ahostmaster",
                    zone,
                    timers(serial, self._minimum),
                )
            )
            fixed = RR_FIXED.pack(6, 1, self._soa_ttl, len(rdata))
            record = self._zone + fixed + rdata
            self._soa_by_offset[at] = record
        return record


def _positive(
    data: bytes,
    question_end: int,
    ancount: int,
    arcount: int,
    body: bytes,
    answer_size: int,
    opt: bytes,
    limit: int,
) -> bytes:
    """Header (ID, RD and CD from the query; QR and AA set), the client's question, the
    ready answer and additional bytes, our OPT when the query had one."""
    reply = b"".join(
        (
            data[:2],
            bytes((_AA_QR | (data[2] & RD_HIGH), data[3] & CD_LOW)),
            b"\x00\x01",
            _pack_counts(ancount, 0, arcount + bool(opt)),
            data[HEADER_SIZE:question_end],
            body,
            opt,
        )
    )
    if len(reply) > limit:
        return _truncate(reply, question_end + answer_size, limit, opt, arcount)
    return reply


def _truncate(reply: bytes, answer_end: int, limit: int, opt: bytes, arcount: int) -> bytes:
    """Cut at whole RRsets (RFC 2181 9): TC when the answer cannot fit (the question is kept,
    the answer dropped); additional RRsets that do not fit are left out without TC."""
    if answer_end + len(opt) > limit:
        header = bytearray(reply[:HEADER_SIZE])
        header[2] |= TC_HIGH
        header[ANCOUNT_AT:HEADER_SIZE] = _pack_counts(0, 0, bool(opt))
        question_end = skip_name(reply, HEADER_SIZE) + 4
        return bytes(header) + reply[HEADER_SIZE:question_end] + opt
    kept, kept_count = answer_end, 0
    for end, count in _rrset_ends(reply, answer_end, arcount):
        if end + len(opt) > limit:
            break
        kept, kept_count = end, count
    header = bytearray(reply[:HEADER_SIZE])
    header[ARCOUNT_AT:HEADER_SIZE] = (kept_count + bool(opt)).to_bytes(2, "big")
    return bytes(header) + reply[HEADER_SIZE:kept] + opt


def _rr_end(message: bytes, position: int) -> tuple[int, bytes]:
    """Where the record at `position` ends, and its owner and type (the RRset identity)."""
    owner_end = skip_name(message, position)
    identity = message[position : owner_end + 2]
    rdlength_at = owner_end + RDLENGTH_AT
    length = int.from_bytes(message[rdlength_at : rdlength_at + 2], "big")
    return owner_end + RR_FIXED_SIZE + length, identity


def _rrset_ends(reply: bytes, start: int, arcount: int) -> list[tuple[int, int]]:
    """(end offset, records so far) after each whole RRset of the additional section."""
    ends: list[tuple[int, int]] = []
    position, previous = start, b""
    for count in range(arcount):
        end, identity = _rr_end(reply, position)
        if count and identity != previous:
            ends.append((position, count))
        previous, position = identity, end
    if arcount:
        ends.append((position, arcount))
    return ends
