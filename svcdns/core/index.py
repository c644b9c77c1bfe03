"""The record index: owner name -> ready wire bytes, updated one Service at a time.

Owners are keyed by their lower-case wire name, in one of three tables, so no record
objects are kept for a zone of a million names:
- `addresses`: an owner whose only record is one A or AAAA with the zone TTL (every endpoint
  name) holds just the packed address;
- `pointers`: an owner whose only record is one PTR with the zone TTL (every reverse name)
  holds the target's wire name: the very bytes object that keys the target, so it costs
  nothing but the table entry;
- `blobs`: every other owner holds a *blob* (`core.wire`), all its RRsets encoded as the
  fast path sends them; one over 1 KiB is stored deflated (`wire.deflate`).

A name under `<svc>.<ns>.svc.<zone>` can only come from that Service; a reverse name may
be shared (two headless Services selecting one pod), and each of
its PTR records is attributed to the Service its target names. Nothing here walks the whole
zone. Imports only the core.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from svcdns.core.names import under
from svcdns.core.rr import Record, RRset, RRType, SRVData
from svcdns.core.wire import (
    UnencodableName,
    address_bytes,
    address_text,
    decode_blob,
    deflate,
    encode_blob,
    inflate,
    name_text,
    name_wire,
)
from svcdns.core.zonedata import ServiceRecords, srv_set

ServiceKey = tuple[str, str]  # (namespace, name)
_ADDRESS_TYPES = (RRType.A, RRType.AAAA)


class RRsetView:
    """Read-only, decoded view of the index by text name (the answerer's slow path)."""

    def __init__(self, index: RecordIndex) -> None:
        self._index = index

    def get(self, name: str, default: dict[int, RRset] | None = None) -> dict[int, RRset] | None:
        wire = _wire_or_none(name)
        if wire is None:
            return default
        found = self._index.decoded(name, wire)
        return default if found is None else found

    def __getitem__(self, name: str) -> dict[int, RRset]:
        found = self.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        wire = _wire_or_none(name) if isinstance(name, str) else None
        return wire is not None and self._index.stored(wire) is not None

    def __len__(self) -> int:
        return self._index.owner_count()


BLOB, ADDRESS, POINTER = 0, 1, 2
Stored = tuple[int, bytes]  # (table, value)


class RecordIndex:
    def __init__(self, zone: str, *, ttl: int = 5) -> None:
        self.zone = zone
        self.zone_wire = name_wire(zone)
        self.ttl = ttl  # a single record with this TTL needs no blob
        # The fast path's tables, by lower-case wire owner (see the module docstring).
        self.blobs: dict[bytes, bytes] = {}
        self.addresses: dict[bytes, bytes] = {}
        self.pointers: dict[bytes, bytes] = {}
        self._tables = (self.blobs, self.addresses, self.pointers)
        # Empty non-terminals inside the zone (`_tcp.web.shop.svc...`), reference-counted.
        self.interior: dict[bytes, int] = {}
        self.rrsets = RRsetView(self)
        self._owners_of: dict[ServiceKey, tuple[bytes, ...]] = {}
        # Endpoint names' SRV sets, implied (see `set_service`): Service domain -> the port
        # numbers every endpoint name under it held in `addresses` has an SRV for.
        self.endpoint_ports: dict[bytes, tuple[int, ...]] = {}

    def exists(self, name: str) -> bool:
        """Whether a name has records or records below it (RFC 4592 empty non-terminals)."""
        wire = _wire_or_none(name)
        return wire is not None and (
            self.stored(wire) is not None or self.interior.get(wire, 0) > 0
        )

    def owner_count(self) -> int:
        return sum(len(table) for table in self._tables)

    def stored(self, wire: bytes) -> Stored | None:
        for table_id, table in enumerate(self._tables):
            value = table.get(wire)
            if value is not None:
                return table_id, value
        return None

    def decoded(self, owner: str, wire: bytes) -> dict[int, RRset] | None:
        """An owner's RRsets as records, whichever table holds it."""
        stored = self.stored(wire)
        if stored is None:
            return None
        table_id, value = stored
        if table_id == BLOB:
            return decode_blob(owner, inflate(value))
        if table_id == ADDRESS:
            rtype = RRType.A if len(value) == 4 else RRType.AAAA
            found: dict[int, RRset] = {
                rtype: (Record(owner, rtype, self.ttl, address_text(value)),)
            }
            ports = self.endpoint_ports.get(wire[1 + wire[0] :])
            if ports:  # an endpoint name: its SRV set, implied by its Service's ports
                found[RRType.SRV] = tuple(srv_set(owner, ((p, owner) for p in ports), self.ttl))
            return found
        return {RRType.PTR: (Record(owner, RRType.PTR, self.ttl, name_text(value)),)}

    def _form(
        self,
        owner: str,
        merged: tuple[Record, ...],
        addresses: dict[str, list[Record]],
        wires: dict[str, bytes],
    ) -> Stored:
        if len(merged) == 1 and merged[0].ttl == self.ttl:
            record = merged[0]
            if record.rtype in _ADDRESS_TYPES:
                return ADDRESS, address_bytes(str(record.data))
            if record.rtype == RRType.PTR:
                target = str(record.data)
                wire = wires.get(target)
                if wire is None:
                    wire = wires[target] = name_wire(target)
                return POINTER, wire
        return BLOB, deflate(encode_blob(owner, _by_type(merged), addresses, wires))

    def set_service(
        self, key: ServiceKey, records: ServiceRecords, left_out: list[str] | None = None
    ) -> set[str]:
        """Replace one Service's records; return the owner names whose RRsets changed.

        A record whose owner or target name cannot be encoded (a 64-octet label, a name
        over 255 octets) is left out alone, and its owner and reason appended to
        `left_out`: every other record of the Service is still served.

        Every endpoint name has an SRV set (one per port, target itself); a Service's
        endpoints nearly always share their ports, so the set is implied: the ports most
        of them have are kept once for the Service (`endpoint_ports`), each endpoint name
        with exactly those stays a packed address, and any other is stored as a blob (a
        blob owner's RRsets are all in the blob). 124,000 endpoint names would cost about
        16 MB more as blobs."""
        wires: dict[str, bytes] = {}
        records = _encodable(records, wires, [] if left_out is None else left_out)
        new: dict[bytes, tuple[str, tuple[Record, ...]]] = {
            wires[owner]: (owner, rrs) for owner, rrs in records.items() if rrs
        }
        old_owners = self._owners_of.get(key, ())
        if not new and not old_owners:
            return set()
        domain = _domain_wire(key, self.zone)
        implied = {
            wire: _implied_ports(owner, rrs, self.ttl)
            for wire, (owner, rrs) in new.items()
            if wire[1 + wire[0] :] == domain
        }
        ports = _most_common(implied.values())
        addresses = {
            owner: [r for r in rrs if r.rtype in _ADDRESS_TYPES] for owner, rrs in records.items()
        }
        changed: set[str] = set()
        old_set = set(old_owners)
        for wire in (*old_owners, *(w for w in new if w not in old_set)):
            owner, mine = new.get(wire, ("", ()))
            owner = owner or name_text(wire)
            # A name in the zone belongs to one Service: new to it means new to the index.
            fresh = wire not in old_set and wire.endswith(self.zone_wire)
            current = None if fresh else self.stored(wire)
            merged = mine
            if current is not None and not under(owner, self.zone):
                merged = _merge_shared(self.decoded(owner, wire) or {}, key, mine)
            form = None
            if wire in implied and implied[wire] != ports:
                form = BLOB, deflate(encode_blob(owner, _by_type(merged), addresses, wires))
            elif wire in implied:
                address = tuple(r for r in merged if r.rtype != RRType.SRV)
                form = self._form(owner, address, addresses, wires)
            elif merged:
                form = self._form(owner, merged, addresses, wires)
            if form != current or (wire in implied and ports != self._implied_at(domain)):
                changed.add(owner)
            if current is not None:
                del self._tables[current[0]][wire]
            if form is not None:
                # Always re-stored under this call's key object: the pointers stored here
                # reference the same objects, so a target name is held once.
                self._tables[form[0]][wire] = form[1]
        self._count_interior(self._ancestors(old_owners), self._ancestors(new))
        if ports and domain is not None:
            self.endpoint_ports[domain] = _SHARED_PORTS.setdefault(ports, ports)
        elif domain is not None:
            self.endpoint_ports.pop(domain, None)
        if new:
            self._owners_of[key] = tuple(new)
        else:
            self._owners_of.pop(key, None)
        return changed

    def _implied_at(self, domain: bytes | None) -> tuple[int, ...]:
        return () if domain is None else self.endpoint_ports.get(domain, ())

    def snapshot(self) -> RecordIndex:
        """A copy of the tables as they are now (shallow: the bytes are shared), to decode
        elsewhere while this index keeps changing."""
        copy = RecordIndex(self.zone, ttl=self.ttl)
        copy.blobs.update(self.blobs)
        copy.addresses.update(self.addresses)
        copy.pointers.update(self.pointers)
        copy.endpoint_ports.update(self.endpoint_ports)
        return copy

    def records(self) -> list[Record]:
        """Every stored record, sorted by name then type (for `svcdns records`)."""
        owners = sorted(((name_text(w), w) for table in self._tables for w in table), key=_sort_key)
        return [
            record
            for owner, wire in owners
            for _, rrset in sorted((self.decoded(owner, wire) or {}).items())
            for record in rrset
        ]

    def _ancestors(self, owners: Iterable[bytes]) -> set[bytes]:
        """The names strictly between the zone and these owners. A name under the zone is
        owned by one Service only, so `interior` counts Services, not owners: a Service
        of 50 endpoints adds one to its domain, not fifty."""
        zone = self.zone_wire
        found: set[bytes] = set()
        for owner in owners:
            if not owner.endswith(zone):
                continue  # reverse names: only exact owners exist
            name = owner[1 + owner[0] :]
            while len(name) > len(zone) and name not in found:
                found.add(name)
                name = name[1 + name[0] :]
        return found

    def _count_interior(self, before: set[bytes], after: set[bytes]) -> None:
        for name in after - before:
            self.interior[name] = self.interior.get(name, 0) + 1
        for name in before - after:
            count = self.interior.get(name, 0) - 1
            if count > 0:
                self.interior[name] = count
            else:
                self.interior.pop(name, None)


_NAMED_TARGETS = (RRType.CNAME, RRType.PTR)
# Port tuples are few (most Services expose one or two ports): one object each.
_SHARED_PORTS: dict[tuple[int, ...], tuple[int, ...]] = {}


def _domain_wire(key: ServiceKey, zone: str) -> bytes | None:
    try:
        return name_wire(f"{key[1]}.{key[0]}.svc.{zone}")
    except UnencodableName:
        return None


def _implied_ports(owner: str, records: tuple[Record, ...], ttl: int) -> tuple[int, ...] | None:
    """The ports of an endpoint name whose records are one address with the zone TTL and
    exactly the SRV set `srv_set` makes for those ports; None for anything else."""
    address = [r for r in records if r.rtype in _ADDRESS_TYPES]
    if len(address) != 1 or address[0].ttl != ttl:
        return None
    srvs = [r for r in records if r.rtype == RRType.SRV]
    if len(srvs) + 1 != len(records):
        return None
    ports = tuple(sorted(r.data.port for r in srvs if isinstance(r.data, SRVData)))
    return ports if srv_set(owner, ((p, owner) for p in ports), ttl) == srvs else None


def _most_common(found: Iterable[tuple[int, ...] | None]) -> tuple[int, ...]:
    counts = Counter(ports for ports in found if ports is not None)
    return counts.most_common(1)[0][0] if counts else ()


def _encodable(
    records: ServiceRecords, wires: dict[str, bytes], left_out: list[str]
) -> ServiceRecords:
    """`records` without those whose owner or target name DNS cannot carry; `wires` gets
    the wire form of every name kept (owners and targets), for the encoder to reuse."""
    kept: ServiceRecords = {}
    for owner, rrs in records.items():
        try:
            wires[owner] = name_wire(owner)
        except UnencodableName as error:
            left_out.extend(f"{r.rtype.name} record: {error}" for r in rrs)
            continue
        good = []
        for record in rrs:
            data = record.data
            target = data.target if isinstance(data, SRVData) else None
            if record.rtype in _NAMED_TARGETS:
                target = str(data)
            if target is not None and target not in wires:
                try:
                    wires[target] = name_wire(target)
                except UnencodableName as error:
                    left_out.append(f"{record.rtype.name} record of {owner}: target {error}")
                    continue
            good.append(record)
        kept[owner] = tuple(good)
    return kept


def _merge_shared(
    current: dict[int, RRset], key: ServiceKey, mine: tuple[Record, ...]
) -> tuple[Record, ...]:
    """A shared reverse owner: the other Services' PTRs kept, this Service's replaced, in
    Service order."""
    by_service: dict[ServiceKey, list[Record]] = {}
    for rrset in current.values():
        for record in rrset:
            contributor = _service_of_target(str(record.data))
            if contributor != key:
                by_service.setdefault(contributor or ("", ""), []).append(record)
    if mine:
        by_service[key] = list(mine)
    return tuple(r for k in sorted(by_service) for r in by_service[k])


def _service_of_target(target: str) -> ServiceKey | None:
    """`db-0.db.shop.svc.<zone>` or `db.shop.svc.<zone>` -> ("shop", "db")."""
    labels = target.split(".")
    if "svc" not in labels:
        return None
    at = labels.index("svc")
    return (labels[at - 1], labels[at - 2]) if at >= 2 else None


def _by_type(records: tuple[Record, ...]) -> list[tuple[Record, ...]]:
    groups: dict[int, dict[Record, None]] = {}
    for record in records:
        groups.setdefault(record.rtype, {})[record] = None
    return [tuple(group) for group in groups.values()]


def _wire_or_none(name: str) -> bytes | None:
    if "\\" in name:
        return None  # an escaped dot: no owner of ours has one
    try:
        return name_wire(name)
    except ValueError:
        return None


def _sort_key(item: tuple[str, bytes]) -> tuple[str, ...]:
    # Zone-file order: by labels from the root, so a name sits next to its parent.
    return tuple(reversed(item[0].split(".")))
