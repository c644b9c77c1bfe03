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

import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import chain

from svcdns.core.names import under
from svcdns.core.rr import Record, RRset, RRType, SRVData
from svcdns.core.wire import (
    LENGTH_OCTETS,
    UnencodableName,
    address_bytes,
    address_text,
    decode_blob,
    deflate,
    encode_addresses,
    encode_blob,
    encode_srv_targets,
    inflate,
    name_text,
    name_wire,
    reverse_owner,
)
from svcdns.core.zonedata import (
    Plain,
    SelfSRV,
    ServiceRecords,
    ServiceZone,
    address_type,
    domain_of,
    self_srv_records,
    spelled,
    srv_set,
)
from svcdns.wire.names import MAX_LABEL, MAX_NAME

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
        # SRV sets implied (see `set_service`), by Service domain: the port numbers every
        # endpoint name under it held in `addresses` has an SRV for; and those of the
        # ClusterIP name itself, when it is held in `addresses`.
        self.endpoint_ports: dict[bytes, tuple[int, ...]] = {}
        self.service_ports: dict[bytes, tuple[int, ...]] = {}
        # Headless Service names whose SRV set is their endpoint names' (`_endpoints_srv`).
        self.srv_from_endpoints: set[bytes] = set()
        # Those sets in wire form, made the first time one is asked and dropped when its
        # Service changes: at most one per headless Service. Without it each question would
        # build hundreds of records on the full path (80 ms for 1,000 endpoints).
        self._built_srv: dict[bytes, bytes] = {}

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
        found: dict[int, RRset]
        if table_id == BLOB:
            found = decode_blob(owner, inflate(value))
        elif table_id == ADDRESS:
            rtype = RRType.A if len(value) == 4 else RRType.AAAA
            found = {rtype: (Record(owner, rtype, self.ttl, address_text(value)),)}
            # An endpoint name's SRV set, implied by its Service's; a ClusterIP name's own.
            ports = self.service_ports.get(wire) or self.endpoint_ports.get(wire[1 + wire[0] :])
            if ports:
                found[RRType.SRV] = tuple(self_srv_records(owner, ports, self.ttl))
        else:
            return {RRType.PTR: (Record(owner, RRType.PTR, self.ttl, name_text(value)),)}
        if wire in self.srv_from_endpoints:
            found[RRType.SRV] = self._endpoints_srv(owner, wire)
        return found

    def srv_section(self, domain: bytes) -> bytes | None:
        """A headless name's SRV set as a blob section (type header, answer, additional),
        for the fast path; None when it has none or it does not fit one message."""
        built = self._built_srv.get(domain)
        if built is None and domain in self.srv_from_endpoints:
            owner = name_text(domain)
            srv = self._endpoints_srv(owner, domain)
            targets = {str(r.data.target) for r in srv if isinstance(r.data, SRVData)}
            addresses = {
                target: [r for rrs in (self.rrsets.get(target) or {}).values() for r in rrs
                         if r.rtype in _ADDRESS_TYPES]
                for target in targets
            }  # fmt: skip
            try:
                built = encode_blob(owner, [srv], addresses) if srv else b""
            except (OverflowError, struct.error):
                built = b""  # the full path answers it, cut with TC over UDP
            self._built_srv[domain] = built
        return built or None

    def _endpoints_srv(self, owner: str, domain: bytes) -> RRset:
        """A headless Service name's SRV set: one per port of each endpoint name under it,
        the endpoint its target (as CoreDNS); built when asked, from the endpoint names."""
        labels = name_text(domain).split(".")
        entries = []
        for wire in self._owners_of.get((labels[1], labels[0]), ()):
            if wire[1 + wire[0] :] != domain:
                continue
            target = name_text(wire)
            srv = (self.decoded(target, wire) or {}).get(RRType.SRV, ())
            entries += [(r.data.port, target) for r in srv if isinstance(r.data, SRVData)]
        return tuple(srv_set(owner, entries, self.ttl))

    def _form(
        self,
        owner: str,
        merged: tuple[Record, ...],
        addresses: Mapping[str, Sequence[Record]],
        wires: dict[str, bytes],
        *,
        blob: bool = False,
    ) -> Stored:
        if len(merged) == 1 and merged[0].ttl == self.ttl and not blob:
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

    def _form_encodable(
        self,
        owner: str,
        merged: tuple[Record, ...],
        addresses: Mapping[str, Sequence[Record]],
        wires: dict[str, bytes],
        left_out: list[str],
        *,
        blob: bool = False,
    ) -> Stored | None:
        """`_form`, leaving out each record whose target name cannot be encoded (checked
        only when encoding fails: the common case pays nothing)."""
        kept = merged
        try:
            return self._form(owner, merged, addresses, wires, blob=blob)
        except (OverflowError, struct.error):
            pass  # below, with the same reason
        except UnencodableName:
            kept = tuple(r for r in merged if _target_encodable(r, owner, wires, left_out))
        try:
            return self._form(owner, kept, addresses, wires, blob=blob) if kept else None
        except (OverflowError, struct.error):
            # An RRset past what one message can carry (its lengths are 16-bit: a few
            # thousand endpoints behind one name): left out, this owner only.
            left_out.append(f"{owner[:100]}: {len(kept)} records, more than a message holds")
            return None

    def set_service(
        self, key: ServiceKey, zone: ServiceZone | None, left_out: list[str] | None = None
    ) -> set[str]:
        """Replace one Service's records (`zonedata.ServiceZone`; None: it has none); return
        the owner names whose RRsets changed.

        A record whose owner or target name cannot be encoded (a 64-octet label, a name
        over 255 octets) is left out alone, and its owner and reason appended to
        `left_out`: every other record of the Service is still served.

        `zone.self_srv` are the SRV sets at the endpoint names and at a ClusterIP name.
        Where the owner is otherwise one address, the set is implied, not stored per owner:
        the ports most endpoints of the Service share are kept once for it
        (`endpoint_ports`), a ClusterIP name's own in `service_ports`, and the owner stays a
        packed address; any other owner is a blob holding all its RRsets. 124,000 endpoint
        names would cost about 16 MB more as blobs.

        The plain endpoints (`zone.plain`, with this index's TTL), and a headless Service's
        address and SRV sets made of them, are what `zonedata.spelled` spells out, stored
        without a record made for each unless a name needs more than a packed address, a
        pointer or the usual layout (then it joins the general rules as records)."""
        left = [] if left_out is None else left_out
        domain_name = domain_of(key[0], key[1], self.zone)
        domain = _wire_or_none(domain_name)
        if zone is None:
            zone = ServiceZone(domain_name, {}, {})
        records, self_srv, plain = zone.records, zone.self_srv, zone.plain
        if plain and not _plain_fits(plain, domain):
            # Spelled out: the rules below say which names cannot be encoded, and why.
            records, self_srv = spelled(zone, self.ttl)
            zone = ServiceZone(domain_name, records, self_srv)
            plain = ()
        wires: dict[str, bytes] = {}
        new: dict[bytes, tuple[str, tuple[Record, ...]]] = {}
        for owner, rrs in records.items():
            if not rrs:
                continue
            try:
                wires[owner] = wire = name_wire(owner)
            except UnencodableName as error:
                left.extend(f"{r.rtype.name} record: {error}" for r in rrs)
                continue
            new[wire] = (owner, rrs)
        # One object for the Service's name wherever it is a key (its table, the implied
        # SRV sets, `interior`): 10,000 Services, 0.8 MB each copy.
        domain = wires.get(domain_name, domain)
        old_owners = self._owners_of.get(key, ())
        if not new and not plain and not zone.srv_sets and not old_owners:
            return set()
        endpoint_ports = chain(
            (v for k, v in self_srv.items() if k != domain_name), (p for _, _, p in plain)
        )
        shared = _most_common(endpoint_ports)
        own = self_srv.get(domain_name, ())
        addresses = _Addresses(records, plain, domain_name, self.ttl)
        changed: set[str] = set()
        implied_own = endpoint_changed = False
        ttl = self.ttl
        old_shared = self.endpoint_ports.get(domain, ()) if domain else ()
        old_own = self.service_ports.get(domain, ()) if domain else ()
        old_set = set(old_owners)
        # First every owner's form, then the writes: whatever raises on the way (a Service
        # the encoder cannot lay out) leaves the tables as they were.
        writes: list[tuple[bytes, Stored | None, Stored | None]] = []
        lane: dict[bytes, None] = {}  # the plain endpoints' owners decided without records
        if plain:
            assert domain is not None  # _plain_fits
            self_srv = dict(self_srv)  # plain names stored whole join the general rules
            endpoint_changed = self._plain_forms(
                plain, domain_name, domain, shared=shared, old_shared=old_shared,
                old_set=old_set, new=new, self_srv=self_srv, wires=wires, lane=lane,
                writes=writes, changed=changed,
            )  # fmt: skip
            self._headless_forms(
                zone, domain, old_set=old_set, new=new, wires=wires, lane=lane,
                writes=writes, changed=changed, left=left,
            )  # fmt: skip
        for wire in (*old_owners, *(w for w in new if w not in old_set)):
            if wire in lane:
                continue
            owner, mine = new.get(wire, ("", ()))
            owner = owner or name_text(wire)
            # A name in the zone belongs to one Service: new to it means new to the index.
            fresh = wire not in old_set and wire.endswith(self.zone_wire)
            current = None if fresh else self.stored(wire)
            merged = mine
            if current is not None and not under(owner, self.zone):
                merged = _merge_shared(self.decoded(owner, wire) or {}, key, mine, self.zone)
            ports = self_srv.get(owner)
            implied_changed = False
            if ports is None or not merged:
                form = (
                    self._form_encodable(owner, merged, addresses, wires, left) if merged else None
                )
            else:
                endpoint = owner != domain_name
                first = merged[0]
                if (
                    len(merged) == 1
                    and first.rtype in _ADDRESS_TYPES
                    and first.ttl == ttl
                    and (ports == shared or not endpoint)
                ):
                    form = ADDRESS, address_bytes(str(first.data))
                    implied_changed = ports != (old_shared if endpoint else old_own)
                    implied_own |= not endpoint
                else:  # spelled out, and a blob: a packed address would imply the wrong set
                    spelled_out = (*merged, *self_srv_records(owner, ports, ttl))
                    form = self._form_encodable(
                        owner, spelled_out, addresses, wires, left, blob=endpoint or bool(ports)
                    )
                endpoint_changed |= endpoint and (form != current or implied_changed)
            if form != current or implied_changed:
                changed.add(owner)
            writes.append((wire, current, form))
        for wire, current, form in writes:
            if current is not None:
                del self._tables[current[0]][wire]
            if form is not None:
                # Always re-stored under this call's key object: the pointers stored here
                # reference the same objects, so a target name is held once.
                self._tables[form[0]][wire] = form[1]
        owners = (*new, *lane)
        after = self._ancestors(owners)
        if domain in after:  # the Service's own name object, not a copy, if it is new
            after.discard(domain)
            after.add(domain)
        self._count_interior(self._ancestors(old_owners), after)
        if domain is not None:
            self._built_srv.pop(domain, None)
            _keep(self.endpoint_ports, domain, shared)
            _keep(self.service_ports, domain, own if implied_own else ())
            # A headless name (not itself in `self_srv`) with endpoint names: its SRV set
            # is theirs, and changes when any of theirs does.
            has_addresses = domain in new or domain in lane
            if domain_name not in self_srv and (self_srv or plain) and has_addresses:
                self.srv_from_endpoints.add(domain)
                if endpoint_changed:
                    changed.add(domain_name)
            else:
                self.srv_from_endpoints.discard(domain)
        if owners:
            self._owners_of[key] = owners
        else:
            self._owners_of.pop(key, None)
        return changed

    def _plain_forms(
        self,
        plain: Sequence[Plain],
        domain_name: str,
        domain: bytes,
        *,
        shared: tuple[int, ...],
        old_shared: tuple[int, ...],
        old_set: set[bytes],
        new: dict[bytes, tuple[str, tuple[Record, ...]]],
        self_srv: SelfSRV,
        wires: dict[str, bytes],
        lane: dict[bytes, None],
        writes: list[tuple[bytes, Stored | None, Stored | None]],
        changed: set[str],
    ) -> bool:
        """The plain endpoints' forms, as `set_service`'s general rules would decide them,
        without a record for each: a name with the shared ports is a packed address, a
        reverse name nobody else holds a pointer. Any other name joins `new` as records
        (and its ports `self_srv`). Whether an endpoint name changed."""
        ttl, zone_wire, lengths = self.ttl, self.zone_wire, LENGTH_OCTETS
        stored, pointer_type = self.stored, RRType.PTR
        blobs, addresses, pointers = self._tables
        implied_changed = shared != old_shared
        endpoint_changed = False
        for label, address, ports in plain:
            host = f"{label}.{domain_name}"
            host_wire = lengths[len(label)] + label.encode() + domain
            wires[host] = host_wire
            if ports == shared:
                current = stored(host_wire) if host_wire in old_set else None
                form: Stored = (ADDRESS, address_bytes(address))
                if form != current or implied_changed:
                    changed.add(host)
                    endpoint_changed = True
                writes.append((host_wire, current, form))
                lane[host_wire] = None
            else:
                new[host_wire] = (host, (Record(host, address_type(address), ttl, address),))
                self_srv[host] = ports
            ptr, ptr_wire = reverse_owner(address)
            current = None
            if ptr_wire in old_set or not ptr_wire.endswith(zone_wire):  # not fresh
                value = pointers.get(ptr_wire)
                if value is not None:
                    current = (POINTER, value)
                elif ptr_wire in blobs or ptr_wire in addresses:
                    current = stored(ptr_wire)
            if current is None or current == (POINTER, host_wire):
                if current is None:
                    changed.add(ptr)
                writes.append((ptr_wire, current, (POINTER, host_wire)))
                lane[ptr_wire] = None
            else:  # another Service's PTR there too: merged by the general rules
                new[ptr_wire] = (ptr, (Record(ptr, pointer_type, ttl, host),))
        return endpoint_changed

    def _headless_forms(
        self,
        zone: ServiceZone,
        domain: bytes,
        *,
        old_set: set[bytes],
        new: dict[bytes, tuple[str, tuple[Record, ...]]],
        wires: dict[str, bytes],
        lane: dict[bytes, None],
        writes: list[tuple[bytes, Stored | None, Stored | None]],
        changed: set[str],
        left: list[str],
    ) -> None:
        """A headless Service's own addresses and the SRV sets of its named ports, encoded
        from the plain endpoints as `encode_blob` lays their records out. A set the usual
        layout cannot hold (too big for a message, an owner DNS cannot name) joins `new` as
        records: the general rules leave it out, and say why."""
        ttl, plain, domain_name = self.ttl, zone.plain, zone.domain
        found: list[tuple[bytes, str, Stored]] = []
        if zone.addresses_at_domain and plain:
            packed = [address_bytes(address) for _, address, _ in plain]
            try:
                if len(packed) == 1:
                    found.append((domain, domain_name, (ADDRESS, packed[0])))
                else:
                    blob = deflate(encode_addresses(packed, ttl))
                    found.append((domain, domain_name, (BLOB, blob)))
            except (OverflowError, struct.error):
                rrs = tuple(Record(domain_name, address_type(a), ttl, a) for _, a, _ in plain)
                new[domain] = (domain_name, rrs)
        if zone.srv_sets:
            addresses = {f"{label}.{domain_name}": address for label, address, _ in plain}
        for owner, entries in zone.srv_sets.items():
            try:
                owner_wire = wires[owner] = name_wire(owner)
            except UnencodableName as error:  # as the general rules say it
                left.extend(f"SRV record: {error}" for _ in entries)
                continue
            try:
                targets = [(port, wires[t], (address_bytes(addresses[t]),)) for port, t in entries]
                blob = deflate(encode_srv_targets(owner_wire, targets, ttl))
                found.append((owner_wire, owner, (BLOB, blob)))
            except (OverflowError, struct.error):
                new[owner_wire] = (owner, tuple(srv_set(owner, entries, ttl)))
        for wire, owner, form in found:
            current = self.stored(wire) if wire in old_set else None
            if form != current:
                changed.add(owner)
            writes.append((wire, current, form))
            lane[wire] = None

    def snapshot(self) -> RecordIndex:
        """A copy of the tables as they are now (shallow: the bytes are shared), to decode
        elsewhere while this index keeps changing."""
        copy = RecordIndex(self.zone, ttl=self.ttl)
        copy.blobs.update(self.blobs)
        copy.addresses.update(self.addresses)
        copy.pointers.update(self.pointers)
        copy.endpoint_ports.update(self.endpoint_ports)
        copy.service_ports.update(self.service_ports)
        copy.srv_from_endpoints.update(self.srv_from_endpoints)
        copy._owners_of.update(self._owners_of)
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
# Port tuples are few (most Services expose one or two ports): one object each. A memo,
# bounded: past MAX_SHARED_PORTS distinct tuples it starts afresh (only sharing is lost).
_SHARED_PORTS: dict[tuple[int, ...], tuple[int, ...]] = {}
MAX_SHARED_PORTS = 4096


