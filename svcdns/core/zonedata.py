"""Pure: one Service and its endpoints -> every record it puts in the zone.

This is the per-Service unit the record index recomputes when anything about that Service
changes (spec sections 2.3 ClusterIP, 2.4 headless, 2.5 ExternalName; PTR 2.3.4 / 2.4.4).
Imports only the stdlib and the core modules.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
    merged: dict[str, NamedEndpoint] = {}
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                if not (endpoint.ready or service.publish_not_ready):
                    continue
                for address in endpoint.addresses:
                    seen = merged.get(address)
                    if seen is not None:
                        if seen.ports != group.ports:
                            ports = (*seen.ports, *(p for p in group.ports if p not in seen.ports))
                            merged[address] = NamedEndpoint(seen.label, address, ports)
                        continue
                    label = endpoint_label(
                        hostname=endpoint.hostname,
                        pod_name=endpoint.pod_name,
                        address=address,
                        use_pod_name=use_pod_name,
                    )
                    merged[address] = NamedEndpoint(label, address, group.ports)
    return list(merged.values())


def _srv_owner(port: Port, domain: str) -> str:
    return f"_{port.name}._{port.protocol}.{domain}".lower()


def _srv_records(
    targets: Iterable[tuple[Port, str]], domain: str, ttl: int
) -> dict[str, list[Record]]:
    """SRV RRsets for named ports; weight floor(100/N), at least 1 (as CoreDNS)."""
    by_owner: dict[str, dict[tuple[int, str], None]] = defaultdict(dict)
    for port, target in targets:
        if port.name:  # spec 2.3.2 / 2.4.2: only named ports get SRV records
            by_owner[_srv_owner(port, domain)][(port.port, target)] = None
    return {owner: srv_set(owner, entries, ttl) for owner, entries in by_owner.items()}


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


def _add_endpoint(
    out: dict[str, list[Record]],
    self_srv: SelfSRV,
    endpoint: NamedEndpoint,
    domain: str,
    ttl: int,
) -> str:
    """The endpoint's own name (spec 2.4.1), its PTR (2.4.4), and SRV at its name with each
    of its ports, unnamed ones too (CoreDNS; the spec is silent); returns that name."""
    host = f"{endpoint.label}.{domain}"
    out[host].append(Record(host, address_type(endpoint.address), ttl, endpoint.address))
    self_srv[host] = _port_numbers(endpoint.ports)
    ptr_owner = reverse_name(endpoint.address)
    out[ptr_owner].append(Record(ptr_owner, RRType.PTR, ttl, host))
    return host


def service_records(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> tuple[ServiceRecords, SelfSRV]:
    """Every record this Service owns, by owner name, in a stable order; the SRV sets of
    its endpoint names and ClusterIP name as port numbers (`SelfSRV`)."""
    domain = service_domain(service, settings.zone)
    ttl = settings.ttl
    out: dict[str, list[Record]] = defaultdict(list)
    self_srv: SelfSRV = {}
    if service.kind is ServiceKind.EXTERNAL_NAME:
        # An IP is not a name a CNAME can point at; Kubernetes gives it no record.
        if not _is_ip(service.external_name):
            out[domain].append(Record(domain, RRType.CNAME, ttl, service.external_name))
    elif service.kind is ServiceKind.CLUSTER_IP:
        for ip in service.cluster_ips:
            out[domain].append(Record(domain, address_type(ip), ttl, ip))
            out[reverse_name(ip)].append(Record(reverse_name(ip), RRType.PTR, ttl, domain))
        out.update(_srv_records(((port, domain) for port in service.ports), domain, ttl))
        # SRV at the Service name itself: every port, unnamed ones too, target the name
        # (CoreDNS; the spec is silent).
        self_srv[domain] = _port_numbers(service.ports)
        # Endpoint names and PTRs exist behind a ClusterIP too (CoreDNS; the spec is silent),
        # but the service name and its SRV records point at the ClusterIP (spec 2.3).
        for endpoint in ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names):
            _add_endpoint(out, self_srv, endpoint, domain, ttl)
    else:
        endpoints = ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names)
        srv_targets = []
        for endpoint in endpoints:
            host = _add_endpoint(out, self_srv, endpoint, domain, ttl)
            out[domain].append(
                Record(domain, address_type(endpoint.address), ttl, endpoint.address)
            )
            srv_targets += [(port, host) for port in endpoint.ports]
        out.update(_srv_records(srv_targets, domain, ttl))
        # The SRV set at the Service name, every port of every ready endpoint (as CoreDNS),
        # is its endpoint names' sets together: the index builds it from theirs.
    return {owner: tuple(records) for owner, records in out.items()}, self_srv


def all_records(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> ServiceRecords:
    """`service_records` with every SRV set spelled out as records (for readers that want
    them all: tests, `explain`)."""
    records, self_srv = service_records(service, slices, settings)
    spelled = dict(records)
    for owner, ports in self_srv.items():
        spelled[owner] = (*spelled.get(owner, ()), *self_srv_records(owner, ports, settings.ttl))
    domain = service_domain(service, settings.zone)
    if service.kind is ServiceKind.HEADLESS and domain in spelled:
        targets = ((port, owner) for owner, ports in self_srv.items() for port in ports)
        spelled[domain] = (*spelled[domain], *srv_set(domain, targets, settings.ttl))
    return spelled
