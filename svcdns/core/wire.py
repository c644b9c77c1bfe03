"""Ready bytes: an owner's RRsets in DNS wire form (RFC 1035 4.1.3), as the fast path sends them.

An owner's *blob* holds, per type, the answer section a query for that owner and type gets,
and for SRV the additional section (the targets' addresses). Every record names its owner
with a pointer to the question (offset 12), so a reply is the header, the client's own
question bytes, then these bytes unchanged: the owners echo the client's letter case. Names
in rdata are never compressed toward the question (they keep our case); SRV targets are not
compressed at all (RFC 2782), and the additional addresses point at them. Pure; imports only
the core and `wire`, whose `wire.blob` lays the bytes out (and deflates big blobs).
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import struct
from collections.abc import Iterator, Mapping, Sequence

from svcdns.core.names import reverse_name
from svcdns.core.rr import Record, RRType, SRVData
from svcdns.wire.blob import DEFLATE_ABOVE as DEFLATE_ABOVE
from svcdns.wire.blob import DEFLATED as DEFLATED
from svcdns.wire.blob import TYPE_HEADER, blob_types
from svcdns.wire.blob import deflate as deflate
from svcdns.wire.blob import inflate as inflate
from svcdns.wire.header import HEADER_SIZE
from svcdns.wire.names import (
    MAX_LABEL,
    MAX_NAME,
    MAX_POINTER,
    POINTER,
    QUESTION_POINTER,
    labels,
    read_name,
)
from svcdns.wire.record import RR_FIXED, RR_FIXED_SIZE

# DEFLATE_ABOVE, DEFLATED, deflate and inflate are imported as themselves: how a blob is
# stored is `wire.blob`'s, and the index and its tests reach it through this module.
CLASS_IN = 1
# Where a blob record's rdata starts: after its owner (a pointer) and its fixed fields.
_RDATA_AT = len(QUESTION_POINTER) + RR_FIXED_SIZE


class UnencodableName(ValueError):
    """A name DNS cannot carry: an empty label, a label over 63 octets, over 255 in all."""


def name_wire(name: str) -> bytes:
    """`web.shop.svc.cluster.local` -> wire labels, root-terminated, lower-cased."""
    if not name:
        return b"\x00"
    head, dot, rest = name.partition(".")
    label = head.lower().encode("utf-8")
    if not 0 < len(label) <= MAX_LABEL or (dot and not rest):
        raise UnencodableName(f"not a DNS name: {_quoted(name)} ({_why(label)})")
    # The parent is nearly always shared (a Service's domain, a /24's reverse zone).
    wire = LENGTH_OCTETS[len(label)] + label + (_parent_wire(rest) if dot else b"\x00")
    if len(wire) > MAX_NAME:
        raise UnencodableName(f"not a DNS name: {_quoted(name)} ({len(wire)} octets, over 255)")
    return wire


def _quoted(name: str) -> str:
    return repr(name) if len(name) <= 100 else f"{name[:100]!r}... ({len(name)} characters)"


def _why(label: bytes) -> str:
    if len(label) > MAX_LABEL:
        return f"a label of {len(label)} octets, over 63"
    return "an empty label"


@functools.lru_cache(maxsize=4096)
def _parent_wire(name: str) -> bytes:
    return name_wire(name)


def reverse_owner(address: str) -> tuple[str, bytes]:
    """`names.reverse_name` of a canonical address, and its wire form."""
    if ":" in address:
        text = reverse_name(address)
        return text, name_wire(text)
    prefix, _, last = address.rpartition(".")
    parent_text, parent_wire = _reverse_parent(prefix)
    return f"{last}.{parent_text}", LENGTH_OCTETS[len(last)] + last.encode() + parent_wire


@functools.lru_cache(maxsize=4096)
def _reverse_parent(prefix: str) -> tuple[str, bytes]:
    """`10.244.1` -> `1.244.10.in-addr.arpa` and its wire: shared by a /24's addresses."""
    text = reverse_name(prefix + ".0").partition(".")[2]
    return text, name_wire(text)


LENGTH_OCTETS = [bytes((n,)) for n in range(MAX_LABEL + 1)]  # a label's length octet


def name_text(wire: bytes) -> str:
    """Uncompressed wire labels -> text without the trailing dot (dots in a label escaped)."""
    found, _ = labels(wire, 0)
    return b".".join(label.replace(b".", b"\\.") for label in found).decode("latin-1")


def suffixes(wire: bytes) -> Iterator[tuple[int, bytes]]:
    """(offset, suffix) for every proper name suffix of `wire` at a label boundary, longest
    first, the root excluded."""
    position = 0
    while wire[position]:
        yield position, wire[position:]
        position += 1 + wire[position]


