"""Names outside the zones, wired: the sans-IO decision (`dns.forwarding`) to the upstream
exchange (`net.forward`, one per question in flight: `net.inflight`) and the cache store
(`net.cache`). This shell only reads the clock and awaits: dns decides, net asks, dns
builds the reply. Also the upstreams' configuration (resolv.conf, `--upstream`,
`--stub-domain`) and CoreDNS's `loop` check.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from svcdns.config import Config
from svcdns.core.answer import REVERSE_ZONES
from svcdns.dns.forwarding import Ask, Forwarding, Policy, Sent
from svcdns.dns.handler import BoundedReport, Outside
from svcdns.net.cache import ForwardCache, served_body, stale_body
from svcdns.net.forward import Forwarder, Overloaded, Upstream, parse_upstream
from svcdns.net.inflight import InFlight
from svcdns.ops.metrics import Metrics

log = logging.getLogger("svcdns.forward")

RESOLV_CONF = Path("/etc/resolv.conf")
# Where the last answer of this task came from ("cache" or "upstream"), for --log-queries.
answered_from: ContextVar[str] = ContextVar("answered_from", default="upstream")


def _resolv_conf_lines(path: Path) -> list[list[str]]:
    """resolv.conf's lines as fields; none when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.split() for line in text.splitlines()]


def resolv_conf_upstreams(path: Path = RESOLV_CONF) -> list[Upstream]:
    """The `nameserver` lines of resolv.conf (a pod's `dnsPolicy: Default` gives the node's)."""
    found = []
    for fields in _resolv_conf_lines(path):
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(parse_upstream(fields[1].partition("%")[0]))
            except (ValueError, OSError):
                continue
    return found


def resolv_conf_search(path: Path = RESOLV_CONF, *, zone: str) -> list[str]:
    """The `search` domains of resolv.conf (the last such line wins, as in glibc), those of
    the cluster left out: the node's domains a pod searches after the cluster's, which
    `--autopath` tries in the same order (CoreDNS's autopath reads them the same way)."""
    domains: list[str] = []
    for fields in _resolv_conf_lines(path):
        if fields and fields[0] in ("search", "domain"):
            domains = [field.rstrip(".").lower() for field in fields[1:]]
    return [d for d in domains if d and d != zone and not d.endswith("." + zone)]


