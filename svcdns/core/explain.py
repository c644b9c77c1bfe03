"""Why a name answers what it does: the objects behind each record, or why there is none.

Pure: the cluster state, a lower-case name and the query type in, plain sentences out. The
face prints them under the answer itself (`svcdns explain`). Each SRV record is traced by
`explain_srv`, each PTR here, to its Service and, for an endpoint, to every EndpointSlice it
comes from. The rules applied are `zonedata`'s (`ready_endpoints` names every endpoint) and
`index`'s (a name DNS cannot carry is left out), not restated. Imports only the core.
"""

from __future__ import annotations

from svcdns.core.explain_clusterset import clusterset_pointers, explain_clusterset
from svcdns.core.explain_srv import (
    Listing,
    endpoint_text,
    kind,
    ready_listings,
    source,
    srv_at_endpoint,
    srv_at_port,
    srv_at_service,
    unencodable,
)
from svcdns.core.model import Endpoint, EndpointSlice, Service, ServiceKind
from svcdns.core.names import is_dns_label, is_ipv6, reverse_name, under
from svcdns.core.rr import RRType
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings, endpoint_label, ready_endpoints, service_domain

REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")


def explain(state: ClusterState, name: str, *, forwarding: str, qtype: str = "A") -> list[str]:
    """Sentences about `name` asked with `qtype` (a type name: A, SRV, ...); `forwarding`
    says where a name outside the zones would go."""
    zone = state.settings.zone
    if under(name, REVERSE_ZONES[0]) or under(name, REVERSE_ZONES[1]):
        return _reverse(state, name, forwarding)
    clusterset = state.clusterset
    if clusterset is not None and under(name, clusterset.zone):
        return explain_clusterset(state, clusterset.zone, name)
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
    return _service_name(state, name, namespace, relative[:-2], srv=qtype.upper() == "SRV")


def _namespace(state: ClusterState, namespace: str) -> list[str]:
    if not state.namespace_allowed(namespace):
        return [f"namespace {namespace} is not served: it is not in --namespaces."]
    if not state.namespace_exists(namespace):
        return [f"no namespace {namespace}: no Namespace object and no Service in it."]
    return []


def _service_name(
    state: ClusterState, name: str, namespace: str, labels: list[str], *, srv: bool
) -> list[str]:
    service_name = labels[-1]
    service = state.service(namespace, service_name)
    if service is None:
        known = ", ".join(sorted(state.service_names(namespace))[:10]) or "none"
        return [f"no Service {service_name} in namespace {namespace} (its Services: {known})."]
    lines = [_describe(service)]
    error = unencodable(name)
    if error is not None:  # as the index: a name DNS cannot carry has no record
        return [*lines, f"left out: the name is {error}; no record can have it."]
    rest = labels[:-1]
    slices = state.slices_of(namespace, service_name)
    if not rest and srv and service.kind is not ServiceKind.EXTERNAL_NAME:
        return lines + srv_at_service(service, slices, state.settings)
    if not rest:
        return lines + _service_records(service, slices)
    if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
        want = (rest[0][1:], rest[1][1:])
        return lines + srv_at_port(service, slices, state.settings, want=want)
    if len(rest) == 1:
        return lines + _endpoint(service, slices, state.settings, label=rest[0], srv=srv)
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
                text = endpoint_text(endpoint, endpoint_slice)
                if endpoint.ready or service.publish_not_ready:
                    ready.append(text)
                else:
                    not_ready.append(text)
    return ready, not_ready


def _endpoint(
    service: Service, slices: list[EndpointSlice], settings: ZoneSettings, *, label: str, srv: bool
) -> list[str]:
    """`<label>.<service>`: the endpoints `zonedata` names so (the address, and for SRV one
    record per port, target the name itself, as CoreDNS), or why none is."""
    if service.kind is ServiceKind.EXTERNAL_NAME:
        return ["an ExternalName has only the CNAME at its own name (spec 2.5)."]
    endpoints = ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names)
    named = [e for e in endpoints if e.label == label]
    if not named:
        return _not_named(service, slices, settings, {e.address: e.label for e in endpoints}, label)
    listed = ready_listings(service, slices)
    if not srv:
        return [_served(e.address, listed[e.address]) for e in named]
    return srv_at_endpoint(named, listed, service_domain(service, settings.zone)) or [
        _served(e.address, listed[e.address], tail="; it has no port, so no SRV") for e in named
    ]


