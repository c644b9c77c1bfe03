"""Handler: bytes in, bytes out, errors become rcodes in one place; never raises."""

import logging

import dns.message
import dns.rcode
import pytest

from svcdns.core.convert import from_dict
from svcdns.core.model import Upsert
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings
from svcdns.dns import handler as handler_module
from svcdns.dns.handler import Handler

WEB = {
    "kind": "Service",
    "metadata": {"name": "web", "namespace": "shop"},
    "spec": {"clusterIP": "10.96.0.10"},
}


def make_handler(*, synced: bool = True) -> Handler:
    state = ClusterState(ZoneSettings())
    obj = from_dict(WEB)
    assert obj is not None
    state.apply(Upsert(obj), now=1)
    if synced:
        state.mark_synced()
    return Handler(state)


def ask(handler: Handler, name: str, rdtype: str = "A") -> dns.message.Message:
    reply = handler.handle(dns.message.make_query(name, rdtype).to_wire(), udp=True)
    assert reply is not None
    return dns.message.from_wire(reply)


def test_exceptions_while_answering_are_servfail_with_bounded_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    handler = make_handler()

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler_module, "answer", broken)
    monkeypatch.setattr(handler.fast, "answer", lambda *_, **__: None)  # the full path
    with caplog.at_level(logging.ERROR, logger="svcdns.handler"):
        replies = [ask(handler, "web.shop.svc.cluster.local") for _ in range(100)]
    assert {reply.rcode() for reply in replies} == {dns.rcode.SERVFAIL}
    assert replies[0].question[0].name.to_text() == "web.shop.svc.cluster.local."
    # One line for the whole burst: a client repeating the question cannot flood the log.
    assert [r.getMessage() for r in caplog.records] == [
        "1 errors while answering (SERVFAIL) since the last such line (at most one in 10 s;"
        " last: RuntimeError: 'web.shop.svc.cluster.local' type 1: boom)"
    ]
    monkeypatch.undo()
    assert ask(handler, "web.shop.svc.cluster.local").rcode() == dns.rcode.NOERROR


def test_fast_path_failure_is_answered_by_the_full_path_with_bounded_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    handler = make_handler()

    def broken(*_: object, **__: object) -> None:
        raise IndexError("bug")

    monkeypatch.setattr(handler.fast, "answer", broken)
    with caplog.at_level(logging.ERROR, logger="svcdns.handler"):
        replies = [ask(handler, "web.shop.svc.cluster.local") for _ in range(100)]
    assert {r.rcode() for r in replies} == {dns.rcode.NOERROR}
    assert all(r.answer for r in replies)
    # One line for the whole burst, whatever the number of failing packets.
    assert [r.getMessage() for r in caplog.records] == [
        "1 fast path failures, answered by the full path since the last such line"
        " (at most one in 10 s; last: IndexError)"
    ]


def test_before_sync_nxdomain_becomes_servfail_and_known_names_answer() -> None:
    handler = make_handler(synced=False)
    assert ask(handler, "web.shop.svc.cluster.local").rcode() == dns.rcode.NOERROR
    assert ask(handler, "web.shop.svc.cluster.local", "TXT").rcode() == dns.rcode.NOERROR
    assert ask(handler, "nosuch.shop.svc.cluster.local").rcode() == dns.rcode.SERVFAIL
    assert ask(handler, "10.0.96.10.in-addr.arpa", "PTR").rcode() == dns.rcode.NOERROR
    # An address we do not know yet may be ours: SERVFAIL rather than falling through.
    assert ask(handler, "1.2.0.10.in-addr.arpa", "PTR").rcode() == dns.rcode.SERVFAIL
    handler.state.mark_synced()
    assert ask(handler, "nosuch.shop.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
    assert ask(handler, "1.2.0.10.in-addr.arpa", "PTR").rcode() == dns.rcode.REFUSED


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"\x12\x34\x01", id="three-bytes"),
        pytest.param(bytes(range(11)), id="eleven-bytes"),
    ],
)
def test_too_short_for_a_header_is_dropped(data: bytes) -> None:
    assert make_handler().handle(data, udp=True) is None


def test_random_bytes_never_raise() -> None:
    import random

    handler = make_handler()
    generator = random.Random(0)
    for _ in range(2000):
        data = generator.randbytes(generator.randrange(0, 80))
        reply = handler.handle(data, udp=True)
        assert reply is None or len(reply) >= 12
    assert ask(handler, "web.shop.svc.cluster.local").rcode() == dns.rcode.NOERROR


def test_a_packet_the_parser_chokes_on_is_formerr_with_bounded_logging(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    handler = make_handler()

    def choke(_: bytes) -> None:
        raise RecursionError("pointer loop")

    monkeypatch.setattr(handler_module, "parse_query", choke)
    monkeypatch.setattr(handler.fast, "answer", lambda *_, **__: None)
    query = dns.message.make_query("web.shop.svc.cluster.local", "A").to_wire()
    with caplog.at_level(logging.ERROR, logger="svcdns.handler"):
        replies = [handler.handle(query, udp=True) for _ in range(100)]
    assert all(r is not None and r[3] & 0xF == dns.rcode.FORMERR for r in replies)
    assert [r.getMessage() for r in caplog.records] == [
        "1 malformed packets the parser choked on (FORMERR) since the last such line"
        " (at most one in 10 s; last: RecursionError)"
    ]
