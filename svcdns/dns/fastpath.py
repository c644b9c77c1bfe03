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

import struct

from svcdns.core.state import ClusterState
from svcdns.core.wire import DEFLATED, POINTER, TYPE_HEADER, inflate
from svcdns.dns.rotation import Rotation

HEADER_SIZE = 12
CLASSIC_UDP = 512  # RFC 1035 4.2.1
MAX_UDP = 65507
MAX_TCP = 65535  # RFC 1035 4.2.2: the length prefix
OPT_TYPE = b"\x00\x29"
# Our OPT (RFC 6891 6.1.2): root owner, payload 1232, extended rcode 0, version 0, no flags;
# and the same with DO set, for queries that set it (RFC 3225 3: DO is copied to the reply).
OUR_OPT = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
OUR_OPT_DO = b"\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00"
_DO_AT = 7  # offset of the DO bit's byte in an OPT record (owner, type, class, rcode, version)
_ONE_QUESTION_NO_ANSWERS = b"\x00\x01\x00\x00\x00\x00"
_CLASS_IN = b"\x00\x01"
_QR_OPCODE = 0xF8
_AA_QR = 0x84
_TC = 0x02
_RD = 0x01
_CD = 0x10
_CNAME = 5
_ROTATED = (1, 28)  # A, AAAA
_SRV = b"\x00\x21"
_SLOW_TYPES = frozenset((251, 252, 255))  # IXFR, AXFR, ANY: the full path decides
_SLOW_TYPE_BYTES = frozenset(t.to_bytes(2, "big") for t in _SLOW_TYPES)
_NXDOMAIN = 3
_NOERROR = 0
_SPECIAL_SINGLE = frozenset((b"dns-version", b"dns", b"svc", b"pod"))
_SOA_FIXED = struct.Struct("!HHIH")
_COUNTS = struct.Struct("!HHH")  # answer, authority, additional
_QUESTION_POINTER = b"\xc0\x0c"  # the owner of every answer: the question name
_ADDRESS_TYPE = {4: b"\x00\x01", 16: b"\x00\x1c"}  # packed length -> A or AAAA
# Reply flags of a NOERROR answer by the query's RD and CD bits: QR, AA, RD and CD copied.
_NOERROR_FLAGS = {rd | cd: bytes((0x84 | rd, cd)) for rd in (0, 0x01) for cd in (0, 0x10)}
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
        # With forwarding on, an ExternalName's target outside the zones is looked up too.
        self.chase_external = False
        self.refresh()

    def refresh(self) -> None:
        """Bytes that depend on the settings (the TTL), made again after they change."""
        state, index = self.state, self.state.index
        ttl = index.ttl.to_bytes(4, "big")
        # Answer section of a single-address owner, but for the address itself.
        self._address_rr = {
            4: _QUESTION_POINTER + b"\x00\x01\x00\x01" + ttl + b"\x00\x04",
            16: _QUESTION_POINTER + b"\x00\x1c\x00\x01" + ttl + b"\x00\x10",
        }
        self._pointer_rr = _QUESTION_POINTER + b"\x00\x0c\x00\x01" + ttl
        self._interior = index.interior
        self._zone = index.zone_wire
        settings = state.settings
        self._soa_ttl = min(settings.ttl, 300)
        self._minimum = settings.ttl
        self._soa_serial = -1
        self._soa_by_offset: dict[int, bytes] = {}

    def answer(self, data: bytes, udp: bool = True) -> bytes | None:
        """The reply to `data`, or None when the full path must decide."""
        size = len(data)
        if (
            size < HEADER_SIZE + 5
            or data[2] & _QR_OPCODE
            or data[4:10] != _ONE_QUESTION_NO_ANSWERS
            or not self.state.synced
        ):
            return None
        end = data.find(0, HEADER_SIZE)  # the root label, if no label holds a zero byte
        if end < 0:
            return None
        question_end = end + 5
        if question_end > size or data[end + 3 : question_end] != _CLASS_IN:
            return None
        additional = data[10:12]
        if additional == b"\x00\x00":
            if size != question_end:
                return None
            limit = CLASSIC_UDP if udp else MAX_TCP
            opt = b""
        elif additional == b"\x00\x01":
            payload = opt_payload(data, question_end, size)
            if payload < 0:
                return None
            limit = min(max(CLASSIC_UDP, payload), MAX_UDP) if udp else MAX_TCP
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
                        _NOERROR_FLAGS[(data[2] & _RD) | (data[3] & _CD)],
                        _ONE_ANSWER[bool(opt)],
                        data[HEADER_SIZE:question_end],
                        self._address_rr[len(packed)],
                        packed,
                        opt,
                    )
                )
            if qtype == _SRV and (
                name in self._service_ports
                or name[1 + name[0] :] in self._endpoint_ports
                or name in self._srv_from_endpoints
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
            rtype, ancount, arcount, anlen, arlen = TYPE_HEADER.unpack_from(blob, position)
            start = position + 10
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
            return None  # a headless name's SRV set is built from its endpoints': full path
        return self._nodata(data, question_end, name, qtype, opt, limit)

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
        if not name.endswith(zone) or len(name) > 255 or not name.isascii():
            return -1
        relative_end = len(name) - len(zone)
        labels: list[int] = []  # start of each label before the zone
        position = 0
        while position < relative_end:
            length = name[position]
            if length == 0 or length > 63:
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
                bytes((_AA_QR | (data[2] & _RD), (data[3] & _CD) | rcode)),
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
                    struct.pack("!IIIII", serial, 7200, 1800, 86400, self._minimum),
                )
            )
            fixed = _SOA_FIXED.pack(6, 1, self._soa_ttl, len(rdata))
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
            bytes((_AA_QR | (data[2] & _RD), data[3] & _CD)),
            b"\x00\x01",
            _COUNTS.pack(ancount, 0, arcount + bool(opt)),
            data[HEADER_SIZE:question_end],
            body,
            opt,
        )
    )
    if len(reply) > limit:
        return _truncate(reply, question_end + answer_size, limit, opt, arcount)
    return reply


