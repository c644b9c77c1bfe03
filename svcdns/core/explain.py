"""Why a name answers what it does: the objects behind each record, or why there is none.

Pure: the cluster state and a lower-case name in, plain sentences out. The face prints
them under the answer itself (`svcdns explain`). Each SRV and PTR record is traced to its
Service and, for an endpoint, to every EndpointSlice it comes from; the rules applied are
`zonedata`'s, not restated. Imports only the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svcdns.core.model import Endpoint, EndpointSlice, Port, Service, ServiceKind
from svcdns.core.names import is_ipv6, reverse_name, under
from svcdns.core.rr import RRType
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings, ready_endpoints, service_domain

REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


def explain(state: ClusterState, name: str, *, forwarding: str) -> list[str]:
    """Sentences about `name`; `forwarding` says where a name outside the zones would go."""
    zone = state.settings.zone
    if under(name, REVERSE_ZONES[0]) or under(name, REVERSE_ZONES[1]):
        return _reverse(state, name, forwarding)
    if not under(name, zone):
        return [f"{name} is outside the zone {zone}: {forwarding}"]
    relative = name[: -len(zone) - 1].split(".") if name != zone else []
    if not relative or relative in (["dns-version"], ["ns", "dns"], ["dns"], ["svc"], ["pod"]):
        return [f"{name} is one of the names the zone always has (spec 2.2, the apex and NS)."]
    if relative[-1] == "pod":
        return _pod_name(state)
    if relative[-1] != "svc":
        return [f"no such name: names in {zone} are <service>.<namespace>.svc or pod names."]
    namespace = relative[-2] if len(relative) >= 2 else ""
    lines = _namespace(state, namespace)
    if lines or len(relative) == 2:
        return lines or [f"namespace {namespace} exists: {name} has no records of its own."]
    return _service_name(state, namespace, relative[:-2])


def _namespace(state: ClusterState, namespace: str) -> list[str]:
    if not state.namespace_allowed(namespace):
        return [f"namespace {namespace} is not served: it is not in --namespaces."]
    if not state.namespace_exists(namespace):
        return [f"no namespace {namespace}: no Namespace object and no Service in it."]
    return []


def _service_name(state: ClusterState, namespace: str, labels: list[str]) -> list[str]:
    service_name = labels[-1]
    service = state.service(namespace, service_name)
    if service is None:
        known = ", ".join(sorted(state.service_names(namespace))[:10]) or "none"
        return [f"no Service {service_name} in namespace {namespace} (its Services: {known})."]
    lines = [_describe(service)]
    rest = labels[:-1]
    slices = state.slices_of(namespace, service_name)
    if not rest:
        return lines + _service_records(service, slices)
    if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
        port, protocol = rest[0][1:], rest[1][1:]
        return lines + _srv(service, slices, state.settings, port=port, protocol=protocol)
    if len(rest) == 1:
        return lines + _endpoint(service, slices, rest[0])
    return [*lines, f"no such name under {service_name}.{namespace}.svc."]


def _describe(service: Service) -> str:
    where = f"Service {service.namespace}/{service.name}"
    if service.kind is ServiceKind.EXTERNAL_NAME:
        return f"{where} is an ExternalName for {service.external_name}."
    if service.kind is ServiceKind.HEADLESS:
        return f"{where} is headless (clusterIP: None)."
    return f"{where} has the ClusterIP(s) {', '.join(service.cluster_ips)}."


def _service_records(service: Service, slices: list[EndpointSlice]) -> list[str]:
    if service.kind is ServiceKind.EXTERNAL_NAME:
        if _looks_like_ip(service.external_name):
            return ["its external name is an IP address: Kubernetes gives it no record."]
        return [f"the answer is a CNAME to {service.external_name} (spec 2.5)."]
    if service.kind is ServiceKind.CLUSTER_IP:
        return ["the name answers its ClusterIP(s), whatever its endpoints (spec 2.3.1)."]
    ready, not_ready = _endpoints(service, slices)
    if ready:
        return [f"ready endpoints (spec 2.4.1): {', '.join(ready)}."] + (
            [f"not ready, left out: {', '.join(not_ready)}."] if not_ready else []
        )
    if not_ready:
        return [f"no ready endpoint, so NXDOMAIN; not ready: {', '.join(not_ready)}."]
    return ["no endpoint at all (no EndpointSlice selects a pod), so NXDOMAIN."]


def _endpoints(service: Service, slices: list[EndpointSlice]) -> tuple[list[str], list[str]]:
    ready, not_ready = [], []
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                text = _endpoint_text(endpoint, endpoint_slice)
                if endpoint.ready or service.publish_not_ready:
                    ready.append(text)
                else:
                    not_ready.append(text)
    return ready, not_ready


def _endpoint_text(endpoint: Endpoint, endpoint_slice: EndpointSlice) -> str:
    return f"{', '.join(endpoint.addresses)}{_pod(endpoint)} from {endpoint_slice.name}"


def _pod(endpoint: Endpoint) -> str:
    return f" (pod {endpoint.pod_name})" if endpoint.pod_name else ""


def _source(address: str, endpoint: Endpoint, endpoint_slice: EndpointSlice) -> str:
    """One endpoint address and the object it comes from."""
    kind = "Endpoints" if endpoint_slice.legacy else "EndpointSlice"
    return f"endpoint {address}{_pod(endpoint)} of {kind} {endpoint_slice.name}"


def _matches(port: Port, name: str, protocol: str) -> bool:
    return port.name.lower() == name and port.protocol.lower() == protocol


def _srv(
    service: Service,
    slices: list[EndpointSlice],
    settings: ZoneSettings,
    *,
    port: str,
    protocol: str,
) -> list[str]:
    """`_<port>._<protocol>.<service>`: one line per SRV record, as the answer lists them."""
    if service.kind is ServiceKind.EXTERNAL_NAME:
        return ["an ExternalName has only the CNAME at its own name: no SRV (spec 2.5)."]
    if service.kind is ServiceKind.HEADLESS:
        return _headless_srv(service, slices, settings, port=port, protocol=protocol)
    matching = [p for p in service.ports if _matches(p, port, protocol)]
    if not matching:
        return [_no_such_port(service.ports, port, protocol, section="2.3.2")]
    domain = service_domain(service, settings.zone)
    ips = ", ".join(service.cluster_ips)
    return [
        f"SRV {p.port} {domain}: port {p.name}/{p.protocol} of the Service; the target is "
        f"the Service name, which answers its ClusterIP(s) {ips} (spec 2.3.2)."
        for p in matching
    ]


@dataclass(slots=True)
class _Traced:
    """What a headless Service's slices give one SRV owner, found in one pass."""

    records: dict[tuple[int, str], list[str]] = field(default_factory=dict)  # (port, target)
    not_ready: list[str] = field(default_factory=list)
    targeted: set[str] = field(default_factory=set)  # addresses behind some record
    ready_elsewhere: dict[str, str] = field(default_factory=dict)  # address -> text
    slice_ports: list[Port] = field(default_factory=list)