class _NameWriter:
    """Compresses names toward names written earlier in the same body (RFC 1035 4.1.4).

    Never toward the question: its letter case is the client's, and targets must read as we
    store them. Pointers into the answer stay valid under truncation, which keeps the answer
    whole or drops it together with the additional section."""

    def __init__(self) -> None:
        self._written: dict[bytes, int] = {}

    def write(self, name: bytes, at: int) -> bytes:
        """`name` as written at message offset `at`."""
        for position, suffix in suffixes(name):
            offset = self._written.get(suffix)
            if offset is not None:
                self._remember(name[:position], name, at)
                return name[:position] + (POINTER | offset).to_bytes(2, "big")
        self._remember(name, name, at)
        return name

    def _remember(self, literal: bytes, name: bytes, at: int) -> None:
        position = 0
        while position < len(literal) and literal[position]:
            if at + position <= MAX_POINTER:
                self._written.setdefault(name[position:], at + position)
            position += 1 + literal[position]


def address_bytes(address: str) -> bytes:
    # inet_pton is a pure conversion (no I/O), and ten times faster than ipaddress.
    return socket.inet_pton(socket.AF_INET6 if ":" in address else socket.AF_INET, address)


def address_text(packed: bytes) -> str:
    """The text `convert` made the address from (ipaddress's form)."""
    return str(ipaddress.ip_address(packed))


def _rdata(record: Record, names: _NameWriter, at: int, wires: dict[str, bytes]) -> bytes:
    """The rdata of `record`, which starts at message offset `at`."""
    data = record.data
    if record.rtype in (RRType.A, RRType.AAAA):
        return address_bytes(str(data))
    if isinstance(data, SRVData):
        # RFC 2782: "name compression is not to be used for this field".
        fixed = struct.pack("!HHH", data.priority, data.weight, data.port)
        return fixed + _wire_of(data.target, wires)
    return names.write(_wire_of(str(data), wires), at)  # CNAME, PTR


def _wire_of(name: str, wires: dict[str, bytes]) -> bytes:
    wire = wires.get(name)
    if wire is None:
        wire = wires[name] = name_wire(name)
    return wire


def encode_blob(
    owner: str,
    rrsets: Sequence[Sequence[Record]],
    addresses: Mapping[str, Sequence[Record]],
    wires: dict[str, bytes] | None = None,
) -> bytes:
    """The blob of one owner: its RRsets (one per type), and for SRV the A/AAAA of targets
    found in `addresses` (target name -> its address records), as RFC 2782 asks. `wires`
    memoises text -> wire names across the owners of one Service."""
    wires = {} if wires is None else wires
    if len(rrsets) == 1 and len(rrsets[0]) == 1:
        single = _single_record(rrsets[0][0], wires)
        if single is not None:
            return single
    body_start = HEADER_SIZE + len(_wire_of(owner, wires)) + 4  # after the question
    out = bytearray()
    for rrset in rrsets:
        answer = bytearray()
        names = _NameWriter()
        targets: dict[str, int] = {}  # target name -> where it starts in the message
        for record in rrset:
            rdata = _rdata(record, names, body_start + len(answer) + _RDATA_AT, wires)
            if isinstance(record.data, SRVData) and record.data.target not in targets:
                targets[record.data.target] = body_start + len(answer) + _RDATA_AT + 6
            answer += QUESTION_POINTER + RR_FIXED.pack(
                record.rtype, CLASS_IN, record.ttl, len(rdata)
            )
            answer += rdata
        additional = bytearray()
        count = 0
        for target, start in targets.items():
            # Each address names its owner by a pointer to the target inside the SRV rdata.
            if start > MAX_POINTER:  # past where a pointer reaches: the name spelled out
                owner_bytes = _wire_of(target, wires)
            else:
                owner_bytes = (POINTER | start).to_bytes(2, "big")
            for extra in addresses.get(target, ()):
                rdata = address_bytes(str(extra.data))
                additional += owner_bytes
                additional += RR_FIXED.pack(extra.rtype, CLASS_IN, extra.ttl, len(rdata)) + rdata
                count += 1
        out += TYPE_HEADER.pack(rrset[0].rtype, len(rrset), count, len(answer), len(additional))
        out += answer + additional
    return bytes(out)


def encode_addresses(packed: Sequence[bytes], ttl: int) -> bytes:
    """The blob of an owner holding these addresses (distinct, packed) and nothing else:
    `encode_blob` of their A and AAAA records in this order, without a record each."""
    by_size: dict[int, list[bytes]] = {}  # the types in the order they first appear
    for address in packed:
        by_size.setdefault(len(address), []).append(address)
    out = bytearray()
    for size, found in by_size.items():
        rtype = RRType.A if size == 4 else RRType.AAAA
        head = QUESTION_POINTER + RR_FIXED.pack(rtype, CLASS_IN, ttl, size)
        answer = head + head.join(found)
        out += TYPE_HEADER.pack(rtype, len(found), 0, len(answer), 0) + answer
    return bytes(out)


