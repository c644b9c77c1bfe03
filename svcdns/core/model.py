"""Slim, immutable views of the Kubernetes objects DNS needs, and nothing more.

Built only by `convert`; read by `state` and `zonedata`. Imports nothing but the stdlib.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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


@dataclass(frozen=True, slots=True)
class Port:
    name: str  # "" for an unnamed port
    port: int
    protocol: str  # upper case, as Kubernetes spells it: TCP, UDP, SCTP


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


@dataclass(frozen=True, slots=True)
class Endpoint:
    addresses: tuple[str, ...]
    ready: bool
    hostname: str = ""
    pod_name: str = ""  # targetRef.name when targetRef.kind is Pod


@dataclass(frozen=True, slots=True)
class EndpointGroup:
    """Endpoints that share one port list: an EndpointSlice, or one subset of an Endpoints."""

    endpoints: tuple[Endpoint, ...]
    ports: tuple[Port, ...]


@dataclass(frozen=True, slots=True)
class EndpointSlice:
    """An EndpointSlice, or a legacy Endpoints object (legacy=True), attached to one Service."""

    namespace: str
    name: str
    service: str
    groups: tuple[EndpointGroup, ...]
    legacy: bool = False


@dataclass(frozen=True, slots=True)
class Pod:
    namespace: str
    name: str
    ips: tuple[str, ...]


KubeObject = Namespace | Service | EndpointSlice | Pod


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
