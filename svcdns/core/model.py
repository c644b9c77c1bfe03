"""Slim, immutable views of the Kubernetes objects DNS needs, and nothing more.

Built only by `convert`; read by `state` and `zonedata`. Imports nothing but the stdlib.
"""

from __future__ import annotations

import enum
import ipaddress
import socket
import sys
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar


class ServiceKind(enum.Enum):
    CLUSTER_IP = "ClusterIP"  # also NodePort and LoadBalancer: all have a cluster IP
    HEADLESS = "Headless"
    EXTERNAL_NAME = "ExternalName"


@dataclass(frozen=True, slots=True)
class ObjectKey:
    """Identity of a namespaced object of one kind."""

    kind: str
    namespace: str
    name: str


# Unpickling (a loader process hands the slim objects over in batches, each batch with its
# own copy of every value): the values many objects repeat are shared again, the names by
# sys.intern, the ports through a bounded memo; and each object is made by its constructor,
# several times faster than the dataclass's field-by-field __setstate__.
_H = TypeVar("_H", bound=Hashable)
_SHARED: dict[Any, Any] = {}
MAX_SHARED = 4096  # distinct values kept; past it the memo starts afresh (only sharing is lost)


def shared(value: _H) -> _H:
    """One object for every equal value: the memo's, or this one, kept from now on."""
    found = _SHARED.get(value)
    if found is None:
        if len(_SHARED) >= MAX_SHARED:
            _SHARED.clear()
        found = _SHARED[value] = value
    return found


@dataclass(frozen=True, slots=True)
class Port:
    name: str  # "" for an unnamed port
    port: int
    protocol: str  # upper case, as Kubernetes spells it: TCP, UDP, SCTP

    def __reduce__(self) -> tuple[Callable[..., Port], tuple[str, int, str]]:
        return _port, (self.name, self.port, self.protocol)


def _port(name: str, number: int, protocol: str) -> Port:
    return shared(Port(name, number, protocol))


@dataclass(frozen=True, slots=True)
class Namespace:
    name: str


@dataclass(frozen=True, slots=True)
class Service:
    namespace: str
    name: str
    kind: ServiceKind
    cluster_ips: tuple[str, ...] = ()
    external_name: str = ""
    ports: tuple[Port, ...] = ()
    publish_not_ready: bool = False

    def __reduce__(self) -> tuple[Callable[..., Service], tuple[Any, ...]]:
        return _service, (
            self.namespace,
            self.name,
            self.kind,
            self.cluster_ips,
            self.external_name,
            self.ports,
            self.publish_not_ready,
        )


def _service(
    namespace: str,
    name: str,
    kind: ServiceKind,
    cluster_ips: tuple[str, ...],
    external_name: str,
    ports: tuple[Port, ...],
    publish_not_ready: bool,
) -> Service:
    # The namespace and name are the same string objects as its slices' (`_endpoint_slice`).
    namespace, name, ports = sys.intern(namespace), sys.intern(name), shared(ports)
    return Service(namespace, name, kind, cluster_ips, external_name, ports, publish_not_ready)


@dataclass(frozen=True, slots=True)
class Endpoint:
    addresses: tuple[str, ...]
    ready: bool
    hostname: str = ""
    pod_name: str = ""  # targetRef.name when targetRef.kind is Pod


# An endpoint as a recompute reads it: (addresses, ready, hostname, pod name), its fields.
Entry = tuple[tuple[str, ...], bool, str, str]


