"""Whatever one object holds costs that object alone (issue 13, fault 1).

Kubernetes accepts a 63-character Service port name, so `_<name>._tcp...` is a 64-octet
label DNS cannot carry; hostnames, namespaces and a long `--zone` can make names over 255
octets. Such a record is left out alone, with one bounded line per object; every other
record of that object, and every other object of the batch, is served.
"""

from __future__ import annotations

from typing import Any

import pytest
from builders import port, slice_of

from svcdns.core import state as state_module
from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.rr import RRType
from svcdns.core.state import ClusterState
from svcdns.core.wire import UnencodableName, name_wire
from svcdns.core.zonedata import ZoneSettings

T0 = 1_700_000_000
LONG_PORT = "p" * 63  # a valid Service port name (DNS-1123 label, 63 characters)


def service(name: str, ip: str, *ports: str, ns: str = "shop") -> dict[str, Any]:
    return {
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "clusterIP": ip,
            "ports": [{"name": p, "port": 80 + n, "protocol": "TCP"} for n, p in enumerate(ports)],
        },
    }


def endpoint_slice(
    name: str, svc: str, *endpoints: dict[str, Any], ns: str = "shop", family: str = "IPv4"
) -> dict[str, Any]:
    return slice_of(svc, name, endpoints, ports=[port("http", 8080)], ns=ns, family=family)


def events(*raws: dict[str, Any]) -> list[Upsert]:
    found = []
    for raw in raws:
        obj = from_dict(raw)
        assert obj is not None
        found.append(Upsert(obj))
    return found


def records(state: ClusterState, name: str, rtype: RRType) -> list[str]:
    """The rdata of one RRset as zone-file text (targets without the trailing dot)."""
    rrset = state.index.rrsets.get(name, {}).get(rtype, ())
    return sorted(r.to_text().split("\t")[-1].rstrip(".") for r in rrset)


@pytest.fixture
def lines() -> list[str]:
    return []


def new_state(lines: list[str], zone: str = "cluster.local") -> ClusterState:
    return ClusterState(ZoneSettings(zone=zone), report=lines.append)


def test_name_wire_refuses_long_labels_and_long_names_with_a_bounded_message() -> None:
    with pytest.raises(UnencodableName, match="64 octets, over 63"):
        name_wire(f"_{LONG_PORT}._tcp.web.shop.svc.cluster.local")
    with pytest.raises(UnencodableName, match="over 255") as caught:
        name_wire(".".join(["a" * 60] * 5))
    assert len(str(caught.value)) < 200
    assert len(name_wire(".".join(["a" * 63] * 3) + "." + "b" * 61)) == 255  # the limit itself


def test_a_63_character_port_name_costs_only_its_srv_record(lines: list[str]) -> None:
    state = new_state(lines)
    batch = events(
        service("before", "10.96.0.1", "http"),
        service("web", "10.96.0.2", LONG_PORT, "http"),
        service("after", "10.96.0.3", "http"),
    )
    state.apply_all(batch, now=T0)
    for name, ip in (("before", "10.96.0.1"), ("web", "10.96.0.2"), ("after", "10.96.0.3")):
        assert records(state, f"{name}.shop.svc.cluster.local", RRType.A) == [ip]
        assert records(state, f"_http._tcp.{name}.shop.svc.cluster.local", RRType.SRV)
    assert records(state, "2.0.96.10.in-addr.arpa", RRType.PTR) == ["web.shop.svc.cluster.local"]
    assert len(lines) == 1
    assert lines[0].startswith("Service shop/web: 1 record(s) left out, the rest served: SRV")
    assert "64 octets" in lines[0] and len(lines[0]) < 400
    # Every record the index holds can be listed (`svcdns records` walks this): per
    # Service its A, PTR, `_http._tcp` SRV and an SRV at its name per port (web has two).
    assert len(state.index.records()) == 13