class Recursion:
    def __init__(self, config: Config, *, resolv_conf: Path = RESOLV_CONF) -> None:
        self._resolv_conf = resolv_conf
        self.forwarder = Forwarder()
        self.cache = ForwardCache()
        # The clusterset zone (--multicluster) is ours too: never plain-forwarded.
        clusterset = (config.multicluster,) if config.multicluster else ()
        self._zones = (config.zone, *clusterset, *REVERSE_ZONES)
        self._report_unreadable = BoundedReport("unreadable replies from upstream (SERVFAIL)")
        self.forwarding = self._forwarding(Policy(upstreams=(), stubs=(), allowed=()))
        self._in_flight = InFlight(self.forwarder.ask, self._store)
        self.reconfigure(config)

    def _forwarding(self, policy: Policy) -> Forwarding:
        return Forwarding(
            policy,
            self.cache,
            body=served_body,
            stale_body=stale_body,
            zones=self._zones,
            report_unreadable=self._report_unreadable,
        )

    def _store(self, question: bytes, reply: bytes | None) -> None:
        self.forwarding.store(question, reply, time.monotonic())

    def reconfigure(self, config: Config) -> None:
        """Apply forwarding settings (at start, and on SIGHUP): questions in flight finish
        with the old upstreams; the cache starts afresh only if its bounds changed."""
        if config.upstream is None:
            upstreams = resolv_conf_upstreams(self._resolv_conf)
        else:
            upstreams = [parse_upstream(text) for text in config.upstream]
        stubs = [
            (domain, [parse_upstream(text) for text in servers])
            for domain, servers in config.stub_domains
        ]
        policy = Policy(
            upstreams=upstreams,
            stubs=stubs,
            allowed=config.allow_recursion,
            serve_stale=config.serve_stale,
        )
        self.forwarder.max_concurrent = config.max_concurrent
        self.forwarder.force_tcp = config.force_tcp
        if (self.cache.size, self.cache.max_ttl) != (config.cache_size, config.cache_ttl):
            self.cache = ForwardCache(size=config.cache_size, max_ttl=config.cache_ttl)
        self.cache.rotate = config.rotate  # from the next answer cached
        probe, looped = self.forwarding.probe, self.forwarding.looped
        self.forwarding = self._forwarding(policy)
        self.forwarding.probe, self.forwarding.looped = probe, looped

    # -- what serve and explain read ------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.forwarding.policy.enabled

    @property
    def upstreams(self) -> list[Upstream]:
        return self.forwarding.policy.upstreams

    @property
    def stubs(self) -> list[tuple[str, list[Upstream]]]:
        return self.forwarding.policy.stubs

    def stub_servers(self) -> list[Upstream]:
        return self.forwarding.policy.stub_servers()

    def servers_for(self, name: str) -> list[Upstream]:
        return self.forwarding.policy.servers_for(name)

    # -- the shell: decide, await, finish -----------------------------------------------

    def plain(self, data: bytes, client: Any) -> bytes | Awaitable[bytes] | None:
        """A plain UDP question outside the zones, decided from its bytes: the cached reply
        at once, or the exchange to await; None for anything else (the full path)."""
        question = self.forwarding.plain_question(data)
        if question is None:
            return None
        decision = self.forwarding.plain(data, question, _host(client), time.monotonic())
        if isinstance(decision, Sent) and decision.source == "cache":
            return decision.message
        return self._settle(data, decision)

    async def answer(self, data: bytes, outside: Outside, client: Any) -> bytes:
        """A question the full path found outside the zones."""
        decision = self.forwarding.decide(data, outside, _host(client), time.monotonic())
        return await self._settle(data, decision)

    async def _settle(self, data: bytes, decision: Sent | Ask) -> bytes:
        if isinstance(decision, Sent):
            answered_from.set(decision.source)
            return decision.message
        answered_from.set("upstream")
        try:
            reply = await self._in_flight.ask(decision.question, list(decision.servers))
        except Overloaded:
            return self.forwarding.overloaded(data, decision)
        return self.forwarding.finish(data, decision, reply, time.monotonic())

    def bind_metrics(self, metrics: Metrics) -> None:
        """Forwarding's metrics (ops.metrics names them), read from here when scraped."""
        forwarder = self.forwarder
        durations = metrics.forward_durations
        forwarder.observe = lambda upstream, seconds: durations.observe((upstream,), seconds)
        metrics.bind_forwarding(
            replies=lambda: forwarder.replies,
            healthy=lambda: {
                (str(u),): u not in forwarder.failing
                for u in dict.fromkeys([*self.upstreams, *self.stub_servers()])
            },
            cache=lambda: (
                self.cache.hits,
                self.cache.misses,
                self.cache.evictions,
                len(self.cache),
            ),
            in_flight=lambda: forwarder.in_flight,
        )

    async def stop_on_loop(self, stop: asyncio.Event, exit_code: list[int]) -> None:
        """Run the loop check once; on a loop, say which upstream and stop with status 1."""
        looped = await self.loop_check()
        if looped is not None:
            log.error(
                "forwarding loop: a question sent to upstream %s came back to this server "
                "(does that node's resolv.conf point at the cluster DNS?); stopping",
                looped,
            )
            exit_code[0] = 1
            stop.set()

    async def loop_check(self) -> Upstream | None:
        """CoreDNS's `loop`: a random name under the root, sent to each upstream in turn;
        the upstream it comes back to us from, or None. Nodes whose resolv.conf points at
        the cluster DNS are the classic cause."""
        labels = (secrets.token_hex(8), "svcdns-loop-check")
        self.forwarding.probe = ".".join(labels)
        question = b"".join(bytes((len(x),)) + x.encode() for x in labels) + b"\x00\x00\x01\x00\x01"
        servers = dict.fromkeys([*self.upstreams, *self.stub_servers()])
        try:
            for upstream in servers:
                self.forwarding.looped = False
                with contextlib.suppress(Overloaded):
                    await self.forwarder.ask(question, [upstream])
                if self.forwarding.looped:
                    return upstream
            return None
        finally:
            self.forwarding.probe = ""


def _host(client: Any) -> str:
    return str(client[0]) if isinstance(client, tuple) else str(client or "")
