"""A fake Kubernetes API server (kube-apiserver 1.32 over HTTP/1.1) for svcdns's tests.

Built from the recordings of a real kube-apiserver 1.32 described in `k8s-api/README.md`
(the numbers below are that README's facts). Only GET is served: tests change the cluster
with `apply()` / `delete()`, which bump one global resourceVersion (RV) shared by all kinds
and notify the open watches at once.

Reproduced:
- HTTP/1.1 with keep-alive; headers `Audit-Id`, `Cache-Control: no-cache, private`,
  `Content-Type: application/json` (watches too), `X-Kubernetes-Pf-*-Uid` (not on 401),
  `X-Content-Type-Options: nosniff` (403 and text/plain answers), `Date`, in the recorded
  order; `Content-Length` for a body of at most 2048 bytes, else one chunk of a chunked body
  (fact 2); no `Server` header.
- Compact JSON with Go's escaping of `<`, `>`, `&`, U+2028/9 and a final newline (3); list
  items without kind/apiVersion, watch objects with them (4); list metadata `resourceVersion`
  (+ `continue`, `remainingItemCount`, the latter only without selectors); items in storage
  key order (`namespace/name` bytewise, 7); continue tokens byte-identical to the real ones
  (base64url of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\\u0000"}`), pages of a consistent
  snapshot at the first page's RV (9); Exact lists of a past RV (8); after `compact()`, HTTP
  410 for an Exact list or a continue token from before it, the latter with a fresh token
  (rv -1) resuming at the current RV, as recorded.
- Status bodies shaped as recorded: 400 (label selector syntax, with the real parser's
  messages; unsupported field label), 401 (bad token), 403 (no token: system:anonymous),
  404 (object, namespace, unknown resource with `details: {}`, unknown group path as
  text/plain `404 page not found`), 410, 504 (RV too large).
- Watches (10-14): 200 with the headers flushed at once; one JSON event per line; a lone
  event is one chunk, events queued together are coalesced and re-cut at 2048 bytes like
  Go's bufio (so a chunk can end mid-line); from RV R every later change, then live ones;
  DELETED carries the last state with the deletion's RV; objects entering/leaving a
  selector come as ADDED/DELETED; `timeoutSeconds` ends the body with the 0-length chunk
  and the connection stays usable; an RV older than the last `compact()` gives HTTP 200
  with one ERROR event `too old resource version: R (C)` then the clean end (14); an RV
  newer than the current one gives the recorded ERROR 504 `Too large resource version`.
- Initial events (28, the etcd 3.5 behaviour of a real 1.32 cluster, not the etcd-3.4
  errors of fact 27): a watch with resourceVersion "" or "0", or with
  `sendInitialEvents=true`, starts with one ADDED per object (key order, each its own RV,
  each its own chunk); when `allowWatchBookmarks=true` too, a BOOKMARK with the
  `k8s.io/initial-events-end` and list-blueprint annotations and the snapshot RV follows.
- BOOKMARK objects are the recorded per-kind skeletons (13). They are sent only on
  `send_bookmarks()` (no timer), only to watches that asked, and only once the bookmark RV
  is newer than the watch's start RV (a watch from a fresh LIST RV on an idle cluster gets
  none, as recorded). The RV is the global one; set `bookmark_rv_per_kind = True` for the
  newest RV of the watched kind, what the recordings (etcd 3.4) show.
- Discovery `/api` (serverAddress rewritten to this server's address), `/api/v1`, `/apis`,
  `/apis/discovery.k8s.io/v1` are the recorded bodies; `/version` the recorded indented
  body without a final newline; `/healthz`, `/readyz`, `/livez` text/plain `ok`. `/version`
  and the health paths need no token (a wrong one still gets 401), as on a real cluster.

Beyond the interface svcdns's tests rely on: `resource_version` can be moved forward (never
back), `get()` returns a stored object, `delete()` raises KeyError for a missing object,
`clear_faults()` forgets pending fail_next() calls; `bookmark_rv_per_kind`,
`tls_available()`, use as a context manager. `requests` logs every request, rejected ones
included. `drop_watches()`, `go_down()` and `stop()` end
watches like a killed apiserver: the connection closes without the terminating chunk (the
Python client raises urllib3's ProtocolError "Response ended prematurely").

Not reproduced: writes through the API (POST/PUT/PATCH/DELETE get 405 MethodNotAllowed),
controllers (no EndpointSlice/Endpoints are derived from Services and Pods, deleting a
Namespace deletes nothing else, no defaulting: objects are stored as given plus name,
namespace, uid, resourceVersion and creationTimestamp), RBAC (every valid token may read
everything), the watch-cache window (only `compact()` expires RVs), the 3 s wait before a
"too large RV" error, periodic bookmarks, `resourceVersion=0` lists served from an older
cache, protobuf, gzip and HTTP/2.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import datetime
import email.utils
import http
import http.server
import ipaddress
import json
import pathlib
import random
import select
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["FakeApiServer", "tls_available"]

# Header values of the recordings' flow schema and priority level (any stable uid would do).
_PF_UIDS = ("1d64a169-5c4e-47e3-a6ab-a18f7eccc074", "c48eab8c-2e95-4624-a8be-0d6e07f2e94b")
_PF_UIDS_ANONYMOUS = (
    "47326251-62b5-47bc-9eb4-9e01eb8f21e1",
    "f111c205-c85f-4def-a8e5-2b2b966429e4",
)
# The user named in 403 messages of fail_next(..., 403); a missing token is system:anonymous.
FORBIDDEN_USER = "system:serviceaccount:kube-system:svcdns"
# Go net/http: a body written at once and no larger than this gets Content-Length; the
# buffer in front of the chunked writer of a watch has this size too (fact 2 and 10).
_BUFFER = 2048
_PUBLIC_PATHS = frozenset({"/version", "/healthz", "/readyz", "/livez"})
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})


# -- kinds ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    kind: str
    resource: str
    group: str
    version: str
    namespaced: bool
    field_labels: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """`services`, `endpointslices.discovery.k8s.io`: how messages name the resource."""
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def details(self, name: str | None = None) -> dict[str, Any]:
        details: dict[str, Any] = {} if name is None else {"name": name}
        if self.group:
            details["group"] = self.group
        details["kind"] = self.resource
        return details

    def key(self, namespace: str | None, name: str) -> str:
        """The storage key below the resource prefix: `namespace/name` or `name`."""
        return f"{namespace}/{name}" if self.namespaced else name


_OBJECT_META = frozenset({"metadata.name", "metadata.namespace"})
_KINDS = (
    _Kind("Namespace", "namespaces", "", "v1", False, frozenset({"metadata.name", "status.phase"})),
    _Kind("Service", "services", "", "v1", True, _OBJECT_META | {"spec.clusterIP"}),
    _Kind("Endpoints", "endpoints", "", "v1", True, _OBJECT_META),
    _Kind(
        "Pod",
        "pods",
        "",
        "v1",
        True,
        _OBJECT_META
        | {
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        },
    ),
    _Kind("EndpointSlice", "endpointslices", "discovery.k8s.io", "v1", True, _OBJECT_META),
)
_BY_KIND = {kind.kind: kind for kind in _KINDS}
_BY_RESOURCE = {(kind.group, kind.resource): kind for kind in _KINDS}

# What follows `metadata` in a BOOKMARK object: the zero values of each Go struct (fact 13).
_SKELETONS: dict[str, dict[str, Any]] = {
    "Namespace": {"spec": {}, "status": {}},
    "Service": {"spec": {}, "status": {"loadBalancer": {}}},
    "Endpoints": {},
    "Pod": {"spec": {"containers": None}, "status": {}},
    "EndpointSlice": {"addressType": "", "endpoints": None, "ports": None},
}

# Go's ObjectMeta field order; apply() puts known metadata keys in this order.
_META_ORDER = (
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
)


# -- JSON and Status bodies --------------------------------------------------------------

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _encode(obj: Any) -> bytes:
    """Compact JSON as Go's encoding/json writes it, with the final newline of Encoder.Encode."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).translate(_GO_ESCAPES)
    return text.encode("utf-8", "surrogatepass") + b"\n"