def test_the_same_fault_again_is_not_logged_again_and_a_fix_is_served(lines: list[str]) -> None:
    state = new_state(lines)
    state.apply_all(events(service("web", "10.96.0.2", LONG_PORT)), now=T0)
    state.apply_all(events(service("web", "10.96.0.9", LONG_PORT)), now=T0 + 1)  # watch update
    assert records(state, "web.shop.svc.cluster.local", RRType.A) == ["10.96.0.9"]
    assert len(lines) == 1
    state.apply_all(events(service("web", "10.96.0.9", "http")), now=T0 + 2)
    assert records(state, "_http._tcp.web.shop.svc.cluster.local", RRType.SRV)
    state.apply_all(events(service("web", "10.96.0.9", LONG_PORT)), now=T0 + 3)
    assert len(lines) == 2  # it came back: said again


def test_a_name_over_255_octets_under_a_long_zone_costs_only_that_service(
    lines: list[str],
) -> None:
    zone = ".".join(["z" * 60] * 3)  # 182 characters: long, and valid
    state = new_state(lines, zone)
    long_ns, long_name = "n" * 40, "s" * 40
    batch = events(
        service("web", "10.96.0.2", "http"),
        service(long_name, "10.96.0.3", "http", ns=long_ns),  # 40+40+182+6 = over 255 in wire
        service("api", "10.96.0.4", "http"),
    )
    state.apply_all(batch, now=T0)
    assert records(state, f"web.shop.svc.{zone}", RRType.A) == ["10.96.0.2"]
    assert records(state, f"api.shop.svc.{zone}", RRType.A) == ["10.96.0.4"]
    assert f"{long_name}.{long_ns}.svc.{zone}" not in state.index.rrsets
    # Its PTR would point at a name DNS cannot carry: left out too, with the rest.
    assert records(state, "3.0.96.10.in-addr.arpa", RRType.PTR) == []
    assert len(lines) == 1 and f"Service {long_ns}/{long_name}" in lines[0]


def test_a_long_endpoint_name_costs_only_that_endpoint(lines: list[str]) -> None:
    zone = ".".join(["z" * 60] * 3)  # endpoint names under it exceed 255 with a long hostname
    state = new_state(lines, zone)
    headless = {
        "kind": "Service",
        "metadata": {"name": "db" + "d" * 40, "namespace": "shop"},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080}]},
    }
    long_host = {"addresses": ["10.244.0.1"], "hostname": "h" * 63}
    short_host = {"addresses": ["10.244.0.2"], "hostname": "db-1"}
    state.apply_all(
        events(headless, endpoint_slice("db-x", "db" + "d" * 40, long_host, short_host)), now=T0
    )
    domain = f"db{'d' * 40}.shop.svc.{zone}"
    # The Service's own name keeps every ready address (spec 2.4.1).
    assert records(state, domain, RRType.A) == ["10.244.0.1", "10.244.0.2"]
    assert records(state, f"db-1.{domain}", RRType.A) == ["10.244.0.2"]
    # Weights were shared out among both targets before one was left out.
    assert records(state, f"_http._tcp.{domain}", RRType.SRV) == [f"0 50 8080 db-1.{domain}"]
    assert records(state, "2.0.244.10.in-addr.arpa", RRType.PTR) == [f"db-1.{domain}"]
    assert records(state, "1.0.244.10.in-addr.arpa", RRType.PTR) == []
    assert len(lines) == 1 and "left out" in lines[0]


@pytest.mark.parametrize(
    "address",
    ["::ffff:10.1.2.3", "2001:DB8::1", "2001:db8:0:0:0:0:0:0", "::", "fe80::1"],
    ids=["v4-mapped", "upper-case", "uncompressed", "unspecified", "link-local"],
)
def test_odd_ipv6_forms_are_served_and_cost_nothing_else(lines: list[str], address: str) -> None:
    state = new_state(lines)
    headless = {
        "kind": "Service",
        "metadata": {"name": "v6", "namespace": "shop"},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 80}]},
    }
    batch = events(
        headless,
        endpoint_slice("v6-a", "v6", {"addresses": [address]}, family="IPv6"),
        service("after", "10.96.0.3", "http"),
    )
    state.apply_all(batch, now=T0)
    assert len(records(state, "v6.shop.svc.cluster.local", RRType.AAAA)) == 1
    assert records(state, "after.shop.svc.cluster.local", RRType.A) == ["10.96.0.3"]
    assert lines == []


