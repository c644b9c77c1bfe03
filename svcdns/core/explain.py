"""Why a name answers what it does: the objects behind each record, or why there is none.

Pure: the cluster state and a lower-case name in, plain sentences out. The face prints
them under the answer itself (`svcdns explain`). Imports only the core.
"""

from __future__ import annotations

from svcdns.core.model import EndpointSlice, Service, ServiceKind
from svcdns.core.names import is_ipv6, under
from svcdns.core.state import ClusterState

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
        return _pod(state, relative)
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
        return lines + _srv(service, slices, rest[0][1:], rest[1][1:])
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
                pod = f" (pod {endpoint.pod_name})" if endpoint.pod_name else ""
                text = f"{', '.join(endpoint.addresses)}{pod} from {endpoint_slice.name}"
                if endpoint.ready or service.publish_not_ready:
                    ready.append(text)
                else:
                    not_ready.append(text)
    return ready, not_ready


def _srv(service: Service, slices: list[EndpointSlice], port: str, protocol: str) -> list[str]:
    ports = {(p.name.lower(), p.protocol.lower()) for p in service.ports}
    for endpoint_slice in slices:
        for group in endpoint_slice.groups:
            ports |= {(p.name.lower(), p.protocol.lower()) for p in group.ports}
    if (port, protocol) in ports:
        return [f"port {port}/{protocol.upper()} is named on the Service: one SRV per target."]
    named = ", ".join(f"{n}/{p.upper()}" for n, p in sorted(ports) if n) or "no named port"
    return [f"no port named {port} with protocol {protocol.upper()} (it has: {named})."]


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


def _pod(state: ClusterState, relative: list[str]) -> list[str]:
    mode = state.settings.pods.value
    return [f"a pod name (spec is silent; CoreDNS `pods {mode}`): see --pods."]


def _reverse(state: ClusterState, name: str, forwarding: str) -> list[str]:
    owners = state.index.rrsets.get(name)
    if owners:
        targets = ", ".join(str(r.data) for rrset in owners.values() for r in rrset)
        return [f"a cluster address: its PTR names {targets}."]
    return [f"not the address of a Service or endpoint here: {forwarding}"]


def _looks_like_ip(text: str) -> bool:
    parts = text.split(".")
    return is_ipv6(text) or (len(parts) == 4 and all(p.isdigit() for p in parts))
