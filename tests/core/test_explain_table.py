"""`core.explain` for SRV and PTR names: one row per situation, over objects built here.

Each row's SRV or PTR lines must also be the records the index holds: the explanation
names every record the answer gives, and no other.
"""

from __future__ import annotations

from typing import Any

import pytest

from svcdns.core.convert import from_dict
from svcdns.core.explain import explain
from svcdns.core.model import Upsert
from svcdns.core.rr import RRType, SRVData
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings

DB = "db.shop.svc.cluster.local"
MYSQL = f"_mysql._tcp.{DB}"
NOT_FORWARDED = "not forwarded."


def service(*ports: tuple[str, int], publish_not_ready: bool = False) -> dict[str, Any]:
    """Headless Service shop/db with these (name, number) TCP ports."""
    spec: dict[str, Any] = {
        "clusterIP": "None",
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
        "publishNotReadyAddresses": publish_not_ready,
    }
    return {"kind": "Service", "metadata": {"name": "db", "namespace": "shop"}, "spec": spec}


def endpoint(address: str, *, pod: str = "", hostname: str = "", ready: bool = True) -> Any:
    raw: dict[str, Any] = {"addresses": [address], "conditions": {"ready": ready}}
    if hostname:
        raw["hostname"] = hostname
    if pod:
        raw["targetRef"] = {"kind": "Pod", "name": pod}
    return raw


def slice_(name: str, *endpoints: Any, ports: tuple[tuple[str, int], ...]) -> dict[str, Any]:
    return {
        "kind": "EndpointSlice",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "labels": {"kubernetes.io/service-name": "db"},
        },
        "addressType": "IPv4",
        "endpoints": list(endpoints),
        "ports": [{"name": n, "port": p, "protocol": "TCP"} for n, p in ports],
    }


MYSQL_PORT = (("mysql", 3306),)
DB_0 = endpoint("10.244.2.10", pod="db-0", hostname="db-0")


def loaded(objects: list[dict[str, Any]], settings: ZoneSettings) -> ClusterState:
    state = ClusterState(settings)
    events = [Upsert(obj) for raw in objects if (obj := from_dict(raw)) is not None]
    state.apply_all(events, now=0)
    return state


@pytest.mark.parametrize(
    ("objects", "expected"),
    [
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", DB_0, ports=MYSQL_PORT),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a; "
                "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b."
            ],
            id="same-port-in-two-slices-one-record-both-slices",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-b", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a; "
                "endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-b."
            ],
            id="first-slice-names-the-target",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", DB_0, ports=(("other", 1),))],
            ["port mysql/TCP is on the Service but in no EndpointSlice, so no SRV."],
            id="port-on-the-service-only",
        ),
        pytest.param(
            [
                service(("mysql", 3306)),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            [
                "no ready endpoint has port mysql/TCP, so no SRV; "
                "not ready: 10.244.2.12 (pod db-2) from db-a."
            ],
            id="no-ready-endpoint",
        ),
        pytest.param(
            [
                service(("mysql", 3306), publish_not_ready=True),
                slice_("db-a", endpoint("10.244.2.12", pod="db-2", ready=False), ports=MYSQL_PORT),
            ],
            [f"SRV 3306 10-244-2-12.{DB}: endpoint 10.244.2.12 (pod db-2) of EndpointSlice db-a."],
            id="publish-not-ready-addresses",
        ),
        pytest.param(
            [service(("mysql", 3306))],
            ["no endpoint at all (no EndpointSlice selects a pod), so no SRV."],
            id="no-slice",
        ),
        pytest.param(
            [service(("mysql", 3306)), slice_("db-a", ports=MYSQL_PORT)],
            ["no endpoint has port mysql/TCP, so no SRV."],
            id="slice-without-endpoints",
        ),
        pytest.param(
            [
                service(("mysql", 3306), ("metrics", 9)),
                slice_("db-a", DB_0, ports=MYSQL_PORT),
                slice_("db-m", endpoint("10.244.2.30", pod="db-9"), ports=(("metrics", 9),)),
            ],
            [
                f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a.",
                "ready, but their EndpointSlice has no port mysql/TCP: "
                "10.244.2.30 (pod db-9) from db-m.",
            ],
            id="ready-endpoint-in-a-slice-without-the-port",
        ),
        pytest.param(
            [service(("", 3306)), slice_("db-a", DB_0, ports=(("", 3306),))],
            [
                "no port named mysql with protocol TCP (it has: no named port); "
                "an unnamed port has no SRV (spec 2.4.2): 3306/TCP."
            ],
            id="unnamed-port",
        ),
    ],
)
def test_headless_srv(objects: list[dict[str, Any]], expected: list[str]) -> None:
    state = loaded(objects, ZoneSettings())
    reasons = explain(state, MYSQL, forwarding=NOT_FORWARDED)
    assert reasons == ["Service shop/db is headless (clusterIP: None).", *expected]
    assert _srv_lines(reasons) == _srv_records(state, MYSQL)


def test_endpoint_pod_names_name_the_targets() -> None:
    objects = [
        service(("mysql", 3306)),
        slice_("db-a", endpoint("10.244.2.10", pod="db-0"), ports=MYSQL_PORT),
    ]
    state = loaded(objects, ZoneSettings(endpoint_pod_names=True))
    reasons = explain(state, MYSQL, forwarding=NOT_FORWARDED)
    assert (
        reasons[1] == f"SRV 3306 db-0.{DB}: endpoint 10.244.2.10 (pod db-0) of EndpointSlice db-a."
    )
    assert _srv_lines(reasons) == _srv_records(state, MYSQL)


def test_ptr_of_a_legacy_endpoints_address() -> None:
    legacy = {
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "shop"},
        "subsets": [{"addresses": [{"ip": "10.244.3.7", "hostname": "pg-main"}]}],
    }
    state = loaded([service(("mysql", 3306)), legacy], ZoneSettings())
    reasons = explain(state, "7.3.244.10.in-addr.arpa", forwarding=NOT_FORWARDED)
    assert reasons[1:] == [
        f"PTR pg-main.{DB}: Service shop/db (headless), "
        "endpoint 10.244.3.7 of Endpoints db (spec 2.4.4)."
    ]


def test_a_reverse_name_with_no_record_says_where_it_would_go() -> None:
    state = loaded([service(("mysql", 3306))], ZoneSettings())
    reasons = explain(state, "7.3.244.10.in-addr.arpa", forwarding=NOT_FORWARDED)
    assert reasons == [f"not the address of a Service or endpoint here: {NOT_FORWARDED}"]


def _srv_lines(reasons: list[str]) -> list[tuple[int, str]]:
    return [
        (int(line.split()[1]), line.split()[2].rstrip(":"))
        for line in reasons
        if line.startswith("SRV ")
    ]


def _srv_records(state: ClusterState, name: str) -> list[tuple[int, str]]:
    rrsets = state.index.rrsets.get(name) or {}
    found = []
    for record in rrsets.get(RRType.SRV, ()):
        assert isinstance(record.data, SRVData)
        found.append((record.data.port, record.data.target))
    return sorted(found)
