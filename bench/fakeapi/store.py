"""The cluster as the fake holds it: objects by kind and storage key, one global
resourceVersion (RV) shared by all kinds, the history of changes since the last compact(),
and the open watches, told of every change at once.

Every method takes `lock`; the history lets a list be served at a past RV and a watch
start from one. Imports `kinds`, `bodies`, `selectors` and `watch`; nothing of HTTP.
"""

from __future__ import annotations

import copy
import random
import threading
import time
import uuid
from typing import Any

from .bodies import (
    CONTINUE_TOO_OLD,
    bad_request,
    bookmark,
    continue_token,
    encode,
    list_expired,
    parse_continue,
    status_body,
    too_large,
    too_old,
    with_rv,
    without_type,
)
from .kinds import BY_KIND, META_ORDER, Kind
from .selectors import FieldTerm, Requirement
from .watch import Change, Watcher

Objects = dict[str, dict[str, Any]]  # storage key -> object


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()  # and the server's faults and request log
        self.rv = 0
        self.compacted = 0
        self.objects: dict[str, Objects] = {kind: {} for kind in BY_KIND}
        self.kind_rv: dict[str, int] = dict.fromkeys(BY_KIND, 0)
        self.history: list[Change] = []
        self.watchers: list[Watcher] = []
        # (kind, key) -> (RV, the current object as a list item, encoded): a list page is
        # these bytes joined, not a fresh json.dumps of every item (which took most of this
        # process's CPU serving the large cluster; kube-apiserver encodes in Go).
        self._items: dict[tuple[str, str], tuple[str, bytes]] = {}

    # -- writes -------------------------------------------------------------------------------

    def move_rv(self, value: int) -> None:
        with self.lock:
            if value < self.rv:
                raise ValueError(f"resourceVersion only moves forward ({self.rv} > {value})")
            self.rv = value

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """FakeApiServer.apply."""
        if not isinstance(obj, dict):
            raise TypeError(f"apply() takes a dict, not {type(obj).__name__}")
        kind = BY_KIND.get(str(obj.get("kind")))
        if kind is None:
            raise ValueError(f"unsupported kind {obj.get('kind')!r}; one of {sorted(BY_KIND)}")
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
        with self.lock:
            objects = self.objects[kind.kind]
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
                metadata.get("creationTimestamp") or old.get("creationTimestamp") or _timestamp()
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
            self._record(Change(rv, kind.kind, key, change_type, stored, prev))
            return copy.deepcopy(stored)

    def delete(self, kind: str, namespace: str | None, name: str) -> None:
        """FakeApiServer.delete."""
        info = BY_KIND.get(kind)
        if info is None:
            raise ValueError(f"unsupported kind {kind!r}; one of {sorted(BY_KIND)}")
        key = info.key(namespace or "default", name)
        with self.lock:
            prev = self.objects[kind].pop(key, None)
            if prev is None:
                raise KeyError(f"{kind} {key} not found")
            rv = self._bump(None)
            self._record(Change(rv, kind, key, "DELETED", with_rv(prev, rv), prev))

    def get(self, kind: Kind, namespace: str | None, name: str) -> dict[str, Any] | None:
        """The stored object (a copy), or None; `namespace` as the request names it."""
        with self.lock:
            return copy.deepcopy(self.objects[kind.kind].get(kind.key(namespace, name)))

    def compact(self) -> None:
        with self.lock:
            self.compacted = self.rv
            self.history.clear()

    def _bump(self, requested: Any) -> int:
        try:
            wanted = int(requested)
        except (TypeError, ValueError):
            wanted = 0
        self.rv = wanted if wanted > self.rv else self.rv + 1
        return self.rv

    def _record(self, change: Change) -> None:
        self.history.append(change)
        self.kind_rv[change.kind] = change.rv
        for watcher in self.watchers:
            event = watcher.translate(change)
            if event is not None:
                watcher.push(*event)

    def _state_at(self, kind: str, rv: int) -> Objects:
        """The objects of a kind at a past RV (not older than the last compaction)."""
        state = dict(self.objects[kind])
        for change in reversed(self.history):
            if change.rv <= rv:
                break
            if change.kind != kind:
                continue
            if change.type == "ADDED":
                state.pop(change.key, None)
            elif change.prev is not None:
                state[change.key] = change.prev
        return state

    # -- lists ----------------------------------------------------------------------------------

    def encoded_item(self, kind: str, key: str, obj: dict[str, Any]) -> bytes:
        """`obj` as a list item (without kind and apiVersion), compact JSON without the final
        newline; kept while `obj` is the current object of its key (an object is never
        changed in place: apply stores a new one, with a new RV)."""
        rv = obj["metadata"].get("resourceVersion", "")
        found = self._items.get((kind, key))
        if found is not None and found[0] == rv:
            return found[1]
        encoded = encode(without_type(obj))[:-1]
        if self.objects[kind].get(key) is obj:  # not an object of a past RV
            self._items[(kind, key)] = (rv, encoded)
        return encoded

    def list_items(
        self,
        kind: Kind,
        namespace: str | None,
        query: dict[str, str],
        *,
        labels: list[Requirement],
        fields: list[FieldTerm],
    ) -> tuple[dict[str, Any] | None, int, list[tuple[str, dict[str, Any]]]]:
        """(Status on failure, snapshot RV, the selected (key, object) pairs in storage key
        order) of a list: from its continue token, or its resourceVersion and
        resourceVersionMatch=Exact (fact 7, 8 and 9); one consistent snapshot."""
        token = query.get("continue", "")
        rv_text = query.get("resourceVersion", "")
        exact = query.get("resourceVersionMatch") == "Exact"
        prefix = f"{namespace}/" if namespace is not None else ""
        start = ""
        failure: dict[str, Any] | None = None
        with self.lock:
            current = self.rv
            snapshot_rv, state = current, self.objects[kind.kind]
            if token:
                try:
                    token_rv, start = parse_continue(token)
                except ValueError as error:
                    token_rv, failure = 0, bad_request(str(error))
                if rv_text:
                    failure = bad_request(
                        "specifying resource version is not allowed when using continue"
                    )
                elif failure is None and token_rv < 0:
                    snapshot_rv, state = current, self.objects[kind.kind]
                elif failure is None and token_rv < self.compacted:
                    fresh = {"continue": continue_token(-1, start)}
                    failure = status_body(410, "Expired", CONTINUE_TOO_OLD, metadata=fresh)
                elif failure is None and token_rv > current:
                    failure = too_large(token_rv, current)
                elif failure is None:
                    snapshot_rv, state = token_rv, self._state_at(kind.kind, token_rv)
            else:
                try:
                    requested = int(rv_text) if rv_text else 0
                except ValueError:
                    requested = -1
                if requested < 0:
                    failure = bad_request(f"invalid resourceVersion: {rv_text!r}")
                elif requested > current:
                    failure = too_large(requested, current)
                elif exact and requested and requested < self.compacted:
                    failure = list_expired()
                elif exact and requested:
                    snapshot_rv, state = requested, self._state_at(kind.kind, requested)
                else:
                    snapshot_rv, state = current, self.objects[kind.kind]
            if failure is not None:
                return failure, snapshot_rv, []
            lower = prefix + start
            selected = [
                (key, obj)
                for key, obj in sorted(state.items())
                if key.startswith(prefix)
                and key >= lower
                and all(r.matches(obj["metadata"].get("labels") or {}) for r in labels)
                and all(t.matches(obj) for t in fields)
            ]
            return None, snapshot_rv, selected

    # -- watches --------------------------------------------------------------------------------

    def open_watch(
        self, watcher: Watcher, requested: int | None, *, initial: bool
    ) -> dict[str, Any] | None:
        """Queue what a watch from RV `requested` sees first and register it for the changes
        to come, or return the Status of its ERROR event (fact 14, 28)."""
        kind = watcher.kind
        with self.lock:
            current = self.rv
            if requested is not None and requested > current:
                return too_large(requested, current)
            if initial:  # a real 1.32 cluster (etcd >= 3.5), fact 28
                for _, obj in sorted(self.objects[kind.kind].items()):
                    if watcher.matches(obj):
                        watcher.push("ADDED", obj, flush=True)
                if watcher.bookmarks:
                    watcher.push("BOOKMARK", bookmark(kind, current, initial_events_end=True))
                watcher.start_rv = current
            elif requested is None or requested == 0:
                watcher.start_rv = current  # sendInitialEvents=false: from now on
            elif requested < self.compacted:
                return too_old(requested, self.compacted)
            else:
                for change in self.history:
                    if change.rv > requested:
                        event = watcher.translate(change)
                        if event is not None:
                            watcher.push(*event, flush=True)
                watcher.start_rv = requested
            self.watchers.append(watcher)
            return None

    def close_watch(self, watcher: Watcher) -> None:
        with self.lock:
            if watcher in self.watchers:
                self.watchers.remove(watcher)

    def send_bookmarks(self, *, per_kind: bool) -> None:
        with self.lock:
            for watcher in self.watchers:
                if not watcher.bookmarks:
                    continue
                kind = watcher.kind
                rv = self.kind_rv[kind.kind] if per_kind else self.rv
                if rv > watcher.start_rv:
                    watcher.push("BOOKMARK", bookmark(kind, rv))

    def drop_watches(self) -> None:
        with self.lock:
            watchers = list(self.watchers)
        for watcher in watchers:
            watcher.drop()


def _order_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    ordered = {key: metadata[key] for key in META_ORDER if key in metadata}
    ordered.update((key, value) for key, value in metadata.items() if key not in ordered)
    return ordered


def _timestamp() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
