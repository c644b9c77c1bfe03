"""Cluster state and record index: per-Service updates, merged owners, the SOA serial."""

from pathlib import Path
from typing import Any

import builders
import pytest
from builders import endpoint, slice_of

from svcdns.core import state as state_module
from svcdns.core.convert import from_dict
from svcdns.core.model import Delete, ObjectKey, Service, Upsert
from svcdns.core.rr import RRType, SRVData
from svcdns.core.state import ClusterState
from svcdns.core.wire import DEFLATE_ABOVE, DEFLATED, name_wire
from svcdns.core.zonedata import PodMode, ZoneSettings, all_records
from svcdns.sources.manifests import load

REPO = Path(__file__).resolve().parents[2]

T0 = 1_700_000_000


def svc(name: str, ip: str, ns: str = "shop") -> dict[str, Any]:
    return builders.service(name, ns=ns, clusterIP=ip, ports=[{"name": "http", "port": 80}])


def headless(name: str, ns: str = "shop") -> dict[str, Any]:
    return builders.service(name, ns=ns, clusterIP="None")


def slice_(name: str, svc: str, *eps: tuple[str, bool], ns: str = "shop") -> dict[str, Any]:
    endpoints = [endpoint(ip, ready=ready) for ip, ready in eps]
    return slice_of(svc, name, endpoints, ports=[{"name": "http", "port": 8080}], ns=ns)


def pod(name: str, ip: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": name, "namespace": "shop", "labels": labels or {}}
    return {"kind": "Pod", "metadata": meta, "status": {"phase": "Running", "podIP": ip}}


def upsert(state: ClusterState, raw: dict[str, Any], now: float = T0) -> set[str]:
    obj = from_dict(raw)
    assert obj is not None
    return state.apply(Upsert(obj), now=now)


def addresses(state: ClusterState, name: str) -> list[str]:
    rrset = state.index.rrsets.get(name, {}).get(RRType.A, ())
    return sorted(str(r.data) for r in rrset)


def test_serial_moves_only_when_dns_changes() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.2.10", True), ("10.244.2.11", False)))
    upsert(state, pod("db-0", "10.244.2.10", {"app": "db"}))
    assert state.serial == T0
    # A pod label edit is invisible in DNS (--pods insecure): serial unchanged.
    assert upsert(state, pod("db-0", "10.244.2.10", {"app": "db", "v": "2"}), T0 + 10) == set()
    assert state.serial == T0
    # An endpoint turning ready is visible: serial = the time of that change.
    changed = upsert(
        state, slice_("db-1", "db", ("10.244.2.10", True), ("10.244.2.11", True)), T0 + 20
    )
    assert "db.shop.svc.cluster.local" in changed
    assert state.serial == T0 + 20
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.2.10", "10.244.2.11"]


def test_serial_never_goes_back() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, svc("web", "10.96.0.10"), T0 + 100)
    upsert(state, svc("api", "10.96.0.11"), T0)
    assert state.serial == T0 + 100


def test_verified_pods_are_visible_changes() -> None:
    state = ClusterState(ZoneSettings(pods=PodMode.VERIFIED))
    changed = upsert(state, pod("web-0", "10.244.1.10"), T0 + 5)
    assert changed == {"10-244-1-10.shop.pod.cluster.local"}
    assert state.pod_has_ip("shop", "10.244.1.10")
    state.apply(Delete(ObjectKey("Pod", "shop", "web-0")), now=T0 + 6)
    assert not state.pod_has_ip("shop", "10.244.1.10")
    assert state.serial == T0 + 6


def test_one_event_recomputes_only_its_service(monkeypatch: pytest.MonkeyPatch) -> None:
    state = ClusterState(ZoneSettings())
    for index in range(200):
        upsert(state, svc(f"s{index}", f"10.96.1.{index}"))
    calls: list[str] = []
    real = state_module.service_zone

    def counting(service: Any, slices: Any, settings: Any) -> Any:
        calls.append(service.name)
        return real(service, slices, settings)

    monkeypatch.setattr(state_module, "service_zone", counting)
    upsert(state, slice_("s7-x", "s7", ("10.244.0.7", True)), T0 + 1)
    upsert(state, svc("s9", "10.96.2.9"), T0 + 2)
    assert calls == ["s7", "s9"]


