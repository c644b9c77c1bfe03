"""`svcdns explain` for a name of the clusterset zone (MCS API, KEP 1645): the
ServiceImport behind it and, for an endpoint, the member cluster and EndpointSlice it comes
from, or why there is none. Pure; the rules are `clusterset`'s, not restated. Imports only
the core.
"""

from __future__ import annotations

from collections import defaultdict

from svcdns.core.model import EndpointSlice, Service, ServiceImport, ServiceKind
from svcdns.core.names import under
from svcdns.core.rr import RRType
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import NamedEndpoint, ready_endpoints

_ALWAYS: tuple[list[str], ...] = ([], ["dns-version"], ["ns", "dns"], ["dns"], ["svc"])


def explain_clusterset(state: ClusterState, zone: str, name: str) -> list[str]:
    """Sentences about `name`, a name under the clusterset `zone`."""
    relative = name[: -len(zone) - 1].split(".") if name != zone else []
    if relative in _ALWAYS:
        return [f"{name} is one of the names the clusterset zone always has (MCS spec 2.2)."]
    if relative[-1] != "svc" or len(relative) < 2:
        return [f"no such name: names in {zone} are <service>.<namespace>.svc (MCS spec 2)."]
    namespace = relative[-2]
    if len(relative) == 2:
        if state.imports_in(namespace):
            return [f"namespace {namespace} has ServiceImports: {name} has no records."]
        return [f"no ServiceImport in namespace {namespace}, so NXDOMAIN."]
    import_name, rest = relative[-3], relative[:-3]
    found = state.service_import(namespace, import_name)
    if found is None:
        return [f"no ServiceImport {import_name} in namespace {namespace}."]
    by_cluster = _endpoints_by_cluster(found, state.import_slices_of(namespace, import_name))
    lines = [_describe(found, by_cluster)]
    if not rest:
        return lines + _at_import(found, by_cluster)
    if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
        return lines + _srv(found, by_cluster, rest[0][1:], rest[1][1:])
    if found.headless is False:
        return [*lines, "a ClusterSetIP import names no cluster or endpoint (MCS spec 2.3.4)."]
    if len(rest) == 1:
        if rest[0] in by_cluster:
            return [*lines, f"{rest[0]} is a member cluster: no record names it alone (2.4.4)."]
        known = ", ".join(sorted(by_cluster)) or "none"
        return [
            *lines,
            "no such name: an endpoint is <hostname>.<clusterid> under the import (MCS spec "
            f"2.4.1), and {rest[0]} is no member cluster (they are: {known}).",
        ]
    if len(rest) == 2:
        return lines + _endpoint(by_cluster, label=rest[0], cluster=rest[1])
    return [*lines, "no such name under the import."]


Listed = list[tuple[NamedEndpoint, str]]  # a ready endpoint, and the slice that lists it


def _endpoints_by_cluster(found: ServiceImport, slices: list[EndpointSlice]) -> dict[str, Listed]:
    grouped: dict[str, list[EndpointSlice]] = defaultdict(list)
    for endpoint_slice in slices:
        grouped[endpoint_slice.cluster.lower()].append(endpoint_slice)
    standin = Service(found.namespace, found.name, ServiceKind.HEADLESS)
    out: dict[str, Listed] = {}
    for cluster, members in sorted(grouped.items()):
        out[cluster] = [
            (named, _slice_of(named.address, members))
            for named in ready_endpoints(standin, members, use_pod_name=False)
        ]
    return out


def _slice_of(address: str, slices: list[EndpointSlice]) -> str:
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            if any(address in entry[0] for entry in group.entries()):
                return endpoint_slice.name
    return "?"


def _describe(found: ServiceImport, by_cluster: dict[str, Listed]) -> str:
    where = f"ServiceImport {found.namespace}/{found.name}"
    if not found.headless:
        ips = ", ".join(found.ips) or "none yet"
        return f"{where} is ClusterSetIP, its IP(s): {ips}."
    clusters = ", ".join(sorted(by_cluster)) or "no member cluster yet"
    return f"{where} is Headless; its endpoints come from: {clusters}."


def _at_import(found: ServiceImport, by_cluster: dict[str, Listed]) -> list[str]:
    if not found.headless:
        return ["A/AAAA: the ClusterSetIP(s) (MCS spec 2.3.1); SRV per named port (2.3.2)."]
    lines = [
        f"{named.address}: ready in cluster {cluster}, EndpointSlice {slice_name} (MCS 2.4.1)."
        for cluster, listed in by_cluster.items()
        for named, slice_name in listed
    ]
    return lines or ["no ready endpoint in any member cluster, so NXDOMAIN (MCS spec 2.4.1)."]


def _srv(found: ServiceImport, by_cluster: dict[str, Listed], name: str, proto: str) -> list[str]:
    ports = [p for p in found.ports if p.name.lower() == name and p.protocol.lower() == proto]
    if not ports:
        named = ", ".join(f"{p.name}/{p.protocol}" for p in found.ports if p.name) or "none"
        return [f"no named port {name}/{proto.upper()} on the import (its named ports: {named})."]
    numbers = ", ".join(str(p.port) for p in ports)
    if not found.headless:
        return [f"SRV: port {numbers}, target the import's own name (MCS spec 2.3.2)."]
    count = sum(len(listed) for listed in by_cluster.values())
    return [f"SRV: port {numbers} for each of {count} ready endpoint(s), target its name (2.4.2)."]


def _endpoint(by_cluster: dict[str, Listed], *, label: str, cluster: str) -> list[str]:
    if cluster not in by_cluster:
        return [f"no such name: {cluster} is no member cluster with endpoints here."]
    hits = [(n, s) for n, s in by_cluster[cluster] if n.label == label]
    if not hits:
        return [f"no ready endpoint named {label} in cluster {cluster}, so NXDOMAIN."]
    return [
        f"{n.address}: ready in cluster {cluster}, EndpointSlice {s} (MCS 2.4.1)." for n, s in hits
    ]


def clusterset_pointers(state: ClusterState, name: str) -> list[str]:
    """A reverse name the clusterset zone answers (the cluster zone has no PTR there)."""
    index = state.clusterset
    found = index.rrsets.get(name) if index is not None else None
    targets = [str(r.data) for r in (found or {}).get(RRType.PTR, ())]
    if index is None or not targets:
        return []
    return [
        f"a clusterset address (MCS spec 2.3.3, 2.4.3): PTR {target}."
        for target in targets
        if under(target, index.zone)
    ]
