"""ops.coredns without a server: which type and family a request is counted under, the
`server` label, and the forward names made from svcdns's tries (timeouts included)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from svcdns.ops.coredns import OTHER, add_coredns_names, count_types, server_label
from svcdns.ops.metrics import Metrics

HEADER = bytes(12)
WEB = b"\x03web\x04shop\x03svc\x07cluster\x05local\x00"
V4 = ("10.0.0.1", 5353)
V6 = ("fd00::1", 5353, 0, 0)


def _question(name: bytes, qtype: int) -> bytes:
    return HEADER + name + qtype.to_bytes(2, "big") + b"\x00\x01"


def _counted(data: bytes, client: Any, proto: str = "udp") -> dict[tuple[str, str, int], int]:
    names = add_coredns_names(Metrics(), listen="0.0.0.0:53")
    handle = count_types(lambda data, client: b"reply", names.types, proto)
    assert handle(data, client) == b"reply"  # the handler's reply, as it was
    return {
        (p, f, slot): n
        for (p, f), table in names.types.tables.items()
        for slot, n in enumerate(table)
        if n
    }


@pytest.mark.parametrize(
    ("data", "slot"),
    [
        pytest.param(_question(WEB, 1), 1, id="a"),
        pytest.param(_question(WEB, 65), 65, id="https-below-256"),
        pytest.param(_question(WEB, 257), OTHER, id="caa-past-255-is-other"),
        pytest.param(_question(b"\x00", 6), 6, id="root-soa"),
        pytest.param(HEADER + WEB + b"\x00", OTHER, id="type-cut-short"),
        pytest.param(HEADER + b"\x03web", OTHER, id="name-never-ends"),
        pytest.param(b"\x00\x01", OTHER, id="no-header"),
    ],
)
def test_a_request_is_counted_under_its_type(data: bytes, slot: int) -> None:
    assert _counted(data, V4) == {("udp", "1", slot): 1}


def test_the_family_is_the_clients_and_tcp_may_have_no_peer() -> None:
    assert _counted(_question(WEB, 28), V6) == {("udp", "2", 28): 1}
    assert _counted(_question(WEB, 33), None, "tcp") == {("tcp", "1", 33): 1}


@pytest.mark.parametrize(
    ("listen", "label"),
    [
        ("0.0.0.0:53", "dns://:53"),
        ("[::]:53", "dns://:53"),
        ("10.96.0.10:53", "dns://10.96.0.10:53"),
        ("[fd00::10]:5353", "dns://[fd00::10]:5353"),
    ],
)
def test_server_label_is_corednss(listen: str, label: str) -> None:
    assert server_label(listen) == label


def test_forward_names_from_tries_and_timeouts() -> None:
    metrics = Metrics()
    add_coredns_names(metrics, listen="0.0.0.0:53")
    tries = {
        ("10.0.0.2:53", "NOERROR"): 5,
        ("10.0.0.2:53", "timeout"): 3,
        ("10.0.0.3:53", "SERVFAIL"): 1,
    }
    metrics.bind_forwarding(
        replies=lambda: tries,
        healthy=dict,
        cache=lambda: (7, 2, 1, 4),
        in_flight=lambda: 0.0,
    )
    metrics.forward_durations.observe(("10.0.0.2:53",), 0.003)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name.startswith("coredns_")
    }
    to2, to3 = ("to", "10.0.0.2:53"), ("to", "10.0.0.3:53")
    assert samples[("coredns_forward_requests_total", (to2,))] == 8
    assert samples[("coredns_forward_requests_total", (to3,))] == 1
    assert samples[("coredns_forward_responses_total", (("rcode", "NOERROR"), to2))] == 5
    assert samples[("coredns_forward_responses_total", (("rcode", "SERVFAIL"), to3))] == 1
    assert ("coredns_forward_responses_total", (("rcode", "timeout"), to2)) not in samples
    assert samples[("coredns_forward_healthcheck_failures_total", (to2,))] == 3
    assert samples[("coredns_forward_healthcheck_failures_total", (to3,))] == 0
    proxy = (("proxy_name", "forward"), ("rcode", ""), to2)
    assert samples[("coredns_proxy_healthcheck_failures_total", proxy)] == 3
    assert samples[("coredns_proxy_request_duration_seconds_count", proxy)] == 1
    bucket = ("coredns_proxy_request_duration_seconds_bucket", (("le", "0.005"), *proxy))
    assert samples[bucket] == 1
    cache = (("server", "dns://:53"), ("view", ""), ("zones", "."))
    typed = (("server", "dns://:53"), ("type", ""), ("view", ""), ("zones", "."))
    assert samples[("coredns_cache_hits_total", typed)] == 7
    assert samples[("coredns_cache_misses_total", cache)] == 2
    assert samples[("coredns_cache_requests_total", cache)] == 9
    assert samples[("coredns_cache_evictions_total", typed)] == 1
    assert samples[("coredns_cache_entries", typed)] == 4
