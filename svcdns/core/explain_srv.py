"""Each SRV record of a name traced to its objects, for `explain`: the Service and port,
and for an endpoint target every EndpointSlice giving that port, with its pod.

Pure. The records are `zonedata`'s (`ready_endpoints` names each address and gives its
ports, merged across slices) and `index`'s (a record whose owner or target DNS cannot
carry is left out), not restated; the objects are only read to say where each comes from.
Imports only the core.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from svcdns.core.model import Endpoint, EndpointSlice, Port, Service, ServiceKind
from svcdns.core.wire import UnencodableName, name_wire
from svcdns.core.zonedata import NamedEndpoint, ZoneSettings, ready_endpoints, service_domain

AS_COREDNS = "(as CoreDNS; the spec is silent)"

Want = tuple[str, str] | None  # the ports an SRV owner has: one (name, protocol), or all
Records = dict[tuple[int, str], list[str]]  # (port, target) -> where the record comes from
Listing = tuple[Endpoint, EndpointSlice, tuple[Port, ...]]  # a ready address, as listed


def endpoint_text(endpoint: Endpoint, endpoint_slice: EndpointSlice) -> str:
    return f"{', '.join(endpoint.addresses)}{pod(endpoint)} from {endpoint_slice.name}"


def pod(endpoint: Endpoint) -> str:
    return f" (pod {endpoint.pod_name})" if endpoint.pod_name else ""


def kind(endpoint_slice: EndpointSlice) -> str:
    return f"{'Endpoints' if endpoint_slice.legacy else 'EndpointSlice'} {endpoint_slice.name}"


def source(address: str, listing: Listing, port: Port | None = None) -> str:
    """One endpoint address and the object it comes from; with the port, if given."""
    endpoint, endpoint_slice, _ = listing
    text = f"endpoint {address}{pod(endpoint)} of {kind(endpoint_slice)}"
    return text if port is None else f"{_port_text(port)} of {text}"


def _port_text(port: Port) -> str:
    return (
        f"port {port.name}/{port.protocol}"
        if port.name
        else f"unnamed port {port.port}/{port.protocol}"
    )


def _wanted(port: Port, want: Want) -> bool:
    return want is None or (port.name.lower(), port.protocol.lower()) == want


def unencodable(name: str) -> str | None:
    """Why the index leaves out a record owned by or pointing at `name` (as
    `index._encodable` decides it), or None when DNS can carry the name."""
    try:
        name_wire(name)
    except UnencodableName as error:
        return str(error)
    return None


def _record_lines(records: Records) -> list[str]:
    """One line per SRV record, in the answer's order (`zonedata.srv_set`); a record whose
    target DNS cannot carry is said to be left out, as the index leaves it out."""
    lines = []
    for (number, target), sources in sorted(records.items()):
        text = f"SRV {number} {target}: {'; '.join(dict.fromkeys(sources))}"
        error = unencodable(target)
        lines.append(f"{text}." if error is None else f"left out: {text}; the target is {error}.")
    return lines


def _named_left_out(ports: list[Port], domain: str) -> list[str]:
    """A named port whose own SRV name DNS cannot carry (a 63-character port name makes a
    64-octet label): its records at `_<port>._<protocol>` are left out."""
    lines = []
    for port in dict.fromkeys(p for p in ports if p.name):
        error = unencodable(f"_{port.name}._{port.protocol}.{domain}".lower())
        if error is not None:
            lines.append(
                f"left out: the SRV records of {_port_text(port)} at its own name, "
                f"which is {error}."
            )
    return lines


def ready_listings(service: Service, slices: list[EndpointSlice]) -> dict[str, list[Listing]]:
    """Every ready (or published) address, with each EndpointSlice that lists it, by name."""
    listed: dict[str, list[Listing]] = {}
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            for endpoint in group.endpoints:
                if endpoint.ready or service.publish_not_ready:
                    for address in endpoint.addresses:
                        listing = (endpoint, endpoint_slice, group.ports)
                        listed.setdefault(address, []).append(listing)
    return listed


def _traced_records(
    endpoints: list[NamedEndpoint], listed: dict[str, list[Listing]], domain: str, want: Want
) -> Records:
    """The SRV records `zonedata` makes for these endpoints' ports (the label and ports of an
    address decided once, across all slices), each traced to every slice giving that port."""
    records: Records = {}
    for named in endpoints:
        target = f"{named.label}.{domain}"
        for port in (p for p in named.ports if _wanted(p, want)):
            records.setdefault((port.port, target), []).extend(
                source(named.address, listing, None if want else port)
                for listing in listed.get(named.address, ())
                if port in listing[2]
            )
    return records


def srv_at_port(
    service: Service,
    slices: list[EndpointSlice],
    settings: ZoneSettings,
    *,
    want: tuple[str, str],
) -> list[str]:
    """`_<port>._<protocol>.<service>`: one line per SRV record, as the answer lists them."""
    port, protocol = want
    if service.kind is ServiceKind.EXTERNAL_NAME:
        return ["an ExternalName has only the CNAME at its own name: no SRV (spec 2.5)."]
    if service.kind is ServiceKind.HEADLESS:
        return _headless_srv(service, slices, settings, want=want)
    matching = [p for p in service.ports if _wanted(p, want)]
    if not matching:
        return [_no_such_port(service.ports, port, protocol, section="2.3.2")]
    domain = service_domain(service, settings.zone)
    ips = ", ".join(service.cluster_ips)
    return _record_lines(
        {
            (p.port, domain): [
                f"{_port_text(p)} of the Service; the target is the Service name, which "
                f"answers its ClusterIP(s) {ips} (spec 2.3.2)"
            ]
            for p in matching
        }
    )


def srv_at_service(
    service: Service, slices: list[EndpointSlice], settings: ZoneSettings
) -> list[str]:
    """SRV at the Service name: one per port, unnamed ones too (as CoreDNS)."""
    domain = service_domain(service, settings.zone)
    if service.kind is ServiceKind.HEADLESS:
        rule = "one SRV per port of each ready endpoint, unnamed ones too, to the endpoint's name"
        return [f"{rule} {AS_COREDNS}.", *_headless_srv(service, slices, settings, want=None)]
    if not service.ports:
        return ["the Service has no port, so no SRV."]
    records: Records = {}
    for port in service.ports:
        records.setdefault((port.port, domain), []).append(f"{_port_text(port)} of the Service")
    rule = "one SRV per port of the Service, unnamed ones too, to the Service name itself"
    return [
        f"{rule}, which answers its ClusterIP(s) {AS_COREDNS}.",
        *_record_lines(records),
        *_named_left_out(list(service.ports), domain),
    ]


def srv_at_endpoint(
    named: list[NamedEndpoint], listed: dict[str, list[Listing]], domain: str
) -> list[str]:
    """SRV at an endpoint name: one per port of the endpoint, unnamed ones too, its target
    the endpoint name itself (as CoreDNS); nothing when it has no port."""
    records = _traced_records(named, listed, domain, None)
    rule = "one SRV per port of the endpoint, unnamed ones too, to the endpoint name itself"
    return [f"{rule} {AS_COREDNS}.", *_record_lines(records)] if records else []


@dataclass(slots=True)
class _Traced:
    """What a headless Service's slices give one SRV owner, beside its records."""

    not_ready: list[str] = field(default_factory=list)
    ready_elsewhere: dict[str, str] = field(default_factory=dict)  # address -> text
    slice_ports: list[Port] = field(default_factory=list)


