"""The forwarding decision, with no sockets (issue 14, part 2): a question outside the zones
is decided once, from its bytes or after the full parse, into a reply now (a cache hit,
REFUSED, our loop probe's SERVFAIL) or the upstreams to ask; `finish` turns what they said
(or nothing) into the client's reply. The clock is an argument."""

from __future__ import annotations

import asyncio
from typing import Any

import dns.flags
import dns.message
import dns.rcode
import dns.rrset
import pytest

from svcdns.dns.forwarding import Ask, Forwarding, Policy, Sent
from svcdns.net.cache import ForwardCache, served_body, stale_body
from svcdns.net.inflight import InFlight

UPSTREAM = ("192.0.2.53", 53)
CORP = ("10.0.0.53", 53)
NAME = "api.example.com"
ZONES = ("cluster.local", "in-addr.arpa", "ip6.arpa")


def forwarding(*, serve_stale: float = 0.0, cache: ForwardCache | None = None) -> Forwarding:
    policy = Policy(
        upstreams=[UPSTREAM],
        stubs=[("corp.example", [CORP])],
        allowed=["127.0.0.0/8", "10.0.0.0/8"],
        serve_stale=serve_stale,
    )
    reports: list[str] = []
    return Forwarding(
        policy,
        cache if cache is not None else ForwardCache(),
        body=served_body,
        stale_body=stale_body,
        zones=ZONES,
        report_unreadable=lambda error, detail: reports.append(detail),
    )


def plain(decide: Forwarding, data: bytes, host: str, now: float) -> Sent | Ask | None:
    """What the shell does with a UDP question: read it, then decide it (None: not plain)."""
    question = decide.plain_question(data)
    return None if question is None else decide.plain(data, question, host, now)


def query(name: str = NAME, rdtype: str = "A", **kwargs: Any) -> bytes:
    return dns.message.make_query(name, rdtype, **kwargs).to_wire()


def upstream_reply(data: bytes, *, ttl: int = 60, rcode: int = dns.rcode.NOERROR) -> bytes:
    asked = dns.message.from_wire(data)
    reply = dns.message.make_response(asked)
    reply.flags |= dns.flags.RA
    reply.set_rcode(rcode)
    if rcode == dns.rcode.NOERROR:
        name = asked.question[0].name
        reply.answer.append(dns.rrset.from_text(name, ttl, "IN", "A", "192.0.2.10"))
    return reply.to_wire()


def test_a_miss_asks_the_upstream_then_a_hit_is_served_from_the_cache_counted_once() -> None:
    decide = forwarding()
    data = query()
    first = plain(decide, data, "127.0.0.1", now=100.0)
    assert isinstance(first, Ask) and first.servers == (UPSTREAM,)
    assert first.question == data[12 : first.asked.end]
    decide.store(first.question, upstream_reply(data), now=100.0)
    reply = dns.message.from_wire(decide.finish(data, first, upstream_reply(data), now=100.0))
    assert reply.id == dns.message.from_wire(data).id
    assert reply.flags & dns.flags.RA and not reply.flags & dns.flags.AA
    assert [rr.ttl for rr in reply.answer] == [30]  # capped at the cache's 30 s
    again = plain(decide, query(), "127.0.0.1", now=110.0)
    assert isinstance(again, Sent) and again.source == "cache"
    cached = dns.message.from_wire(again.message)
    assert [rr.ttl for rr in cached.answer] == [20]  # counted down
    assert (decide.cache.hits, decide.cache.misses) == (1, 1)


def test_an_entry_past_its_life_is_a_miss() -> None:
    decide = forwarding()
    data = query()
    ask = plain(decide, data, "127.0.0.1", now=0.0)
    assert isinstance(ask, Ask)
    decide.store(ask.question, upstream_reply(data, ttl=5), now=0.0)
    assert isinstance(plain(decide, query(), "127.0.0.1", now=4.0), Sent)
    assert isinstance(plain(decide, query(), "127.0.0.1", now=5.0), Ask)