def _status(
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


def _unauthorized() -> dict[str, Any]:
    return _status(401, "Unauthorized", "Unauthorized")


def _list_expired() -> dict[str, Any]:
    return _status(410, "Expired", "The resourceVersion for the provided list is too old.")


def _too_old(requested: int, oldest: int) -> dict[str, Any]:
    return _status(410, "Expired", f"too old resource version: {requested} ({oldest})")


def _too_large(requested: int, current: int) -> dict[str, Any]:
    return _status(
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


def _bad_request(message: str) -> dict[str, Any]:
    return _status(400, "BadRequest", message)


_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. You can "
    "start a new list without the continue parameter, or use the continue token in this "
    "response to retrieve the remainder of the results. Continuing with the provided token "
    "results in an inconsistent list - objects that were created, modified, or deleted between "
    "the time the first chunk was returned and now may show up in the list."
)

# Status reason and message for fail_next() codes without a more specific shape.
_GENERIC_FAILURES: dict[int, tuple[str, str]] = {
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


def _continue_token(rv: int, start: str) -> str:
    raw = _encode({"v": "meta.k8s.io/v1", "rv": rv, "start": start})[:-1]
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _parse_continue(token: str) -> tuple[int, str]:
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


def _bookmark(kind: _Kind, rv: int, *, initial_events_end: bool = False) -> dict[str, Any]:
    metadata: dict[str, Any] = {"resourceVersion": str(rv), "creationTimestamp": None}
    if initial_events_end:
        blueprint: dict[str, Any] = {"kind": kind.list_kind, "apiVersion": kind.api_version}
        blueprint.update(metadata={}, items=None)
        metadata["annotations"] = {
            "k8s.io/initial-events-end": "true",
            "kubernetes.io/initial-events-list-blueprint": base64.b64encode(
                _encode(blueprint)
            ).decode("ascii"),
        }
    return {
        "kind": kind.kind,
        "apiVersion": kind.api_version,
        "metadata": metadata,
        **copy.deepcopy(_SKELETONS[kind.kind]),
    }


def _without_type(obj: dict[str, Any]) -> dict[str, Any]:
    """A list item: the object without kind and apiVersion (fact 4)."""
    return {key: value for key, value in obj.items() if key not in ("kind", "apiVersion")}


def _with_rv(obj: dict[str, Any], rv: int) -> dict[str, Any]:
    return {**obj, "metadata": {**obj["metadata"], "resourceVersion": str(rv)}}


def _order_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: metadata[key] for key in _META_ORDER if key in metadata}
    ordered.update((key, value) for key, value in metadata.items() if key not in ordered)
    return ordered


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _flag(value: str | None) -> bool:
    return value in _TRUE


# -- label selectors (k8s.io/apimachinery/pkg/labels, same grammar and error messages) ------

_SELECTOR_SPECIAL = "=!(),><"
_SELECTOR_SPACE = " \t\r\n"
_BINARY_OPERATORS = "in, notin, =, ==, !=, gt, lt"


class _SelectorError(ValueError):
    pass


@dataclass(frozen=True)
class _Requirement:
    key: str
    operator: str  # = == != in notin exists ! gt lt
    values: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.operator in ("=", "==", "in"):
            return present and value in self.values
        if self.operator in ("!=", "notin"):
            return not present or value not in self.values
        if self.operator == "exists":
            return present
        if self.operator == "!":
            return not present
        try:
            number = int(str(value))
        except ValueError:
            return False
        limit = int(self.values[0])
        return present and (number > limit if self.operator == "gt" else number < limit)


def _lex_selector(text: str) -> list[tuple[str, str]]:
    """Tokens as (type, literal); types: ID, in, notin, the symbols, and EOS."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while True:
        while i < len(text) and text[i] in _SELECTOR_SPACE:
            i += 1
        if i >= len(text):
            tokens.append(("EOS", ""))
            return tokens
        if text[i] in _SELECTOR_SPECIAL:
            symbol = text[i : i + 2] if text[i : i + 2] in ("!=", "==") else text[i]
            tokens.append((symbol, symbol))
            i += len(symbol)
            continue
        j = i
        while j < len(text) and text[j] not in _SELECTOR_SPACE + _SELECTOR_SPECIAL:
            j += 1
        word = text[i:j]
        tokens.append((word if word in ("in", "notin") else "ID", word))
        i = j


class _SelectorParser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex_selector(text)
        self.position = 0

    def lookahead(self, values: bool = True) -> tuple[str, str]:
        kind, literal = self.tokens[self.position]
        return ("ID" if values and kind in ("in", "notin") else kind), literal

    def consume(self, values: bool = True) -> tuple[str, str]:
        token = self.lookahead(values)
        self.position = min(self.position + 1, len(self.tokens) - 1)
        return token

    def parse(self) -> list[_Requirement]:
        requirements: list[_Requirement] = []
        while True:
            kind, literal = self.lookahead()
            if kind in ("ID", "!"):
                try:
                    requirements.append(self.requirement())
                except _SelectorError as error:
                    raise _SelectorError(f"unable to parse requirement: {error}") from None
                kind, literal = self.consume()
                if kind == "EOS":
                    return requirements
                if kind != ",":
                    raise _SelectorError(f"found '{literal}', expected: ',' or 'end of string'")
                kind, literal = self.lookahead()
                if kind not in ("ID", "!"):
                    raise _SelectorError(f"found '{literal}', expected: identifier after ','")
            elif kind == "EOS":
                return requirements
            else:
                raise _SelectorError(
                    f"found '{literal}', expected: !, identifier, or 'end of string'"
                )

    def requirement(self) -> _Requirement:
        operator = ""
        kind, literal = self.consume()
        if kind == "!":
            operator = "!"
            kind, literal = self.consume()
        if kind != "ID":
            raise _SelectorError(f"found '{literal}', expected: identifier")
        key = literal
        if operator == "!" or self.lookahead()[0] in ("EOS", ","):
            return _Requirement(key, operator or "exists", ())
        kind, literal = self.consume(values=False)
        operators = {"in": "in", "notin": "notin", "=": "=", "==": "==", "!=": "!="}
        operators |= {">": "gt", "<": "lt"}
        if kind not in operators:
            raise _SelectorError(f"found '{literal}', expected: {_BINARY_OPERATORS}")
        operator = operators[kind]
        values = self.value_set() if operator in ("in", "notin") else self.exact_value()
        if operator in ("gt", "lt"):
            try:
                int(values[0])
            except ValueError:
                raise _SelectorError(
                    f"values[0]: Invalid value: {values[0]!r}: for 'Gt', 'Lt' operators, "
                    "the value must be an integer"
                ) from None
        return _Requirement(key, operator, values)

    def exact_value(self) -> tuple[str, ...]:
        if self.lookahead()[0] in ("EOS", ","):
            return ("",)
        kind, literal = self.consume()
        if kind != "ID":
            raise _SelectorError(f"found '{literal}', expected: identifier")
        return (literal,)

    def value_set(self) -> tuple[str, ...]:
        kind, literal = self.consume()
        if kind != "(":
            raise _SelectorError(f"found '{literal}' expected: '('")
        kind, literal = self.lookahead()
        if kind == ")":
            self.consume()
            return ("",)
        if kind not in ("ID", ","):
            raise _SelectorError(f"found '{literal}', expected: ',', ')' or identifier")
        values: list[str] = []
        while True:
            kind, literal = self.consume()
            if kind == "ID":
                values.append(literal)
                following, following_literal = self.lookahead()
                if following == ")":
                    break
                if following != ",":
                    raise _SelectorError(f"found '{following_literal}', expected: ',' or ')'")
            elif kind == ",":
                if not values:
                    values.append("")
                following = self.lookahead()[0]
                if following == ")":
                    values.append("")
                    break
                if following == ",":
                    self.consume()
                    values.append("")
            else:
                raise _SelectorError(f"found '{literal}', expected: ',', or identifier")
        kind, literal = self.consume()
        if kind != ")":
            raise _SelectorError(f"found '{literal}', expected: ')'")
        return tuple(dict.fromkeys(values))


def _parse_label_selector(text: str) -> list[_Requirement]:
    return _SelectorParser(text).parse()


# -- field selectors (k8s.io/apimachinery/pkg/fields) -----------------------------------


@dataclass(frozen=True)
class _FieldTerm:
    field: str
    negated: bool
    value: str

    def matches(self, obj: dict[str, Any]) -> bool:
        return (_field_value(obj, self.field) == self.value) != self.negated


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape_field_value(value: str) -> str:
    out, escaped = [], False
    for char in value:
        if escaped:
            if char not in "\\,=":
                raise _SelectorError(f"invalid field selector: invalid escape sequence: \\{char}")
            out.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in ",=":
            raise _SelectorError(f"invalid field selector: unescaped {char!r} in value")
        else:
            out.append(char)
    if escaped:
        raise _SelectorError("invalid field selector: unterminated escape sequence")
    return "".join(out)


def _parse_field_selector(text: str, kind: _Kind) -> list[_FieldTerm]:
    terms: list[_FieldTerm] = []
    for part in sorted(_split_unescaped(text, ",")):
        if not part:
            continue
        for i in range(len(part)):
            operator = next((op for op in ("!=", "==", "=") if part.startswith(op, i)), None)
            if operator is not None:
                field_name, value = part[:i], part[i + len(operator) :]
                terms.append(_FieldTerm(field_name, operator == "!=", _unescape_field_value(value)))
                break
        else:
            raise _SelectorError(f"invalid selector: '{text}'; can't understand '{part}'")
    for term in terms:
        if term.field not in kind.field_labels:
            raise _SelectorError(f"field label not supported: {term.field}")
    return terms


def _field_value(obj: dict[str, Any], path: str) -> str:
    value: Any = obj
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- state changes and watches ------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    rv: int
    kind: str
    key: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]  # the new state; for DELETED the last state with the deletion's RV
    prev: dict[str, Any] | None


class _Dropped(Exception):
    """The watch connection is gone (drop_watches, go_down, stop, or the client left)."""


@dataclass(eq=False)
class _Watcher:
    kind: _Kind
    namespace: str | None
    labels: list[_Requirement]
    fields: list[_FieldTerm]
    bookmarks: bool
    connection: socket.socket
    start_rv: int = 0
    dropped: bool = False
    queue: deque[tuple[str, dict[str, Any], bool]] = field(default_factory=deque)
    cond: threading.Condition = field(default_factory=threading.Condition)

    def matches(self, obj: dict[str, Any]) -> bool:
        metadata = obj.get("metadata") or {}
        if self.namespace is not None and metadata.get("namespace") != self.namespace:
            return False
        labels = metadata.get("labels") or {}
        return all(r.matches(labels) for r in self.labels) and all(
            t.matches(obj) for t in self.fields
        )

    def translate(self, change: _Change) -> tuple[str, dict[str, Any]] | None:
        """The event this watch sees for a change, if any (objects enter and leave selectors)."""
        if change.kind != self.kind.kind:
            return None
        now = self.matches(change.obj)
        if change.type != "MODIFIED":
            return (change.type, change.obj) if now else None
        before = change.prev is not None and self.matches(change.prev)
        if now:
            return ("MODIFIED" if before else "ADDED", change.obj)
        if before and change.prev is not None:
            return ("DELETED", _with_rv(change.prev, change.rv))
        return None

    def push(self, event_type: str, obj: dict[str, Any], *, flush: bool = False) -> None:
        with self.cond:
            self.queue.append((event_type, obj, flush))
            self.cond.notify_all()

    def drop(self) -> None:
        with self.cond:
            if self.dropped:
                return
            self.dropped = True
            self.cond.notify_all()
        _hard_shutdown(self.connection)

    def sleep(self, seconds: float) -> None:
        with self.cond:
            if self.cond.wait_for(lambda: self.dropped, seconds):
                raise _Dropped

    def next_batch(self, deadline: float | None) -> list[tuple[str, dict[str, Any], bool]] | None:
        """Every queued event; None once `deadline` passes; _Dropped if the stream is gone."""
        with self.cond:
            while not self.queue and not self.dropped:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self.cond.wait(0.25 if remaining is None else min(0.25, remaining))
                if not self.queue and not self.dropped and _peer_left(self.connection):
                    self.dropped = True
            if self.dropped:
                raise _Dropped
            batch = list(self.queue)
            self.queue.clear()
            return batch


def _peer_left(connection: socket.socket) -> bool:
    """A client sends nothing on a watch connection: readable means it closed or reset it."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _hard_shutdown(connection: socket.socket) -> None:
    """Close the TCP connection at once (FIN, no TLS close_notify, no terminating chunk)."""
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(connection, socket.SHUT_RDWR)


class _ChunkWriter:
    """Chunked transfer encoding behind a 2048-byte buffer, as Go's bufio.Writer does it."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._buffer = bytearray()

    def _chunk(self, data: bytes) -> None:
        self._out.write(b"%x\r\n%b\r\n" % (len(data), data))

    def write(self, data: bytes) -> None:
        while len(data) > _BUFFER - len(self._buffer):
            if not self._buffer:
                self._chunk(data)  # a large write with an empty buffer goes out as one chunk
                return
            room = _BUFFER - len(self._buffer)
            self._buffer += data[:room]
            data = data[room:]
            self.flush()
        self._buffer += data

    def flush(self) -> None:
        if self._buffer:
            self._chunk(bytes(self._buffer))
            self._buffer.clear()

    def finish(self) -> None:
        self.flush()
        self._out.write(b"0\r\n\r\n")


# -- HTTP plumbing ------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    anonymous = False  # the current request has no Authorization header
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.settimeout(10)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            super().handle()
        except (OSError, ValueError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._serve(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._serve(self, "PUT")

    def do_PATCH(self) -> None:
        self.server.fake._serve(self, "PATCH")

    def do_DELETE(self) -> None:
        self.server.fake._serve(self, "DELETE")


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, fake: FakeApiServer, context: ssl.SSLContext | None) -> None:
        self.fake = fake
        self.context = context
        super().__init__(("127.0.0.1", port), _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would call getfqdn()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.context is not None:  # the handshake happens in the connection's thread
            connection = self.context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass(frozen=True)
class _Route:
    what: str  # health, version, discovery, text404, status404, collection, object
    kind: _Kind | None = None
    namespace: str | None = None
    name: str | None = None
    body: Callable[[], bytes] | None = None


# -- TLS ------------------------------------------------------------------------------------


def tls_available() -> bool:
    """Whether FakeApiServer(tls=True) can make its certificate (cryptography or openssl)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return shutil.which("openssl") is not None
    return True


def _make_certificate(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """A self-signed certificate for 127.0.0.1 that is its own CA: (cert.pem, key.pem)."""
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    except ImportError:
        openssl = shutil.which("openssl")
        if openssl is None:
            raise RuntimeError("TLS needs the cryptography package or the openssl CLI") from None
        subprocess.run(
            [
                openssl,
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=fakeapi",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,digitalSignature,keyCertSign",
                "-keyout",
                str(key_path),
                "-out",
                str(cert_path),
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fakeapi")])
    now = datetime.datetime.now(datetime.UTC)
    subject_key = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(subject_key, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(subject_key),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


# -- the server -------------------------------------------------------------------------------


class FakeApiServer:
    """A kube-apiserver 1.32 look-alike on 127.0.0.1 for Namespaces, Services, Endpoints, Pods
    and EndpointSlices; see the module docstring for what it reproduces."""

    def __init__(self, *, token: str = "test-token", tls: bool = False) -> None:
        self.token = token
        self.tls = tls
        self.url = ""
        self.watch_delay = 0.0
        self.bookmark_rv_per_kind = False
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.RLock()  # cluster state, watchers, faults, requests
        self._rv = 0
        self._compacted = 0
        self._objects: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in _BY_KIND}
        self._kind_rv: dict[str, int] = dict.fromkeys(_BY_KIND, 0)
        self._history: list[_Change] = []
        self._watchers: list[_Watcher] = []
        self._faults: list[list[Any]] = []
        self._endpoint_slices = True
        self._net_lock = threading.Lock()  # listening socket and connections
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port = 0
        self._directory: pathlib.Path | None = None
        self._context: ssl.SSLContext | None = None
        self._ca_pem = b""

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Listen on 127.0.0.1 (a free port) in a thread; `url` says where."""
        if self._server is not None:
            return
        if self.tls and self._context is None:
            self._directory = pathlib.Path(tempfile.mkdtemp(prefix="fakeapi-"))
            cert, key = _make_certificate(self._directory)
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(cert, key)
            self._context.set_alpn_protocols(["http/1.1"])
            self._ca_pem = cert.read_bytes()
        self._listen(0)
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self._port}"

    def stop(self) -> None:
        """Close the listening socket and every connection (open watches end abruptly)."""
        self.go_down()
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    def go_down(self) -> None:
        """Stop listening and drop every connection, like a crashed apiserver; state is kept."""
        with self._net_lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self.drop_watches()
        with self._net_lock:
            connections = list(self._connections)
        for connection in connections:
            _hard_shutdown(connection)

    def come_up(self) -> None:
        """Listen again on the same port, with the same state."""
        if self._server is not None:
            return
        deadline = time.monotonic() + 5
        while True:
            try:
                self._listen(self._port)
                return
            except OSError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def _listen(self, port: int) -> None:
        server = _Server(port, self, self._context)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.01},
            name=f"fakeapi-{server.server_address[1]}",
            daemon=True,
        )
        with self._net_lock:
            self._server, self._thread = server, thread
            self._port = server.server_address[1]
        thread.start()

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._net_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def __enter__(self) -> FakeApiServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def write_kubeconfig(self, path: pathlib.Path, *, context: str = "fake") -> pathlib.Path:
        """A kubeconfig with one cluster, user (bearer token) and context pointing at `url`."""
        if not self.url:
            raise RuntimeError("start() the server before writing a kubeconfig")
        cluster: dict[str, Any] = {"server": self.url}
        if self.tls:
            cluster["certificate-authority-data"] = base64.b64encode(self._ca_pem).decode()
        kubeconfig = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": context, "cluster": cluster}],
            "users": [{"name": context, "user": {"token": self.token}}],
            "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
            "current-context": context,
        }
        path = pathlib.Path(path)
        path.write_text(json.dumps(kubeconfig, indent=2) + "\n", encoding="utf-8")
        return path

    # -- cluster content --------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """The global RV: the last write's. It can be moved forward (as if other kinds, not
        served here, had changed), e.g. to reproduce a recording's list RV; never back."""
        with self._lock:
            return self._rv

    @resource_version.setter
    def resource_version(self, value: int) -> None:
        with self._lock:
            if value < self._rv:
                raise ValueError(f"resourceVersion only moves forward ({self._rv} > {value})")
            self._rv = value

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Create or replace an object (by kind, namespace, name); the stored object is returned.

        Sets metadata.namespace ("default" when missing, removed for Namespaces), a name from
        generateName, uid and creationTimestamp (kept from the given object, else from the
        replaced one, else new), and resourceVersion: the next global RV, or the given one if
        it is a number above the current RV (to load recorded objects with their RVs).
        """
        if not isinstance(obj, dict):
            raise TypeError(f"apply() takes a dict, not {type(obj).__name__}")
        kind = _BY_KIND.get(str(obj.get("kind")))
        if kind is None:
            raise ValueError(f"unsupported kind {obj.get('kind')!r}; one of {sorted(_BY_KIND)}")
        api_version = obj.get("apiVersion") or kind.api_version
        if api_version != kind.api_version:
            raise ValueError(f"{kind.kind} is served as {kind.api_version}, not {api_version}")
        body = copy.deepcopy(obj)
        metadata = dict(body.get("metadata") or {})
        namespace: str | None = None
        if kind.namespaced:
            namespace = metadata.get("namespace") or "default"
            metadata["namespace"] = namespace
        else:
            metadata.pop("namespace", None)
        with self._lock:
            objects = self._objects[kind.kind]
            if not metadata.get("name"):
                prefix = metadata.get("generateName")
                if not prefix:
                    raise ValueError("metadata.name or metadata.generateName is required")
                while True:
                    suffix = "".join(random.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
                    if kind.key(namespace, prefix + suffix) not in objects:
                        break
                metadata["name"] = prefix + suffix
            key = kind.key(namespace, str(metadata["name"]))
            prev = objects.get(key)
            old = prev["metadata"] if prev is not None else {}
            rv = self._bump(metadata.get("resourceVersion"))
            metadata["uid"] = metadata.get("uid") or old.get("uid") or str(uuid.uuid4())
            metadata["resourceVersion"] = str(rv)
            metadata["creationTimestamp"] = (
                metadata.get("creationTimestamp") or old.get("creationTimestamp") or _now()
            )
            stored: dict[str, Any] = {
                "kind": kind.kind,
                "apiVersion": kind.api_version,
                "metadata": _order_metadata(metadata),
            }
            stored.update(
                (k, v) for k, v in body.items() if k not in ("kind", "apiVersion", "metadata")
            )
            objects[key] = stored
            change_type = "ADDED" if prev is None else "MODIFIED"
            self._record(_Change(rv, kind.kind, key, change_type, stored, prev))
            return copy.deepcopy(stored)

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        """Delete an object (KeyError if absent): DELETED with its last state and a new RV."""
        info = _BY_KIND.get(kind)
        if info is None:
            raise ValueError(f"unsupported kind {kind!r}; one of {sorted(_BY_KIND)}")
        key = info.key(namespace or "default", name)
        with self._lock:
            prev = self._objects[kind].pop(key, None)
            if prev is None:
                raise KeyError(f"{kind} {key} not found")
            rv = self._bump(None)
            self._record(_Change(rv, kind, key, "DELETED", _with_rv(prev, rv), prev))

    def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None."""
        info = _BY_KIND[kind]
        with self._lock:
            found = self._objects[kind].get(info.key(namespace or "default", name))
            return copy.deepcopy(found)

    def _bump(self, requested: Any) -> int:
        try:
            wanted = int(requested)
        except (TypeError, ValueError):
            wanted = 0
        self._rv = wanted if wanted > self._rv else self._rv + 1
        return self._rv

    def _record(self, change: _Change) -> None:
        self._history.append(change)
        self._kind_rv[change.kind] = change.rv
        for watcher in self._watchers:
            event = watcher.translate(change)
            if event is not None:
                watcher.push(*event)

    def _state_at(self, kind: str, rv: int) -> dict[str, dict[str, Any]]:
        """The objects of a kind at a past RV (not older than the last compaction)."""
        state = dict(self._objects[kind])
        for change in reversed(self._history):
            if change.rv <= rv:
                break
            if change.kind != kind:
                continue
            if change.type == "ADDED":
                state.pop(change.key, None)
            elif change.prev is not None:
                state[change.key] = change.prev
        return state

    # -- fault injection --------------------------------------------------------------------

    def compact(self) -> None:
        """Forget the history up to now: older RVs get 410 (watch, Exact list, continue)."""
        with self._lock:
            self._compacted = self._rv
            self._history.clear()

    def drop_watches(self) -> None:
        """Close every open watch connection abruptly (no terminating chunk), like SIGKILL."""
        with self._lock:
            watchers = list(self._watchers)
        for watcher in watchers:
            watcher.drop()

    def send_bookmarks(self) -> None:
        """A BOOKMARK on every watch that asked for them, if newer than its start RV."""
        with self._lock:
            for watcher in self._watchers:
                if not watcher.bookmarks:
                    continue
                kind = watcher.kind
                rv = self._kind_rv[kind.kind] if self.bookmark_rv_per_kind else self._rv
                if rv > watcher.start_rv:
                    watcher.push("BOOKMARK", _bookmark(kind, rv))

    def fail_next(self, path_prefix: str, status: int, count: int = 1) -> None:
        """The next `count` requests whose path (with query) starts with `path_prefix` get
        an HTTP `status` with a Status body (watches too: before any event)."""
        with self._lock:
            self._faults.append([path_prefix, status, count])

    def clear_faults(self) -> None:
        """Forget every pending fail_next()."""
        with self._lock:
            self._faults.clear()

    def set_discovery_endpointslices(self, enabled: bool) -> None:
        """Serve discovery.k8s.io (in /apis and under /apis/discovery.k8s.io) or not."""
        with self._lock:
            self._endpoint_slices = enabled

    def _take_fault(self, target: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault[2] > 0 and target.startswith(fault[0]):
                    fault[2] -= 1
                    self._faults = [f for f in self._faults if f[2] > 0]
                    return int(fault[1])
        return None

    # -- responses ---------------------------------------------------------------------------

    def _send(
        self,
        handler: _Handler,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        stream: bool = False,
        extra: Iterable[str] = (),
    ) -> _ChunkWriter | None:
        """Write a response; for a stream (watch) only the headers, and return its writer."""
        lines = [
            f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
            f"Audit-Id: {uuid.uuid4()}",
            "Cache-Control: no-cache, private",
            f"Content-Type: {content_type}",
        ]
        if status == 403 or not content_type.startswith("application/json"):
            lines.append("X-Content-Type-Options: nosniff")
        if status != 401:  # authentication runs before priority and fairness
            flow_schema, priority_level = _PF_UIDS_ANONYMOUS if handler.anonymous else _PF_UIDS
            lines.append(f"X-Kubernetes-Pf-Flowschema-Uid: {flow_schema}")
            lines.append(f"X-Kubernetes-Pf-Prioritylevel-Uid: {priority_level}")
        lines.extend(extra)
        lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
        if stream or len(body) > _BUFFER:
            lines.append("Transfer-Encoding: chunked")
        else:
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if stream:
            handler.wfile.write(head)
            return _ChunkWriter(handler.wfile)
        if len(body) > _BUFFER:
            handler.wfile.write(head + b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body))
        else:
            handler.wfile.write(head + body)
        return None

    def _send_status(self, handler: _Handler, status: dict[str, Any]) -> None:
        code = int(status["code"])
        extra = ["Retry-After: 1"] if code == 429 else []
        self._send(handler, code, _encode(status), extra=extra)

    def _forbidden(self, route: _Route | None, verb: str, path: str, user: str) -> dict[str, Any]:
        if route is None or route.kind is None:
            message = f'forbidden: User "{user}" cannot {verb} path "{path}"'
            return _status(403, "Forbidden", message, details={})
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
        return _status(403, "Forbidden", message, details=kind.details(route.name))

    def _injected(self, code: int, route: _Route | None, verb: str, path: str) -> dict[str, Any]:
        if code == 401:
            return _unauthorized()
        if code == 403:
            return self._forbidden(route, verb, path, FORBIDDEN_USER)
        if code == 404:
            if route is not None and route.kind is not None and route.name is not None:
                return self._not_found(route.kind, route.name)
            return _status(
                404, "NotFound", "the server could not find the requested resource", details={}
            )
        if code == 410:
            return _list_expired()
        if code == 429:
            return _status(
                429,
                "TooManyRequests",
                "Too many requests, please try again later.",
                details={"retryAfterSeconds": 1},
            )
        default = (http.HTTPStatus(code).phrase.replace(" ", ""), f"injected failure {code}")
        reason, message = _GENERIC_FAILURES.get(code, default)
        return _status(code, reason, message)

    @staticmethod
    def _not_found(kind: _Kind, name: str) -> dict[str, Any]:
        return _status(
            404, "NotFound", f'{kind.qualified} "{name}" not found', details=kind.details(name)
        )

    # -- request handling ---------------------------------------------------------------------

    def _serve(self, handler: _Handler, method: str) -> None:
        target = handler.path
        with self._lock:
            self.requests.append((method, target))
        length = handler.headers.get("Content-Length")
        if length and length.isdigit():
            handler.rfile.read(int(length))
        split = urllib.parse.urlsplit(target)
        path = split.path.rstrip("/") or "/"  # the client asks for /version/, /api/, /apis/
        query: dict[str, str] = {}
        for name, value in urllib.parse.parse_qsl(split.query, keep_blank_values=True):
            query.setdefault(name, value)
        route = self._route(path)
        watch = _flag(query.get("watch"))
        verb = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
            method, "watch" if watch else "list" if route and route.what == "collection" else "get"
        )
        authorization = handler.headers.get("Authorization")
        handler.anonymous = authorization is None
        fault = self._take_fault(target)
        if fault is not None:
            self._send_status(handler, self._injected(fault, route, verb, path))
            return
        if authorization is None:
            if path not in _PUBLIC_PATHS:
                resource_route = route if route and route.kind else None
                forbidden = self._forbidden(resource_route, verb, path, "system:anonymous")
                self._send_status(handler, forbidden)
                return
        else:
            scheme, _, credentials = authorization.partition(" ")
            if scheme.lower() != "bearer" or credentials.strip() != self.token:
                self._send_status(handler, _unauthorized())
                return
        if route is None or route.what == "text404":
            self._send(
                handler, 404, b"404 page not found\n", content_type="text/plain; charset=utf-8"
            )
        elif method != "GET":
            reason, message = _GENERIC_FAILURES[405]
            self._send_status(handler, _status(405, reason, message))
        elif route.what == "health":
            self._send(handler, 200, b"ok", content_type="text/plain; charset=utf-8")
        elif route.what in ("version", "discovery"):
            assert route.body is not None
            self._send(handler, 200, route.body())
        elif route.what == "status404" or route.kind is None:
            self._send_status(
                handler,
                _status(
                    404, "NotFound", "the server could not find the requested resource", details={}
                ),
            )
        elif route.what == "object":
            assert route.name is not None
            self._get(handler, route.kind, route.namespace, route.name)
        elif watch:
            self._watch(handler, route.kind, route.namespace, query)
        else:
            self._list(handler, route.kind, route.namespace, query)

    def _route(self, path: str) -> _Route | None:
        if path in ("/healthz", "/readyz", "/livez"):
            return _Route("health")
        if path == "/version":
            return _Route("version", body=lambda: json.dumps(_VERSION_INFO, indent=2).encode())
        if path == "/api":
            return _Route("discovery", body=self._discovery_api)
        if path == "/api/v1":
            return _Route("discovery", body=lambda: _DISCOVERY_API_V1.encode() + b"\n")
        if path == "/apis":
            return _Route("discovery", body=self._discovery_apis)
        parts = path.strip("/").split("/")
        with self._lock:
            slices = self._endpoint_slices
        if parts[:2] == ["api", "v1"]:
            group, rest = "", parts[2:]
        elif parts[:2] == ["apis", "discovery.k8s.io"] and slices:
            if len(parts) == 2:
                return _Route("discovery", body=self._discovery_group)
            if parts[2] != "v1":
                return _Route("text404")
            if len(parts) == 3:
                return _Route("discovery", body=lambda: _DISCOVERY_DISCOVERY_V1.encode() + b"\n")
            group, rest = "discovery.k8s.io", parts[3:]
        else:
            return _Route("text404")
        if len(rest) in (3, 4) and rest[0] == "namespaces" and rest[1]:
            kind = _BY_RESOURCE.get((group, rest[2]))
            if kind is None or not kind.namespaced:
                return _Route("status404")
            if len(rest) == 3:
                return _Route("collection", kind, rest[1])
            return _Route("object", kind, rest[1], rest[3]) if rest[3] else _Route("status404")
        kind = _BY_RESOURCE.get((group, rest[0]))
        if kind is None:
            return _Route("status404")
        if len(rest) == 1:
            return _Route("collection", kind)
        if len(rest) == 2 and rest[1] and not kind.namespaced:
            return _Route("object", kind, None, rest[1])
        return _Route("status404", kind)

    def _discovery_api(self) -> bytes:
        address = f'"serverAddress":"127.0.0.1:{self._port}"'
        return _DISCOVERY_API.replace('"serverAddress":"127.0.0.1:6443"', address).encode() + b"\n"

    def _discovery_apis(self) -> bytes:
        document = json.loads(_DISCOVERY_APIS)
        if not self._endpoint_slices:
            document["groups"] = [g for g in document["groups"] if g["name"] != "discovery.k8s.io"]
        return _encode(document)

    def _discovery_group(self) -> bytes:
        group = next(
            g for g in json.loads(_DISCOVERY_APIS)["groups"] if g["name"] == "discovery.k8s.io"
        )
        return _encode({"kind": "APIGroup", "apiVersion": "v1", **group})

    def _get(self, handler: _Handler, kind: _Kind, namespace: str | None, name: str) -> None:
        with self._lock:
            obj = self._objects[kind.kind].get(kind.key(namespace, name))
        if obj is None:
            self._send_status(handler, self._not_found(kind, name))
        else:
            self._send(handler, 200, _encode(obj))

    def _selectors(
        self, kind: _Kind, query: dict[str, str]
    ) -> tuple[list[_Requirement], list[_FieldTerm]]:
        return (
            _parse_label_selector(query.get("labelSelector", "")),
            _parse_field_selector(query.get("fieldSelector", ""), kind),
        )

    def _list(
        self, handler: _Handler, kind: _Kind, namespace: str | None, query: dict[str, str]
    ) -> None:
        try:
            labels, fields = self._selectors(kind, query)
        except _SelectorError as error:
            self._send_status(handler, _bad_request(str(error)))
            return
        limit_text = query.get("limit", "")
        limit = int(limit_text) if limit_text.isdigit() else 0
        token = query.get("continue", "")
        rv_text = query.get("resourceVersion", "")
        exact = query.get("resourceVersionMatch") == "Exact"
        prefix = f"{namespace}/" if namespace is not None else ""
        start = ""
        failure: dict[str, Any] | None = None
        with self._lock:
            current = self._rv
            snapshot_rv, state = current, self._objects[kind.kind]
            if token:
                try:
                    token_rv, start = _parse_continue(token)
                except ValueError as error:
                    token_rv, failure = 0, _bad_request(str(error))
                if rv_text:
                    failure = _bad_request(
                        "specifying resource version is not allowed when using continue"
                    )
                elif failure is None and token_rv < 0:
                    snapshot_rv, state = current, self._objects[kind.kind]
                elif failure is None and token_rv < self._compacted:
                    fresh = {"continue": _continue_token(-1, start)}
                    failure = _status(410, "Expired", _CONTINUE_TOO_OLD, metadata=fresh)
                elif failure is None and token_rv > current:
                    failure = _too_large(token_rv, current)
                elif failure is None:
                    snapshot_rv, state = token_rv, self._state_at(kind.kind, token_rv)
            else:
                try:
                    requested = int(rv_text) if rv_text else 0
                except ValueError:
                    requested = -1
                if requested < 0:
                    failure = _bad_request(f"invalid resourceVersion: {rv_text!r}")
                elif requested > current:
                    failure = _too_large(requested, current)
                elif exact and requested and requested < self._compacted:
                    failure = _list_expired()
                elif exact and requested:
                    snapshot_rv, state = requested, self._state_at(kind.kind, requested)
                else:
                    snapshot_rv, state = current, self._objects[kind.kind]
            if failure is None:
                lower = prefix + start
                selected = [
                    (key, obj)
                    for key, obj in sorted(state.items())
                    if key.startswith(prefix)
                    and key >= lower
                    and all(r.matches(obj["metadata"].get("labels") or {}) for r in labels)
                    and all(t.matches(obj) for t in fields)
                ]
        if failure is not None:
            self._send_status(handler, failure)
            return
        page = selected[:limit] if limit > 0 else selected
        metadata: dict[str, Any] = {"resourceVersion": str(snapshot_rv)}
        if len(page) < len(selected):
            metadata["continue"] = _continue_token(snapshot_rv, page[-1][0][len(prefix) :] + "\0")
            if not labels and not fields:
                metadata["remainingItemCount"] = len(selected) - len(page)
        body = {
            "kind": kind.list_kind,
            "apiVersion": kind.api_version,
            "metadata": metadata,
            "items": [_without_type(obj) for _, obj in page],
        }
        self._send(handler, 200, _encode(body))

    def _watch(
        self, handler: _Handler, kind: _Kind, namespace: str | None, query: dict[str, str]
    ) -> None:
        try:
            labels, fields = self._selectors(kind, query)
        except _SelectorError as problem:
            self._send_status(handler, _bad_request(str(problem)))
            return
        rv_text = query.get("resourceVersion", "")
        if rv_text and not rv_text.isdigit():
            self._send_status(handler, _bad_request(f"invalid resourceVersion: {rv_text!r}"))
            return
        timeout_text = query.get("timeoutSeconds", "")
        timeout = int(timeout_text) if timeout_text.isdigit() else 0
        bookmarks = _flag(query.get("allowWatchBookmarks"))
        explicit = query.get("sendInitialEvents")
        initial = _flag(explicit) if explicit is not None else rv_text in ("", "0")
        watcher = _Watcher(kind, namespace, labels, fields, bookmarks, handler.connection)
        error: dict[str, Any] | None = None
        with self._lock:
            current = self._rv
            requested = int(rv_text) if rv_text else None
            if requested is not None and requested > current:
                error = _too_large(requested, current)
            elif initial:  # a real 1.32 cluster (etcd >= 3.5), fact 28
                for _, obj in sorted(self._objects[kind.kind].items()):
                    if watcher.matches(obj):
                        watcher.push("ADDED", obj, flush=True)
                if bookmarks:
                    watcher.push("BOOKMARK", _bookmark(kind, current, initial_events_end=True))
                watcher.start_rv = current
            elif requested is None or requested == 0:
                watcher.start_rv = current  # sendInitialEvents=false: from now on
            elif requested < self._compacted:
                error = _too_old(requested, self._compacted)
            else:
                for change in self._history:
                    if change.rv > requested:
                        event = watcher.translate(change)
                        if event is not None:
                            watcher.push(*event, flush=True)
                watcher.start_rv = requested
            if error is None:
                self._watchers.append(watcher)
        try:
            writer = self._send(handler, 200, b"", stream=True)
            assert writer is not None
            if error is not None:  # fact 14: an in-stream ERROR, then the clean end
                writer.write(_encode({"type": "ERROR", "object": error}))
                writer.finish()
                return
            self._stream(watcher, writer, timeout)
        except (_Dropped, OSError):
            handler.close_connection = True
            _hard_shutdown(handler.connection)
        finally:
            with self._lock:
                if watcher in self._watchers:
                    self._watchers.remove(watcher)

    def _stream(self, watcher: _Watcher, writer: _ChunkWriter, timeout: int) -> None:
        deadline = time.monotonic() + timeout if timeout > 0 else None
        while True:
            batch = watcher.next_batch(deadline)
            if batch is None:
                writer.finish()  # fact 12: the 0-length chunk; the connection stays open
                return
            for event_type, obj, flush in batch:
                if self.watch_delay > 0:
                    watcher.sleep(self.watch_delay)
                writer.write(_encode({"type": event_type, "object": obj}))
                if flush:
                    writer.flush()
            writer.flush()


# -- recorded documents -------------------------------------------------------------------
# The discovery bodies of discovery-api.http, discovery-api-v1.http, discovery-apis.http and
# discovery-apis-discovery.k8s.io-v1.http, byte for byte without their final newline.

_DISCOVERY_API = (
    '{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0'
    '.0.0/0","serverAddress":"127.0.0.1:6443"}]}'
)

_DISCOVERY_API_V1 = (
    '{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"bindings","singularN'
    'ame":"binding","namespaced":true,"kind":"Binding","verbs":["create"]},{"name":"component'
    'statuses","singularName":"componentstatus","namespaced":false,"kind":"ComponentStatus","'
    'verbs":["get","list"],"shortNames":["cs"]},{"name":"configmaps","singularName":"configma'
    'p","namespaced":true,"kind":"ConfigMap","verbs":["create","delete","deletecollection","g'
    'et","list","patch","update","watch"],"shortNames":["cm"],"storageVersionHash":"qFsyl6wFW'
    'jQ="},{"name":"endpoints","singularName":"endpoints","namespaced":true,"kind":"Endpoints'
    '","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"'
    'shortNames":["ep"],"storageVersionHash":"fWeeMqaN/OA="},{"name":"events","singularName":'
    '"event","namespaced":true,"kind":"Event","verbs":["create","delete","deletecollection","'
    'get","list","patch","update","watch"],"shortNames":["ev"],"storageVersionHash":"r2yiGXH7'
    'wu8="},{"name":"limitranges","singularName":"limitrange","namespaced":true,"kind":"Limit'
    'Range","verbs":["create","delete","deletecollection","get","list","patch","update","watc'
    'h"],"shortNames":["limits"],"storageVersionHash":"EBKMFVe6cwo="},{"name":"namespaces","s'
    'ingularName":"namespace","namespaced":false,"kind":"Namespace","verbs":["create","delete'
    '","get","list","patch","update","watch"],"shortNames":["ns"],"storageVersionHash":"Q3oi5'
    'N2YM8M="},{"name":"namespaces/finalize","singularName":"","namespaced":false,"kind":"Nam'
    'espace","verbs":["update"]},{"name":"namespaces/status","singularName":"","namespaced":f'
    'alse,"kind":"Namespace","verbs":["get","patch","update"]},{"name":"nodes","singularName"'
    ':"node","namespaced":false,"kind":"Node","verbs":["create","delete","deletecollection","'
    'get","list","patch","update","watch"],"shortNames":["no"],"storageVersionHash":"XwShjMxG'
    '9Fs="},{"name":"nodes/proxy","singularName":"","namespaced":false,"kind":"NodeProxyOptio'
    'ns","verbs":["create","delete","get","patch","update"]},{"name":"nodes/status","singular'
    'Name":"","namespaced":false,"kind":"Node","verbs":["get","patch","update"]},{"name":"per'
    'sistentvolumeclaims","singularName":"persistentvolumeclaim","namespaced":true,"kind":"Pe'
    'rsistentVolumeClaim","verbs":["create","delete","deletecollection","get","list","patch",'
    '"update","watch"],"shortNames":["pvc"],"storageVersionHash":"QWTyNDq0dC4="},{"name":"per'
    'sistentvolumeclaims/status","singularName":"","namespaced":true,"kind":"PersistentVolume'
    'Claim","verbs":["get","patch","update"]},{"name":"persistentvolumes","singularName":"per'
    'sistentvolume","namespaced":false,"kind":"PersistentVolume","verbs":["create","delete","'
    'deletecollection","get","list","patch","update","watch"],"shortNames":["pv"],"storageVer'
    'sionHash":"HN/zwEC+JgM="},{"name":"persistentvolumes/status","singularName":"","namespac'
    'ed":false,"kind":"PersistentVolume","verbs":["get","patch","update"]},{"name":"pods","si'
    'ngularName":"pod","namespaced":true,"kind":"Pod","verbs":["create","delete","deletecolle'
    'ction","get","list","patch","update","watch"],"shortNames":["po"],"categories":["all"],"'
    'storageVersionHash":"xPOwRZ+Yhw8="},{"name":"pods/attach","singularName":"","namespaced"'
    ':true,"kind":"PodAttachOptions","verbs":["create","get"]},{"name":"pods/binding","singul'
    'arName":"","namespaced":true,"kind":"Binding","verbs":["create"]},{"name":"pods/ephemera'
    'lcontainers","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","up'
    'date"]},{"name":"pods/eviction","singularName":"","namespaced":true,"group":"policy","ve'
    'rsion":"v1","kind":"Eviction","verbs":["create"]},{"name":"pods/exec","singularName":"",'
    '"namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]},{"name":"pods/log","'
    'singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},{"name":"pods/portforwa'
    'rd","singularName":"","namespaced":true,"kind":"PodPortForwardOptions","verbs":["create"'
    ',"get"]},{"name":"pods/proxy","singularName":"","namespaced":true,"kind":"PodProxyOption'
    's","verbs":["create","delete","get","patch","update"]},{"name":"pods/resize","singularNa'
    'me":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]},{"name":"pods/st'
    'atus","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]}'
    ',{"name":"podtemplates","singularName":"podtemplate","namespaced":true,"kind":"PodTempla'
    'te","verbs":["create","delete","deletecollection","get","list","patch","update","watch"]'
    ',"storageVersionHash":"LIXB2x4IFpk="},{"name":"replicationcontrollers","singularName":"r'
    'eplicationcontroller","namespaced":true,"kind":"ReplicationController","verbs":["create"'
    ',"delete","deletecollection","get","list","patch","update","watch"],"shortNames":["rc"],'
    '"categories":["all"],"storageVersionHash":"Jond2If31h0="},{"name":"replicationcontroller'
    's/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind"'
    ':"Scale","verbs":["get","patch","update"]},{"name":"replicationcontrollers/status","sing'
    'ularName":"","namespaced":true,"kind":"ReplicationController","verbs":["get","patch","up'
    'date"]},{"name":"resourcequotas","singularName":"resourcequota","namespaced":true,"kind"'
    ':"ResourceQuota","verbs":["create","delete","deletecollection","get","list","patch","upd'
    'ate","watch"],"shortNames":["quota"],"storageVersionHash":"8uhSgffRX6w="},{"name":"resou'
    'rcequotas/status","singularName":"","namespaced":true,"kind":"ResourceQuota","verbs":["g'
    'et","patch","update"]},{"name":"secrets","singularName":"secret","namespaced":true,"kind'
    '":"Secret","verbs":["create","delete","deletecollection","get","list","patch","update","'
    'watch"],"storageVersionHash":"S6u1pOWzb84="},{"name":"serviceaccounts","singularName":"s'
    'erviceaccount","namespaced":true,"kind":"ServiceAccount","verbs":["create","delete","del'
    'etecollection","get","list","patch","update","watch"],"shortNames":["sa"],"storageVersio'
    'nHash":"pbx9ZvyFpBE="},{"name":"serviceaccounts/token","singularName":"","namespaced":tr'
    'ue,"group":"authentication.k8s.io","version":"v1","kind":"TokenRequest","verbs":["create'
    '"]},{"name":"services","singularName":"service","namespaced":true,"kind":"Service","verb'
    's":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNa'
    'mes":["svc"],"categories":["all"],"storageVersionHash":"0/CO1lhkEBI="},{"name":"services'
    '/proxy","singularName":"","namespaced":true,"kind":"ServiceProxyOptions","verbs":["creat'
    'e","delete","get","patch","update"]},{"name":"services/status","singularName":"","namesp'
    'aced":true,"kind":"Service","verbs":["get","patch","update"]}]}'
)

_DISCOVERY_APIS = (
    '{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apiregistration.k8s.io","ver'
    'sions":[{"groupVersion":"apiregistration.k8s.io/v1","version":"v1"}],"preferredVersion":'
    '{"groupVersion":"apiregistration.k8s.io/v1","version":"v1"}},{"name":"apps","versions":['
    '{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1",'
    '"version":"v1"}},{"name":"events.k8s.io","versions":[{"groupVersion":"events.k8s.io/v1",'
    '"version":"v1"}],"preferredVersion":{"groupVersion":"events.k8s.io/v1","version":"v1"}},'
    '{"name":"authentication.k8s.io","versions":[{"groupVersion":"authentication.k8s.io/v1","'
    'version":"v1"}],"preferredVersion":{"groupVersion":"authentication.k8s.io/v1","version":'
    '"v1"}},{"name":"authorization.k8s.io","versions":[{"groupVersion":"authorization.k8s.io/'
    'v1","version":"v1"}],"preferredVersion":{"groupVersion":"authorization.k8s.io/v1","versi'
    'on":"v1"}},{"name":"autoscaling","versions":[{"groupVersion":"autoscaling/v2","version":'
    '"v2"},{"groupVersion":"autoscaling/v1","version":"v1"}],"preferredVersion":{"groupVersio'
    'n":"autoscaling/v2","version":"v2"}},{"name":"batch","versions":[{"groupVersion":"batch/'
    'v1","version":"v1"}],"preferredVersion":{"groupVersion":"batch/v1","version":"v1"}},{"na'
    'me":"certificates.k8s.io","versions":[{"groupVersion":"certificates.k8s.io/v1","version"'
    ':"v1"}],"preferredVersion":{"groupVersion":"certificates.k8s.io/v1","version":"v1"}},{"n'
    'ame":"networking.k8s.io","versions":[{"groupVersion":"networking.k8s.io/v1","version":"v'
    '1"}],"preferredVersion":{"groupVersion":"networking.k8s.io/v1","version":"v1"}},{"name":'
    '"policy","versions":[{"groupVersion":"policy/v1","version":"v1"}],"preferredVersion":{"g'
    'roupVersion":"policy/v1","version":"v1"}},{"name":"rbac.authorization.k8s.io","versions"'
    ':[{"groupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}],"preferredVersion":{"g'
    'roupVersion":"rbac.authorization.k8s.io/v1","version":"v1"}},{"name":"storage.k8s.io","v'
    'ersions":[{"groupVersion":"storage.k8s.io/v1","version":"v1"}],"preferredVersion":{"grou'
    'pVersion":"storage.k8s.io/v1","version":"v1"}},{"name":"admissionregistration.k8s.io","v'
    'ersions":[{"groupVersion":"admissionregistration.k8s.io/v1","version":"v1"}],"preferredV'
    'ersion":{"groupVersion":"admissionregistration.k8s.io/v1","version":"v1"}},{"name":"apie'
    'xtensions.k8s.io","versions":[{"groupVersion":"apiextensions.k8s.io/v1","version":"v1"}]'
    ',"preferredVersion":{"groupVersion":"apiextensions.k8s.io/v1","version":"v1"}},{"name":"'
    'scheduling.k8s.io","versions":[{"groupVersion":"scheduling.k8s.io/v1","version":"v1"}],"'
    'preferredVersion":{"groupVersion":"scheduling.k8s.io/v1","version":"v1"}},{"name":"coord'
    'ination.k8s.io","versions":[{"groupVersion":"coordination.k8s.io/v1","version":"v1"}],"p'
    'referredVersion":{"groupVersion":"coordination.k8s.io/v1","version":"v1"}},{"name":"node'
    '.k8s.io","versions":[{"groupVersion":"node.k8s.io/v1","version":"v1"}],"preferredVersion'
    '":{"groupVersion":"node.k8s.io/v1","version":"v1"}},{"name":"discovery.k8s.io","versions'
    '":[{"groupVersion":"discovery.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVers'
    'ion":"discovery.k8s.io/v1","version":"v1"}},{"name":"flowcontrol.apiserver.k8s.io","vers'
    'ions":[{"groupVersion":"flowcontrol.apiserver.k8s.io/v1","version":"v1"}],"preferredVers'
    'ion":{"groupVersion":"flowcontrol.apiserver.k8s.io/v1","version":"v1"}}]}'
)

_DISCOVERY_DISCOVERY_V1 = (
    '{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"discovery.k8s.io/v1","resour'
    'ces":[{"name":"endpointslices","singularName":"endpointslice","namespaced":true,"kind":"'
    'EndpointSlice","verbs":["create","delete","deletecollection","get","list","patch","updat'
    'e","watch"],"storageVersionHash":"qgS0xkrxYAI="}]}'
)

# GET /version (version.http): served indented, without a final newline (fact 3).
_VERSION_INFO = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-beta.0+ste.cd13ec4ae44e",
    "gitCommit": "cd13ec4ae44e35ce12aefbb05627be4474ff2b1f",
    "gitTreeState": "clean",
    "buildDate": "2026-11-25T14:11:26Z",
    "goVersion": "go1.27.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}
