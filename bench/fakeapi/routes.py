"""What a request names: its path parsed into a Route (health, version, discovery, a kind's
collection or one object, or a 404 of either shape), the recorded discovery documents, and
the Status of a refused request (403, or a fault injected by fail_next) for that route.

Imports `kinds`, `bodies` and `recorded`.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .bodies import (
    GENERIC_FAILURES,
    encode,
    list_expired,
    not_found,
    resource_not_found,
    status_body,
    unauthorized,
)
from .kinds import BY_RESOURCE, MCS_GROUP, Kind
from .recorded import (
    DISCOVERY_API,
    DISCOVERY_API_V1,
    DISCOVERY_APIS,
    DISCOVERY_DISCOVERY_V1,
    VERSION_INFO,
)

# The user named in 403 messages of fail_next(..., 403); a missing token is system:anonymous.
FORBIDDEN_USER = "system:serviceaccount:kube-system:svcdns"
PUBLIC_PATHS = frozenset({"/version", "/healthz", "/readyz", "/livez"})
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


def flag(value: str | None) -> bool:
    """A boolean query parameter as Go's strconv.ParseBool reads it."""
    return value in _TRUE


@dataclass(frozen=True)
class Route:
    what: str  # health, version, discovery, text404, status404, collection, object
    kind: Kind | None = None
    namespace: str | None = None
    name: str | None = None
    body: Callable[[], bytes] | None = None


def route(path: str, *, port: int, slices: bool, imports: bool = False) -> Route:
    """`imports`: the MCS API's CRD is installed, so its group is served; without it the
    group's paths are an unknown group's (a text/plain 404, as recorded)."""
    if path in ("/healthz", "/readyz", "/livez"):
        return Route("health")
    if path == "/version":
        return Route("version", body=lambda: json.dumps(VERSION_INFO, indent=2).encode())
    if path == "/api":
        return Route("discovery", body=lambda: _discovery_api(port))
    if path == "/api/v1":
        return Route("discovery", body=lambda: DISCOVERY_API_V1.encode() + b"\n")
    if path == "/apis":
        return Route("discovery", body=lambda: _discovery_apis(slices, imports))
    parts = path.strip("/").split("/")
    if parts[:2] == ["api", "v1"]:
        group, rest = "", parts[2:]
    elif parts[:2] == ["apis", "discovery.k8s.io"] and slices:
        if len(parts) == 2:
            return Route("discovery", body=_discovery_group)
        if parts[2] != "v1":
            return Route("text404")
        if len(parts) == 3:
            return Route("discovery", body=lambda: DISCOVERY_DISCOVERY_V1.encode() + b"\n")
        group, rest = "discovery.k8s.io", parts[3:]
    elif parts[:2] == ["apis", MCS_GROUP] and imports:
        if len(parts) == 2:
            return Route("discovery", body=lambda: encode(_MCS_GROUP))
        if parts[2] != "v1alpha1":
            return Route("text404")
        if len(parts) == 3:
            return Route("discovery", body=lambda: encode(_MCS_RESOURCES))
        group, rest = MCS_GROUP, parts[3:]
    else:
        return Route("text404")
    if len(rest) in (3, 4) and rest[0] == "namespaces" and rest[1]:
        kind = BY_RESOURCE.get((group, rest[2]))
        if kind is None or not kind.namespaced:
            return Route("status404")
        if len(rest) == 3:
            return Route("collection", kind, rest[1])
        return Route("object", kind, rest[1], rest[3]) if rest[3] else Route("status404")
    kind = BY_RESOURCE.get((group, rest[0]))
    if kind is None:
        return Route("status404")
    if len(rest) == 1:
        return Route("collection", kind)
    if len(rest) == 2 and rest[1] and not kind.namespaced:
        return Route("object", kind, None, rest[1])
    return Route("status404", kind)


def _discovery_api(port: int) -> bytes:
    address = f'"serverAddress":"127.0.0.1:{port}"'
    return DISCOVERY_API.replace('"serverAddress":"127.0.0.1:6443"', address).encode() + b"\n"


def _discovery_apis(slices: bool, imports: bool) -> bytes:
    document = json.loads(DISCOVERY_APIS)
    if not slices:
        document["groups"] = [g for g in document["groups"] if g["name"] != "discovery.k8s.io"]
    if imports:
        document["groups"].append({k: v for k, v in _MCS_GROUP.items() if k not in _TYPE})
    return encode(document)


# The MCS API CRD's discovery documents, as kube-apiserver serves a CRD group (not recorded:
# shaped as the recorded discovery.k8s.io ones).
_TYPE = ("kind", "apiVersion")
_MCS_VERSION = {"groupVersion": f"{MCS_GROUP}/v1alpha1", "version": "v1alpha1"}
_MCS_GROUP: dict[str, Any] = {
    "kind": "APIGroup",
    "apiVersion": "v1",
    "name": MCS_GROUP,
    "versions": [_MCS_VERSION],
    "preferredVersion": _MCS_VERSION,
}
_MCS_RESOURCES: dict[str, Any] = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": f"{MCS_GROUP}/v1alpha1",
    "resources": [
        {
            "name": "serviceimports",
            "singularName": "serviceimport",
            "namespaced": True,
            "kind": "ServiceImport",
            "verbs": [
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "create",
                "update",
                "watch",
            ],
            "shortNames": ["svcim"],
            "storageVersionHash": "",
        }
    ],
}


def _discovery_group() -> bytes:
    group = next(g for g in json.loads(DISCOVERY_APIS)["groups"] if g["name"] == "discovery.k8s.io")
    return encode({"kind": "APIGroup", "apiVersion": "v1", **group})


def forbidden(route: Route | None, verb: str, path: str, user: str) -> dict[str, Any]:
    if route is None or route.kind is None:
        message = f'forbidden: User "{user}" cannot {verb} path "{path}"'
        return status_body(403, "Forbidden", message, details={})
    kind = route.kind
    subject = kind.qualified if route.name is None else f'{kind.qualified} "{route.name}"'
    namespace = route.namespace if kind.namespaced else route.name
    scope = (
        f'in the namespace "{namespace}"'
        if namespace is not None and (kind.namespaced or route.name is not None)
        else "at the cluster scope"
    )
    message = (
        f'{subject} is forbidden: User "{user}" cannot {verb} resource "{kind.resource}" '
        f'in API group "{kind.group}" {scope}'
    )
    return status_body(403, "Forbidden", message, details=kind.details(route.name))


def injected(code: int, route: Route | None, verb: str, path: str) -> dict[str, Any]:
    if code == 401:
        return unauthorized()
    if code == 403:
        return forbidden(route, verb, path, FORBIDDEN_USER)
    if code == 404:
        if route is not None and route.kind is not None and route.name is not None:
            return not_found(route.kind, route.name)
        return resource_not_found()
    if code == 410:
        return list_expired()
    if code == 429:
        return status_body(
            429,
            "TooManyRequests",
            "Too many requests, please try again later.",
            details={"retryAfterSeconds": 1},
        )
    default = (http.HTTPStatus(code).phrase.replace(" ", ""), f"injected failure {code}")
    reason, message = GENERIC_FAILURES.get(code, default)
    return status_body(code, reason, message)
