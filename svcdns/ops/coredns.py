"""CoreDNS's metric names (`--metrics-names coredns`), made when scraped from the counts
svcdns keeps, so that a cluster's CoreDNS dashboards and alerts work unchanged while it
moves over. The names and labels are those of CoreDNS 1.13's prometheus, cache and forward
plugins, with the values a kubeadm Corefile gives (`server="dns://:53"`, `zone="."`).

svcdns does not keep the query type, so `count_types` reads it from each request: the
only per-query cost of this option (README MONITORING has the figure). A label svcdns has
no value for is present and empty, which Prometheus reads as absent: responses' `plugin`,
the duration's `type`, the cache's `type`. Imports ops.metrics only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from svcdns.ops.metrics import (
    BADVERS,
    RCODE_NAMES,
    DurationHistogram,
    Family,
    Labels,
    Metrics,
    counter_family,
    gauge_family,
    histogram_family,
)

Handle = Callable[[bytes, Any], Any]
OTHER = 256  # the slot of every type CoreDNS does not name, and of a question unread
# The types CoreDNS counts by name (plugin/metrics/vars/monitor.go); the rest are "other".
# All are below 256, so a type's slot is its low octet when its high octet is zero.
MONITORED = {
    1: "A",
    2: "NS",
    5: "CNAME",
    6: "SOA",
    12: "PTR",
    15: "MX",
    16: "TXT",
    28: "AAAA",
    33: "SRV",
    43: "DS",
    46: "RRSIG",
    47: "NSEC",
    48: "DNSKEY",
    50: "NSEC3",
    65: "HTTPS",
    251: "IXFR",
    252: "AXFR",
    255: "ANY",
}
PROTOS = ("udp", "tcp")
FAMILIES = ("1", "2")  # CoreDNS's family label: 1 IPv4, 2 IPv6
ZONE = "."  # the kubeadm Corefile's one server block: every query is in zone "."
PROXY = "forward"  # coredns_proxy_*'s proxy_name for the forward plugin


class TypeCounts:
    """Requests by (proto, family): 257 counts each, slot = type (or OTHER)."""

    def __init__(self) -> None:
        self.tables = {(p, f): [0] * (OTHER + 1) for p in PROTOS for f in FAMILIES}


def count_types(handle: Handle, types: TypeCounts, proto: str) -> Handle:
    """`handle`, counting each request's type first. The question's name ends at the first
    zero octet after the header: a label holding a zero octet (no cluster name has one)
    would be counted under a wrong type, never answered differently."""
    v4, v6 = types.tables[(proto, "1")], types.tables[(proto, "2")]

    def counted(data: bytes, client: Any) -> Any:
        # An IPv6 peer is a 4-tuple (host, port, flow, scope); TCP may have no peer.
        table = v6 if type(client) is tuple and len(client) == 4 else v4
        try:
            end = data.index(0, 12)
            table[OTHER if data[end + 1] else data[end + 2]] += 1
        except (ValueError, IndexError):  # no whole question: CoreDNS says "other" too
            table[OTHER] += 1
        return handle(data, client)

    return counted


def server_label(listen: str) -> str:
    """CoreDNS's `server` label of a listen address: `dns://:53` for a wildcard."""
    host, _, port = listen.rpartition(":")
    return f"dns://{'' if host in ('0.0.0.0', '[::]', '::') else host}:{port}"


