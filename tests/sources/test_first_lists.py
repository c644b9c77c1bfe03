"""The first lists, made by the configuration reader's child process (issue 15: decoding
and converting off the server's GIL), against the fake API over real sockets: what the
child hands over, the order it hands Services in, and the server listing again whatever
the child could not."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from builders import cluster_ip_service, endpoint, namespace, port, slice_of
from fakeapi import FakeApiServer

from svcdns.core.model import EndpointSlice, Event, Service, Upsert
from svcdns.sources import watch as watch_module
from svcdns.sources.firstlists import FirstLists, ListPlan, LoaderError, send_lists
from svcdns.sources.kube import ApiConnection, KubeSource, RawApi, connect

EVERYTHING = ListPlan(namespaces=None, labels="", pods=False)


@pytest.fixture
def fake() -> Iterator[FakeApiServer]:
    with FakeApiServer() as server:
        for ns in ("a-b", "a", "b"):  # `a-b/...` sorts before `a/...` as a key
            server.apply(namespace(ns))
            for number in range(3):
                name, host = f"web-{number}", f"{len(ns)}.{number + 1}"
                server.apply(cluster_ip_service(name, f"10.96.{host}", ns))
                server.apply(
                    slice_of(
                        name,
                        f"{name}-x",
                        [endpoint(f"10.244.{host}")],
                        ports=[port("http", 80)],
                        ns=ns,
                    )
                )
        yield server


def lists_of(fake: FakeApiServer, plural: str) -> int:
    return sum(
        1
        for _, path in fake.requests
        if path.split("?")[0].endswith(f"/{plural}") and "watch=" not in path
    )


def test_the_child_lists_every_resource_and_hands_over_slim_objects(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    connection, first = connect(fake.write_kubeconfig(tmp_path / "kubeconfig"), None, EVERYTHING)
    assert first is not None and connection.token == f"Bearer {fake.token}"
    first.start()
    assert first.endpoint_slices() is True
    found: dict[str, list[Any]] = {}
    for resource in EVERYTHING.resources(endpoint_slices=True):
        pages = list(first.pages(resource))
        assert {version for _, version in pages} == {str(fake.resource_version)}
        found[resource.kind] = [obj for objects, _ in pages for obj in objects]
    assert sorted(s.name for s in found["Service"] if s.namespace == "a") == [
        "web-0",
        "web-1",
        "web-2",
    ]
    assert all(isinstance(s, Service) for s in found["Service"]) and len(found["Service"]) == 9
    assert all(isinstance(s, EndpointSlice) for s in found["EndpointSlice"])
    assert len(found["Namespace"]) == 3
    # One LIST each, all from the child: the server made none of its own.
    assert [lists_of(fake, p) for p in ("namespaces", "services", "endpointslices")] == [1, 1, 1]


def test_services_are_sent_once_the_slices_list_is_past_their_namespace(
    fake: FakeApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch_module, "PAGE_SIZE", 2)  # pages end inside namespaces
    # The Services' list runs ahead, as on a big cluster (its bytes are a third of the slices').
    fake.list_delays["/apis/discovery.k8s.io/v1/endpointslices"] = 0.05
    api = RawApi(connect_settings(fake))
    sent: list[Any] = []
    send_lists(api, EVERYTHING.resources(endpoint_slices=True), sent.append)
    assert sent[-1] is None
    order = [m for m in sent[:-1] if m[0] == "page" and m[1] in ("services", "endpointslices")]
    slices_seen: set[str] = set()
    for _, plural, objects, _ in order:
        if plural == "endpointslices":
            slices_seen |= {f"{s.namespace}/{s.service}" for s in objects}
        else:  # every Service comes after every slice of its namespace
            for service in objects:
                assert f"{service.namespace}/{service.name}" in slices_seen
                assert all(
                    key in slices_seen for key in (f"{service.namespace}/web-{n}" for n in range(3))
                )
    services = [m for m in sent if m and m[1] == "services"]
    assert services[-1] == ("listed", "services")  # after the last held Service
    assert sum(len(m[2]) for m in services if m[0] == "page") == 9


def connect_settings(fake: FakeApiServer) -> ApiConnection:
    return ApiConnection(host=fake.url, token=f"Bearer {fake.token}")


def test_a_list_the_child_could_not_make_is_made_again_by_the_server(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    fake.fail_next("/apis/discovery.k8s.io/v1/endpointslices", 503, count=1)
    events, source = synced_source(fake, tmp_path)
    assert len(names(events, Service)) == len(names(events, EndpointSlice)) == 9
    # The child's list failed; the watch loop listed again, once.
    assert lists_of(fake, "endpointslices") == 2
    assert [lists_of(fake, p) for p in ("namespaces", "services")] == [1, 1]
    source.close()


def test_a_child_that_dies_leaves_discovery_and_every_list_to_the_server(
    fake: FakeApiServer, tmp_path: Path
) -> None:
    with fake._lock:  # the fake answers nothing: the child waits on its discovery request
        connection, first = connect(
            fake.write_kubeconfig(tmp_path / "kubeconfig"), None, EVERYTHING
        )
        assert first is not None
        os.kill(first._child.pid or 0, signal.SIGKILL)
    first.start()
    assert first.endpoint_slices() is None
    for resource in EVERYTHING.resources(endpoint_slices=True):
        with pytest.raises(LoaderError, match="the list loader died"):
            list(first.pages(resource))
    events, source = synced_source(fake, tmp_path, connection=connection, first=first)
    assert len(names(events, Service)) == 9 and len(names(events, EndpointSlice)) == 9
    source.close()


def names(events: list[Event], kind: type) -> list[str]:
    return [
        f"{e.obj.namespace}/{e.obj.name}"
        for e in events
        if isinstance(e, Upsert) and isinstance(e.obj, kind)
    ]


def synced_source(
    fake: FakeApiServer,
    tmp_path: Path,
    *,
    connection: ApiConnection | None = None,
    first: FirstLists | None = None,
) -> tuple[list[Event], KubeSource]:
    """A KubeSource fed by the child (or the given one), once every kind has listed."""
    if connection is None:
        connection, first = connect(
            fake.write_kubeconfig(tmp_path / "kubeconfig"), None, EVERYTHING
        )
    source = KubeSource(connection, namespaces=None, labels="", pods=False, first_lists=first)
    events: list[Event] = []
    lock, synced = threading.Lock(), threading.Event()

    def sink(batch: list[Event]) -> None:
        with lock:
            events.extend(batch)

    source.start(sink=sink, on_synced=synced.set)
    assert synced.wait(30), source.pending()
    with lock:
        return list(events), source


def test_the_child_stops_listing_once_the_server_stops_reading(fake: FakeApiServer) -> None:
    tried: list[Any] = []

    def closed_pipe(message: Any) -> None:
        tried.append(message)
        raise BrokenPipeError(32, "Broken pipe")

    send_lists(
        RawApi(connect_settings(fake)), EVERYTHING.resources(endpoint_slices=True), closed_pipe
    )
    assert len(tried) == 1  # nothing more is sent, and no thread fails
