"""The operations listener over HTTP: /health, /ready, /metrics, and the SIGTERM lame duck."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import dns.rcode
from helpers import (
    CLUSTER_YAML,
    ServerFactory,
    answer_data,
    get,
    ops_url,
    poll,
    write_atomically,
)

WEB = "web.shop.svc.cluster.local"


def test_health_ready_and_unknown_paths(start_server: ServerFactory) -> None:
    base = ops_url(start_server())
    assert get(f"{base}/health") == (200, "text/plain", "ok\n")
    assert get(f"{base}/ready") == (200, "text/plain", "ready\n")  # manifests: ready at once
    assert get(f"{base}/nope")[0] == 404


def test_metrics_count_queries_by_transport_and_rcode(start_server: ServerFactory) -> None:
    server = start_server()
    base = ops_url(server)
    for _ in range(3):
        assert server.udp(WEB).rcode() == dns.rcode.NOERROR
    assert server.udp("nosuch.shop.svc.cluster.local").rcode() == dns.rcode.NXDOMAIN
    assert server.tcp(WEB).rcode() == dns.rcode.NOERROR
    status, kind, text = get(f"{base}/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4")
    samples = dict(
        line.rsplit(" ", 1) for line in text.splitlines() if line and not line.startswith("#")
    )
    assert float(samples['svcdns_dns_requests_total{transport="udp"}']) == 4
    assert float(samples['svcdns_dns_requests_total{transport="tcp"}']) == 1
    assert float(samples['svcdns_dns_responses_total{rcode="NOERROR"}']) == 4
    assert float(samples['svcdns_dns_responses_total{rcode="NXDOMAIN"}']) == 1
    assert float(samples["svcdns_source_synced"]) == 1
    assert float(samples["svcdns_soa_serial"]) > 1_700_000_000
    assert float(samples["svcdns_names"]) > 20
    assert float(samples['svcdns_source_events_total{kind="Service"}']) >= 10
    # Request durations: every TCP query, and one UDP query in 64 (none of the 4 yet).
    assert float(samples['svcdns_dns_request_duration_seconds_count{transport="tcp"}']) == 1
    assert 'svcdns_dns_request_duration_seconds_count{transport="udp"}' not in samples
    for _ in range(64):
        server.udp(WEB)
    text = get(f"{base}/metrics")[2]
    assert 'svcdns_dns_request_duration_seconds_count{transport="udp"} 1.0' in text


def test_programming_duration_is_measured_for_a_manifests_change(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    manifests = tmp_path / "cluster.yaml"
    manifests.write_text(CLUSTER_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    server = start_server(manifests)
    base = ops_url(server)
    write_atomically(
        manifests,
        manifests.read_text(encoding="utf-8").replace("10.96.100.10", "10.96.100.99"),
    )
    assert poll(lambda: answer_data(server.udp(WEB), "A") == ["10.96.100.99"], timeout=5)
    text = get(f"{base}/metrics")[2]
    assert 'svcdns_programming_duration_seconds_count{source="manifests"} 1.0' in text


def test_sigterm_lame_duck_keeps_answering_with_ready_503(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--lameduck", "1.5")
    base = ops_url(server)
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert poll(lambda: get(f"{base}/ready")[0] == 503, timeout=1)
    assert get(f"{base}/ready")[2] == "not ready: shutting down\n"
    assert answer_data(server.udp(WEB), "A") == ["10.96.100.10"]
    assert server.proc.wait(timeout=10) == 0
    assert time.monotonic() - signalled >= 1.4


def test_http_none_turns_the_listener_off(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--http", "none")
    assert not any("ops on" in line for line in server.lines)