def test_slice_moving_to_another_service_updates_both() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("a"))
    upsert(state, headless("b"))
    upsert(state, slice_("x", "a", ("10.244.0.1", True)))
    assert addresses(state, "a.shop.svc.cluster.local") == ["10.244.0.1"]
    upsert(state, slice_("x", "b", ("10.244.0.1", True)))
    assert addresses(state, "a.shop.svc.cluster.local") == []
    assert addresses(state, "b.shop.svc.cluster.local") == ["10.244.0.1"]


def test_shared_ptr_owner_keeps_the_other_services_record() -> None:
    state = ClusterState(ZoneSettings())
    for name in ("a", "b"):
        upsert(state, headless(name))
        upsert(state, slice_(f"{name}-1", name, ("10.244.0.1", True)))
    ptr = "1.0.244.10.in-addr.arpa"
    assert len(state.index.rrsets[ptr][RRType.PTR]) == 2
    state.apply(Delete(ObjectKey("Service", "shop", "a")), now=T0 + 1)
    (record,) = state.index.rrsets[ptr][RRType.PTR]
    assert record.data == "10-244-0-1.b.shop.svc.cluster.local"


def test_empty_non_terminals_come_and_go() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, svc("web", "10.96.0.10"))
    assert state.index.exists("_tcp.web.shop.svc.cluster.local")
    assert state.index.exists("shop.svc.cluster.local")
    state.apply(Delete(ObjectKey("Service", "shop", "web")), now=T0 + 1)
    assert not state.index.exists("_tcp.web.shop.svc.cluster.local")
    assert not state.index.exists("shop.svc.cluster.local")
    assert len(state.index.rrsets) == 0
    assert state.index.interior == {}


def test_namespace_exists_through_namespace_object_or_service() -> None:
    state = ClusterState(ZoneSettings())
    assert not state.namespace_exists("shop")
    upsert(state, headless("db"))  # a headless service without endpoints has no records
    assert state.namespace_exists("shop")
    state.apply(Delete(ObjectKey("Service", "shop", "db")), now=T0)
    assert not state.namespace_exists("shop")
    changed = upsert(state, {"kind": "Namespace", "metadata": {"name": "shop"}}, T0 + 3)
    assert changed == {"shop.svc.cluster.local", "shop.pod.cluster.local"}
    assert state.namespace_exists("shop") and state.serial == T0 + 3


def test_namespaces_filter_drops_other_namespaces() -> None:
    state = ClusterState(ZoneSettings(), namespaces=frozenset({"shop"}))
    upsert(state, svc("web", "10.96.0.10"))
    assert upsert(state, svc("api", "10.96.0.11", ns="tools")) == set()
    assert not state.namespace_exists("tools")
    assert "api.tools.svc.cluster.local" not in state.index.rrsets


def test_legacy_endpoints_used_only_without_slices() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    legacy = {
        "kind": "Endpoints",
        "metadata": {"name": "db", "namespace": "shop"},
        "subsets": [{"addresses": [{"ip": "10.244.9.1"}]}],
    }
    upsert(state, legacy)
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.9.1"]
    upsert(state, slice_("db-1", "db", ("10.244.9.2", True)))
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.9.2"]
    state.apply(Delete(ObjectKey("EndpointSlice", "shop", "db-1")), now=T0)
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.9.1"]


def test_a_big_rrset_is_stored_deflated_and_reads_back_whole() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    ready = [(f"10.244.7.{n}", True) for n in range(1, 61)]
    upsert(state, slice_("db-1", "db", *ready))
    srv_owner = name_wire("_http._tcp.db.shop.svc.cluster.local")
    stored = state.index.blobs[srv_owner]
    assert stored[0] == DEFLATED and len(stored) < DEFLATE_ABOVE  # 60 targets, deflated
    records = state.index.rrsets["_http._tcp.db.shop.svc.cluster.local"][RRType.SRV]
    assert len(records) == 60
    assert {r.data.target for r in records if isinstance(r.data, SRVData)} == {
        f"10-244-7-{n}.db.shop.svc.cluster.local" for n in range(1, 61)
    }


