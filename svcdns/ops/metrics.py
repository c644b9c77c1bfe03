"""Prometheus metrics: one registry per server, every metric named and labelled here.

Per-query counts are plain integers in a list (`QueryCounts`), incremented by the hot path
with no lock and no call, and turned into Prometheus counters only when scraped. What the
other parts keep anyway (the zone's size, the watches' relists, the forward cache's hits)
is read when scraped, through the callables the `bind_*` methods are given: this module
names every metric, and imports nothing of the parts it reads.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from svcdns.core.rr import Rcode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RCODE_NAMES = {int(rcode) & 0xF: rcode.name for rcode in Rcode if int(rcode) < 16}
TRANSPORTS = ("udp", "tcp")
DROPPED = 16  # the slot after the 16 low rcodes: no reply sent
BADVERS = 17  # rcode 16 lives in the OPT's extended bits: counted apart by the full path
SLOTS = 18


class QueryCounts:
    """Replies by transport and low rcode, as plain lists: `udp[reply[3] & 15] += 1`."""

    def __init__(self) -> None:
        self.udp = [0] * SLOTS
        self.tcp = [0] * SLOTS

    def by_transport(self) -> dict[str, list[int]]:
        return {"udp": self.udp, "tcp": self.tcp}


class _QueryCollector(Collector):
    def __init__(self, counts: QueryCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        tables = self._counts.by_transport()
        requests = CounterMetricFamily(
            "svcdns_dns_requests", "DNS messages received, by transport.", labels=["transport"]
        )
        for transport, counts in tables.items():
            requests.add_metric([transport], sum(counts))
        yield requests
        responses = CounterMetricFamily(
            "svcdns_dns_responses", "DNS responses sent, by rcode.", labels=["rcode"]
        )
        for code in range(16):
            total = sum(counts[code] for counts in tables.values())
            responses.add_metric([RCODE_NAMES.get(code, str(code))], total)
        responses.add_metric(["BADVERS"], sum(counts[BADVERS] for counts in tables.values()))
        yield responses
        dropped = CounterMetricFamily(
            "svcdns_dns_dropped", "DNS messages dropped unanswered (too short, or QR set)."
        )
        dropped.add_metric([], sum(counts[DROPPED] for counts in tables.values()))
        yield dropped


Labels = tuple[str, ...]
# Upper bounds of the duration histograms, seconds: a cache hit to an upstream timeout, and
# past CoreDNS's latency alert (4 s): a quantile in +Inf reads as the last bound, so the
# alert needs a bound above its threshold to ever fire. Observing stops at the first bound
# it fits, so the slow buckets cost a fast query nothing.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip


class DurationHistogram:
    """A histogram kept as plain counts (one list increment per observation)."""

    def __init__(self) -> None:
        self.counts: dict[Labels, list[float]] = {}  # labels -> bucket counts, count, sum

    def observe(self, labels: Labels, seconds: float) -> None:
        counts = self.counts.get(labels)
        if counts is None:
            counts = self.counts[labels] = [0.0] * (len(DURATION_BUCKETS) + 2)
        for index, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                counts[index] += 1
                break
        counts[-2] += 1
        counts[-1] += seconds


def histogram_buckets(counts: list[float]) -> list[tuple[str, float]]:
    """A `DurationHistogram`'s counts as Prometheus's cumulative buckets, +Inf last."""
    cumulative, buckets = 0.0, []
    for bound, count in zip(DURATION_BUCKETS, counts, strict=False):
        cumulative += count
        buckets.append((repr(bound), cumulative))
    buckets.append(("+Inf", counts[-2]))
    return buckets


Family = Metric  # one metric's series, as prometheus_client builds them


def counter_family(
    name: str, documentation: str, labels: list[str], series: dict[Labels, float]
) -> Family:
    """A counter family of these series (`name` without `_total`)."""
    return _filled(CounterMetricFamily(name, documentation, labels=labels), series)


def gauge_family(
    name: str, documentation: str, labels: list[str], series: dict[Labels, float]
) -> Family:
    return _filled(GaugeMetricFamily(name, documentation, labels=labels), series)


def _filled(family: CounterMetricFamily | GaugeMetricFamily, series: dict[Labels, float]) -> Family:
    for values, value in series.items():
        family.add_metric(list(values), value)
    return family


def histogram_family(
    name: str, documentation: str, labels: list[str], series: dict[Labels, list[float]]
) -> Family:
    """A histogram family of `DurationHistogram` counts (bucket counts, count, sum)."""
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for values, counts in series.items():
        family.add_metric(list(values), histogram_buckets(counts), counts[-1])
    return family


class _Read(Collector):
    """Families built when scraped from plain numbers the server keeps anyway."""

    def __init__(self, build: Callable[[], Iterator[Metric]]) -> None:
        self._build = build

    def collect(self) -> Iterator[Metric]:
        return self._build()


class Metrics:
    def __init__(self, *, udp_sampled_every: int = 1) -> None:
        self.registry = CollectorRegistry()
        self.queries = QueryCounts()
        self.registry.register(_QueryCollector(self.queries))
        self.events = Counter(
            "svcdns_source_events",
            "Object changes applied to the cluster state, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.programming = DurationHistogram()  # labels: (source,)
        self.histogram(
            "svcdns_programming_duration_seconds",
            "From an object change reaching svcdns to the answers that show it being served.",
            ["source"],
            self.programming,
        )
        self.requests = DurationHistogram()  # labels: (transport,)
        self.histogram(
            "svcdns_dns_request_duration_seconds",
            f"Query to reply, by transport (UDP: one query in {udp_sampled_every} timed).",
            ["transport"],
            self.requests,
        )
        self.forward_durations = DurationHistogram()  # labels: (upstream,)
        # What bind_forwarding is given, kept for other names of the same counts (ops.coredns).
        self.forward_replies: Callable[[], dict[tuple[str, str], int]] = dict
        self.forward_cache: Callable[[], tuple[int, int, int, int]] = lambda: (0, 0, 0, 0)
        self._rate_limited_bound = False
        # CPU, resident memory, open files (process_*): the memory panel of the dashboard.
        ProcessCollector(registry=self.registry)

    def bind_zone(
        self,
        *,
        names: Callable[[], float],
        serial: Callable[[], float],
        synced: Callable[[], bool],
        tcp_connections: Callable[[], float],
    ) -> None:
        """The server's gauges, read when scraped."""
        self.gauge("svcdns_names", "Owner names with records.", names)
        self.gauge("svcdns_soa_serial", "The zone's SOA serial.", serial)
        self.gauge(
            "svcdns_source_synced", "1 once every watched kind has listed.", lambda: synced()
        )
        self.gauge("svcdns_tcp_connections", "Open DNS TCP connections.", tcp_connections)

    def bind_watches(self, watches: Callable[[], Iterable[tuple[str, int, int]]]) -> None:
        """The API watches' (resource, relists, restarts), read when scraped."""
        self.counters(
            "svcdns_watch_relists",
            "Full LISTs of a watched resource (the first included).",
            ["resource"],
            lambda: {(resource,): float(relists) for resource, relists, _ in watches()},
        )
        self.counters(
            "svcdns_watch_restarts",
            "Watches started again after a failure or a 410 Gone.",
            ["resource"],
            lambda: {(resource,): float(restarts) for resource, _, restarts in watches()},
        )

    def bind_rate_limited(self, dropped: Callable[[], float]) -> None:
        """UDP queries dropped over --max-qps-per-client; once, from the first time the
        limit is on."""
        if self._rate_limited_bound:
            return
        self._rate_limited_bound = True
        self.counters(
            "svcdns_rate_limited",
            "UDP queries dropped for exceeding --max-qps-per-client.",
            [],
            lambda: {(): dropped()},
        )

    def bind_overload(self, dropped: Callable[[], float]) -> None:
        """UDP queries dropped by fairness under overload (net.fairness)."""
        self.counters(
            "svcdns_overload_dropped",
            "UDP queries of the heaviest sources dropped while the server was overloaded.",
            [],
            lambda: {(): dropped()},
        )

    def bind_forwarding(
        self,
        *,
        replies: Callable[[], dict[tuple[str, str], int]],  # (upstream, rcode) -> tries
        healthy: Callable[[], dict[Labels, bool]],
        cache: Callable[[], tuple[int, int, int, int]],
        in_flight: Callable[[], float],
    ) -> None:
        """Forwarding: tries by (upstream, rcode), upstream health, the forward cache's
        (hits, misses, evictions, entries), questions in flight; durations are observed
        into `forward_durations`."""
        self.forward_replies, self.forward_cache = replies, cache
        self.counters(
            "svcdns_forward_requests",
            "Questions sent upstream, by upstream and its rcode (or timeout).",
            ["upstream", "rcode"],
            lambda: {key: float(n) for key, n in replies().items()},
        )
        self.histogram(
            "svcdns_forward_duration_seconds",
            "How long an upstream took to answer one try.",
            ["upstream"],
            self.forward_durations,
        )
        self.counters(
            "svcdns_upstream_healthy",
            "1 while an upstream answers, 0 while it is tried last.",
            ["upstream"],
            lambda: {key: float(up) for key, up in healthy().items()},
            family_type=GaugeMetricFamily,
        )
        self.counters(
            "svcdns_cache_hits",
            "Forwarded answers served from the cache.",
            [],
            lambda: {(): float(cache()[0])},
        )
        self.counters(
            "svcdns_cache_misses",
            "Forwarded questions not in the cache.",
            [],
            lambda: {(): float(cache()[1])},
        )
        self.counters(
            "svcdns_cache_evictions",
            "Cache entries evicted to make room.",
            [],
            lambda: {(): float(cache()[2])},
        )
        self.gauge("svcdns_cache_entries", "Forwarded answers cached.", lambda: cache()[3])
        self.gauge("svcdns_forward_in_flight", "Questions upstream now.", in_flight)

    def observe(self, transport: str, reply: bytes | None) -> None:
        """Count one reply (the hot path inlines this as a list increment)."""
        counts = self.queries.udp if transport == "udp" else self.queries.tcp
        counts[DROPPED if reply is None else reply[3] & 0xF] += 1

    def counters(
        self,
        name: str,
        documentation: str,
        labels: list[str],
        read: Callable[[], dict[Labels, float]],
        *,
        family_type: type[CounterMetricFamily] | type[GaugeMetricFamily] = CounterMetricFamily,
    ) -> None:
        """A labelled counter (or, given `GaugeMetricFamily`, gauge) read when scraped."""

        def build() -> Iterator[Metric]:
            family = family_type(name, documentation, labels=labels)
            for values, value in read().items():
                family.add_metric(list(values), value)
            yield family

        self.registry.register(_Read(build))

    def histogram(
        self, name: str, documentation: str, labels: list[str], histogram: DurationHistogram
    ) -> None:
        def build() -> Iterator[Metric]:
            yield histogram_family(name, documentation, labels, histogram.counts)

        self.registry.register(_Read(build))

    def when_scraped(self, build: Callable[[], Iterator[Family]]) -> None:
        """Families `build` makes at each scrape (ops.coredns: other names, same counts)."""
        self.registry.register(_Read(build))

    def gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """A gauge read when scraped (record count, serial, sync state...)."""
        Gauge(name, documentation, registry=self.registry).set_function(read)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))


