"""The three reads of a kind: GET one object, a list page, a watch stream.

Each is a function of the request (handler, kind, namespace, query) and the Store; the
answer is written with `httpd`. Imports `kinds`, `bodies`, `selectors`, `routes` (a query's
flags), `store`, `watch` and `httpd`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .bodies import bad_request, continue_token, encode, not_found
from .httpd import ChunkWriter, Handler, send, send_status
from .kinds import Kind
from .routes import flag
from .selectors import FieldTerm, Requirement, SelectorError, parse_selectors
from .store import Store
from .watch import Dropped, Watcher, hard_shutdown


def get_object(
    handler: Handler, store: Store, kind: Kind, namespace: str | None, name: str
) -> None:
    obj = store.get(kind, namespace, name)
    if obj is None:
        send_status(handler, not_found(kind, name))
    else:
        send(handler, 200, encode(obj))


def _selectors(
    handler: Handler, kind: Kind, query: dict[str, str]
) -> tuple[list[Requirement], list[FieldTerm]] | None:
    """The query's selectors, or None once a 400 is sent for them."""
    try:
        return parse_selectors(kind, query)
    except SelectorError as error:
        send_status(handler, bad_request(str(error)))
        return None


def list_objects(
    handler: Handler, store: Store, kind: Kind, namespace: str | None, query: dict[str, str]
) -> None:
    """One page of a list: `limit` items, `continue` and `remainingItemCount` (fact 9)."""
    selectors = _selectors(handler, kind, query)
    if selectors is None:
        return
    labels, fields = selectors
    limit_text = query.get("limit", "")
    limit = int(limit_text) if limit_text.isdigit() else 0
    failure, snapshot_rv, selected = store.list_items(
        kind, namespace, query, labels=labels, fields=fields
    )
    if failure is not None:
        send_status(handler, failure)
        return
    prefix = f"{namespace}/" if namespace is not None else ""
    page = selected[:limit] if limit > 0 else selected
    metadata: dict[str, Any] = {"resourceVersion": str(snapshot_rv)}
    if len(page) < len(selected):
        metadata["continue"] = continue_token(snapshot_rv, page[-1][0][len(prefix) :] + "\0")
        if not labels and not fields:
            metadata["remainingItemCount"] = len(selected) - len(page)
    head = {"kind": kind.list_kind, "apiVersion": kind.api_version, "metadata": metadata}
    # encode() of the whole body, byte for byte: the items' compact JSON joined by commas.
    opening = encode({**head, "items": []})[: -len(b"[]}\n")]
    items = b",".join(store.encoded_item(kind.kind, key, obj) for key, obj in page)
    send(handler, 200, opening + b"[" + items + b"]}\n")


def watch_objects(
    handler: Handler,
    store: Store,
    kind: Kind,
    namespace: str | None,
    query: dict[str, str],
    *,
    delay: Callable[[], float],
) -> None:
    """A watch stream until `timeoutSeconds`, or until it is dropped (facts 10-14, 28);
    `delay()` is the pause before each event (FakeApiServer.watch_delay)."""
    selectors = _selectors(handler, kind, query)
    if selectors is None:
        return
    labels, fields = selectors
    rv_text = query.get("resourceVersion", "")
    if rv_text and not rv_text.isdigit():
        send_status(handler, bad_request(f"invalid resourceVersion: {rv_text!r}"))
        return
    timeout_text = query.get("timeoutSeconds", "")
    timeout = int(timeout_text) if timeout_text.isdigit() else 0
    bookmarks = flag(query.get("allowWatchBookmarks"))
    explicit = query.get("sendInitialEvents")
    initial = flag(explicit) if explicit is not None else rv_text in ("", "0")
    watcher = Watcher(kind, namespace, labels, fields, bookmarks, handler.connection)
    requested = int(rv_text) if rv_text else None
    error = store.open_watch(watcher, requested, initial=initial)
    try:
        writer = send(handler, 200, b"", stream=True)
        assert writer is not None
        if error is not None:  # fact 14: an in-stream ERROR, then the clean end
            writer.write(encode({"type": "ERROR", "object": error}))
            writer.finish()
            return
        _stream(watcher, writer, timeout, delay)
    except (Dropped, OSError):
        handler.close_connection = True
        hard_shutdown(handler.connection)
    finally:
        store.close_watch(watcher)


def _stream(
    watcher: Watcher, writer: ChunkWriter, timeout: int, delay: Callable[[], float]
) -> None:
    deadline = time.monotonic() + timeout if timeout > 0 else None
    while True:
        batch = watcher.next_batch(deadline)
        if batch is None:
            writer.finish()  # fact 12: the 0-length chunk; the connection stays open
            return
        for event_type, obj, flush in batch:
            seconds = delay()
            if seconds > 0:
                watcher.sleep(seconds)
            writer.write(encode({"type": event_type, "object": obj}))
            if flush:
                writer.flush()
        writer.flush()
