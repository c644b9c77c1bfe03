"""--autopath (dns/autopath.py): a pod's first search-path guess answered with the first
name of its search path that exists, as a table of cases (CoreDNS `autopath @kubernetes`).

Each row is asked by a client address of the fake cluster below, with the node's search
domain `example.internal`, against a fake forwarding path that knows a few names outside
the zones. Every row runs twice: the forwarded answers at once (a forward-cache hit), and
to await (an exchange). The zone's TTL is 30 here so that the CNAME's own TTL shows: the
smallest of the skipped names' negative TTL (30) and the found name's TTL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import dns.message
import dns.rcode
import dns.rrset
import pytest

from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode, ZoneSettings
from svcdns.dns.autopath import AutoPath, search_names
from svcdns.dns.dispatch import Dispatcher
from svcdns.dns.handler import Handler

SHOP_POD, TOOLS_POD, NODE, REUSED = "10.244.1.5", "10.244.2.5", "10.0.0.9", "10.244.9.9"
SHOP = ".shop.svc.cluster.local"  # the first element of a shop pod's search path

OBJECTS: list[dict[str, Any]] = [
    {"kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
     "spec": {"clusterIP": "10.96.0.10"}},
    {"kind": "Service", "metadata": {"name": "api", "namespace": "tools"},
     "spec": {"clusterIP": "10.96.0.20"}},
    {"kind": "Service", "metadata": {"name": "ext", "namespace": "tools"},
     "spec": {"type": "ExternalName", "externalName": "api.example.com"}},
    *(
        {"kind": "Pod", "metadata": {"name": name, "namespace": ns},
         "status": {"phase": "Running", "podIP": ip}}
        for name, ns, ip in (
            ("client", "shop", SHOP_POD),
            ("client", "tools", TOOLS_POD),
            # An IP reused by a pod of another namespace before the old one's delete came.
            ("old", "shop", REUSED),
            ("new", "tools", REUSED),
        )
    ),
]  # fmt: skip

# The names outside the zones the fake forwarding path knows: name -> (type, TTL, data).
UPSTREAM = {
    "api.example.com": [("A", 10, "192.0.2.10")],
    "db.example.internal": [("A", 300, "192.0.2.20")],
    "broken.example.internal": "SERVFAIL",
}
NEGATIVE_SOA = "example. 60 IN SOA ns.example. hostmaster.example. 1 3600 600 86400 20"

CASES = [
    # (client, question, type, rcode, answer as zone-file lines, names looked up upstream)
    pytest.param(
        SHOP_POD, "api.tools" + SHOP, "A", "NOERROR",
        ["api.tools.shop.svc.cluster.local. 30 IN CNAME api.tools.svc.cluster.local.",
         "api.tools.svc.cluster.local. 30 IN A 10.96.0.20"],
        [], id="short-name-of-another-namespace-found-in-the-zone",
    ),
    pytest.param(
        SHOP_POD, "api.example.com" + SHOP, "A", "NOERROR",
        ["api.example.com.shop.svc.cluster.local. 10 IN CNAME api.example.com.",
         "api.example.com. 10 IN A 192.0.2.10"],
        ["api.example.com.example.internal", "api.example.com"],
        id="external-name-found-bare-after-the-node-domain",
    ),
    pytest.param(
        SHOP_POD, "api.example.com" + SHOP, "AAAA", "NOERROR",
        ["api.example.com.shop.svc.cluster.local. 20 IN CNAME api.example.com."],
        ["api.example.com.example.internal", "api.example.com"],
        id="nodata-upstream-cname-lives-the-negative-ttl",
    ),
    pytest.param(
        SHOP_POD, "db" + SHOP, "A", "NOERROR",
        ["db.shop.svc.cluster.local. 30 IN CNAME db.example.internal.",
         "db.example.internal. 300 IN A 192.0.2.20"],
        ["db.example.internal"], id="node-domain-found-cname-capped-at-the-zone-negative-ttl",
    ),
    pytest.param(
        SHOP_POD, "ext.tools" + SHOP, "A", "NOERROR",
        ["ext.tools.shop.svc.cluster.local. 30 IN CNAME ext.tools.svc.cluster.local.",
         "ext.tools.svc.cluster.local. 30 IN CNAME api.example.com.",
         "api.example.com. 10 IN A 192.0.2.10"],
        ["api.example.com"], id="externalname-found-in-the-zone-is-chased",
    ),
    pytest.param(
        SHOP_POD, "web" + SHOP, "A", "NOERROR",
        ["web.shop.svc.cluster.local. 30 IN A 10.96.0.10"],
        [], id="existing-first-guess-answered-as-without",
    ),
    pytest.param(
        SHOP_POD, "nope" + SHOP, "A", "NXDOMAIN", [],
        ["nope.example.internal", "nope"], id="every-guess-nxdomain-original-reply",
    ),
    pytest.param(
        SHOP_POD, "broken" + SHOP, "A", "NXDOMAIN", [],
        ["broken.example.internal"], id="upstream-failure-original-reply-pod-walks",
    ),
    pytest.param(
        SHOP_POD, "api.example.com" + SHOP, "TXT", "NXDOMAIN", [], [],
        id="type-not-searched",
    ),
    pytest.param(
        NODE, "api.example.com" + SHOP, "A", "NXDOMAIN", [], [],
        id="not-a-pod-address-as-without",
    ),
    pytest.param(
        TOOLS_POD, "api.example.com" + SHOP, "A", "NXDOMAIN", [], [],
        id="guess-under-another-namespace-not-searched",
    ),
    pytest.param(
        REUSED, "api.example.com" + SHOP, "A", "NXDOMAIN", [], [],
        id="reused-ip-of-two-namespaces-not-searched",
    ),
]  # fmt: skip


def cluster(*, synced: bool = True) -> ClusterState:
    state = ClusterState(ZoneSettings(ttl=30, pods=PodMode.VERIFIED))
    for raw in OBJECTS:
        obj = from_dict(raw)
        assert obj is not None
        state.apply(Upsert(obj), now=1)
    if synced:
        state.mark_synced()
    return state


class FakeForwarding:
    """The forwarding path as `AutoPath` sees it: a query message in, the reply out, at
    once (`awaited` False: a cache hit) or to await; the names it was asked, in order."""

    def __init__(self, *, awaited: bool) -> None:
        self.awaited = awaited
        self.asked: list[str] = []

    def __call__(self, message: bytes, client: Any) -> bytes | Awaitable[bytes]:
        query = dns.message.from_wire(message)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True)
        self.asked.append(name)
        reply = dns.message.make_response(query)
        known = UPSTREAM.get(name)
        if known == "SERVFAIL":
            reply.set_rcode(dns.rcode.SERVFAIL)
        elif known is None:
            reply.set_rcode(dns.rcode.NXDOMAIN)
            reply.authority.append(
                dns.rrset.from_text_list(
                    "example.", 60, "IN", "SOA", [NEGATIVE_SOA.split(" IN SOA ")[1]]
                )
            )
        else:
            rdtype = dns.rdatatype.to_text(question.rdtype)
            records = [r for r in known if r[0] == rdtype]
            for rtype, ttl, data in records:
                reply.answer.append(dns.rrset.from_text(question.name, ttl, "IN", rtype, data))
            if not records:
                reply.authority.append(
                    dns.rrset.from_text_list(
                        "example.", 60, "IN", "SOA", [NEGATIVE_SOA.split(" IN SOA ")[1]]
                    )
                )
        wire = reply.to_wire()
        return self._later(wire) if self.awaited else wire

    @staticmethod
    async def _later(wire: bytes) -> bytes:
        await asyncio.sleep(0)
        return wire


def ask(search: AutoPath, client: str, name: str, rdtype: str) -> dns.message.Message:
    wire = dns.message.make_query(name, rdtype).to_wire()
    found = search(wire, (client, 40000))
    if found is None:  # not searched: the normal path answers
        found = search.handler.handle(wire, udp=True)
    elif not isinstance(found, bytes):
        found = asyncio.run(found)
    assert isinstance(found, bytes)
    return dns.message.from_wire(found)


def lines(reply: dns.message.Message) -> list[str]:
    return sorted(
        f"{rrset.name} {rrset.ttl} IN {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
        for rrset in reply.answer
        for rdata in rrset
    )


@pytest.mark.parametrize("awaited", [False, True], ids=["cached", "awaited"])
@pytest.mark.parametrize(("client", "name", "rdtype", "rcode", "answer", "looked_up"), CASES)
def test_autopath_table(
    client: str, name: str, rdtype: str, rcode: str, answer: list[str],
    looked_up: list[str], awaited: bool,
) -> None:  # fmt: skip
    forwarding = FakeForwarding(awaited=awaited)
    handler = Handler(cluster(), forwarding=True)
    search = AutoPath(handler, domains=["example.internal"], lookup=forwarding)
    reply = ask(search, client, name, rdtype)
    assert dns.rcode.to_text(reply.rcode()) == rcode
    assert lines(reply) == sorted(answer)
    assert forwarding.asked == looked_up
    if reply.rcode() == dns.rcode.NXDOMAIN:  # the zone's own NXDOMAIN, with its SOA
        assert [r.rdtype for r in reply.authority] == [dns.rdatatype.SOA]


def test_the_reply_echoes_the_question_as_asked() -> None:
    handler = Handler(cluster(), forwarding=True)
    search = AutoPath(handler, domains=[], lookup=FakeForwarding(awaited=False))
    reply = ask(search, SHOP_POD, "API.Tools.Shop.svc.cluster.local", "A")
    assert reply.question[0].name.to_text() == "API.Tools.Shop.svc.cluster.local."
    assert reply.answer[0].name.to_text() == "API.Tools.Shop.svc.cluster.local."
    assert reply.answer[0].rdtype == dns.rdatatype.CNAME


def test_before_sync_the_pod_gets_the_zones_servfail_and_nothing_is_searched() -> None:
    forwarding = FakeForwarding(awaited=False)
    search = AutoPath(Handler(cluster(synced=False), forwarding=True), domains=[],
                      lookup=forwarding)  # fmt: skip
    reply = ask(search, SHOP_POD, "api.example.com" + SHOP, "A")
    assert reply.rcode() == dns.rcode.SERVFAIL
    assert forwarding.asked == []


def test_without_forwarding_only_the_zones_names_are_searched() -> None:
    search = AutoPath(Handler(cluster()), domains=["example.internal"], lookup=None)
    assert lines(ask(search, SHOP_POD, "api.tools" + SHOP, "A"))[0].endswith(
        "CNAME api.tools.svc.cluster.local."
    )
    assert ask(search, SHOP_POD, "api.example.com" + SHOP, "A").rcode() == dns.rcode.NXDOMAIN


@pytest.mark.parametrize(
    ("name", "namespace", "expected"),
    [
        pytest.param(
            "x.shop.svc.cluster.local", "shop",
            ("x.svc.cluster.local", "x.cluster.local", "x.corp", "x"), id="short-name",
        ),
        pytest.param(
            "a.b.shop.svc.cluster.local", "shop",
            ("a.b.svc.cluster.local", "a.b.cluster.local", "a.b.corp", "a.b"), id="dotted-name",
        ),
        pytest.param("x.tools.svc.cluster.local", "shop", (), id="another-namespace"),
        pytest.param("shop.svc.cluster.local", "shop", (), id="the-element-itself"),
        pytest.param("x.myshop.svc.cluster.local", "shop", (), id="label-boundary"),
    ],
)  # fmt: skip
def test_search_names(name: str, namespace: str, expected: tuple[str, ...]) -> None:
    assert search_names(name, namespace=namespace, zone="cluster.local", domains=["corp"]) == (
        expected
    )


def dispatcher(search: AutoPath | None) -> tuple[Dispatcher, list[int]]:
    counts = [0] * 18

    async def never(*_: Any) -> bytes:
        raise AssertionError("not forwarded here")

    handler = search.handler if search is not None else Handler(cluster(), forwarding=True)
    return Dispatcher(
        handler, udp_counts=counts, tcp_counts=counts, forward=never, transfer=never,
        search=search, dropped=16, badvers=17,
    ), counts  # fmt: skip


def test_the_fast_path_cannot_answer_a_pods_guess_before_the_search() -> None:
    forwarding = FakeForwarding(awaited=False)
    search = AutoPath(Handler(cluster(), forwarding=True), domains=[], lookup=forwarding)
    dispatch, counts = dispatcher(search)
    wire = dns.message.make_query("api.tools" + SHOP, "A").to_wire()
    # A node asks first: NXDOMAIN, which the fast path then holds ready for anyone.
    assert dns.message.from_wire(dispatch.udp(wire, (NODE, 53))).rcode() == dns.rcode.NXDOMAIN
    assert search.handler.fast.answer(wire) is not None
    for _ in range(2):  # the pod, cold and warm: searched each time, over UDP and TCP
        for reply in (dispatch.udp(wire, (SHOP_POD, 53)), dispatch.tcp(wire, (SHOP_POD, 53))):
            assert lines(dns.message.from_wire(reply))[0].endswith(
                "CNAME api.tools.svc.cluster.local."
            )
    assert (counts[0], counts[3]) == (4, 1)  # NOERROR 4, NXDOMAIN 1


def test_a_search_that_raises_costs_the_shortcut_not_the_answer() -> None:
    search = AutoPath(Handler(cluster(), forwarding=True), domains=[], lookup=None)
    search.lookup = None

    def broken(*_: Any) -> None:
        raise RuntimeError("boom")

    search.state.pod_namespace = broken  # type: ignore[method-assign]
    dispatch, _ = dispatcher(search)
    wire = dns.message.make_query("web" + SHOP, "A").to_wire()
    for reply in (dispatch.udp(wire, (SHOP_POD, 53)), dispatch.tcp(wire, (SHOP_POD, 53))):
        assert lines(dns.message.from_wire(reply)) == [
            "web.shop.svc.cluster.local. 30 IN A 10.96.0.10"
        ]


def test_without_autopath_the_udp_answerer_is_not_wrapped() -> None:
    dispatch, _ = dispatcher(None)
    assert dispatch.udp.__name__ == "answer_udp"


def test_a_pods_badvers_is_counted_as_badvers() -> None:
    search = AutoPath(Handler(cluster(), forwarding=True), domains=[], lookup=None)
    dispatch, counts = dispatcher(search)
    wire = dns.message.make_query("web" + SHOP, "A", use_edns=1).to_wire()
    for reply in (dispatch.udp(wire, (SHOP_POD, 53)), dispatch.tcp(wire, (SHOP_POD, 53))):
        assert dns.message.from_wire(reply).rcode() == dns.rcode.BADVERS
    assert (counts[0], counts[17]) == (0, 2)