_SRV_FIXED = struct.Struct("!HHH")  # priority, weight, port


def encode_srv_targets(
    owner: bytes, entries: Sequence[tuple[int, bytes, Sequence[bytes]]], ttl: int
) -> bytes:
    """The blob of an SRV set: one record per entry (port, target wire name, the target's
    packed addresses), distinct and in this order, priority 0, weight floor(100/N) but at
    least 1, and the targets' addresses in the additional section: what `encode_blob`
    makes of those records (`zonedata.srv_set`) and the targets' address records."""
    weight = max(1, 100 // len(entries))
    body_start = HEADER_SIZE + len(owner) + 4  # after the question
    answer = bytearray()
    targets: dict[bytes, tuple[int, Sequence[bytes]]] = {}  # where each target starts
    heads: dict[int, bytes] = {}  # by target length: the owner and fixed fields, made once
    fixed: dict[int, bytes] = {}  # by port: priority, weight and port
    for port, target, addresses in entries:
        if target not in targets:
            targets[target] = (body_start + len(answer) + _RDATA_AT + 6, addresses)
        head = heads.get(len(target))
        if head is None:
            rdlength = _SRV_FIXED.size + len(target)
            head = heads[len(target)] = QUESTION_POINTER + RR_FIXED.pack(
                RRType.SRV, CLASS_IN, ttl, rdlength
            )
        numbers = fixed.get(port)
        if numbers is None:
            numbers = fixed[port] = _SRV_FIXED.pack(0, weight, port)
        answer += head
        answer += numbers
        answer += target
    additional = bytearray()
    count = 0
    for target, (start, addresses) in targets.items():
        owner_bytes = target if start > MAX_POINTER else (POINTER | start).to_bytes(2, "big")
        for address in addresses:
            rtype = RRType.A if len(address) == 4 else RRType.AAAA
            additional += owner_bytes + RR_FIXED.pack(rtype, CLASS_IN, ttl, len(address))
            additional += address
            count += 1
    head = TYPE_HEADER.pack(RRType.SRV, len(entries), count, len(answer), len(additional))
    return head + answer + additional


def _single_record(record: Record, wires: dict[str, bytes]) -> bytes | None:
    """The blob of an owner with one A, AAAA or PTR record (most owners of a cluster: every
    endpoint name and every reverse name), without the general path's bookkeeping."""
    rtype = record.rtype
    if rtype in (RRType.A, RRType.AAAA):
        rdata = address_bytes(str(record.data))
    elif rtype == RRType.PTR:
        rdata = _wire_of(str(record.data), wires)
    else:
        return None
    size = _RDATA_AT + len(rdata)
    return b"".join(
        (
            TYPE_HEADER.pack(rtype, 1, 0, size, 0),
            QUESTION_POINTER,
            RR_FIXED.pack(rtype, CLASS_IN, record.ttl, len(rdata)),
            rdata,
        )
    )


def decode_blob(owner: str, blob: bytes) -> dict[int, tuple[Record, ...]]:
    """The RRsets a blob holds, back as records (for the slow path and `svcdns records`)."""
    owner_wire = name_wire(owner)
    rrsets: dict[int, tuple[Record, ...]] = {}
    for rtype, ancount, _, answer, _ in blob_types(blob):
        # Rebuild the message prefix the pointers assume: header, then the question.
        message = bytes(HEADER_SIZE) + owner_wire + bytes(4)
        records = []
        position = 0
        for _ in range(ancount):
            owner_end = position + len(QUESTION_POINTER)
            _, _, ttl, length = RR_FIXED.unpack_from(answer, owner_end)
            start = owner_end + RR_FIXED_SIZE
            rdata = answer[start : start + length]
            base = len(message) + start
            records.append(
                Record(
                    owner, RRType(rtype), ttl, _rdata_value(rtype, rdata, message + answer, base)
                )
            )
            position = start + length
        rrsets[rtype] = tuple(records)
    return rrsets


def _rdata_value(rtype: int, rdata: bytes, message: bytes, base: int) -> str | SRVData:
    if rtype in (RRType.A, RRType.AAAA):
        return str(ipaddress.ip_address(rdata))
    if rtype == RRType.SRV:
        priority, weight, port = struct.unpack_from("!HHH", rdata)
        return SRVData(priority, weight, port, read_name(message, base + 6))
    return read_name(message, base)
