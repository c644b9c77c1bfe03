"""The list/watch loop against scripted API responses (no sockets): relist, resume, backoff.

Each watch stream is a named constant for the situation it scripts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import urllib3

from svcdns.core.model import Delete, Event, ObjectKey, Service, Upsert
from svcdns.sources.watch import ApiError, Backoff, Gone, Resource, ResourceWatch, resources


def svc(name: str, ip: str, rv: str) -> dict[str, Any]:
    return {
        "kind": "Service",
        "apiVersion": "v1",
        "metadata": {"name": name, "namespace": "shop", "resourceVersion": rv},
        "spec": {"clusterIP": ip},
    }


def service_list(rv: str, *items: dict[str, Any], token: str = "") -> dict[str, Any]:
    metadata = {"resourceVersion": rv} | ({"continue": token} if token else {})
    return {"kind": "ServiceList", "metadata": metadata, "items": list(items)}


def event(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    return {"type": kind, "object": obj}


def bookmark(rv: str) -> dict[str, Any]:
    return event("BOOKMARK", {"kind": "Service", "metadata": {"resourceVersion": rv}})


def error(code: int, reason: str) -> dict[str, Any]:
    status = {"kind": "Status", "status": "Failure", "reason": reason, "code": code}
    return event("ERROR", status)


STREAM_ADD_MODIFY_DELETE = [
    event("ADDED", svc("api", "10.96.0.11", "11")),
    event("MODIFIED", svc("web", "10.96.0.99", "12")),
    event("DELETED", svc("api", "10.96.0.11", "13")),
    bookmark("20"),
]
STREAM_WITH_410_GONE = [error(410, "Expired")]
STREAM_WITH_500_ERROR = [error(500, "InternalError")]
STREAM_DROPPED_AFTER_ONE_EVENT = [event("ADDED", svc("api", "10.96.0.11", "11")), ConnectionError()]
STREAM_TIMED_OUT_CLEANLY: list[Any] = []
# The read timeout (watch timeout + 30 s) fired: the stream went silent for too long.
STREAM_SILENT_TOO_LONG = [
    event("ADDED", svc("api", "10.96.0.11", "11")),
    urllib3.exceptions.ReadTimeoutError(None, "/api/v1/services", "Read timed out."),
]


class ScriptedApi:
    """Answers LISTs and watches from scripts; stops the loop when the watch script runs out."""

    def __init__(self, lists: list[Any], streams: list[list[Any]], stop: threading.Event) -> None:
        self.lists, self.streams, self.stop = list(lists), list(streams), stop
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def get_json(self, path: str, query: dict[str, Any], *, read_timeout: float = 30) -> Any:
        self.calls.append(("list", query))
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stream(self, path: str, query: dict[str, Any], *, read_timeout: float) -> Iterator[bytes]:
        self.calls.append(("watch", query))
        if not self.streams:
            self.stop.set()
            return
        for item in self.streams.pop(0):
            if isinstance(item, Exception):
                raise item
            yield json.dumps(item).encode()


def run_loop(
    lists: list[Any], streams: list[list[Any]]
) -> tuple[list[Event], ScriptedApi, ResourceWatch]:
    stop = threading.Event()
    api = ScriptedApi(lists, streams, stop)
    received: list[Event] = []
    listed: list[str] = []
    watch = ResourceWatch(
        api,
        Resource("Service", "/api/v1/services"),
        received.extend,
        on_listed=lambda resource: listed.append(resource.name),
        stop=stop,
        watch_timeout=5,
        backoff=Backoff(first=0.001, cap=0.002),
    )
    thread = threading.Thread(target=watch.run)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert listed, "the loop never listed"
    return received, api, watch


def watch_versions(api: ScriptedApi) -> list[str]:
    return [q["resourceVersion"] for kind, q in api.calls if kind == "watch"]


def names(events: list[Event]) -> list[str]:
    return [
        f"+{e.obj.name}"
        if isinstance(e, Upsert) and isinstance(e.obj, Service)
        else f"-{e.key.name}"
        for e in events
        if isinstance(e, Upsert | Delete)
    ]


def test_list_then_watch_events_and_bookmark_move_the_resource_version() -> None:
    events, api, _ = run_loop(
        [service_list("10", svc("web", "10.96.0.10", "5"))], [STREAM_ADD_MODIFY_DELETE]
    )
    assert names(events) == ["+web", "+api", "+web", "-api"]
    assert watch_versions(api) == ["10", "20"]  # the bookmark's RV is the resume point
    query = api.calls[1][1]
    assert query["allowWatchBookmarks"] == "true" and query["timeoutSeconds"] == 5


def test_410_in_the_stream_relists_and_drops_what_was_deleted_meanwhile() -> None:
    first = service_list("10", svc("web", "10.96.0.10", "5"), svc("old", "10.96.0.12", "6"))
    second = service_list("30", svc("web", "10.96.0.10", "5"))
    events, api, _ = run_loop([first, second], [STREAM_WITH_410_GONE])
    assert names(events) == ["+web", "+old", "-old"]
    assert [kind for kind, _ in api.calls] == ["list", "watch", "list", "watch"]
    assert watch_versions(api) == ["10", "30"]


def test_dropped_stream_resumes_from_the_last_version_without_relisting() -> None:
    events, api, _ = run_loop(
        [service_list("10")], [STREAM_DROPPED_AFTER_ONE_EVENT, STREAM_TIMED_OUT_CLEANLY]
    )
    assert names(events) == ["+api"]
    assert [kind for kind, _ in api.calls] == ["list", "watch", "watch", "watch"]
    assert watch_versions(api) == ["10", "11", "11"]


def test_other_stream_errors_reconnect_from_the_same_version() -> None:
    _, api, _ = run_loop([service_list("10")], [STREAM_WITH_500_ERROR])
    assert [kind for kind, _ in api.calls] == ["list", "watch", "watch"]
    assert watch_versions(api) == ["10", "10"]


def test_failed_list_is_retried_and_pages_are_followed() -> None:
    page1 = service_list("10", svc("a", "10.96.0.1", "3"), token="next")
    page2 = service_list("10", svc("b", "10.96.0.2", "4"))
    events, api, _ = run_loop([ApiError(503, "unavailable"), page1, page2], [])
    assert names(events) == ["+a", "+b"]
    lists = [q for kind, q in api.calls if kind == "list"]
    assert [q["continue"] for q in lists] == ["", "", "next"]
    assert all(q["limit"] == 500 for q in lists)


def test_expired_continue_token_restarts_the_list() -> None:
    page1 = service_list("10", svc("a", "10.96.0.1", "3"), token="old")
    fresh = service_list("40", svc("a", "10.96.0.1", "3"), svc("b", "10.96.0.2", "4"))
    events, api, _ = run_loop([page1, Gone("expired"), fresh], [])
    assert names(events) == ["+a", "+b"]
    assert watch_versions(api) == ["40"]


def test_resources_follow_discovery_namespaces_and_pod_mode() -> None:
    everything = resources(endpoint_slices=True, namespaces=None, labels="", pods=False)
    assert [(r.kind, r.path) for r in everything] == [
        ("Namespace", "/api/v1/namespaces"),
        ("Service", "/api/v1/services"),
        ("EndpointSlice", "/apis/discovery.k8s.io/v1/endpointslices"),
    ]
    scoped = resources(
        endpoint_slices=False, namespaces=frozenset({"shop"}), labels="app=web", pods=True
    )
    assert [(r.kind, r.path, r.label_selector, r.field_selector) for r in scoped] == [
        ("Namespace", "/api/v1/namespaces", "", "metadata.name=shop"),
        ("Service", "/api/v1/namespaces/shop/services", "app=web", ""),
        ("Endpoints", "/api/v1/namespaces/shop/endpoints", "app=web", ""),
        ("Pod", "/api/v1/namespaces/shop/pods", "", "status.phase!=Succeeded,status.phase!=Failed"),
    ]
    assert [r.name for r in scoped] == [
        "namespaces@shop",
        "services@shop",
        "endpoints@shop",
        "pods@shop",
    ]


def test_delete_of_an_unknown_object_is_ignored() -> None:
    stream = [event("DELETED", svc("ghost", "10.96.0.50", "11"))]
    events, _, watch = run_loop([service_list("10")], [stream])
    assert events == []
    assert ObjectKey("Service", "shop", "ghost") not in watch.known


def test_silent_stream_is_dropped_and_resumed_without_relisting() -> None:
    events, api, _ = run_loop([service_list("10")], [STREAM_SILENT_TOO_LONG])
    assert names(events) == ["+api"]
    assert [kind for kind, _ in api.calls] == ["list", "watch", "watch"]
    assert watch_versions(api) == ["10", "11"]
    assert api.calls[1][1]["timeoutSeconds"] == 5


def test_malformed_objects_are_skipped_not_fatal() -> None:
    broken = svc("broken", "10.96.0.13", "7")
    broken["spec"]["ports"] = ["not-an-object"]
    stream = [
        event("MODIFIED", {**broken, "spec": None}),
        event("ADDED", svc("ok", "10.96.0.14", "12")),
    ]
    events, api, _ = run_loop([service_list("10", svc("web", "10.96.0.10", "5"), broken)], [stream])
    assert names(events) == ["+web", "+ok"]
    assert [kind for kind, _ in api.calls] == ["list", "watch", "watch"]  # no relist


def test_object_that_stops_converting_leaves_dns() -> None:
    broken = svc("web", "10.96.0.10", "12")
    broken["spec"] = {"clusterIP": "not-an-ip"}
    events, _, watch = run_loop(
        [service_list("10", svc("web", "10.96.0.10", "5"))], [[event("MODIFIED", broken)]]
    )
    assert names(events) == ["+web", "-web"]
    assert watch.known == {}


def test_lines_that_are_not_events_are_skipped() -> None:
    stream = ["just a string", {"type": "DELETED"}, event("ADDED", svc("ok", "10.96.0.14", "12"))]
    events, api, _ = run_loop([service_list("10")], [stream])
    assert names(events) == ["+ok"]
    assert watch_versions(api) == ["10", "12"]


def test_watches_that_end_at_once_back_off() -> None:
    stop = threading.Event()
    api = ScriptedApi([service_list("10")], [[]] * 1000, stop)
    watch = ResourceWatch(
        api,
        Resource("Service", "/api/v1/services"),
        lambda events: None,
        on_listed=lambda resource: None,
        stop=stop,
        backoff=Backoff(first=0.1, cap=0.2),
    )
    thread = threading.Thread(target=watch.run)
    thread.start()
    thread.join(timeout=0.5)
    stop.set()
    thread.join(timeout=5)
    watches = [kind for kind, _ in api.calls if kind == "watch"]
    assert 2 <= len(watches) <= 10  # not thousands


def test_service_imports_are_watched_only_when_discovered() -> None:
    # --multicluster with the CRD installed; --labels selects Services and slices only.
    with_imports = resources(
        endpoint_slices=True,
        namespaces=frozenset({"shop"}),
        labels="app=web",
        pods=False,
        service_imports=True,
    )
    assert [(r.kind, r.path, r.label_selector) for r in with_imports][-1] == (
        "ServiceImport",
        "/apis/multicluster.x-k8s.io/v1alpha1/namespaces/shop/serviceimports",
        "",
    )
    without = resources(endpoint_slices=True, namespaces=None, labels="", pods=False)
    assert "ServiceImport" not in [r.kind for r in without]