def _served(address: str, listings: list[Listing], *, tail: str = "") -> str:
    """The address record of an endpoint name, and the slices listing the address."""
    where = " and ".join(dict.fromkeys(kind(s) for _, s, _ in listings))
    ready = any(e.ready for e, _, _ in listings)
    state = "ready" if ready else "not ready, but published (publishNotReadyAddresses)"
    return f"endpoint {address} of {where}{_pod_of([e for e, _, _ in listings])}: {state}{tail}."


def _pod_of(endpoints: list[Endpoint]) -> str:
    pods = ", ".join(dict.fromkeys(e.pod_name for e in endpoints if e.pod_name))
    return f", pod {pods}" if pods else ""


def _not_named(
    service: Service,
    slices: list[EndpointSlice],
    settings: ZoneSettings,
    labels: dict[str, str],
    label: str,
) -> list[str]:
    """Why no record has this endpoint name: the endpoint is not ready, or is named otherwise
    (`zonedata.endpoint_label`: hostname, else pod name with --endpoint-pod-names, else the
    dashed address; the first slice by name that lists an address names it)."""
    lines = []
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                for address in endpoint.addresses:
                    own = endpoint_label(
                        hostname=endpoint.hostname,
                        pod_name=endpoint.pod_name,
                        address=address,
                        use_pod_name=settings.endpoint_pod_names,
                    )
                    actual = labels.get(address, own)
                    where = f"endpoint {address} of {kind(endpoint_slice)}{_pod_of([endpoint])}"
                    if actual == label:  # zonedata gives no record, so it is not ready
                        lines.append(f"{where}: not ready (so no record).")
                    elif label in (own, endpoint.hostname.lower(), endpoint.pod_name.lower()):
                        why = _why_not(endpoint, settings, label, own=own)
                        lines.append(f"{where} is named {actual}, not {label}: {why}.")
    fallback = (
        f"no endpoint of {service.name} is named {label} (its hostname, else its pod name "
        "with --endpoint-pod-names, else its dashed address)."
    )
    return list(dict.fromkeys(lines)) or [fallback]


def _why_not(endpoint: Endpoint, settings: ZoneSettings, label: str, *, own: str) -> str:
    if own == label:
        return "the first EndpointSlice by name that lists its address names it"
    if not is_dns_label(label):
        return f"{label} is not a DNS label (RFC 1123)"
    if not settings.endpoint_pod_names:
        return "a pod name names an endpoint only with --endpoint-pod-names"
    return "its hostname comes first"


def _pod_name(state: ClusterState) -> list[str]:
    mode = state.settings.pods.value
    return [f"a pod name (spec is silent; CoreDNS `pods {mode}`): see --pods."]


def _reverse(state: ClusterState, name: str, forwarding: str) -> list[str]:
    """A reverse name: one line per PTR record, naming its Service and, for an endpoint,
    every EndpointSlice the address comes from (spec 2.3.4, 2.4.4)."""
    owners = state.index.rrsets.get(name)
    targets = [str(r.data) for r in (owners or {}).get(RRType.PTR, ())]
    if not targets:
        imported = clusterset_pointers(state, name)
        return imported or [f"not the address of a Service or endpoint here: {forwarding}"]
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
    listed = ready_listings(service, state.slices_of(service.namespace, service.name))
    sources = [
        source(address, listing)
        for address, listings in listed.items()
        if reverse_name(address) == name
        for listing in listings
    ]
    why = "spec 2.4.4" if kind == "headless" else "as CoreDNS; the spec is silent"
    return f"{where}, {'; '.join(sources)} ({why})."


def _looks_like_ip(text: str) -> bool:
    parts = text.split(".")
    return is_ipv6(text) or (len(parts) == 4 and all(p.isdigit() for p in parts))
