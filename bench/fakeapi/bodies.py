"""Response bodies as kube-apiserver writes them: Go's compact JSON, Status objects, continue
tokens, BOOKMARK objects, list items.

Pure functions of their arguments (no server state); imports only `kinds`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from .kinds import SKELETONS, Kind

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def encode(obj: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it, with the final newline of Encoder.Encode."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)
    return text.encode("utf-8", "surrogatepass") + b"\n"


def status_body(
    code: int,
    reason: str,
    message: str,
    *,
    details: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": metadata or {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        body["details"] = details
    body["code"] = code
    return body


def unauthorized() -> dict[str, Any]:
    return status_body(401, "Unauthorized", "Unauthorized")


def list_expired() -> dict[str, Any]:
    return status_body(410, "Expired", "The resourceVersion for the provided list is too old.")


def too_old(requested: int, oldest: int) -> dict[str, Any]:
    return status_body(410, "Expired", f"too old resource version: {requested} ({oldest})")


def too_large(requested: int, current: int) -> dict[str, Any]:
    return status_body(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {requested}, current: {current}",
        details={
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def bad_request(message: str) -> dict[str, Any]:
    return status_body(400, "BadRequest", message)


def resource_not_found() -> dict[str, Any]:
    """404 for a path that names no resource (or an object path of a cluster-scoped kind)."""
    return status_body(
        404, "NotFound", "the server could not find the requested resource", details={}
    )


def not_found(kind: Kind, name: str) -> dict[str, Any]:
    return status_body(
        404, "NotFound", f'{kind.qualified} "{name}" not found', details=kind.details(name)
    )


CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)

# Status reason and message for fail_next() codes without a more specific shape.
GENERIC_FAILURES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: ("TooManyRequests", "Too many requests, please try again later."),
    500: ("InternalError", "Internal error occurred: injected by FakeApiServer.fail_next"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, "
        "but may still be processing the request",
    ),
}


def continue_token(rv: int, start: str) -> str:
    raw = encode({"v": "meta.k8s.io/v1", "rv": rv, "start": start})[:-1]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def parse_continue(token: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise ValueError(f"invalid continue token: {error}") from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise ValueError("invalid continue token: unsupported continue version")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or not isinstance(start, str):
        raise ValueError("invalid continue token: malformed")
    return rv, start


def bookmark(kind: Kind, rv: int, *, initial_events_end: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_events_end:
        blueprint: dict[str, Any] = {"kind": kind.list_kind, "apiVersion": kind.api_version}
        blueprint.update(metadata={}, items=None)
        metadata["annotations"] = {
            "k8s.io/initial-events-end": "true",
            "kubernetes.io/initial-events-list-blueprint": base64.b64encode(
                encode(blueprint)
            ).decode("ascii"),
        }
    return {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": metadata,
        **copy.deepcopy(SKELETONS[kind.kind]),
    }


def without_type(obj: dict[str, Any]) -> dict[str, Any]:
    """A list item: the object without kind and apiVersion (fact 4)."""
    return {key: value for key, value in obj.items() if key not in ("kind", "apiVersion")}


def with_rv(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}
