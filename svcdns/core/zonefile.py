"""Pure: the whole zone as records, in zone-file order, for `svcdns records`.

The cluster zone first (by labels from the root, so a name sits next to its parent),
then the clusterset zone when it is served (MCS API), then the reverse names. Imports only
the core.
"""

from __future__ import annotations

from svcdns import SPEC_VERSION
from svcdns.core.answer import DNS_VERSION_TTL, nameserver_addresses, ns_records, soa
from svcdns.core.clusterset import MCS_SPEC_VERSION
from svcdns.core.names import under
from svcdns.core.rr import Record, RRType
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import address_type


def zone_records(state: ClusterState, stored: list[Record] | None = None) -> list[Record]:
    """Every record, zone-file order; `stored` the index's records when already decoded
    (a transfer decodes a snapshot off the event loop)."""
    settings = state.settings
    zone = settings.zone
    nameserver = f"ns.dns.{zone}"
    fixed = [
        soa(state, zone),
        *ns_records(state),
        Record(f"dns-version.{zone}", RRType.TXT, DNS_VERSION_TTL, SPEC_VERSION),
        *(
            Record(nameserver, address_type(a), settings.ttl, a)
            for a in nameserver_addresses(state)
        ),
    ]
    stored = state.index.records() if stored is None else stored
    inside = [r for r in stored if under(r.name, zone)]
    reverse = [r for r in stored if not under(r.name, zone)]
    return sorted(fixed + inside, key=_order) + _clusterset_records(state) + reverse


def _clusterset_records(state: ClusterState) -> list[Record]:
    """The clusterset zone's own records, as the answerer gives them; its PTRs are left out
    (the reverse names answer them only where the cluster zone has none)."""
    index = state.clusterset
    if index is None:
        return []
    zone, ttl = index.zone, state.settings.ttl
    nameserver = f"ns.dns.{zone}"
    fixed = [
        soa(state, zone, zone),
        Record(zone, RRType.NS, ttl, nameserver),
        Record(f"dns-version.{zone}", RRType.TXT, DNS_VERSION_TTL, MCS_SPEC_VERSION),
        *(Record(nameserver, address_type(a), ttl, a) for a in nameserver_addresses(state)),
    ]
    inside = [r for r in index.records() if under(r.name, zone)]
    return sorted(fixed + inside, key=_order)


def _order(record: Record) -> tuple[tuple[str, ...], bool, int]:
    # SOA first at the apex, as a zone file starts.
    return tuple(reversed(record.name.split("."))), record.rtype != RRType.SOA, record.rtype


def to_text(records: list[Record]) -> str:
    return "\n".join(record.to_text() for record in records)


def transfer_records(state: ClusterState, zone: str, stored: list[Record]) -> list[Record]:
    """A zone transfer's records (RFC 5936): the SOA, every record of `zone`, the SOA."""
    if zone == state.settings.zone:
        records = [r for r in zone_records(state, stored) if under(r.name, zone)]
        return [*records, records[0]]  # zone_records puts the apex SOA first
    start = soa(state, zone)
    return [start, *(r for r in stored if under(r.name, zone)), start]
