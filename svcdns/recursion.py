"""Names outside the zones: who may have them forwarded, to which servers, and the reply.

Wires `net.forward` (the upstream exchange) to `dns.forwarded` (the client's reply). A
client outside `--allow-recursion` gets REFUSED: svcdns is never an open resolver. A name
under a `--stub-domain` goes to that domain's servers (the longest match wins), any other
to `--upstream` (default: the nameservers of /etc/resolv.conf). SERVFAIL when no upstream
answered in time, or when too many questions are in flight already. Answers are cached
(`net.cache`); identical questions in flight share one upstream query; a cached answer is
served to the UDP hot path before any parsing (`cached`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import struct
import time
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from svcdns.config import Config
from svcdns.dns.codec import chased_reply
from svcdns.dns.forwarded import client_reply, error_reply, plain_question, reply_from_cache
from svcdns.dns.handler import BoundedReport, Outside
from svcdns.net.cache import Entry, ForwardCache, question_key, served_body, stale_body
from svcdns.net.forward import Forwarder, Overloaded, Upstream, parse_upstream
from svcdns.wire.header import COUNTS, HEADER_SIZE, QR, RA, RD
from svcdns.wire.limits import MAX_TCP

log = logging.getLogger("svcdns.forward")

RESOLV_CONF = Path("/etc/resolv.conf")
# Where the last answer of this task came from ("cache" or "upstream"), for --log-queries.
answered_from: ContextVar[str] = ContextVar("answered_from", default="upstream")
SERVFAIL, REFUSED = 2, 5
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def resolv_conf_upstreams(path: Path = RESOLV_CONF) -> list[Upstream]:
    """The `nameserver` lines of resolv.conf (a pod's `dnsPolicy: Default` gives the node's)."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(parse_upstream(fields[1].partition("%")[0]))
            except (ValueError, OSError):
                continue
    return found