def our_opt(data: bytes, start: int) -> bytes:
    """The OPT our reply carries for the well-formed OPT at `start` of a query: DO copied."""
    return OUR_OPT_DO if data[start + _DO_AT] & 0x80 else OUR_OPT


def opt_payload(data: bytes, start: int, size: int) -> int:
    """The UDP payload of a well-formed, version-0 OPT that ends the message; -1 otherwise
    (any other OPT, even one with a bad option, is the full parser's to judge)."""
    if (
        size < start + 11
        or data[start] != 0
        or data[start + 1 : start + 3] != OPT_TYPE
        or data[start + 6] != 0  # EDNS version: above 0 gets BADVERS from the full path
        or int.from_bytes(data[start + 9 : start + 11], "big") != size - start - 11
    ):
        return -1
    position = start + 11
    while position < size:  # each option: code, length, data (RFC 6891 6.1.2)
        if position + 4 > size:
            return -1
        position += 4 + int.from_bytes(data[position + 2 : position + 4], "big")
    if position != size:
        return -1
    return int.from_bytes(data[start + 3 : start + 5], "big")


def _truncate(reply: bytes, answer_end: int, limit: int, opt: bytes, arcount: int) -> bytes:
    """Cut at whole RRsets (RFC 2181 9): TC when the answer cannot fit (the question is kept,
    the answer dropped); additional RRsets that do not fit are left out without TC."""
    if answer_end + len(opt) > limit:
        header = bytearray(reply[:HEADER_SIZE])
        header[2] |= _TC
        header[6:12] = _COUNTS.pack(0, 0, bool(opt))
        question_end = skip_name(reply, HEADER_SIZE) + 4
        return bytes(header) + reply[HEADER_SIZE:question_end] + opt
    kept, kept_count = answer_end, 0
    for end, count in _rrset_ends(reply, answer_end, arcount):
        if end + len(opt) > limit:
            break
        kept, kept_count = end, count
    header = bytearray(reply[:HEADER_SIZE])
    header[10:12] = (kept_count + bool(opt)).to_bytes(2, "big")
    return bytes(header) + reply[HEADER_SIZE:kept] + opt


def skip_name(message: bytes, position: int) -> int:
    while True:
        length = message[position]
        if length & 0xC0:
            return position + 2
        if length == 0:
            return position + 1
        position += 1 + length


def _rr_end(message: bytes, position: int) -> tuple[int, bytes]:
    """Where the record at `position` ends, and its owner and type (the RRset identity)."""
    owner_end = skip_name(message, position)
    identity = message[position : owner_end + 2]
    length = int.from_bytes(message[owner_end + 8 : owner_end + 10], "big")
    return owner_end + 10 + length, identity


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
