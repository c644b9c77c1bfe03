"""Pure: one ServiceImport and its multicluster EndpointSlices -> its clusterset records.

The MCS API's DNS specification 1.0.0 (KEP 1645, specification.md): a ClusterSetIP import
is its IP(s), its named ports' SRV and a PTR (2.3); a Headless import is every member
cluster's ready endpoints, each named `<hostname>.<clusterid>.<svc>.<ns>.svc.<zone>`, with
SRV per named port and endpoint and a PTR (2.4). Nothing names a cluster alone (2.3.4,
2.4.4). Shaped as `zonedata.ServiceZone`, so the record index stores it like a Service's.
Imports only the stdlib and the core.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from svcdns.core.model import EndpointSlice, Service, ServiceImport, ServiceKind
from svcdns.core.names import reverse_name
from svcdns.core.rr import Record, RRType
from svcdns.core.zonedata import (
    ServiceZone,
    ZoneSettings,
    address_type,
    domain_of,
    ready_endpoints,
    srv_set,
)

MCS_SPEC_VERSION = "1.0.0"  # the TXT of `dns-version.<clusterset zone>` (spec 2.2)


def import_zone(
    service_import: ServiceImport, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> ServiceZone:
    """Every record of `service_import` in `settings.clusterset_zone`."""
    domain = domain_of(service_import.namespace, service_import.name, settings.clusterset_zone)
    ttl = settings.ttl
    out: dict[str, list[Record]] = defaultdict(list)
    srv: dict[str, list[tuple[int, str]]] = defaultdict(list)
    named_ports = [p for p in service_import.ports if p.name]  # unnamed: no SRV (2.3.2)
    if not service_import.headless:
        for ip in service_import.ips:
            out[domain].append(Record(domain, address_type(ip), ttl, ip))
            out[reverse_name(ip)].append(Record(reverse_name(ip), RRType.PTR, ttl, domain))
        for port in named_ports:
            srv[_srv_owner(port.name, port.protocol, domain)].append((port.port, domain))
    else:
        at_domain: dict[str, None] = {}
        for cluster, members in _by_cluster(slices).items():
            # One cluster's slices merged as a headless Service's are (ready only: the MCS
            # API has no publishNotReadyAddresses), named within that cluster.
            standin = Service(service_import.namespace, service_import.name, ServiceKind.HEADLESS)
            use_pod_name = settings.endpoint_pod_names
            for named in ready_endpoints(standin, members, use_pod_name=use_pod_name):
                host = f"{named.label}.{cluster}.{domain}"
                kind = address_type(named.address)
                at_domain[named.address] = None
                out[host].append(Record(host, kind, ttl, named.address))
                owner = reverse_name(named.address)
                out[owner].append(Record(owner, RRType.PTR, ttl, host))
                # The import's ports, which the slices' repeat (2.4.2: port x endpoint).
                for port in named_ports:
                    srv[_srv_owner(port.name, port.protocol, domain)].append((port.port, host))
        out[domain] += [Record(domain, address_type(a), ttl, a) for a in at_domain]
    for owner, entries in srv.items():
        out[owner] += srv_set(owner, entries, ttl)
    return ServiceZone(domain, {owner: tuple(rrs) for owner, rrs in out.items()}, {})


def _srv_owner(name: str, protocol: str, domain: str) -> str:
    return f"_{name}._{protocol}.{domain}".lower()


def _by_cluster(slices: Sequence[EndpointSlice]) -> dict[str, list[EndpointSlice]]:
    """The slices of each member cluster, clusters in name order (a stable answer)."""
    found: dict[str, list[EndpointSlice]] = defaultdict(list)
    for endpoint_slice in slices:
        found[endpoint_slice.cluster.lower()].append(endpoint_slice)
    return dict(sorted(found.items()))
