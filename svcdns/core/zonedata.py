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
    return f"{service.name}.{service.namespace}.svc.{zone}".lower()


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
    """Ready addresses merged across all slices, de-duplicated by address (first slice wins)."""
    seen: set[str] = set()
    merged = []
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                if not (endpoint.ready or service.publish_not_ready):
                    continue
                for address in endpoint.addresses:
                    if address in seen:
                        continue
                    seen.add(address)
                    label = endpoint_label(
                        hostname=endpoint.hostname,
                        pod_name=endpoint.pod_name,
                        address=address,
                        use_pod_name=use_pod_name,
                    )
                    merged.append(NamedEndpoint(label, address, group.ports))
    return merged


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
    records: dict[str, list[Record]] = {}
    for owner, entries in by_owner.items():
        weight = max(1, 100 // len(entries))
        records[owner] = [
            Record(owner, RRType.SRV, ttl, SRVData(0, weight, number, target))
            for number, target in sorted(entries)
        ]
    return records


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _add_endpoint(
    out: dict[str, list[Record]], endpoint: NamedEndpoint, domain: str, ttl: int
) -> str:
    """The endpoint's own name (spec 2.4.1) and its PTR (2.4.4); returns that name."""
    host = f"{endpoint.label}.{domain}"
    out[host].append(Record(host, address_type(endpoint.address), ttl, endpoint.address))
    ptr_owner = reverse_name(endpoint.address)
    out[ptr_owner].append(Record(ptr_owner, RRType.PTR, ttl, host))
    return host


def service_records(
    service: Service, slices: Sequence[EndpointSlice], settings: ZoneSettings
) -> ServiceRecords:
    """Every record this Service owns, by owner name, in a stable order."""
    domain = service_domain(service, settings.zone)
    ttl = settings.ttl
    out: dict[str, list[Record]] = defaultdict(list)
    if service.kind is ServiceKind.EXTERNAL_NAME:
        # An IP is not a name a CNAME can point at; Kubernetes gives it no record.
        if not _is_ip(service.external_name):
            out[domain].append(Record(domain, RRType.CNAME, ttl, service.external_name))
    elif service.kind is ServiceKind.CLUSTER_IP:
        for ip in service.cluster_ips:
            out[domain].append(Record(domain, address_type(ip), ttl, ip))
            out[reverse_name(ip)].append(Record(reverse_name(ip), RRType.PTR, ttl, domain))
        out.update(_srv_records(((port, domain) for port in service.ports), domain, ttl))
        # Endpoint names and PTRs exist behind a ClusterIP too (CoreDNS; the spec is silent),
        # but the service name and its SRV records point at the ClusterIP (spec 2.3).
        for endpoint in ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names):
            _add_endpoint(out, endpoint, domain, ttl)
    else:
        endpoints = ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names)
        srv_targets = []
        for endpoint in endpoints:
            host = _add_endpoint(out, endpoint, domain, ttl)
            out[domain].append(
                Record(domain, address_type(endpoint.address), ttl, endpoint.address)
            )
            srv_targets += [(port, host) for port in endpoint.ports]
        out.update(_srv_records(srv_targets, domain, ttl))
    return {owner: tuple(records) for owner, records in out.items()}
