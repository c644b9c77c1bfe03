"""model: the packed endpoints read back as they were given; objects handed over by pickle
(from a loader process) come back equal, sharing the values many of them repeat."""

from __future__ import annotations

import pickle

import pytest

from svcdns.core import model
from svcdns.core.model import (
    Endpoint,
    EndpointGroup,
    EndpointSlice,
    Port,
    Service,
    ServiceImport,
    ServiceKind,
)

HTTP = (Port("http", 80, "TCP"),)


@pytest.mark.parametrize(
    "pods",
    [
        pytest.param(["web-7d4b9c8f6-abcde", "web-7d4b9c8f6-fghij", "", "web-1"], id="replicaset"),
        pytest.param(["é" * 40 + "a", "é" * 40 + "b", "é" * 39 + "a"], id="cut-inside-a-utf8-char"),
        pytest.param(["x" * 300 + "a", "x" * 300 + "b", "x" * 253], id="prefix-over-255-octets"),
        pytest.param(["\udc80bad", "\udc80bae"], id="lone-surrogate"),
    ],
)
def test_packed_endpoints_read_back_whole(pods: list[str]) -> None:
    endpoints = tuple(
        Endpoint(
            addresses=(f"10.244.0.{n}", f"fd00::{n:x}"),
            ready=n % 2 == 0,
            hostname=f"host-{n}" if n % 3 else "",
            pod_name=pod,
        )
        for n, pod in enumerate(pods, start=1)
    )
    group = EndpointGroup(endpoints, HTTP)
    assert group.endpoints == endpoints
    assert group.entries() == [(e.addresses, e.ready, e.hostname, e.pod_name) for e in endpoints]


def test_pickled_objects_come_back_equal_sharing_names_and_ports() -> None:
    """Two batches pickled apart (each with its own copies): the Service and its slice share
    their namespace and name again, and equal port lists are one object."""
    service = Service("shop", "web", ServiceKind.CLUSTER_IP, ("10.96.0.1",), ports=HTTP)
    group = EndpointGroup((Endpoint(("10.244.0.1",), True, "", "web-1"),), HTTP)
    endpoint_slice = EndpointSlice("shop", "web-abcde", "web", (group,))
    first = pickle.loads(pickle.dumps([service]))[0]
    second = pickle.loads(pickle.dumps([endpoint_slice]))[0]
    assert (first, second) == (service, endpoint_slice)
    assert second.service is first.name and second.namespace is first.namespace
    assert second.groups[0].ports is first.ports


def test_multicluster_objects_come_back_equal_from_a_loader_process() -> None:
    group = EndpointGroup((Endpoint(("10.1.0.5",), True, "db-0", ""),), HTTP)
    imported = EndpointSlice("shop", "db-cluster-a", "db", (group,), cluster="cluster-a")
    service_import = ServiceImport("shop", "db", headless=False, ips=("10.42.0.1",), ports=HTTP)
    assert pickle.loads(pickle.dumps([imported, service_import])) == [imported, service_import]


def test_the_shared_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(model, "_SHARED", {})
    ports = [model.shared((Port("p", n, "TCP"),)) for n in range(1, model.MAX_SHARED + 10)]
    assert len(model._SHARED) <= model.MAX_SHARED
    assert model.shared((Port("p", 1, "TCP"),)) == ports[0]