def test_endpoint_names_stay_packed_addresses_with_their_srv_set_implied() -> None:
    """Every endpoint name has an SRV per port (CoreDNS); the set is kept once per Service,
    not per name: 124,000 endpoint names would cost about 16 MB more as blobs."""
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True), ("10.244.7.2", True)))
    domain = name_wire("db.shop.svc.cluster.local")
    assert state.index.endpoint_ports == {domain: (8080,)}
    for host in ("10-244-7-1", "10-244-7-2"):
        owner = f"{host}.db.shop.svc.cluster.local"
        assert name_wire(owner) in state.index.addresses
        srv = state.index.rrsets[owner][RRType.SRV]
        assert [r.data for r in srv] == [SRVData(0, 100, 8080, owner)]


def test_an_endpoint_with_other_ports_than_its_peers_is_stored_whole() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True), ("10.244.7.2", True)))
    other = slice_("db-2", "db", ("10.244.7.2", True))
    other["ports"] = [{"name": "admin", "port": 9000}]
    upsert(state, other, T0 + 1)
    odd = "10-244-7-2.db.shop.svc.cluster.local"
    assert name_wire(odd) in state.index.blobs
    assert [r.data.port for r in state.index.rrsets[odd][RRType.SRV]] == [8080, 9000]
    assert name_wire("10-244-7-1.db.shop.svc.cluster.local") in state.index.addresses
    state.apply(Delete(ObjectKey("EndpointSlice", "shop", "db-2")), now=T0 + 2)
    assert name_wire(odd) in state.index.addresses  # back in step with its peers


def test_a_port_change_changes_every_endpoint_name_and_the_serial() -> None:
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True)))
    moved = slice_("db-1", "db", ("10.244.7.1", True))
    moved["ports"] = [{"name": "http", "port": 8081}]
    changed = upsert(state, moved, T0 + 5)
    assert "10-244-7-1.db.shop.svc.cluster.local" in changed
    assert state.serial == T0 + 5
    srv = state.index.rrsets["10-244-7-1.db.shop.svc.cluster.local"][RRType.SRV]
    assert [r.data.port for r in srv] == [8081]
    state.apply(Delete(ObjectKey("Service", "shop", "db")), now=T0 + 6)
    assert state.index.endpoint_ports == {}


def test_a_clusterip_name_stays_a_packed_address_with_its_srv_set_implied() -> None:
    """The most asked name of all stays on the fast path's cheapest table; its SRV set (one
    per port, target itself, as CoreDNS) is kept as the Service's port numbers."""
    state = ClusterState(ZoneSettings())
    upsert(state, svc("web", "10.96.0.10"))
    wire = name_wire("web.shop.svc.cluster.local")
    assert wire in state.index.addresses
    assert state.index.service_ports == {wire: (80,)}
    srv = state.index.rrsets["web.shop.svc.cluster.local"][RRType.SRV]
    assert [r.data for r in srv] == [SRVData(0, 100, 80, "web.shop.svc.cluster.local")]
    moved = svc("web", "10.96.0.10")
    moved["spec"]["ports"] = [{"name": "http", "port": 8080}]
    assert "web.shop.svc.cluster.local" in upsert(state, moved, T0 + 1)
    assert state.index.service_ports == {wire: (8080,)}
    dual = svc("web", "10.96.0.10")
    dual["spec"]["clusterIPs"] = ["10.96.0.10", "fd00::10"]
    upsert(state, dual, T0 + 2)
    assert wire in state.index.blobs and state.index.service_ports == {}
    rrsets = state.index.rrsets["web.shop.svc.cluster.local"]
    assert set(rrsets) == {RRType.A, RRType.AAAA, RRType.SRV}


