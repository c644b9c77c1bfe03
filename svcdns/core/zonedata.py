"""Pure: one Service and its endpoints -> every record it puts in the zone.

This is the per-Service unit the record index recomputes when anything about that Service
changes (spec sections 2.3 ClusterIP, 2.4 headless, 2.5 ExternalName; PTR 2.3.4 / 2.4.4).
Imports only the stdlib and the core modules.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from svcdns.core.model import EndpointSlice, Port, Service, ServiceKind
from svcdns.core.names import dashed, is_dns_label, is_ipv6, reverse_name
from svcdns.core.rr import Record, RRType, SRVData

ServiceRecords = dict[str, tuple[Record, ...]]
# Owners with an SRV per port targeting the owner itself (an endpoint name; a ClusterIP
# Service's name), as the port numbers: cheap to keep and to compare, and spelled out as
# records only where needed (`self_srv_records`), since 124,000 endpoint names of a big
# cluster would otherwise cost as many record objects at each load.
SelfSRV = dict[str, tuple[int, ...]]


class PodMode(enum.Enum):
    """`--pods`: how `a-b-c-d.<ns>.pod.<zone>` is answered (CoreDNS's `pods` option)."""

    DISABLED = "disabled"
    INSECURE = "insecure"  # any dashed address, in a namespace that exists
    VERIFIED = "verified"  # only an address a Pod in that namespace holds


@dataclass(frozen=True, slots=True)
class ZoneSettings:
    """What the pure core needs to know of the configuration."""

    zone: str = "cluster.local"
    ttl: int = 5
    endpoint_pod_names: bool = False
    pods: PodMode = PodMode.INSECURE
    # Addresses `ns.dns.<zone>` answers when kube-system has no kube-dns Service.
    nameserver_addresses: tuple[str, ...] = ("127.0.0.1",)
    # The MCS API's zone (`--multicluster clusterset.local`): ServiceImports answered
    # there (core/clusterset.py); "" serves none.
    clusterset_zone: str = ""


@dataclass(frozen=True, slots=True)
class NamedEndpoint:
    """One ready address of a Service, with the DNS label it is known by."""

    label: str
    address: str
    ports: tuple[Port, ...]


def service_domain(service: Service, zone: str) -> str:
    return domain_of(service.namespace, service.name, zone)


def domain_of(namespace: str, name: str, zone: str) -> str:
    """`<name>.<namespace>.svc.<zone>`, lower-cased: a Service's own name."""
    return f"{name}.{namespace}.svc.{zone}".lower()


def address_type(address: str) -> RRType:
    return RRType.AAAA if is_ipv6(address) else RRType.A


def endpoint_label(*, hostname: str, pod_name: str, address: str, use_pod_name: bool) -> str:
    """hostname, else the pod name (`--endpoint-pod-names`, valid labels only), else dashed IP."""
    if hostname and is_dns_label(hostname.lower()):
        return hostname.lower()
    if use_pod_name and pod_name and is_dns_label(pod_name.lower()):
        return pod_name.lower()
    return dashed(address)


def ready_endpoints(
    service: Service, slices: Sequence[EndpointSlice], *, use_pod_name: bool
) -> list[NamedEndpoint]:
    """Ready addresses merged across all slices, de-duplicated by address: the first slice
    (by name) names an address, and its ports are those of every slice that lists it (spec
    2.4.2: one SRV per port per ready endpoint)."""
    return [NamedEndpoint(*named) for named in _named_endpoints(service, slices, use_pod_name)]


# A NamedEndpoint as a tuple (label, address, ports): a recompute makes one per endpoint.
_Named = tuple[str, str, tuple[Port, ...]]


def _slice_name(endpoint_slice: EndpointSlice) -> str:
    return endpoint_slice.name


def _named_endpoints(
    service: Service, slices: Sequence[EndpointSlice], use_pod_name: bool
) -> list[_Named]:
    """`ready_endpoints`, as tuples."""
    merged: dict[str, _Named] = {}
    publish = service.publish_not_ready
    for endpoint_slice in sorted(slices, key=_slice_name):
        for group in endpoint_slice.groups:
            ports = group.ports
            for addresses, ready, hostname, pod_name in group.entries():
                if not (ready or publish):
                    continue
                for address in addresses:
                    seen = merged.get(address)
                    if seen is not None:
                        if seen[2] != ports:
                            more = (*seen[2], *(p for p in ports if p not in seen[2]))
                            merged[address] = (seen[0], address, more)
                        continue
                    if hostname or (use_pod_name and pod_name):
                        label = endpoint_label(
                            hostname=hostname,
                            pod_name=pod_name,
                            address=address,
                            use_pod_name=use_pod_name,
                        )
                    elif ":" in address:
                        label = dashed(address)
                    else:  # dashed, as an IPv4 address needs it
                        label = address.replace(".", "-")
                    merged[address] = (label, address, ports)
    return list(merged.values())


def _srv_owner(port: Port, domain: str) -> str:
    return f"_{port.name}._{port.protocol}.{domain}".lower()


def _srv_records(
    targets: Iterable[tuple[tuple[Port, ...], str]], domain: str, ttl: int
) -> dict[str, list[Record]]:
    """SRV RRsets for named ports; weight floor(100/N), at least 1 (as CoreDNS)."""
    return {owner: srv_set(owner, entries, ttl) for owner, entries in _srv_sets(targets, domain)}


def _srv_sets(
    targets: Iterable[tuple[tuple[Port, ...], str]], domain: str
) -> Iterator[tuple[str, list[tuple[int, str]]]]:
    """The SRV sets of the named ports of each (ports, target), as `srv_set` entries,
    distinct and sorted, by owner. The caller holds every ports tuple while this runs."""
    by_owner: dict[str, dict[tuple[int, str], None]] = defaultdict(dict)
    named: dict[int, list[tuple[str, int]]] = {}  # by id: the few port lists, named once
    for ports, target in targets:
        found = named.get(id(ports))
        if found is None:
            # spec 2.3.2 / 2.4.2: only named ports get SRV records
            found = named[id(ports)] = [(_srv_owner(p, domain), p.port) for p in ports if p.name]
        for owner, number in found:
            by_owner[owner][(number, target)] = None
    for owner, entries in by_owner.items():
        yield owner, sorted(entries)


def srv_set(owner: str, entries: Iterable[tuple[int, str]], ttl: int) -> list[Record]:
    """One SRV per distinct (port, target), priority 0, weight floor(100/N) with a minimum
    of 1 (as CoreDNS), in port then target order."""
    unique = sorted(set(entries))
    weight = max(1, 100 // len(unique)) if unique else 0
    return [
        Record(owner, RRType.SRV, ttl, SRVData(0, weight, number, target))
        for number, target in unique
    ]


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def self_srv_records(owner: str, ports: tuple[int, ...], ttl: int) -> list[Record]:
    """The SRV set an owner of `SelfSRV` has: one per port, target the owner itself."""
    return srv_set(owner, ((port, owner) for port in ports), ttl)


def _port_numbers(ports: Iterable[Port]) -> tuple[int, ...]:
    return tuple(sorted({port.port for port in ports}))


Plain = tuple[str, str, tuple[int, ...]]  # an endpoint's label, address and port numbers
SRVSets = dict[str, list[tuple[int, str]]]  # owner -> distinct (port, target), sorted


@dataclass(frozen=True, slots=True)
class ServiceZone:
    """Every record one Service puts in the zone: `records` by owner, the SRV sets implied
    at their owners (`self_srv`), and the plain endpoints kept apart as tuples.

    A plain endpoint (`Plain`: label, address, port numbers) is one whose name and reverse
    name no other record of its Service owns: `<label>.<domain>` holds one A or AAAA (the
    address) and an SRV per port targeting itself, `reverse_name(address)` one PTR to that
    name, all with the zone TTL. Nearly every endpoint is one, and a big cluster has
    100,000: the index stores them without a record object each. So, for a headless
    Service of plain endpoints, are the records made of all of them: the A and AAAA of
    its name (`addresses_at_domain`: one per plain endpoint, in order) and the SRV sets of
    its named ports (`srv_sets`, as `srv_set` entries). `spelled` spells all of it out."""

    domain: str
    records: ServiceRecords
    self_srv: SelfSRV
    plain: Sequence[Plain] = ()
    srv_sets: SRVSets = field(default_factory=dict)
    addresses_at_domain: bool = False


def spelled(zone: ServiceZone, ttl: int) -> tuple[ServiceRecords, SelfSRV]:
    """A Service's records, the plain endpoints' spelled out as records."""
    if not zone.plain and not zone.srv_sets:
        return zone.records, zone.self_srv
    domain = zone.domain
    out: dict[str, list[Record]] = defaultdict(list)
    for owner, rrs in zone.records.items():
        out[owner] += rrs
    if zone.addresses_at_domain:
        out[domain] += [Record(domain, address_type(a), ttl, a) for _, a, _ in zone.plain]
    for owner, entries in zone.srv_sets.items():
        out[owner] += srv_set(owner, entries, ttl)
    plain, self_srv = plain_records(zone.plain, domain, ttl)
    for owner, endpoint_records in plain.items():
        out[owner] += endpoint_records
    return {owner: tuple(rrs) for owner, rrs in out.items()}, {**zone.self_srv, **self_srv}


def service_records(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> tuple[ServiceRecords, SelfSRV]:
    """Every record this Service owns, by owner name; the SRV sets of its endpoint names and
    ClusterIP name as port numbers (`SelfSRV`)."""
    return spelled(service_zone(service, slices, settings), settings.ttl)


def service_zone(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> ServiceZone:
    """What `service_records` says, its plain endpoints apart (`ServiceZone`)."""
    domain = service_domain(service, settings.zone)
    ttl = settings.ttl
    out: dict[str, list[Record]] = defaultdict(list)
    self_srv: SelfSRV = {}
    endpoints: list[_Named] = []
    if service.kind is ServiceKind.EXTERNAL_NAME:
        # An IP is not a name a CNAME can point at; Kubernetes gives it no record.
        if not _is_ip(service.external_name):
            out[domain].append(Record(domain, RRType.CNAME, ttl, service.external_name))
    elif service.kind is ServiceKind.CLUSTER_IP:
        for ip in service.cluster_ips:
            out[domain].append(Record(domain, address_type(ip), ttl, ip))
            out[reverse_name(ip)].append(Record(reverse_name(ip), RRType.PTR, ttl, domain))
        out.update(_srv_records(((service.ports, domain),), domain, ttl))
        # SRV at the Service name itself: every port, unnamed ones too, target the name
        # (CoreDNS; the spec is silent).
        self_srv[domain] = _port_numbers(service.ports)
        # Endpoint names and PTRs exist behind a ClusterIP too (CoreDNS; the spec is silent),
        # but the service name and its SRV records point at the ClusterIP (spec 2.3).
        endpoints = _named_endpoints(service, slices, settings.endpoint_pod_names)
    else:
        endpoints = _named_endpoints(service, slices, settings.endpoint_pod_names)
        plain = _plain(endpoints)
        srv_targets = ((ports, f"{label}.{domain}") for label, _, ports in endpoints)
        srv_sets = dict(_srv_sets(srv_targets, domain))
        if _all_plain(plain, ()):
            return ServiceZone(domain, {}, {}, plain, srv_sets, addresses_at_domain=True)
        out[domain] += [
            Record(domain, address_type(address), ttl, address) for _, address, _ in endpoints
        ]
        for owner, entries in srv_sets.items():
            out[owner] += srv_set(owner, entries, ttl)
        # The SRV set at the Service name, every port of every ready endpoint (as CoreDNS),
        # is its endpoint names' sets together: the index builds it from theirs.
    plain = _plain(endpoints)
    if not _all_plain(plain, service.cluster_ips):
        spelled_plain, spelled_srv = plain_records(plain, domain, ttl)
        for owner, rrs in spelled_plain.items():
            out[owner] += rrs
        self_srv.update(spelled_srv)
        plain = []
    records = {owner: tuple(rrs) for owner, rrs in out.items()}
    return ServiceZone(domain, records, self_srv, plain)


def _all_plain(plain: list[Plain], cluster_ips: tuple[str, ...]) -> bool:
    """Whether each endpoint's name and reverse name are its alone in its Service."""
    return len({label for label, _, _ in plain}) == len(plain) and set(cluster_ips).isdisjoint(
        address for _, address, _ in plain
    )


def _plain(endpoints: list[_Named]) -> list[Plain]:
    numbers: dict[int, tuple[int, ...]] = {}  # by id: the few port lists the endpoints share
    plain = []
    for label, address, ports in endpoints:
        found = numbers.get(id(ports))  # `endpoints` holds each tuple: its id stays its own
        if found is None:
            found = numbers[id(ports)] = _port_numbers(ports)
        plain.append((label, address, found))
    return plain


def plain_records(
    plain: Iterable[Plain], domain: str, ttl: int
) -> tuple[dict[str, list[Record]], SelfSRV]:
    """Plain endpoints spelled out: each one's own name (spec 2.4.1) with its address, its
    PTR (2.4.4), and the SRV set at its name, each of its ports, unnamed ones too (CoreDNS;
    the spec is silent), as `SelfSRV`. Names two endpoints share hold both addresses."""
    out: dict[str, list[Record]] = defaultdict(list)
    self_srv: SelfSRV = {}
    for label, address, ports in plain:
        host = f"{label}.{domain}"
        out[host].append(Record(host, address_type(address), ttl, address))
        self_srv[host] = ports
        ptr_owner = reverse_name(address)
        out[ptr_owner].append(Record(ptr_owner, RRType.PTR, ttl, host))
    return out, self_srv


def all_records(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> ServiceRecords:
    """`service_records` with every SRV set spelled out as records (for readers that want
    them all: tests, `explain`)."""
    records, self_srv = service_records(service, slices, settings)
    out = dict(records)
    for owner, ports in self_srv.items():
        out[owner] = (*out.get(owner, ()), *self_srv_records(owner, ports, settings.ttl))
    domain = service_domain(service, settings.zone)
    if service.kind is ServiceKind.HEADLESS and domain in out:
        targets = ((port, owner) for owner, ports in self_srv.items() for port in ports)
        out[domain] = (*out[domain], *srv_set(domain, targets, settings.ttl))
    return out
