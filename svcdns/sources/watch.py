"""The list/watch loop of one resource, independent of any HTTP client.

Each loop keeps its own resourceVersion (the client's `Watch` retries a 410 only once):

- outer (`run`): retry forever, with capped exponential backoff and jitter;
- middle (`_list_and_watch`): a paginated LIST, published as a replacement of what this
  loop knew (objects deleted while disconnected disappear), then watches from its RV;
  returns to relist on 410 Gone (HTTP or an in-stream ERROR event);
- inner (`_watch_once`): one watch request with bookmarks and a server-side timeout; the
  read timeout drops a stream that stays silent longer than that.

It talks to the API through `Api` (get_json, stream); `kube.RawApi` is the real one.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import urllib3

from svcdns.core.convert import ConversionError, describe, from_dict, object_key
from svcdns.core.model import Delete, Event, KubeObject, ObjectKey, Upsert, key_of

log = logging.getLogger("svcdns.kube")

EventSink = Callable[[list[Event]], None]
Page = tuple[list[KubeObject], str]  # a list page's objects, and the list's resourceVersion
PAGE_SIZE = 500
FINISHED_PODS = "status.phase!=Succeeded,status.phase!=Failed"
MIN_QUIET_WATCH = 1.0  # seconds: a watch that ends sooner with no event backs off
MCS_API = "/apis/multicluster.x-k8s.io/v1alpha1"  # the ServiceImport CRD's group/version


class Api(Protocol):
    def get_json(self, path: str, query: dict[str, Any], *, read_timeout: float = ...) -> Any: ...

    def stream(
        self, path: str, query: dict[str, Any], *, read_timeout: float
    ) -> Iterator[bytes]: ...


class ApiError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"HTTP {status}: {reason}")
        self.status = status


class Gone(Exception):
    """410: the resourceVersion is too old; only a new LIST helps."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One list/watch target: a kind at a path, with its selectors; `namespace` when scoped."""

    kind: str
    path: str
    label_selector: str = ""
    field_selector: str = ""
    namespace: str = ""

    @property
    def name(self) -> str:
        plural = self.path.rsplit("/", 1)[-1]
        return f"{plural}@{self.namespace}" if self.namespace else plural


def resources(
    *,
    endpoint_slices: bool,
    namespaces: frozenset[str] | None,
    labels: str,
    pods: bool,
    service_imports: bool = False,
) -> list[Resource]:
    """What to watch. Namespaces always (NXDOMAIN vs NODATA); Pods only for `--pods verified`;
    ServiceImports only with `--multicluster` and their CRD installed (`service_imports`).
    Multicluster EndpointSlices come with the others (`convert` tells them apart).

    With `namespaces`, everything is watched per namespace, the Namespace objects too (by
    name, so other namespaces never reach us; listing them still takes cluster-wide RBAC).
    """
    core, discovery = "/api/v1", "/apis/discovery.k8s.io/v1"
    wanted = [("Service", core, "services", labels, "")]
    if endpoint_slices:
        wanted.append(("EndpointSlice", discovery, "endpointslices", labels, ""))
    else:
        wanted.append(("Endpoints", core, "endpoints", labels, ""))
    if pods:
        wanted.append(("Pod", core, "pods", "", FINISHED_PODS))
    if service_imports:  # --labels selects Services and their slices, not imports
        wanted.append(("ServiceImport", MCS_API, "serviceimports", "", ""))
    if namespaces is None:
        found = [Resource("Namespace", f"{core}/namespaces")]
        return found + [
            Resource(kind, f"{group}/{plural}", label_selector, field_selector)
            for kind, group, plural, label_selector, field_selector in wanted
        ]
    found = []
    for namespace in sorted(namespaces):
        found.append(
            Resource("Namespace", f"{core}/namespaces", "", f"metadata.name={namespace}", namespace)
        )
        found += [
            Resource(
                kind,
                f"{group}/namespaces/{namespace}/{plural}",
                label_selector,
                field_selector,
                namespace,
            )
            for kind, group, plural, label_selector, field_selector in wanted
        ]
    return found


class Backoff:
    """Capped exponential backoff with equal jitter: half the delay fixed, half random."""

    def __init__(self, first: float = 0.2, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self._delay = first

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self.cap, self._delay * 2)
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self._delay = self.first