def _plain_fits(plain: Sequence[Plain], domain: bytes | None) -> bool:
    """Whether every plain endpoint's name can be written label by label: the other case
    (a label over 63 octets, a name over 255) goes the general way, which says why."""
    if domain is None:
        return False
    longest = min(MAX_LABEL, MAX_NAME - len(domain) - 1)
    return all(0 < len(label) <= longest and label.isascii() for label, _, _ in plain)


class _Addresses(Mapping[str, Sequence[Record]]):
    """A Service's address records by owner, for the additional section of its SRV sets
    (`encode_blob`): those of `records`, and a plain endpoint's, made when first asked."""

    def __init__(
        self, records: ServiceRecords, plain: Sequence[Plain], domain: str, ttl: int
    ) -> None:
        self._records = records
        self._plain = plain
        self._domain = domain
        self._ttl = ttl
        self._hosts: dict[str, list[Record]] | None = None

    def _plain_hosts(self) -> dict[str, list[Record]]:
        if self._hosts is None:
            hosts: dict[str, list[Record]] = {}
            for label, address, _ in self._plain:
                host = f"{label}.{self._domain}"
                hosts[host] = [Record(host, address_type(address), self._ttl, address)]
            self._hosts = hosts
        return self._hosts

    def __getitem__(self, owner: str) -> Sequence[Record]:
        rrs = self._records.get(owner)
        if rrs is not None:
            return [r for r in rrs if r.rtype in _ADDRESS_TYPES]
        return self._plain_hosts()[owner] if self._plain else self._records[owner]

    def __iter__(self) -> Iterator[str]:
        return chain(self._records, self._plain_hosts())

    def __len__(self) -> int:
        return len(self._records) + len(self._plain_hosts())


