"""What one watch sees: the state changes it is told of, translated for its namespace and
selectors (objects entering and leaving them), queued until its stream writes them.

A Watcher is filled under the store's lock and drained by its connection's thread; it
imports `kinds`, `bodies` and `selectors` only.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .bodies import with_rv
from .kinds import Kind
from .selectors import FieldTerm, Requirement


@dataclass(frozen=True)
class Change:
    rv: int
    kind: str
    key: str
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]  # the new state; for DELETED the last state with the deletion's RV
    prev: dict[str, Any] | None


class Dropped(Exception):
    """The watch connection is gone (drop_watches, go_down, stop, or the client left)."""


@dataclass(eq=False)
class Watcher:
    kind: Kind
    namespace: str | None
    labels: list[Requirement]
    fields: list[FieldTerm]
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

    def translate(self, change: Change) -> tuple[str, dict[str, Any]] | None:
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
            return ("DELETED", with_rv(change.prev, change.rv))
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
        hard_shutdown(self.connection)

    def sleep(self, seconds: float) -> None:
        with self.cond:
            if self.cond.wait_for(lambda: self.dropped, seconds):
                raise Dropped

    def next_batch(self, deadline: float | None) -> list[tuple[str, dict[str, Any], bool]] | None:
        """Every queued event; None once `deadline` passes; Dropped if the stream is gone."""
        with self.cond:
            while not self.queue and not self.dropped:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self.cond.wait(0.25 if remaining is None else min(0.25, remaining))
                if not self.queue and not self.dropped and peer_left(self.connection):
                    self.dropped = True
            if self.dropped:
                raise Dropped
            batch = list(self.queue)
            self.queue.clear()
            return batch


def peer_left(connection: socket.socket) -> bool:
    """A client sends nothing on a watch connection: readable means it closed or reset it."""
    try:
        readable, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def hard_shutdown(connection: socket.socket) -> None:
    """Close the TCP connection at once (FIN, no TLS close_notify, no terminating chunk)."""
    with contextlib.suppress(OSError, ValueError):
        socket.socket.shutdown(connection, socket.SHUT_RDWR)
