"""`--metrics-names coredns`: CoreDNS's series, with their labels and exact values, from a
running server answering zone names, a missing name and forwarded names (a real upstream);
and without the option, none of them.
"""

from __future__ import annotations

from collections.abc import Iterator

import dns.rcode
import pytest
from helpers import CLUSTER_YAML, ServerFactory, get, ops_url, poll, run_svcdns
from prometheus_client.parser import text_string_to_metric_families
from upstream import UpstreamServer

WEB = "web.shop.svc.cluster.local"
SRV = "_http._tcp.web.shop.svc.cluster.local"
FORWARDED = "www.example.org"
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str) -> Series:
    """Every sample of /metrics, by (name, labels)."""
    text = get(f"{base}/metrics")[2]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, frozenset(labels.items())))


@pytest.fixture
def upstream() -> Iterator[UpstreamServer]:
    server = UpstreamServer(records={FORWARDED: "192.0.2.10"}).start()
    yield server
    server.stop()


def test_coredns_names_count_zone_hits_nxdomain_and_forwarded(
    start_server: ServerFactory, upstream: UpstreamServer
) -> None:
    to = f"127.0.0.1:{upstream.port}"
    server = start_server(CLUSTER_YAML, "--metrics-names", "coredns", upstream=to)
    base = ops_url(server)
    # The loop check's one question goes first (NXDOMAIN from this upstream): wait for it.
    assert poll(lambda: value(scrape(base), "coredns_forward_requests_total", to=to), timeout=5)
    for _ in range(2):
        assert server.udp(WEB).rcode() == dns.rcode.NOERROR
    assert server.udp("nosuch.shop.svc.cluster.local", "AAAA").rcode() == dns.rcode.NXDOMAIN
    assert server.udp(WEB, "CAA").rcode() == dns.rcode.NOERROR  # NODATA; a type CoreDNS calls other
    assert server.tcp(SRV, "SRV").rcode() == dns.rcode.NOERROR
    for _ in range(2):  # asked upstream once, then from the cache
        assert server.udp(FORWARDED).rcode() == dns.rcode.NOERROR
    series = scrape(base)
    common = {"server": f"dns://127.0.0.1:{server.port}", "zone": ".", "view": ""}
    requests = {
        (labels["proto"], labels["type"]): found
        for (name, key), found in series.items()
        if name == "coredns_dns_requests_total"
        for labels in [dict(key)]
        if labels.items() >= {**common, "family": "1"}.items()
    }
    assert requests == {("udp", "A"): 4, ("udp", "AAAA"): 1, ("udp", "other"): 1, ("tcp", "SRV"): 1}
    responses = {
        dict(key)["rcode"]: found
        for (name, key), found in series.items()
        if name == "coredns_dns_responses_total"
        and dict(key).items() >= {**common, "plugin": ""}.items()
    }
    assert responses == {"NOERROR": 6, "NXDOMAIN": 1}
    # svcdns times every TCP query and one UDP query in 64: only the SRV one so far.
    duration = {**common, "type": ""}
    assert value(series, "coredns_dns_request_duration_seconds_count", **duration) == 1
    assert value(series, "coredns_dns_request_duration_seconds_bucket", **duration, le="+Inf") == 1
    cache = {"server": common["server"], "zones": ".", "view": ""}
    assert value(series, "coredns_cache_hits_total", **cache, type="") == 1
    assert value(series, "coredns_cache_misses_total", **cache) == 1
    assert value(series, "coredns_cache_requests_total", **cache) == 2
    assert value(series, "coredns_cache_entries", **cache, type="") == 1
    # Upstream: the loop check's question (NXDOMAIN) and FORWARDED's (NOERROR).
    assert value(series, "coredns_forward_requests_total", to=to) == 2
    assert value(series, "coredns_forward_responses_total", to=to, rcode="NOERROR") == 1
    assert value(series, "coredns_forward_responses_total", to=to, rcode="NXDOMAIN") == 1
    assert value(series, "coredns_forward_healthcheck_failures_total", to=to) == 0
    assert value(series, "coredns_forward_request_duration_seconds_count", to=to, rcode="") == 2
    proxy = {"proxy_name": "forward", "to": to, "rcode": ""}
    assert value(series, "coredns_proxy_request_duration_seconds_count", **proxy) == 2
    assert value(series, "coredns_proxy_healthcheck_failures_total", **proxy) == 0
    # svcdns's own names are still there, and agree.
    assert value(series, "svcdns_dns_requests_total", transport="udp") == 6
    assert value(series, "svcdns_cache_hits_total") == 1


def test_without_the_option_no_coredns_names(start_server: ServerFactory) -> None:
    server = start_server()
    assert server.udp(WEB).rcode() == dns.rcode.NOERROR
    series = scrape(ops_url(server))
    assert not [name for name, _ in series if name.startswith("coredns_")]
    assert value(series, "svcdns_dns_requests_total", transport="udp") == 1
    assert (value(series, "process_resident_memory_bytes") or 0) > 1_000_000


def test_an_unknown_metrics_names_value_is_one_line() -> None:
    result = run_svcdns(["serve", "--manifests", str(CLUSTER_YAML), "--metrics-names", "prom"])
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "svcdns: --metrics-names 'prom': svcdns or coredns"
    ], result.stderr