def test_implied_srv_sets_are_listed_by_records_and_by_a_snapshot() -> None:
    """`svcdns records` and zone transfers walk `records()`, a transfer on a snapshot: the
    SRV sets the index implies are listed like any other record."""
    state = ClusterState(ZoneSettings())
    upsert(state, svc("web", "10.96.0.10"))
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True), ("10.244.7.2", True)))
    expected = {
        ("web.shop.svc.cluster.local", 80, "web.shop.svc.cluster.local"),
        ("10-244-7-1.db.shop.svc.cluster.local", 8080, "10-244-7-1.db.shop.svc.cluster.local"),
        ("10-244-7-2.db.shop.svc.cluster.local", 8080, "10-244-7-2.db.shop.svc.cluster.local"),
        ("db.shop.svc.cluster.local", 8080, "10-244-7-1.db.shop.svc.cluster.local"),
        ("db.shop.svc.cluster.local", 8080, "10-244-7-2.db.shop.svc.cluster.local"),
        ("_http._tcp.web.shop.svc.cluster.local", 80, "web.shop.svc.cluster.local"),
        ("_http._tcp.db.shop.svc.cluster.local", 8080, "10-244-7-1.db.shop.svc.cluster.local"),
        ("_http._tcp.db.shop.svc.cluster.local", 8080, "10-244-7-2.db.shop.svc.cluster.local"),
    }
    for index in (state.index, state.index.snapshot()):
        srv = {
            (r.name, r.data.port, r.data.target)
            for r in index.records()
            if isinstance(r.data, SRVData)
        }
        assert srv == expected
    weights = {r.data.weight for r in state.index.rrsets["db.shop.svc.cluster.local"][RRType.SRV]}
    assert weights == {50}


def test_the_index_holds_exactly_the_records_zonedata_spells_out() -> None:
    """The invariant behind the implied SRV sets: for every Service of the example cluster,
    plus one whose endpoints differ in ports, what the index answers is `all_records`."""
    state = ClusterState(ZoneSettings())
    objects = list(load(REPO / "examples" / "cluster.yaml").values())
    for obj in objects:
        state.apply(Upsert(obj), now=T0)
    upsert(state, headless("odd"))
    upsert(state, slice_("odd-1", "odd", ("10.244.9.1", True), ("10.244.9.2", True)))
    other = slice_("odd-2", "odd", ("10.244.9.2", True), ("10.244.9.3", True))
    other["ports"] = [{"name": "admin", "port": 9000}]
    upsert(state, other)
    services = [o for o in objects if isinstance(o, Service)]
    odd = state.service("shop", "odd")
    assert odd is not None
    services.append(odd)
    for service in services:
        slices = state.slices_of(service.namespace, service.name)
        for owner, records in all_records(service, slices, state.settings).items():
            if owner.endswith(".arpa"):
                continue  # reverse names may be shared between Services
            stored = state.index.rrsets.get(owner, {})
            assert sorted(map(repr, (r for rrset in stored.values() for r in rrset))) == sorted(
                map(repr, records)
            ), owner


def test_a_headless_names_srv_set_is_built_once_and_dropped_when_its_service_changes() -> None:
    """Built from the endpoint names the first time it is asked (the fast path then answers
    it), not on every question; a change to the Service drops it."""
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True), ("10.244.7.2", True)))
    domain = name_wire("db.shop.svc.cluster.local")
    section = state.index.srv_section(domain)
    assert section is not None and state.index.srv_section(domain) is section
    upsert(state, slice_("db-1", "db", ("10.244.7.1", True)), T0 + 1)
    rebuilt = state.index.srv_section(domain)
    assert rebuilt is not None and rebuilt != section
    assert state.index.srv_section(name_wire("nosuch.shop.svc.cluster.local")) is None


def test_a_multicluster_slice_never_joins_the_local_service_of_its_name() -> None:
    # MCS API: `db`'s slices from member clusters belong to the ServiceImport `db`; the
    # cluster zone's `db` keeps its own endpoints (and its serial: nothing it serves moved).
    state = ClusterState(ZoneSettings())
    upsert(state, headless("db"))
    upsert(state, slice_("db-1", "db", ("10.244.2.10", True)))
    imported = builders.import_slice("db", "cluster-a", [endpoint("10.1.0.5")])
    assert upsert(state, builders.service_import("db"), T0 + 5) == set()
    assert upsert(state, imported, T0 + 10) == set()
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.2.10"]
    assert state.serial == T0
    assert [s.name for s in state.slices_of("shop", "db")] == ["db-1"]
    assert [s.name for s in state.import_slices_of("shop", "db")] == ["db-cluster-a"]
    assert state.service_import("shop", "db") is not None
    state.apply(Delete(ObjectKey("EndpointSlice", "shop", "db-cluster-a")), now=T0 + 20)
    state.apply(Delete(ObjectKey("ServiceImport", "shop", "db")), now=T0 + 20)
    assert state.import_slices_of("shop", "db") == []
    assert state.service_import("shop", "db") is None
    assert addresses(state, "db.shop.svc.cluster.local") == ["10.244.2.10"]