class ResourceWatch:
    """The list/watch loop of one Resource, run in a thread of its own."""

    def __init__(
        self,
        api: Api,
        resource: Resource,
        sink: EventSink,
        *,
        on_listed: Callable[[Resource], None],
        stop: threading.Event,
        watch_timeout: int = 300,
        backoff: Backoff | None = None,
        preloaded: Iterable[Page] | None = None,
    ) -> None:
        self.api = api
        self.preloaded = preloaded  # the first list's pages, when a loader made it
        self.resource = resource
        self.sink = sink
        self.on_listed = on_listed
        self.stop = stop
        self.watch_timeout = watch_timeout
        self.backoff = backoff or Backoff()
        self.known: dict[ObjectKey, KubeObject] = {}
        self.resource_version = ""
        self.relists = 0  # full LISTs done (the first included)
        self.restarts = 0  # watch requests started again after a failure or a 410

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._list_and_watch()
            except Exception as error:  # any failure: the last known records keep serving
                delay = self.backoff.next()
                log.warning(
                    "%s: %s; retrying in %.1f s", self.resource.name, describe_error(error), delay
                )
                self.stop.wait(delay)

    def _list_and_watch(self) -> None:
        self._list()
        while not self.stop.is_set():
            try:
                self._watch_once()
            except Gone:
                self.restarts += 1
                log.info(
                    "%s: resourceVersion %s expired; relisting",
                    self.resource.name,
                    self.resource_version,
                )
                return
            except (ApiError, urllib3.exceptions.HTTPError, OSError, ValueError) as error:
                # Resume from the last resourceVersion seen: no relist for a dropped stream.
                self.restarts += 1
                delay = self.backoff.next()
                log.warning(
                    "%s: watch failed: %s; resuming from %s in %.1f s",
                    self.resource.name,
                    describe_error(error),
                    self.resource_version,
                    delay,
                )
                self.stop.wait(delay)

    def _list(self) -> None:
        """Each page feeds the state as it comes; what the list no longer holds is deleted
        at the end. An object equal to the one known is not replaced, so a relist never
        holds two copies of the cluster. The first list may come from the start-up loader
        (`preloaded`); a failed one, and every later list, is made here."""
        seen: set[ObjectKey] = set()
        preloaded, self.preloaded = self.preloaded, None
        listed_version = ""
        for objects, version in preloaded or list_pages(self.api, self.resource):
            listed_version = version
            events: list[Event] = []
            for obj in objects:
                key = key_of(obj)
                seen.add(key)
                if self.known.get(key) != obj:
                    self.known[key] = obj
                    events.append(Upsert(obj))
            if events:
                self.sink(events)
        self.resource_version = listed_version
        gone = [key for key in self.known if key not in seen]
        for key in gone:
            del self.known[key]
        self.relists += 1
        if gone:
            self.sink([Delete(key) for key in gone])
        self.on_listed(self.resource)
        self.backoff.reset()

    def _watch_once(self) -> None:
        timeout = self.watch_timeout
        started, events = time.monotonic(), 0
        lines = self.api.stream(
            self.resource.path,
            {
                "watch": "true",
                "resourceVersion": self.resource_version,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": timeout,
                "labelSelector": self.resource.label_selector,
                "fieldSelector": self.resource.field_selector,
            },
            read_timeout=timeout + 30,
        )
        for line in lines:
            events += 1
            self._handle(line)
            self.backoff.reset()
            if self.stop.is_set():
                return
        if events == 0 and time.monotonic() - started < MIN_QUIET_WATCH:
            # Ended at once with nothing: something in between is cutting streams. Do not
            # hammer the API server with watch requests.
            self.stop.wait(self.backoff.next())

    def _handle(self, line: bytes) -> None:
        event = json.loads(line)
        if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
            log.warning(
                "%s: ignoring a watch line that is not an event: %.200r", self.resource.name, line
            )
            return
        kind, raw = event.get("type"), event["object"]
        if kind == "ERROR":
            code = raw.get("code")
            if code == 410:
                raise Gone(str(raw.get("message", "")))
            raise ApiError(code if isinstance(code, int) else 0, str(raw.get("message", "")))
        metadata = raw.get("metadata")
        version = metadata.get("resourceVersion") if isinstance(metadata, dict) else None
        if kind in ("ADDED", "MODIFIED"):
            obj = convert(raw, self.resource.kind)
            if obj is not None:
                self.known[key_of(obj)] = obj
                self.sink([Upsert(obj)])
            else:
                # What a relist would no longer hold must not stay in DNS either.
                self._forget(raw)
        elif kind == "DELETED":
            self._forget(raw)
        if version:  # every event, bookmarks included, moves the resume point
            self.resource_version = str(version)

    def _forget(self, raw: dict[str, Any]) -> None:
        try:
            key = object_key(raw, self.resource.kind)
        except ConversionError:
            return
        if self.known.pop(key, None) is not None:
            self.sink([Delete(key)])


def list_pages(api: Api, resource: Resource) -> Iterator[Page]:
    """A paginated LIST, page by page: the objects that convert, and the list's
    resourceVersion (every page carries the snapshot's)."""
    token = ""
    while True:
        page = api.get_json(
            resource.path,
            {
                "limit": PAGE_SIZE,
                "continue": token,
                "labelSelector": resource.label_selector,
                "fieldSelector": resource.field_selector,
            },
        )
        objects = [obj for item in page.get("items") or () if (obj := convert(item, resource.kind))]
        metadata = page.get("metadata") or {}
        yield objects, str(metadata.get("resourceVersion", ""))
        token = metadata.get("continue") or ""
        if not token:
            return


def convert(raw: dict[str, Any], kind: str) -> KubeObject | None:
    """The slim object, or None with one line saying why it is skipped."""
    try:
        return from_dict(raw, kind)
    except ConversionError as error:
        log.warning("%s skipped: %s", describe({**raw, "kind": kind}), error)
        return None


def describe_error(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