def _most_common(found: Iterable[tuple[int, ...]]) -> tuple[int, ...]:
    """The most frequent; of several, the first seen (as Counter.most_common)."""
    counts: dict[tuple[int, ...], int] = {}
    for ports in found:
        counts[ports] = counts.get(ports, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else ()


def _keep(table: dict[bytes, tuple[int, ...]], domain: bytes, ports: tuple[int, ...]) -> None:
    if ports:
        if len(_SHARED_PORTS) >= MAX_SHARED_PORTS and ports not in _SHARED_PORTS:
            _SHARED_PORTS.clear()
        table[domain] = _SHARED_PORTS.setdefault(ports, ports)
    else:
        table.pop(domain, None)


def _target_encodable(
    record: Record, owner: str, wires: dict[str, bytes], left_out: list[str]
) -> bool:
    data = record.data
    target = data.target if isinstance(data, SRVData) else None
    if record.rtype in _NAMED_TARGETS:
        target = str(data)
    if target is None or target in wires:
        return True
    try:
        wires[target] = name_wire(target)
    except UnencodableName as error:
        left_out.append(f"{record.rtype.name} record of {owner}: target {error}")
        return False
    return True


def _merge_shared(
    current: dict[int, RRset], key: ServiceKey, mine: tuple[Record, ...], zone: str
) -> tuple[Record, ...]:
    """A shared reverse owner: the other Services' PTRs kept, this Service's replaced, in
    Service order."""
    by_service: dict[ServiceKey, list[Record]] = {}
    for rrset in current.values():
        for record in rrset:
            contributor = _service_of_target(str(record.data), zone)
            if contributor != key:
                by_service.setdefault(contributor or ("", ""), []).append(record)
    if mine:
        by_service[key] = list(mine)
    return tuple(r for k in sorted(by_service) for r in by_service[k])


def _service_of_target(target: str, zone: str) -> ServiceKey | None:
    """`db-0.db.shop.svc.<zone>` or `db.shop.svc.<zone>` -> ("shop", "db"); read from the
    zone's end, so a Service or namespace named `svc` is read right."""
    suffix = ".svc." + zone
    if not target.endswith(suffix):
        return None
    labels = target[: -len(suffix)].split(".")
    return (labels[-1], labels[-2]) if len(labels) >= 2 else None


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
