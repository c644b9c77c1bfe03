"""Prometheus metrics: one registry per server, every metric named and labelled here.

Counters are bound to their label values once, so the per-query cost is one increment.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from svcdns.core.rr import Rcode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_RCODE_NAMES = {int(rcode) & 0xF: rcode.name for rcode in Rcode if int(rcode) < 16}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        requests = Counter(
            "svcdns_dns_requests",
            "DNS messages received, by transport.",
            ["transport"],
            registry=self.registry,
        )
        self._requests = {name: requests.labels(name) for name in ("udp", "tcp")}
        responses = Counter(
            "svcdns_dns_responses",
            "DNS responses sent, by rcode (low 4 bits).",
            ["rcode"],
            registry=self.registry,
        )
        self._responses = {
            code: responses.labels(_RCODE_NAMES.get(code, str(code))) for code in range(16)
        }
        self._dropped = Counter(
            "svcdns_dns_dropped",
            "DNS messages dropped unanswered (too short, or QR set).",
            registry=self.registry,
        )
        self.events = Counter(
            "svcdns_source_events",
            "Object changes applied to the cluster state, by kind.",
            ["kind"],
            registry=self.registry,
        )

    def observe(self, transport: str, reply: bytes | None) -> None:
        self._requests[transport].inc()
        if reply is None:
            self._dropped.inc()
        else:
            self._responses[reply[3] & 0xF].inc()

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped (record count, serial, sync state...)."""
        Gauge(name, documentation, registry=self.registry).set_function(read)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