def _headless_srv(
    service: Service, slices: list[EndpointSlice], settings: ZoneSettings, *, want: Want
) -> list[str]:
    """One SRV per ready endpoint and per port its EndpointSlices give (spec 2.4.2); an
    address in several slices is one target with every slice's ports, each slice named."""
    if not slices:
        return ["no endpoint at all (no EndpointSlice selects a pod), so no SRV."]
    domain = service_domain(service, settings.zone)
    endpoints = ready_endpoints(service, slices, use_pod_name=settings.endpoint_pod_names)
    records = _traced_records(endpoints, ready_listings(service, slices), domain, want)
    traced = _trace_others(service, slices, want)
    lines = _record_lines(records)
    which = "a port" if want is None else f"port {want[0]}/{want[1].upper()}"
    if not lines and not traced.not_ready:
        if any(_wanted(p, want) for p in traced.slice_ports):
            return [f"no endpoint has {which}, so no SRV."]
        if want is None:
            return ["no EndpointSlice lists a port, so no SRV."]
        if any(_wanted(p, want) for p in service.ports):
            return [f"{which} is on the Service but in no EndpointSlice, so no SRV."]
        ports = [*service.ports, *traced.slice_ports]
        return [_no_such_port(ports, *want, section="2.4.2")]
    not_ready = ", ".join(traced.not_ready)
    if not lines:
        lines.append(f"no ready endpoint has {which}, so no SRV; not ready: {not_ready}.")
    elif not_ready:
        lines.append(f"not ready, left out: {not_ready}.")
    targeted = {e.address for e in endpoints if any(_wanted(p, want) for p in e.ports)}
    elsewhere = [t for a, t in traced.ready_elsewhere.items() if a not in targeted]
    if elsewhere:
        lines.append(
            f"ready, but their EndpointSlice has no {which.removeprefix('a ')}: "
            f"{', '.join(elsewhere)}."
        )
    if want is None:
        lines += _named_left_out([p for e in endpoints for p in e.ports], domain)
    return lines


def _trace_others(service: Service, slices: list[EndpointSlice], want: Want) -> _Traced:
    traced = _Traced()
    for endpoint_slice in sorted(slices, key=lambda s: s.name):
        for group in endpoint_slice.groups:
            traced.slice_ports += group.ports
            has = any(_wanted(p, want) for p in group.ports)
            for endpoint in group.endpoints:
                if not (endpoint.ready or service.publish_not_ready):
                    if has:
                        traced.not_ready.append(endpoint_text(endpoint, endpoint_slice))
                elif not has:
                    for address in endpoint.addresses:
                        text = f"{address}{pod(endpoint)} from {endpoint_slice.name}"
                        traced.ready_elsewhere.setdefault(address, text)
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