def _headless_srv(
    service: Service,
    slices: list[EndpointSlice],
    settings: ZoneSettings,
    *,
    port: str,
    protocol: str,
) -> list[str]:
    """One SRV per ready endpoint and per port its EndpointSlice gives (spec 2.4.2); an
    address in several slices is one target with every slice's port, each slice named."""
    if not slices:
        return ["no endpoint at all (no EndpointSlice selects a pod), so no SRV."]
    traced = _trace_srv(service, slices, settings, port=port, protocol=protocol)
    lines = [
        f"SRV {number} {target}: {'; '.join(sources)}."
        for (number, target), sources in sorted(traced.records.items())
    ]
    wanted = f"{port}/{protocol.upper()}"
    if not lines and not traced.not_ready:
        if any(_matches(p, port, protocol) for p in traced.slice_ports):
            return [f"no endpoint has port {wanted}, so no SRV."]
        if any(_matches(p, port, protocol) for p in service.ports):
            return [f"port {wanted} is on the Service but in no EndpointSlice, so no SRV."]
        ports = [*service.ports, *traced.slice_ports]
        return [_no_such_port(ports, port, protocol, section="2.4.2")]
    not_ready = ", ".join(traced.not_ready)
    if not lines:
        lines.append(f"no ready endpoint has port {wanted}, so no SRV; not ready: {not_ready}.")
    elif not_ready:
        lines.append(f"not ready, left out: {not_ready}.")
    elsewhere = [t for a, t in traced.ready_elsewhere.items() if a not in traced.targeted]
    if elsewhere:
        lines.append(
            f"ready, but their EndpointSlice has no port {wanted}: {', '.join(elsewhere)}."
        )
    return lines