def test_any_failure_while_computing_one_service_costs_that_service_only(
    lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = state_module.service_zone

    def failing(service: Any, *args: Any) -> Any:
        if service.name == "web":
            raise RuntimeError("boom " + "x" * 1000)
        return real(service, *args)

    monkeypatch.setattr(state_module, "service_zone", failing)
    state = new_state(lines)
    batch = events(
        service("before", "10.96.0.1", "http"),
        service("web", "10.96.0.2", "http"),
        service("after", "10.96.0.3", "http"),
    )
    state.apply_all(batch, now=T0)
    assert records(state, "before.shop.svc.cluster.local", RRType.A) == ["10.96.0.1"]
    assert records(state, "after.shop.svc.cluster.local", RRType.A) == ["10.96.0.3"]
    assert "web.shop.svc.cluster.local" not in state.index.rrsets
    assert len(lines) == 1 and "RuntimeError: boom" in lines[0] and len(lines[0]) < 600


def test_a_failure_midway_through_a_service_leaves_nothing_of_it_behind(
    lines: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index computes every owner's form before it writes any: a Service whose encoding
    fails half-way is not left half-stored (its names served and never removed)."""
    from svcdns.core import index as index_module

    real = index_module.deflate
    calls = {"n": 0}

    def failing_later(blob: bytes) -> bytes:
        calls["n"] += 1
        if calls["n"] == 2:  # the SRV set's, the Service's addresses done
            raise RuntimeError("the encoder failed half-way")
        return real(blob)

    monkeypatch.setattr(index_module, "deflate", failing_later)
    state = new_state(lines)
    addresses = [{"addresses": [f"10.244.0.{n}"]} for n in range(1, 9)]
    headless = {
        "kind": "Service",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080}]},
    }
    state.apply_all(events(headless, endpoint_slice("db-a", "db", *addresses)), now=T0)
    assert state.index.records() == []
    assert state.index.interior == {} and state.index.endpoint_ports == {}
    assert len(lines) == 1 and "RuntimeError" in lines[0]


def test_an_rrset_too_big_for_a_message_costs_only_that_rrset(lines: list[str]) -> None:
    """A blob's lengths are 16-bit: the SRV set of 1,200 endpoints does not fit in one message
    (64 KiB); it is left out alone, every address and the Service's A set are served."""
    state = new_state(lines)
    addresses = [{"addresses": [f"10.244.{n // 250}.{n % 250 + 1}"]} for n in range(1200)]
    headless = {
        "kind": "Service",
        "metadata": {"name": "big", "namespace": "shop"},
        "spec": {"clusterIP": "None", "ports": [{"name": "http", "port": 8080}]},
    }
    batch = events(
        headless, endpoint_slice("big-a", "big", *addresses), service("after", "10.96.0.3", "http")
    )
    state.apply_all(batch, now=T0)
    assert len(records(state, "big.shop.svc.cluster.local", RRType.A)) == 1200
    assert records(state, "10-244-0-1.big.shop.svc.cluster.local", RRType.A) == ["10.244.0.1"]
    assert records(state, "_http._tcp.big.shop.svc.cluster.local", RRType.SRV) == []
    assert records(state, "after.shop.svc.cluster.local", RRType.A) == ["10.96.0.3"]
    assert len(lines) == 1 and "more than a message holds" in lines[0]


def test_a_service_named_svc_replaces_its_ptr(lines: list[str]) -> None:
    """Reverse names are shared; each PTR is filed under the Service its target names, read
    from the zone's end (a Service called `svc` used to keep its old PTR for ever)."""
    state = new_state(lines)
    state.apply_all(events(service("svc", "10.96.0.1", "http")), now=T0)
    assert records(state, "1.0.96.10.in-addr.arpa", RRType.PTR) == ["svc.shop.svc.cluster.local"]
    state.apply_all(events(service("svc", "10.96.0.9", "http")), now=T0 + 1)
    assert records(state, "1.0.96.10.in-addr.arpa", RRType.PTR) == []
    assert records(state, "9.0.96.10.in-addr.arpa", RRType.PTR) == ["svc.shop.svc.cluster.local"]