class Recursion:
    def __init__(self, config: Config, *, resolv_conf: Path = RESOLV_CONF) -> None:
        self._resolv_conf = resolv_conf
        self.forwarder = Forwarder()
        self.cache = ForwardCache()
        # Questions being asked upstream now: a second asker waits for the same reply.
        self._in_flight: dict[bytes, asyncio.Future[bytes | None]] = {}
        self._clients: dict[str, bool] = {}  # address -> allowed, bounded below
        self._probe = ""  # the loop check's random name while it runs
        self._looped = False
        self._report_unreadable = BoundedReport("unreadable replies from upstream (SERVFAIL)")
        self.reconfigure(config)

    def reconfigure(self, config: Config) -> None:
        """Apply forwarding settings (at start, and on SIGHUP): questions in flight finish
        with the old upstreams; the cache starts afresh only if its bounds changed."""
        resolv_conf = self._resolv_conf
        if config.upstream is None:
            self.upstreams = resolv_conf_upstreams(resolv_conf)
        else:
            self.upstreams = [parse_upstream(text) for text in config.upstream]
        self.stubs = sorted(
            (
                (domain, [parse_upstream(text) for text in servers])
                for domain, servers in config.stub_domains
            ),
            key=lambda stub: -len(stub[0]),  # the longest (most specific) domain first
        )
        self.allowed: list[Network] = [ipaddress.ip_network(n) for n in config.allow_recursion]
        self._clients = {}
        self.forwarder.max_concurrent = config.max_concurrent
        self.forwarder.force_tcp = config.force_tcp
        if (self.cache.size, self.cache.max_ttl) != (config.cache_size, config.cache_ttl):
            self.cache = ForwardCache(size=config.cache_size, max_ttl=config.cache_ttl)
        self.cache.rotate = config.rotate  # from the next answer cached
        self._serve_stale = config.serve_stale

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams or self.stubs)

    def allows(self, host: str) -> bool:
        allowed = self._clients.get(host)
        if allowed is None:
            try:
                address = ipaddress.ip_address(host.partition("%")[0])
                allowed = any(address in network for network in self.allowed)
            except ValueError:
                allowed = False
            if len(self._clients) >= 4096:  # bounded: a memo, not a record of every client
                self._clients.clear()
            self._clients[host] = allowed
        return allowed

    def stub_servers(self) -> list[Upstream]:
        return [upstream for _, servers in self.stubs for upstream in servers]

    def servers_for(self, name: str) -> list[Upstream]:
        for domain, servers in self.stubs:
            if name == domain or name.endswith("." + domain):
                return servers
        return self.upstreams

    def cached(self, data: bytes, client: Any) -> bytes | None:
        """A cached answer for a UDP query, from bytes alone; None for anything else (the
        full path then decides, and a name of the zones is never in this cache)."""
        if not self.cache or not self.enabled:
            return None
        parsed = plain_question(data, udp=True)
        if parsed is None:
            return None
        end, opt, limit = parsed
        if not self.allows(_host(client)):
            return None
        now = time.monotonic()
        # Not a miss yet: the question may be the zone's (then it never reaches the cache),
        # and a forwarded one is counted once, in `answer`.
        entry = self.cache.get(data[HEADER_SIZE:end], now, count_miss=False)
        return None if entry is None else _from_entry(entry, data, end, opt, limit, now)

    async def loop_check(self) -> Upstream | None:
        """CoreDNS's `loop`: a random name under the root, sent to each upstream in turn;
        the upstream it comes back to us from, or None. Nodes whose resolv.conf points at
        the cluster DNS are the classic cause."""
        labels = (secrets.token_hex(8), "svcdns-loop-check")
        self._probe = ".".join(labels)
        question = b"".join(bytes((len(x),)) + x.encode() for x in labels) + b"\x00\x00\x01\x00\x01"
        servers = dict.fromkeys([*self.upstreams, *self.stub_servers()])
        try:
            for upstream in servers:
                self._looped = False
                with contextlib.suppress(Overloaded):
                    await self.forwarder.ask(question, [upstream])
                if self._looped:
                    return upstream
            return None
        finally:
            self._probe = ""

    async def answer(self, data: bytes, outside: Outside, client: Any) -> bytes:
        if outside.chase:
            return await self._chase(data, outside, client)
        end, opt = outside.question_end, outside.opt
        if self._probe and outside.name == self._probe:
            self._looped = True  # our own probe came back: answer it and do not pass it on
            return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)
        servers = self.servers_for(outside.name)
        if not servers or not self.allows(_host(client)):
            return error_reply(data, end, REFUSED, opt=opt, recursion=False)
        question = data[HEADER_SIZE:end]
        now = time.monotonic()
        entry = self.cache.get(question, now)
        if entry is not None:
            answered_from.set("cache")
            return _from_entry(entry, data, end, opt, outside.limit, now)
        answered_from.set("upstream")
        try:
            reply = await self._shared(question, servers)
        except Overloaded:
            return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)
        if reply is None:
            stale = self._serve_stale and self.cache.stale(question, now, within=self._serve_stale)
            if stale:  # RFC 8767: every upstream failed; an expired answer beats none
                return reply_from_cache(
                    data,
                    end,
                    rcode=stale.rcode,
                    counts=stale.counts,
                    body=stale_body(stale),
                    opt=opt,
                    limit=outside.limit,
                )
            return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)
        stored = self.cache.peek(question, time.monotonic())
        if stored is not None:  # the first asker gets the capped TTLs the others will
            return _from_entry(stored, data, end, opt, outside.limit, time.monotonic())
        try:
            return client_reply(reply, data, end, opt=opt, limit=outside.limit)
        except (ValueError, IndexError) as error:
            # Any name a client asks may come back unreadable: one line per 10 s at most.
            self._report_unreadable(error, repr(outside.name[:100]))
            return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)

    async def _chase(self, data: bytes, outside: Outside, client: Any) -> bytes:
        """An ExternalName: our CNAME, then its target's records from upstream (cached as
        any forwarded answer, under the target's question)."""
        end, opt, query = outside.question_end, outside.opt, outside.query
        assert query is not None
        udp = outside.limit < MAX_TCP
        servers = self.servers_for(outside.name)
        if not servers or not self.allows(_host(client)):
            return error_reply(data, end, REFUSED, opt=opt, recursion=False)
        question = outside.target_question
        entry = self.cache.get(question, time.monotonic())
        answered_from.set("upstream" if entry is None else "cache")
        if entry is None:
            try:
                reply = await self._shared(question, servers)
            except Overloaded:
                reply = None
            if reply is None:
                return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)
            entry = self.cache.peek(question, time.monotonic())
            if entry is None:
                return chased_reply(query, outside.chase, reply, udp=udp)
        message = _message_of(entry, question, time.monotonic())
        return chased_reply(query, outside.chase, message, udp=udp)

    async def _shared(self, question: bytes, servers: list[Upstream]) -> bytes | None:
        """One upstream query per question in flight, whoever else asks meanwhile."""
        key = question_key(question)
        pending = self._in_flight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(question, servers))
            self._in_flight[key] = pending
            pending.add_done_callback(lambda _: self._in_flight.pop(key, None))
        return await asyncio.shield(pending)

    async def _fetch(self, question: bytes, servers: list[Upstream]) -> bytes | None:
        reply = await self.forwarder.ask(question, servers)
        if reply is not None:
            # An unreadable reply is not cached; the client still gets what can be read.
            with contextlib.suppress(ValueError, IndexError, struct.error):
                self.cache.put(question, reply, time.monotonic())
        return reply


def _message_of(entry: Entry, question: bytes, now: float) -> bytes:
    """A cached entry as a whole message again, for the parser."""
    counts = COUNTS.pack(1, *entry.counts)
    return (
        b"\x00\x00"
        + (QR | RD | RA | entry.rcode).to_bytes(2, "big")
        + counts
        + question
        + (served_body(entry, now))
    )


def _host(client: Any) -> str:
    return str(client[0]) if isinstance(client, tuple) else str(client or "")


def _from_entry(entry: Entry, data: bytes, end: int, opt: bytes, limit: int, now: float) -> bytes:
    return reply_from_cache(
        data,
        end,
        rcode=entry.rcode,
        counts=entry.counts,
        body=served_body(entry, now),
        opt=opt,
        limit=limit,
    )