class EndpointGroup:
    """Endpoints that share one port list: an EndpointSlice, or one subset of an Endpoints.

    Immutable. The endpoints are kept packed in one bytes object (about 15 bytes an
    endpoint instead of about 250 as objects: a big cluster has 100,000 of them) and
    unpacked when their Service is recomputed. Addresses must be canonical (`convert`
    makes them so), so unpacking gives back the same text.
    """

    __slots__ = ("_packed", "ports")

    def __init__(self, endpoints: tuple[Endpoint, ...], ports: tuple[Port, ...]) -> None:
        entries = ((e.addresses, e.ready, e.hostname, e.pod_name) for e in endpoints)
        object.__setattr__(self, "_packed", _pack(entries))
        object.__setattr__(self, "ports", ports)

    @classmethod
    def from_entries(cls, entries: Iterable[Entry], ports: tuple[Port, ...]) -> EndpointGroup:
        """The group of these endpoints given as `entries` tuples (no object each)."""
        return _group_from_packed(_pack(entries), ports)

    _packed: bytes
    ports: tuple[Port, ...]

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(Endpoint(*entry) for entry in _unpack(self._packed))

    def entries(self) -> list[Entry]:
        """The endpoints as plain tuples, in order: what a recompute reads, without an
        object per endpoint (a big Service has thousands)."""
        return _unpack(self._packed)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("EndpointGroup is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, EndpointGroup):
            return NotImplemented
        return self._packed == other._packed and self.ports == other.ports

    def __hash__(self) -> int:
        return hash((self._packed, self.ports))

    def __repr__(self) -> str:
        return f"EndpointGroup(endpoints={self.endpoints!r}, ports={self.ports!r})"

    def __reduce__(self) -> tuple[Callable[..., EndpointGroup], tuple[bytes, tuple[Port, ...]]]:
        return _group_from_packed, (self._packed, self.ports)


def _group_from_packed(packed: bytes, ports: tuple[Port, ...]) -> EndpointGroup:
    """Unpickling: the packed form as it is (a loader process hands groups over)."""
    group = object.__new__(EndpointGroup)
    object.__setattr__(group, "_packed", packed)
    object.__setattr__(group, "ports", shared(ports))
    return group


def _text(value: bytes) -> bytes:
    return len(value).to_bytes(2, "big") + value


def _pack(entries: Iterable[Entry]) -> bytes:
    """Per endpoint: ready, address count, each address (length + packed), the hostname
    (2-byte length + UTF-8), and the pod name as the length of the prefix it shares with
    the previous endpoint's (one octet) and the rest (2-byte length + UTF-8): the pods of a
    slice are mostly one ReplicaSet's, named alike (`web-7d4b9c8f6-` and five letters)."""
    out = bytearray()
    previous = b""
    common = 0
    pton, ipv4, ipv6 = socket.inet_pton, socket.AF_INET, socket.AF_INET6
    for addresses, ready, hostname, pod_name in entries:
        out.append(int(ready))
        out += len(addresses).to_bytes(2, "big")
        for address in addresses:
            packed = pton(ipv6 if ":" in address else ipv4, address)
            out.append(len(packed))
            out += packed
        out += _text(hostname.encode("utf-8", "surrogatepass"))
        pod = pod_name.encode("utf-8", "surrogatepass")
        # Most often the prefix the previous two shared, and a letter or two more.
        limit = min(len(previous), len(pod), 255)
        if 0 < common <= limit and previous[:common] == pod[:common]:
            while common < limit and previous[common] == pod[common]:
                common += 1
        else:
            common = _common_prefix(previous, pod)
        out.append(common)
        out += _text(pod[common:])
        previous = pod
    return bytes(out)


def _common_prefix(first: bytes, second: bytes) -> int:
    """How many octets (at most 255, one octet's worth) both begin with alike."""
    low, high = 0, min(len(first), len(second), 255)
    while low < high:  # a binary search: slices compare in C
        middle = (low + high + 1) // 2
        if first[:middle] == second[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _unpack(packed: bytes) -> list[Entry]:
    entries: list[Entry] = []
    ntop, ipv4 = socket.inet_ntop, socket.AF_INET
    position, end = 0, len(packed)
    previous = b""  # the previous endpoint's pod name, which this one's may begin with
    while position < end:
        ready = packed[position] != 0
        count = packed[position + 1] << 8 | packed[position + 2]
        position += 3
        addresses = []
        for _ in range(count):
            size = packed[position]
            raw = packed[position + 1 : position + 1 + size]
            # inet_ntop's IPv4 text is ipaddress's; IPv6 goes through ipaddress to match it.
            addresses.append(ntop(ipv4, raw) if size == 4 else str(ipaddress.ip_address(raw)))
            position += 1 + size
        size = packed[position] << 8 | packed[position + 1]
        position += 2
        hostname = packed[position : position + size].decode("utf-8", "surrogatepass")
        position += size
        common = packed[position]
        size = packed[position + 1] << 8 | packed[position + 2]
        position += 3
        previous = previous[:common] + packed[position : position + size]
        position += size
        pod_name = previous.decode("utf-8", "surrogatepass")
        entries.append((tuple(addresses), ready, hostname, pod_name))
    return entries


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice, or a legacy Endpoints object (legacy=True), attached to one Service.

    With `cluster` set it is a multicluster slice (MCS API, KEP 1645): the endpoints one
    member cluster gives to the ServiceImport `service`, never to a Service of that name."""

    namespace: str
    name: str
    service: str
    groups: tuple[EndpointGroup, ...]
    legacy: bool = False
    cluster: str = ""  # the source cluster's id: "" for this cluster's own slices

    def __reduce__(self) -> tuple[Callable[..., EndpointSlice], tuple[Any, ...]]:
        return _endpoint_slice, (
            self.namespace,
            self.name,
            self.service,
            self.groups,
            self.legacy,
            self.cluster,
        )


def _endpoint_slice(
    namespace: str,
    name: str,
    service: str,
    groups: tuple[EndpointGroup, ...],
    legacy: bool,
    cluster: str = "",
) -> EndpointSlice:
    return EndpointSlice(
        sys.intern(namespace), name, sys.intern(service), groups, legacy, sys.intern(cluster)
    )


@dataclass(frozen=True, slots=True)
class ServiceImport:
    """A ServiceImport (MCS API, `multicluster.x-k8s.io/v1alpha1`): a Service exported by
    member clusters of the clusterset, named `<name>.<namespace>.svc.<clusterset zone>`.
    ClusterSetIP imports answer with `ips`; headless ones with their slices' endpoints."""

    namespace: str
    name: str
    headless: bool
    ips: tuple[str, ...] = ()  # the ClusterSetIP(s); none when headless
    ports: tuple[Port, ...] = ()


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    ips: tuple[str, ...]


KubeObject = Namespace | Service | EndpointSlice | Pod | ServiceImport


def key_of(obj: KubeObject) -> ObjectKey:
    if isinstance(obj, Namespace):
        return ObjectKey("Namespace", "", obj.name)
    if isinstance(obj, EndpointSlice):
        return ObjectKey("Endpoints" if obj.legacy else "EndpointSlice", obj.namespace, obj.name)
    return ObjectKey(type(obj).__name__, obj.namespace, obj.name)


@dataclass(frozen=True, slots=True)
class Upsert:
    obj: KubeObject


@dataclass(frozen=True, slots=True)
class Delete:
    key: ObjectKey


Event = Upsert | Delete


def diff(old: dict[ObjectKey, KubeObject], new: dict[ObjectKey, KubeObject]) -> list[Event]:
    """The events that turn `old` into `new`: upserts for new or changed objects, then deletes."""
    events: list[Event] = [Upsert(obj) for key, obj in new.items() if old.get(key) != obj]
    events += [Delete(key) for key in old if key not in new]
    return events