def test_clients_outside_allow_recursion_are_refused_without_touching_the_cache() -> None:
    decide = forwarding()
    refused = plain(decide, query(), "203.0.113.9", now=0.0)
    assert isinstance(refused, Sent)
    reply = dns.message.from_wire(refused.message)
    assert reply.rcode() == dns.rcode.REFUSED and not reply.flags & dns.flags.RA
    assert (decide.cache.hits, decide.cache.misses) == (0, 0)


def test_a_stub_domain_goes_to_its_own_servers() -> None:
    ask = plain(forwarding(), query("db.Corp.Example"), "10.1.2.3", now=0.0)
    assert isinstance(ask, Ask) and ask.servers == (CORP,)


@pytest.mark.parametrize(
    "name",
    ["web.shop.svc.cluster.local", "cluster.local", "10.96.0.10.in-addr.arpa", "x.ip6.arpa"],
)
def test_a_name_of_the_zones_never_reaches_the_forward_cache(name: str) -> None:
    decide = forwarding()
    assert plain(decide, query(name), "127.0.0.1", now=0.0) is None
    assert (decide.cache.hits, decide.cache.misses) == (0, 0)


def test_what_is_not_plain_is_left_to_the_full_path() -> None:
    decide = forwarding()
    assert plain(decide, query(use_edns=1), "127.0.0.1", now=0.0) is None  # EDNS version 1
    assert plain(decide, query(rdtype="A")[:-2], "127.0.0.1", now=0.0) is None  # cut short


def test_no_upstream_answer_serves_stale_within_the_window_else_servfail() -> None:
    decide = forwarding(serve_stale=60)
    data = query()
    ask = plain(decide, data, "127.0.0.1", now=0.0)
    assert isinstance(ask, Ask)
    decide.store(ask.question, upstream_reply(data, ttl=5), now=0.0)
    later = plain(decide, query(), "127.0.0.1", now=10.0)
    assert isinstance(later, Ask)
    stale = dns.message.from_wire(decide.finish(data, later, None, now=10.0))
    assert stale.rcode() == dns.rcode.NOERROR and [rr.ttl for rr in stale.answer] == [30]
    gone = dns.message.from_wire(decide.finish(data, later, None, now=100.0))
    assert gone.rcode() == dns.rcode.SERVFAIL and gone.flags & dns.flags.RA
    fresh = forwarding()  # serve-stale off
    ask = plain(fresh, data, "127.0.0.1", now=0.0)
    assert isinstance(ask, Ask)
    assert dns.message.from_wire(fresh.finish(data, ask, None, now=0.0)).rcode() == 2


def test_our_loop_probe_coming_back_is_answered_and_noted() -> None:
    decide = forwarding()
    decide.probe = "0123456789abcdef.svcdns-loop-check"
    found = plain(decide, query(decide.probe), "127.0.0.1", now=0.0)
    assert isinstance(found, Sent) and decide.looped
    assert dns.message.from_wire(found.message).rcode() == dns.rcode.SERVFAIL


def test_an_unreadable_upstream_reply_is_servfail_and_not_kept() -> None:
    decide = forwarding()
    data = query()
    ask = plain(decide, data, "127.0.0.1", now=0.0)
    assert isinstance(ask, Ask)
    broken = upstream_reply(data)[:-3]
    decide.store(ask.question, broken, now=0.0)
    assert len(decide.cache) == 0
    reply = dns.message.from_wire(decide.finish(data, ask, broken, now=0.0))
    assert reply.rcode() == dns.rcode.SERVFAIL


def test_identical_questions_in_flight_share_one_exchange() -> None:
    asked: list[bytes] = []
    kept: list[bytes] = []

    async def exchange(question: bytes, servers: list[Any]) -> bytes:
        asked.append(question)
        await asyncio.sleep(0.01)
        return b"reply"

    async def three_askers() -> list[bytes | None]:
        in_flight = InFlight(exchange, lambda question, reply: kept.append(question))
        question = query()[12:]
        upper = query(NAME.upper())[12:]
        return await asyncio.gather(
            in_flight.ask(question, []), in_flight.ask(upper, []), in_flight.ask(question, [])
        )

    assert asyncio.run(three_askers()) == [b"reply"] * 3
    assert len(asked) == 1 and len(kept) == 1
