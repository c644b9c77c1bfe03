"""Round robin of multi-address answers (issue 13, point 5; CoreDNS `loadbalance`).

A headless Service's addresses used to come back in one order every time, so clients that
take the first address all landed on one pod. Each answer of an owner's A or AAAA RRset now
starts one record later than the one before, on the fast path and the full path alike.
"""

from __future__ import annotations

from typing import Any

import dns.message
import dns.rdatatype
from builders import endpoint, service, slice_of

from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.rr import Record, RRType
from svcdns.core.state import ClusterState
from svcdns.core.wire import name_wire
from svcdns.core.zonedata import ZoneSettings
from svcdns.dns import rotation as rotation_module
from svcdns.dns.handler import Handler
from svcdns.dns.rotation import Rotation

DB = "db.shop.svc.cluster.local"
V4 = ["10.244.0.1", "10.244.0.2", "10.244.0.3"]
V6 = ["fd00::1", "fd00::2"]
SQL = {"name": "sql", "port": 5432}


def objects() -> list[dict[str, Any]]:
    def endpoint_slice(name: str, family: str, addresses: list[str]) -> dict[str, Any]:
        endpoints = [endpoint(a, ready=None) for a in addresses]
        return slice_of("db", name, endpoints, ports=[SQL], family=family)

    return [
        service("db", clusterIP="None", ports=[SQL]),
        endpoint_slice("db-v4", "IPv4", V4),
        endpoint_slice("db-v6", "IPv6", V6),
        service("alias", type="ExternalName", externalName=DB),
    ]


def handler(*, rotate: bool = True) -> Handler:
    state = ClusterState(ZoneSettings())
    for raw in objects():
        obj = from_dict(raw)
        assert obj is not None
        state.apply(Upsert(obj), now=1)
    state.mark_synced()
    return Handler(state, rotate=rotate)


def addresses(found: Handler, name: str, rdtype: str, *, udp: bool = True) -> list[str]:
    reply = found.handle(dns.message.make_query(name, rdtype).to_wire(), udp=udp)
    assert isinstance(reply, bytes)
    kind = dns.rdatatype.from_text(rdtype)
    message = dns.message.from_wire(reply)
    return [rd.address for rrset in message.answer if rrset.rdtype == kind for rd in rrset]


def test_the_fast_path_rotates_each_answer_by_one_record() -> None:
    found = handler()
    assert found.fast.answer(dns.message.make_query(DB, "A").to_wire()) is not None
    firsts = [addresses(found, DB, "A")[0] for _ in range(6)]
    answers = [addresses(found, DB, "A") for _ in range(3)]
    assert sorted(firsts[:3]) == V4 and firsts[:3] == firsts[3:]
    for answer in answers:
        assert sorted(answer) == V4
        start = V4.index(answer[0])
        assert answer == V4[start:] + V4[:start]  # rotated, never shuffled


def test_a_and_aaaa_turn_on_their_own() -> None:
    """Asked A, AAAA, A, AAAA...: each family still cycles through all its addresses."""
    found = handler()
    v4_firsts, v6_firsts = [], []
    for _ in range(6):
        v4_firsts.append(addresses(found, DB, "A")[0])
        v6_firsts.append(addresses(found, DB, "AAAA")[0])
    assert set(v4_firsts) == set(V4)
    assert set(v6_firsts) == set(V6)


def test_the_full_path_rotates_too() -> None:
    """Through an ExternalName that points into the zone: the CNAME chase is the full
    path's, and the target's addresses turn as they do on the fast path."""
    found = handler()
    alias = "alias.shop.svc.cluster.local"
    assert found.fast.answer(dns.message.make_query(alias, "A").to_wire()) is None
    firsts = [addresses(found, alias, "A", udp=False)[0] for _ in range(3)]
    assert sorted(firsts) == V4


def test_rotation_can_be_turned_off() -> None:
    found = handler(rotate=False)
    assert len({tuple(addresses(found, DB, "A")) for _ in range(4)}) == 1
    alias = "alias.shop.svc.cluster.local"
    assert len({tuple(addresses(found, alias, "A")) for _ in range(4)}) == 1


def test_rotation_turns_per_owner_and_rotates_only_address_rrsets() -> None:
    rotation = Rotation()
    owner = name_wire(DB)
    assert [rotation.turn(owner, 1, 3) for _ in range(4)] == [0, 1, 2, 0]
    assert rotation.turn(name_wire("other.shop.svc.cluster.local"), 1, 3) == 0
    assert rotation.turn(owner, 28, 2) == 0
    srv = tuple(Record(DB, RRType.SRV, 5, f"{n}") for n in range(3))
    assert rotation.records(srv) == srv
    single = (Record(DB, RRType.A, 5, "10.0.0.1"),)
    assert rotation.records(single) == single


def test_the_turn_table_is_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(rotation_module, "MAX_OWNERS", 4)
    rotation = Rotation()
    for n in range(10):
        rotation.turn(f"owner{n}".encode(), 1, 2)
    assert len(rotation._turns[1]) <= 4
