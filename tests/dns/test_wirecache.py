"""The wire cache: keys, the 0x20 splice, what it refuses to store, and invalidation."""

from __future__ import annotations

import dns.edns
import dns.message
import dns.name
import dns.rdata
import dns.rdatatype
import pytest

from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings
from svcdns.dns import handler as handler_module
from svcdns.dns.handler import Handler
from svcdns.dns.wirecache import WireCache, read_question


def query(name: str, rdtype: str = "A", ident: int = 1, **kwargs: object) -> bytes:
    message = dns.message.make_query(name, rdtype, **kwargs)  # type: ignore[arg-type]
    message.id = ident
    return message.to_wire()


def reply_for(request: bytes, name: str, rdtype: str = "A") -> bytes:
    message = dns.message.make_response(dns.message.from_wire(request))
    rrset = message.find_rrset(
        message.answer, dns.name.from_text(name), 1, dns.rdatatype.from_text(rdtype), create=True
    )
    rrset.add(dns.rdata.from_text(1, dns.rdatatype.from_text(rdtype), "10.96.0.10"), 5)
    return message.to_wire()


def test_hit_splices_the_id_and_the_clients_case() -> None:
    cache = WireCache()
    first = query("web.shop.svc.cluster.local", ident=1)
    assert cache.get(first, udp=True, version=0) is None
    cache.store(first, reply_for(first, "web.shop.svc.cluster.local"), udp=True, version=0)
    second = query("WEB.Shop.svc.cluster.local", ident=2)
    hit = cache.get(second, udp=True, version=0)
    assert hit is not None
    message = dns.message.from_wire(hit)
    assert message.id == 2
    assert message.question[0].name.to_text() == "WEB.Shop.svc.cluster.local."
    assert message.answer[0].name.to_text() == "WEB.Shop.svc.cluster.local."


def test_a_new_version_clears_the_cache() -> None:
    cache = WireCache()
    request = query("web.shop.svc.cluster.local")
    cache.get(request, udp=True, version=0)
    cache.store(request, reply_for(request, "web.shop.svc.cluster.local"), udp=True, version=0)
    assert cache.get(request, udp=True, version=1) is None
    assert cache.get(request, udp=True, version=1) is None  # gone, not just skipped


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param(query("a.b", "TYPE65"), query("a.b", "TYPE97"), id="type-bytes-not-lowered"),
        pytest.param(query("a.b"), query("a.b", use_edns=0), id="edns-or-not"),
        pytest.param(
            query("a.b", use_edns=0), query("a.b", use_edns=0, payload=4096), id="payload"
        ),
    ],
)
def test_different_questions_do_not_share_an_entry(one: bytes, other: bytes) -> None:
    cache = WireCache()
    cache.get(one, udp=True, version=0)
    cache.store(one, reply_for(one, "a.b"), udp=True, version=0)
    assert cache.get(other, udp=True, version=0) is None
    assert cache.get(one, udp=False, version=0) is None  # UDP and TCP replies differ (TC)


def test_reply_spelling_the_name_again_is_not_stored() -> None:
    cache = WireCache()
    request = query("web.shop.svc.cluster.local")
    compressed = reply_for(request, "web.shop.svc.cluster.local")
    found = read_question(request, udp=True)
    assert found is not None
    end, name_end = found.end, found.end - 4
    # The answer's owner written out in full instead of the pointer to the question.
    uncompressed = compressed[:end] + compressed[end:].replace(b"\xc0\x0c", request[12:name_end], 1)
    assert dns.message.from_wire(uncompressed).answer
    cache.get(request, udp=True, version=0)
    cache.store(request, uncompressed, udp=True, version=0)
    assert cache.get(request, udp=True, version=0) is None


def test_only_plain_one_question_queries_qualify() -> None:
    plain = query("a.b")
    found = read_question(plain, udp=True)
    assert found is not None and found.end == 12 + 9
    pointer = plain[:12] + b"\xc0\x0c" + plain[-4:]
    assert read_question(pointer, udp=True) is None
    response = bytes([plain[0], plain[1], plain[2] | 0x80]) + plain[3:]
    assert read_question(response, udp=True) is None
    assert read_question(plain[:14], udp=True) is None
    trailing = plain + b"junk"
    assert read_question(trailing, udp=True) is None
    with_answer = plain[:6] + b"\x00\x01" + plain[8:]
    assert read_question(with_answer, udp=True) is None


def test_edns_options_and_payload_within_a_class_share_an_entry() -> None:
    cookie = dns.edns.GenericOption(10, b"12345678")
    one = read_question(query("a.b", use_edns=0, payload=1232), udp=True)
    two = read_question(query("a.b", use_edns=0, payload=1400, options=[cookie]), udp=True)
    other = read_question(query("a.b", use_edns=0, payload=4096), udp=True)
    assert one is not None and two is not None and other is not None
    assert one.key == two.key != other.key
    assert (one.udp_room, other.udp_room) == (1232, 4096)


def test_udp_replies_cut_or_too_big_for_the_class_are_not_kept() -> None:
    cache = WireCache()
    request = query("a.b", use_edns=0, payload=1400)
    reply = reply_for(request, "a.b")
    cache.get(request, udp=True, version=0)
    truncated = reply[:2] + bytes([reply[2] | 0x02]) + reply[3:]
    cache.store(request, truncated, udp=True, version=0)
    assert cache.get(request, udp=True, version=0) is None
    cache.store(request, reply + bytes(1300), udp=True, version=0)  # > 1232: class minimum
    assert cache.get(request, udp=True, version=0) is None
    cache.store(request, reply, udp=True, version=0)
    assert cache.get(request, udp=True, version=0) is not None


def test_the_cache_is_bounded_in_bytes() -> None:
    cache = WireCache(max_bytes=2000)
    cache.get(query("a.b"), udp=False, version=0)
    for index in range(50):
        request = query(f"n{index}.b")
        cache.store(request, reply_for(request, f"n{index}.b") + bytes(100), udp=False, version=0)
        assert cache._size <= 2000
    assert 0 < len(cache) < 50


def test_handler_answers_repeats_from_the_cache_until_the_state_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = ClusterState(ZoneSettings())
    service = {
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"clusterIP": "10.96.0.10"},
    }
    obj = from_dict(service)
    assert obj is not None
    state.apply(Upsert(obj), now=1)
    state.mark_synced()
    calls: list[str] = []
    real = handler_module.answer

    def counting(*args: object) -> object:
        calls.append(str(args[1]))
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(handler_module, "answer", counting)
    handler = Handler(state)
    for ident in range(3):
        handler.handle(query("web.shop.svc.cluster.local", ident=ident), udp=True)
        handler.handle(query("nosuch.shop.svc.cluster.local", ident=ident), udp=True)
    assert len(calls) == 2
    moved = from_dict({**service, "spec": {"clusterIP": "10.96.0.99"}})
    assert moved is not None
    state.apply(Upsert(moved), now=2)
    reply = handler.handle(query("web.shop.svc.cluster.local", ident=9), udp=True)
    assert reply is not None
    assert dns.message.from_wire(reply).answer[0][0].address == "10.96.0.99"
    assert len(calls) == 3
