"""The index's plain endpoints (zonedata.ServiceZone.plain, and a headless Service's sets
made of them) against the same records spelled out: every table the fast path reads, and
every changed name, are the same after each event of a random churn over Services that
share addresses, hostnames, ports and reverse names."""

from __future__ import annotations

import random
from typing import Any

import builders
import pytest
from builders import endpoint, port, slice_of

from svcdns.core import state as state_module
from svcdns.core.convert import from_dict
from svcdns.core.index import RecordIndex
from svcdns.core.model import Delete, Event, ObjectKey, Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ServiceZone, ZoneSettings, service_zone, spelled

T0 = 1_700_000_000
ADDRESSES = [f"10.244.0.{n}" for n in range(1, 9)] + ["10.96.0.1", "fd00::1", "fd00::2"]
HOSTNAMES = ["", "", "", "db-0", "db-1", "x" * 63]
PORT_SETS = [
    [port("http", 8080)],
    [port("http", 8080), port("metrics", 9090)],
    [],
    [{"port": 53, "protocol": "UDP"}],
]


def spelled_zone(service: Any, slices: Any, settings: ZoneSettings) -> ServiceZone:
    """`service_zone` with its plain endpoints spelled out as records."""
    zone = service_zone(service, slices, settings)
    records, self_srv = spelled(zone, settings.ttl)
    return ServiceZone(zone.domain, records, self_srv)


def tables(index: RecordIndex) -> tuple[Any, ...]:
    return (
        index.blobs,
        index.addresses,
        index.pointers,
        index.interior,
        index.endpoint_ports,
        index.service_ports,
        index.srv_from_endpoints,
        {key: sorted(owners) for key, owners in index._owners_of.items()},
        index.records(),
    )


def random_object(rng: random.Random) -> dict[str, Any]:
    name = rng.choice(["web", "db", "api"])
    if rng.random() < 0.3:
        ip = rng.choice(["None", "None", "10.96.0.1", "10.96.0.2"])
        spec: dict[str, Any] = {"clusterIP": ip, "ports": [port("http", 80)]}
        spec["publishNotReadyAddresses"] = rng.random() < 0.2
        return builders.service(name, **spec)
    family = rng.choice(["IPv4", "IPv4", "IPv6"])
    pool = [a for a in ADDRESSES if (":" in a) == (family == "IPv6")]
    endpoints = [
        endpoint(
            address,
            ready=rng.choice([True, True, False, None]),
            hostname=rng.choice(HOSTNAMES),
            pod=rng.choice(["", "pod-a", "pod-b"]),
        )
        for address in rng.sample(pool, rng.randint(0, len(pool)))
    ]
    slice_name = f"{name}-{rng.choice('abc')}"
    return slice_of(name, slice_name, endpoints, ports=rng.choice(PORT_SETS), family=family)


@pytest.mark.parametrize("seed", range(40))
@pytest.mark.parametrize("pod_names", [False, True], ids=["hostnames", "endpoint-pod-names"])
def test_plain_endpoints_are_stored_as_their_records_would_be(
    seed: int, pod_names: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    settings = ZoneSettings(endpoint_pod_names=pod_names)
    plain, spelled = ClusterState(settings), ClusterState(settings)
    for step in range(60):
        if rng.random() < 0.15:
            kind = rng.choice(["Service", "EndpointSlice"])
            name = rng.choice(["web", "db", "api"])
            if kind == "EndpointSlice":
                name = f"{name}-{rng.choice('abc')}"
            event: Event = Delete(ObjectKey(kind, "shop", name))
        else:
            obj = from_dict(random_object(rng))
            assert obj is not None
            event = Upsert(obj)
        changed_plain = plain.apply(event, now=T0 + step)
        with monkeypatch.context() as patched:
            patched.setattr(state_module, "service_zone", spelled_zone)
            changed_spelled = spelled.apply(event, now=T0 + step)
        assert changed_plain == changed_spelled, step
        assert tables(plain.index) == tables(spelled.index), step


@pytest.mark.parametrize("count", [1, 2, 400, 1200], ids=lambda n: f"{n}-endpoints")
def test_a_big_headless_service_is_stored_as_its_records_would_be(
    count: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One endpoint: the Service's name is a packed address; 400: the SRV set's targets run
    past where a compression pointer reaches; 1,200: the SRV set does not fit a message."""
    addresses = [f"10.244.{n // 250}.{n % 250 + 1}" for n in range(count)]
    objects = [
        builders.service("db", clusterIP="None", ports=[port("http", 80)]),
        slice_of("db", "db-a", [endpoint(a) for a in addresses], ports=[port("http", 8080)]),
    ]
    plain, spelled = ClusterState(ZoneSettings()), ClusterState(ZoneSettings())
    events = [Upsert(obj) for obj in map(from_dict, objects) if obj is not None]
    plain.apply_all(events, now=T0)
    monkeypatch.setattr(state_module, "service_zone", spelled_zone)
    spelled.apply_all(events, now=T0)
    assert tables(plain.index) == tables(spelled.index)