def _trace_srv(
    service: Service,
    slices: list[EndpointSlice],
    settings: ZoneSettings,
    *,
    port: str,
    protocol: str,
) -> _Traced:
    domain = service_domain(service, settings.zone)
    # The label an address is known by is decided once, across all slices, by zonedata.
    labels = {
        e.address: e.label
        for e in ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names)
    }
    traced = _Traced()
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            traced.slice_ports += group.ports
            numbers = sorted({p.port for p in group.ports if _matches(p, port, protocol)})
            for endpoint in group.endpoints:
                if not (endpoint.ready or service.publish_not_ready):
                    if numbers:
                        traced.not_ready.append(_endpoint_text(endpoint, endpoint_slice))
                    continue
                for address in endpoint.addresses:
                    if not numbers:
                        text = f"{address}{_pod(endpoint)} from {endpoint_slice.name}"
                        traced.ready_elsewhere.setdefault(address, text)
                    elif address in labels:  # else zonedata left it out: no record
                        traced.targeted.add(address)
                        target = f"{labels[address]}.{domain}"
                        for number in numbers:
                            sources = traced.records.setdefault((number, target), [])
                            sources.append(_source(address, endpoint, endpoint_slice))
    return traced


def _no_such_port(
    ports: list[Port] | tuple[Port, ...],
    port: str,
    protocol: str,
    *,
    section: str,
) -> str:
    """Why there is no SRV: no such port, another protocol, or an unnamed port."""
    named = sorted({f"{p.name}/{p.protocol}" for p in ports if p.name})
    unnamed = sorted({f"{p.port}/{p.protocol}" for p in ports if not p.name})
    text = f"no port named {port} with protocol {protocol.upper()}"
    text += f" (it has: {', '.join(named) or 'no named port'})"
    if unnamed:
        text += f"; an unnamed port has no SRV (spec {section}): {', '.join(unnamed)}"
    return text + "."


def _endpoint(service: Service, slices: list[EndpointSlice], label: str) -> list[str]:
    for endpoint_slice in slices:
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                names = {endpoint.hostname, endpoint.pod_name} | {
                    a.replace(".", "-").replace(":", "-") for a in endpoint.addresses
                }
                if label in names:
                    state = "ready" if endpoint.ready else "not ready (so no record)"
                    pod = f", pod {endpoint.pod_name}" if endpoint.pod_name else ""
                    return [
                        f"endpoint {', '.join(endpoint.addresses)} of EndpointSlice "
                        f"{endpoint_slice.name}{pod}: {state}."
                    ]
    return [f"no endpoint of {service.name} is named {label} (hostname or dashed address)."]


def _pod_name(state: ClusterState) -> list[str]:
    mode = state.settings.pods.value
    return [f"a pod name (spec is silent; CoreDNS `pods {mode}`): see --pods."]


def _reverse(state: ClusterState, name: str, forwarding: str) -> list[str]:
    """A reverse name: one line per PTR record, naming its Service and, for an endpoint,
    every EndpointSlice the address comes from (spec 2.3.4, 2.4.4)."""
    owners = state.index.rrsets.get(name)
    targets = [str(r.data) for r in (owners or {}).get(RRType.PTR, ())]
    if not targets:
        return [f"not the address of a Service or endpoint here: {forwarding}"]
    lines = ["a cluster address: one PTR for each Service or endpoint name that holds it."]
    return lines + [_pointer(state, name, target) for target in targets]


def _pointer(state: ClusterState, name: str, target: str) -> str:
    zone = state.settings.zone
    relative = target[: -len(zone) - 1].split(".") if under(target, zone) else []
    service = None
    if len(relative) in (3, 4) and relative[-1] == "svc":
        service = state.service(relative[-2], relative[-3])
    if service is None:
        return f"PTR {target}."
    kind = "headless" if service.kind is ServiceKind.HEADLESS else "ClusterIP"
    where = f"PTR {target}: Service {service.namespace}/{service.name} ({kind})"
    if len(relative) == 3:
        ips = [ip for ip in service.cluster_ips if reverse_name(ip) == name]
        return f"{where}, its ClusterIP {', '.join(ips)} (spec 2.3.4)."
    sources = [
        _source(address, endpoint, endpoint_slice)
        for endpoint_slice in sorted(
            state.slices_of(service.namespace, service.name), key=lambda s: s.name
        )
        for group in endpoint_slice.groups
        for endpoint in group.endpoints
        if endpoint.ready or service.publish_not_ready
        for address in endpoint.addresses
        if reverse_name(address) == name
    ]
    why = "spec 2.4.4" if kind == "headless" else "as CoreDNS; the spec is silent"
    return f"{where}, {'; '.join(sources)} ({why})."


def _looks_like_ip(text: str) -> bool:
    parts = text.split(".")
    return is_ipv6(text) or (len(parts) == 4 and all(p.isdigit() for p in parts))
