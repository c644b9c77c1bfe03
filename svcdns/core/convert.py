"""The only module that knows Kubernetes field names: API dicts -> slim `model` objects.

Every API rule DNS depends on (headless, ready, hostname, address family) is decided here,
once. Raises `ConversionError` for an object missing a field DNS needs, so the caller can
skip it with one warning. Imports only the stdlib and `model`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
from collections.abc import Callable, Mapping
from typing import Any

from svcdns.core.model import (
    Endpoint,
    EndpointGroup,
    EndpointSlice,
    Entry,
    KubeObject,
    Namespace,
    ObjectKey,
    Pod,
    Port,
    Service,
    ServiceImport,
    ServiceKind,
    shared,
)

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
# A multicluster EndpointSlice (MCS API, KEP 1645) names its ServiceImport and the member
# cluster its endpoints live in with these, and carries no SERVICE_NAME_LABEL of a local
# Service: read by them, it never joins a Service of the same name (CoreDNS alike).
MCS_SERVICE_NAME_LABEL = "multicluster.kubernetes.io/service-name"
MCS_SOURCE_CLUSTER_LABEL = "multicluster.kubernetes.io/source-cluster"
KINDS = ("Namespace", "Service", "EndpointSlice", "Endpoints", "Pod", "ServiceImport")
# The one group/version each kind is read at: what the API source asks the server for. A
# kind of the same name elsewhere is another object: Knative's `serving.knative.dev/v1`
# Service (which `kubectl get all` prints) read as a core Service shares the core one's
# key, so it could replace it (a warning at best); a `discovery.k8s.io/v1beta1`
# EndpointSlice has other fields.
API_VERSIONS = {
    "Namespace": "v1",
    "Service": "v1",
    "Endpoints": "v1",
    "Pod": "v1",
    "EndpointSlice": "discovery.k8s.io/v1",
    # The version CoreDNS's `multicluster` option and the MCS API's CRD serve.
    "ServiceImport": "multicluster.x-k8s.io/v1alpha1",
}


class ConversionError(ValueError):
    """An object DNS cannot use; the message says which field is wrong."""


def from_dict(
    raw: Mapping[str, Any], kind: str | None = None, api_version: str = ""
) -> KubeObject | None:
    """Convert one API object; None for kinds DNS does not use, and for a kind DNS uses
    given at another group/version (`API_VERSIONS`), silently: not ours, not an error.

    `api_version` is the enclosing typed list's (an `EndpointSliceList`), for items that
    carry none of their own."""
    found = raw.get("kind", "")
    kind = kind or (found if isinstance(found, str) else "")
    converter = _CONVERTERS.get(kind)
    if converter is None or not _read_at(raw.get("apiVersion") or api_version, kind):
        return None
    if not isinstance(raw.get("metadata"), Mapping):
        raise ConversionError(f"{kind} without metadata")
    try:
        return converter(raw)
    except ConversionError:
        raise
    except (AttributeError, TypeError, KeyError, ValueError) as error:
        # A field of the wrong shape (a list where an object belongs, say): skip the object.
        text = " ".join(str(error).split())[:QUOTE_LIMIT]
        raise ConversionError(f"malformed: {type(error).__name__}: {text}") from None


def _read_at(api_version: Any, kind: str) -> bool:
    # No apiVersion at all counts as the expected one: items of an API list carry none (the
    # request path fixes it), and hand-written manifests and the tests' objects omit it.
    return not api_version or api_version == API_VERSIONS[kind]


QUOTE_LIMIT = 100  # characters of a field's value quoted in a message


def quoted(value: Any) -> str:
    """A field's value for a message, never longer than about QUOTE_LIMIT characters, and
    never rendered whole (a YAML alias bomb renders to gigabytes)."""
    if isinstance(value, str):
        if len(value) <= QUOTE_LIMIT:
            return repr(value)
        return f"{value[:QUOTE_LIMIT]!r}... ({len(value)} characters)"
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)[:QUOTE_LIMIT]
    if isinstance(value, Mapping | list | tuple):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


def _text(value: Any, field: str, default: str = "") -> str:
    """A string field (absent: `default`); anything else skips the object, unrendered."""
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise ConversionError(f"{field} is {quoted(value)}, not a string")
    return value


def object_key(raw: Mapping[str, Any], kind: str) -> ObjectKey:
    """The identity of a raw object (a watch DELETED event needs no more than this)."""
    if not isinstance(raw.get("metadata"), Mapping):
        raise ConversionError(f"{kind} without metadata")
    return ObjectKey(kind, "" if kind == "Namespace" else _namespace(raw), _name(raw))


def describe(raw: Mapping[str, Any]) -> str:
    """`Kind ns/name` of a raw object, for log lines."""
    meta = raw.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    parts = (meta.get("namespace"), meta.get("name"))
    where = "/".join(p[:QUOTE_LIMIT] if isinstance(p, str) else quoted(p) for p in parts if p)
    kind = raw.get("kind", "?")
    return f"{kind[:QUOTE_LIMIT] if isinstance(kind, str) else quoted(kind)} {where or '?'}"


def _name(raw: Mapping[str, Any]) -> str:
    name = raw["metadata"].get("name")
    if not isinstance(name, str) or not name:
        raise ConversionError("metadata.name missing")
    return name


def _namespace(raw: Mapping[str, Any]) -> str:
    # kubectl always prints it; a hand-written manifest without one means "default".
    namespace = raw["metadata"].get("namespace") or "default"
    return sys.intern(_text(namespace, "metadata.namespace"))  # shared by its objects


def _ip(value: Any, field: str) -> str:
    try:
        if not isinstance(value, str) or "%" in value:  # no integers, no IPv6 zone ids
            raise ValueError(value)
        if "." in value and ":" not in value:
            # The common case, ten times faster than ipaddress: an IPv4 address already in
            # its canonical form is kept as it is (inet_pton is a pure conversion, no I/O).
            with contextlib.suppress(OSError):
                if (
                    socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, value))
                    == value
                ):
                    return value
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConversionError(f"{field} {quoted(value)} is not an IP address") from None


def _external_name(value: Any) -> str:
    """A DNS name a CNAME can hold (RFC 1035 limits), or an IP (which gets no record)."""
    if not isinstance(value, str):
        raise ConversionError(f"spec.externalName is {quoted(value)}, not a name")
    name = value.rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or not all(0 < len(label) <= 63 and label.isascii() for label in labels):
        raise ConversionError(f"spec.externalName {quoted(value)} is not a DNS name")
    if any(char.isspace() or char in '\\"();@$' for char in name):
        raise ConversionError(f"spec.externalName {quoted(value)} is not a DNS name")
    return name


def _ports(raw_ports: Any, field: str) -> tuple[Port, ...]:
    ports = []
    for raw in raw_ports or ():
        number = raw.get("port")
        if number is None:
            continue  # an EndpointSlice port without a number means "all ports": no SRV
        if not isinstance(number, int) or isinstance(number, bool) or not 0 < number < 65536:
            raise ConversionError(f"{field}.port {quoted(number)} is not a port number")
        protocol = sys.intern(_text(raw.get("protocol"), f"{field}.protocol", "TCP").upper())
        name = sys.intern(_text(raw.get("name"), f"{field}.name"))  # names repeat
        ports.append(shared(Port(name=name, port=number, protocol=protocol)))
    return shared(tuple(ports))  # a few port lists serve every object


def service(raw: Mapping[str, Any]) -> Service:
    spec = raw.get("spec") or {}
    namespace, name = _namespace(raw), sys.intern(_name(raw))  # shared with its slices
    ports = _ports(spec.get("ports"), "spec.ports")
    if spec.get("type") == "ExternalName":
        external = spec.get("externalName")
        if not external:
            raise ConversionError("spec.externalName missing")
        return Service(
            namespace, name, ServiceKind.EXTERNAL_NAME, external_name=_external_name(external)
        )
    cluster_ip = spec.get("clusterIP")
    cluster_ips = spec.get("clusterIPs") or ([cluster_ip] if cluster_ip else [])
    if not cluster_ips:
        raise ConversionError("spec.clusterIP missing")
    publish = bool(spec.get("publishNotReadyAddresses"))
    if cluster_ips[0] == "None":
        return Service(
            namespace, name, ServiceKind.HEADLESS, ports=ports, publish_not_ready=publish
        )
    ips = tuple(_ip(ip, "spec.clusterIPs") for ip in cluster_ips)
    return Service(
        namespace,
        name,
        ServiceKind.CLUSTER_IP,
        cluster_ips=ips,
        ports=ports,
        publish_not_ready=publish,
    )


def _pod_name(target_ref: Any) -> str:
    if isinstance(target_ref, Mapping) and target_ref.get("kind") == "Pod":
        return _text(target_ref.get("name"), "targetRef.name")
    return ""


def endpoint_slice(raw: Mapping[str, Any]) -> EndpointSlice:
    name, namespace = _name(raw), _namespace(raw)
    labels = raw["metadata"].get("labels") or {}
    label, cluster = SERVICE_NAME_LABEL, ""
    if labels.get(MCS_SERVICE_NAME_LABEL):
        label = MCS_SERVICE_NAME_LABEL
        # Without its cluster an endpoint has no name (`<hostname>.<clusterid>.<svc>...`).
        cluster = _text(labels.get(MCS_SOURCE_CLUSTER_LABEL), f"label {MCS_SOURCE_CLUSTER_LABEL}")
        if not cluster:
            raise ConversionError(f"label {MCS_SOURCE_CLUSTER_LABEL} missing")
        if not _is_label(cluster):
            raise ConversionError(
                f"label {MCS_SOURCE_CLUSTER_LABEL} {quoted(cluster)} is not a DNS label"
            )
    service_name = labels.get(label)
    if not service_name:
        raise ConversionError(f"label {SERVICE_NAME_LABEL} missing")
    address_type = raw.get("addressType")
    if address_type not in ("IPv4", "IPv6", "FQDN"):
        raise ConversionError(f"addressType {quoted(address_type)} unknown")
    endpoints: list[Entry] = []  # as tuples: a big slice has a thousand
    if address_type != "FQDN":  # FQDN slices are deprecated and not used by DNS
        for item in raw.get("endpoints") or ():
            addresses = item.get("addresses")
            if not addresses:
                raise ConversionError("endpoints[].addresses missing")
            conditions = item.get("conditions") or {}
            endpoints.append(
                (
                    tuple([_ip(a, "endpoints[].addresses") for a in addresses]),
                    # Absent ready means unknown; the API says to treat it as ready.
                    conditions.get("ready") is not False,
                    _text(item.get("hostname"), "endpoints[].hostname"),
                    _pod_name(item.get("targetRef")),
                )
            )
    group = EndpointGroup.from_entries(endpoints, _ports(raw.get("ports"), "ports"))
    # The same string object as its Service's name.
    service = sys.intern(_text(service_name, f"label {label}"))
    return EndpointSlice(
        namespace=namespace, name=name, service=service, groups=(group,), cluster=cluster
    )


def _is_label(text: str) -> bool:
    """A DNS label (RFC 1035 letters, digits, hyphens; at most 63): what a name can hold."""
    return 0 < len(text) <= 63 and text.isascii() and text.replace("-", "").isalnum()


def service_import(raw: Mapping[str, Any]) -> ServiceImport:
    """spec.type ClusterSetIP (ips: the ClusterSetIP(s)) or Headless (MCS API v1alpha1)."""
    spec = raw.get("spec") or {}
    namespace, name = _namespace(raw), sys.intern(_name(raw))
    ports = _ports(spec.get("ports"), "spec.ports")
    kind = spec.get("type")
    if kind == "Headless":
        return ServiceImport(namespace, name, headless=True, ports=ports)
    if kind != "ClusterSetIP":
        raise ConversionError(f"spec.type {quoted(kind)} is neither ClusterSetIP nor Headless")
    # No ips yet (the MCS controller has not given one): kept, with no address to answer.
    ips = tuple(_ip(ip, "spec.ips") for ip in spec.get("ips") or ())
    return ServiceImport(namespace, name, headless=False, ips=ips, ports=ports)


def _legacy_addresses(raw_addresses: Any, *, ready: bool) -> list[Endpoint]:
    return [
        Endpoint(
            addresses=(_ip(item.get("ip"), "subsets[].addresses[].ip"),),
            ready=ready,
            hostname=_text(item.get("hostname"), "subsets[].addresses[].hostname"),
            pod_name=_pod_name(item.get("targetRef")),
        )
        for item in raw_addresses or ()
    ]


def endpoints(raw: Mapping[str, Any]) -> EndpointSlice:
    name = _name(raw)
    groups = []
    for subset in raw.get("subsets") or ():
        members = _legacy_addresses(subset.get("addresses"), ready=True)
        members += _legacy_addresses(subset.get("notReadyAddresses"), ready=False)
        groups.append(
            EndpointGroup(endpoints=tuple(members), ports=_ports(subset.get("ports"), "ports"))
        )
    return EndpointSlice(
        namespace=_namespace(raw), name=name, service=name, groups=tuple(groups), legacy=True
    )


def pod(raw: Mapping[str, Any]) -> Pod:
    status = raw.get("status") or {}
    # A pod that has finished no longer holds its IP; it may already belong to another pod.
    if status.get("phase") in ("Succeeded", "Failed"):
        ips: tuple[str, ...] = ()
    else:
        listed = [item.get("ip") for item in status.get("podIPs") or ()]
        if not listed and status.get("podIP"):
            listed = [status["podIP"]]
        ips = tuple(_ip(ip, "status.podIPs") for ip in listed if ip)
    return Pod(namespace=_namespace(raw), name=_name(raw), ips=ips)


def namespace(raw: Mapping[str, Any]) -> Namespace:
    return Namespace(name=_name(raw))


_CONVERTERS: dict[str, Callable[[Mapping[str, Any]], KubeObject]] = {
    "Namespace": namespace,
    "Service": service,
    "EndpointSlice": endpoint_slice,
    "Endpoints": endpoints,
    "Pod": pod,
    "ServiceImport": service_import,
}