# How `--workers` adds the workers' gauges up; counters and histograms are summed.
_GAUGE_MERGE: dict[str, Callable[[list[float]], float]] = {
    "svcdns_source_synced": min,  # synced only when every worker is
    "svcdns_soa_serial": max,
    "svcdns_names": max,  # every worker holds the whole zone
    "process_start_time_seconds": min,  # the first worker's start
    "process_max_fds": max,
}


class _Merged(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        return iter(self._families)


def merge_expositions(texts: list[bytes]) -> bytes:
    """One exposition from several workers': counters summed, gauges by `_GAUGE_MERGE`
    (summed when not named there), `_created` the earliest."""
    families: dict[str, Metric] = {}
    values: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[float]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text.decode("utf-8")):
            kept = families.setdefault(family.name, family)
            for sample in family.samples:
                key = (family.name, sample.name, tuple(sorted(sample.labels.items())))
                if key not in values and kept is not family:
                    kept.samples.append(sample)
                values.setdefault(key, []).append(sample.value)
    for family in families.values():
        merged = []
        for sample in family.samples:
            found = values[(family.name, sample.name, tuple(sorted(sample.labels.items())))]
            if sample.name.endswith("_created"):
                how: Callable[[list[float]], float] = min
            elif family.type == "gauge":
                how = _GAUGE_MERGE.get(family.name, sum)
            else:
                how = sum
            merged.append(Sample(sample.name, sample.labels, how(found), None, None))
        family.samples = merged
    registry = CollectorRegistry()
    registry.register(_Merged(list(families.values())))
    return bytes(generate_latest(registry))