class CoreDnsNames:
    """CoreDNS's families, built at each scrape from `metrics` and `types`."""

    def __init__(self, metrics: Metrics, *, server: str) -> None:
        self._metrics = metrics
        self.types = TypeCounts()  # for `count_types`
        self.server = server  # the label: set again once the listener is bound (port 0)

    def families(self) -> Iterator[Family]:
        yield from self._dns()
        yield from self._cache()
        yield from self._forward()

    def _dns(self) -> Iterator[Family]:
        at = (self.server, ZONE, "")  # server, zone, view
        requests: dict[Labels, float] = {}
        for (proto, family), table in self.types.tables.items():
            for slot, count in enumerate(table):
                if count:
                    key = (*at, proto, family, MONITORED.get(slot, "other"))
                    requests[key] = requests.get(key, 0) + count
        yield counter_family(
            "coredns_dns_requests",
            "Counter of DNS requests made per zone, protocol and family.",
            ["server", "zone", "view", "proto", "family", "type"],
            requests,
        )
        tables = self._metrics.queries.by_transport().values()
        responses: dict[Labels, float] = {}
        for code in (*range(16), BADVERS):
            count = sum(counts[code] for counts in tables)
            if count:  # as CoreDNS: a series once that rcode has been sent
                name = "BADVERS" if code == BADVERS else RCODE_NAMES.get(code, str(code))
                responses[(*at, name, "")] = count
        yield counter_family(
            "coredns_dns_responses",
            "Counter of response status codes.",
            ["server", "zone", "view", "rcode", "plugin"],
            responses,
        )
        # svcdns times by transport (UDP sampled): both in one series, type unknown.
        summed = _summed(self._metrics.requests)
        yield histogram_family(
            "coredns_dns_request_duration_seconds",
            "Histogram of the time (in seconds) each request took per zone.",
            ["server", "zone", "view", "type"],
            {(*at, ""): summed} if summed else {},
        )

    def _cache(self) -> Iterator[Family]:
        hits, misses, evictions, entries = self._metrics.forward_cache()
        typed, plain = ["server", "type", "zones", "view"], ["server", "zones", "view"]
        with_type, without = (self.server, "", ZONE, ""), (self.server, ZONE, "")
        yield counter_family(
            "coredns_cache_hits", "The count of cache hits.", typed, {with_type: hits}
        )
        yield counter_family(
            "coredns_cache_misses", "The count of cache misses.", plain, {without: misses}
        )
        yield counter_family(
            "coredns_cache_requests",
            "The count of cache requests.",
            plain,
            {without: hits + misses},
        )
        yield counter_family(
            "coredns_cache_evictions",
            "The count of cache evictions.",
            typed,
            {with_type: evictions},
        )
        yield gauge_family("coredns_cache_entries", "The number of elements in the cache.",
                           typed, {with_type: entries})  # fmt: skip

    def _forward(self) -> Iterator[Family]:
        requests: dict[Labels, float] = {}
        responses: dict[Labels, float] = {}
        unanswered: dict[Labels, float] = {}
        for (to, outcome), count in self._metrics.forward_replies().items():
            requests[(to,)] = requests.get((to,), 0) + count
            unanswered[(to,)] = unanswered.get((to,), 0) + (count if outcome == "timeout" else 0)
            if outcome != "timeout":
                responses[(to, outcome)] = count
        yield counter_family(
            "coredns_forward_requests", "Counter of requests made per upstream.", ["to"], requests
        )
        yield counter_family(
            "coredns_forward_responses",
            "Counter of responses received per upstream.",
            ["to", "rcode"],
            responses,
        )
        # svcdns probes a failing upstream once a second with the same tries: an upstream's
        # unanswered tries are its failed health checks (CoreDNSForwardHealthcheckFailureCount
        # fires on the same condition: an upstream that keeps not answering).
        yield counter_family(
            "coredns_forward_healthcheck_failures",
            "Counter of the number of failed healthchecks.",
            ["to"],
            unanswered,
        )
        yield counter_family(
            "coredns_proxy_healthcheck_failures",
            "Count of failed health checks per upstream.",
            ["proxy_name", "to", "rcode"],
            {(PROXY, to, ""): n for (to,), n in unanswered.items()},
        )
        durations = self._metrics.forward_durations.counts  # by (upstream,)
        yield histogram_family(
            "coredns_forward_request_duration_seconds",
            "Histogram of the time each request took.",
            ["to", "rcode"],
            {(to, ""): counts for (to, *_), counts in durations.items()},
        )
        yield histogram_family(
            "coredns_proxy_request_duration_seconds",
            "Histogram of the time each request took.",
            ["proxy_name", "to", "rcode"],
            {(PROXY, to, ""): counts for (to, *_), counts in durations.items()},
        )


def _summed(histogram: DurationHistogram) -> list[float]:
    """Every label set's counts added up: one series (empty: none observed)."""
    total: list[float] = []
    for counts in histogram.counts.values():
        total = [a + b for a, b in zip(total, counts, strict=True)] if total else list(counts)
    return total


def add_coredns_names(metrics: Metrics, *, listen: str) -> CoreDnsNames:
    """Register CoreDNS's names on `metrics`: their `types` are for `count_types` to fill."""
    names = CoreDnsNames(metrics, server=server_label(listen))
    metrics.when_scraped(names.families)
    return names
