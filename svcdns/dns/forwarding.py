"""The forwarding decision, sans-IO: for a question outside the zones, the reply to send now
(a cached answer, REFUSED, our loop probe's SERVFAIL) or the upstreams to ask; then, given
what they said (or nothing), the client's reply.

In the style of h11: no sockets, no clock, no futures. The time is an argument; the cache
is a store handed in (`net.cache.ForwardCache` satisfies `CacheStore`); the servers are
opaque values the caller configured (`net.forward.Upstream`) and gets back in `Ask`. The
caller awaits the exchange and calls `finish`. A question is decided once: a plain UDP
query is read from its bytes (`plain`), anything else after the full parse (`decide`), and
a name of the zones never reaches the forward cache.

Who may: only clients in `--allow-recursion` (svcdns is never an open resolver). Where to:
the longest `--stub-domain` the name is in, else `--upstream`. When every upstream failed:
an answer expired up to `--serve-stale` ago (RFC 8767), else SERVFAIL. Imports the core,
dns and wire only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from svcdns.core.wire import name_wire
from svcdns.dns.codec import chased_reply
from svcdns.dns.forwarded import client_reply, error_reply, plain_question, reply_from_cache
from svcdns.dns.handler import Outside
from svcdns.wire.header import COUNTS, HEADER_SIZE, QR, RA, RD
from svcdns.wire.limits import MAX_TCP
from svcdns.wire.names import labels

SERVFAIL, REFUSED = 2, 5
MAX_REMEMBERED_CLIENTS = 4096  # --allow-recursion verdicts kept: a memo, not a record
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CachedEntry(Protocol):
    rcode: int
    counts: tuple[int, int, int]


class CacheStore(Protocol):
    """What the decision needs of the forward cache (`net.cache.ForwardCache`)."""

    def __len__(self) -> int: ...
    def get(self, question: bytes, now: float, *, count_miss: bool = True) -> Any: ...
    def peek(self, question: bytes, now: float) -> Any: ...
    def stale(self, question: bytes, now: float, *, within: float) -> Any: ...
    def put(self, question: bytes, reply: bytes, now: float) -> Any: ...


BodyFn = Callable[[Any, float], bytes]  # (entry, now) -> its records, TTLs counted down
StaleBodyFn = Callable[[Any], bytes]  # an expired entry's records, with the stale TTL


@dataclass(frozen=True, slots=True)
class Plain:
    """A question outside the zones as the reply needs it: where the client's question
    ends, our OPT for the reply (or b""), the client's size limit and the lower-case name."""

    end: int
    opt: bytes
    limit: int
    name: str


@dataclass(frozen=True, slots=True)
class Ask:
    """Ask `servers` (in order) the `question` (name, type, class as on the wire), for
    the client's question `asked`; `chase`: an ExternalName whose target this is."""

    question: bytes
    servers: tuple[Any, ...]
    asked: Plain
    chase: Outside | None = None


@dataclass(frozen=True, slots=True)
class Sent:
    """A reply to send now; `source` says where it came from (`cache` or `upstream`)."""

    message: bytes
    source: str = "upstream"


class Policy:
    """Who may have names forwarded, and to which servers each name goes."""

    def __init__(
        self,
        *,
        upstreams: Sequence[Any],
        stubs: Sequence[tuple[str, Sequence[Any]]],
        allowed: Sequence[str],
        serve_stale: float = 0.0,
    ) -> None:
        self.upstreams = list(upstreams)
        # The longest (most specific) domain first.
        self.stubs = sorted(((d, list(s)) for d, s in stubs), key=lambda stub: -len(stub[0]))
        self.allowed: list[Network] = [ipaddress.ip_network(n) for n in allowed]
        self.serve_stale = serve_stale
        self._clients: dict[str, bool] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams or self.stubs)

    def stub_servers(self) -> list[Any]:
        return [server for _, servers in self.stubs for server in servers]

    def servers_for(self, name: str) -> list[Any]:
        for domain, servers in self.stubs:
            if name == domain or name.endswith("." + domain):
                return servers
        return self.upstreams

    def allows(self, host: str) -> bool:
        allowed = self._clients.get(host)
        if allowed is None:
            try:
                address = ipaddress.ip_address(host.partition("%")[0])
                allowed = any(address in network for network in self.allowed)
            except ValueError:
                allowed = False
            if len(self._clients) >= MAX_REMEMBERED_CLIENTS:
                self._clients.clear()
            self._clients[host] = allowed
        return allowed


class Forwarding:
    """The decision's state: the policy, the cache, and our loop probe's name while the
    loop check runs (CoreDNS's `loop`)."""

    def __init__(
        self,
        policy: Policy,
        cache: CacheStore,
        *,
        body: BodyFn,
        stale_body: StaleBodyFn,
        zones: Sequence[str],
        report_unreadable: Callable[[BaseException, str], None],
    ) -> None:
        self.policy = policy
        self.cache = cache
        self._body, self._stale_body = body, stale_body
        # Names under these are ours (or the full path's to judge): never plain-forwarded.
        self._zone_wires = tuple(name_wire(zone) for zone in zones)
        self._report_unreadable = report_unreadable
        self.probe = ""  # the loop check's random name while it runs
        self.looped = False  # that name came back to us

    # -- deciding ------------------------------------------------------------------------

    def plain_question(self, data: bytes) -> Plain | None:
        """A plain UDP query for a name outside the zones, read from its bytes (no parser);
        None for anything else, which the full path decides. The zones are checked on the
        wire first: the zone's own questions the fast path passes on pay little here."""
        if not self.policy.enabled:
            return None
        parsed = plain_question(data, udp=True)
        if parsed is None:
            return None
        end, opt, limit = parsed
        wire = data[HEADER_SIZE : end - 4].lower()
        # A false match (a label holding a length byte) only sends a question to the full
        # path, which decides it as well.
        if any(wire.endswith(zone) for zone in self._zone_wires):
            return None
        # As the full parser spells it: a dot inside a label escaped.
        found, _ = labels(data, HEADER_SIZE)
        name = b".".join(label.replace(b".", b"\\.") for label in found).decode().lower()
        return Plain(end, opt, limit, name)

    def plain(self, data: bytes, question: Plain, host: str, now: float) -> Sent | Ask:
        """Decide a question `plain_question` read."""
        return self._decide(data, question, host, now)

    def decide(self, data: bytes, outside: Outside, host: str, now: float) -> Sent | Ask:
        """A question the full path found outside the zones."""
        plain = Plain(outside.question_end, outside.opt, outside.limit, outside.name)
        if outside.chase:
            return self._decide_chase(data, outside, plain, host, now)
        return self._decide(data, plain, host, now)

    def _decide(self, data: bytes, question: Plain, host: str, now: float) -> Sent | Ask:
        end, opt = question.end, question.opt
        if self.probe and question.name == self.probe:
            self.looped = True  # our own probe came back: answer it and do not pass it on
            return Sent(error_reply(data, end, SERVFAIL, opt=opt, recursion=True))
        servers = self.policy.servers_for(question.name)
        if not servers or not self.policy.allows(host):
            return Sent(error_reply(data, end, REFUSED, opt=opt, recursion=False))
        entry = self.cache.get(data[HEADER_SIZE:end], now)
        if entry is not None:
            return Sent(self._from_entry(entry, data, question, now), "cache")
        return Ask(data[HEADER_SIZE:end], tuple(servers), question)

    def _decide_chase(
        self, data: bytes, outside: Outside, question: Plain, host: str, now: float
    ) -> Sent | Ask:
        """An ExternalName whose target is outside the zones: our CNAME, then the target's
        records, cached as any forwarded answer under the target's question."""
        servers = self.policy.servers_for(outside.name)
        if not servers or not self.policy.allows(host):
            return Sent(error_reply(data, question.end, REFUSED, opt=question.opt, recursion=False))
        entry = self.cache.get(outside.target_question, now)
        if entry is None:
            return Ask(outside.target_question, tuple(servers), question, outside)
        return Sent(self._chased(outside, self._message_of(entry, outside, now)), "cache")

    # -- finishing -----------------------------------------------------------------------

    def store(self, question: bytes, reply: bytes | None, now: float) -> None:
        """Keep what an upstream said (once per exchange, whoever else waited for it)."""
        if reply is not None:
            # An unreadable reply is not kept; the client still gets what can be read.
            with contextlib.suppress(ValueError, IndexError, struct.error):
                self.cache.put(question, reply, now)

    def finish(self, data: bytes, ask: Ask, reply: bytes | None, now: float) -> bytes:
        """The client's reply once the upstreams answered `ask` (`reply`), or did not
        (None: a stale answer if allowed, else SERVFAIL)."""
        if ask.chase is not None:
            return self._finish_chase(data, ask, ask.chase, reply, now)
        question = ask.asked
        end, opt = question.end, question.opt
        if reply is None:
            within = self.policy.serve_stale
            stale = within and self.cache.stale(ask.question, now, within=within)
            if stale:  # RFC 8767: every upstream failed; an expired answer beats none
                body = self._stale_body(stale)
                return reply_from_cache(
                    data, end, rcode=stale.rcode, counts=stale.counts, body=body, opt=opt,
                    limit=question.limit,
                )  # fmt: skip
            return self.overloaded(data, ask)
        stored = self.cache.peek(ask.question, now)
        if stored is not None:  # the first asker gets the capped TTLs the others will
            return self._from_entry(stored, data, question, now)
        try:
            return client_reply(reply, data, end, opt=opt, limit=question.limit)
        except (ValueError, IndexError) as error:
            # Any name a client asks may come back unreadable: one line per 10 s at most.
            self._report_unreadable(error, repr(question.name[:100]))
            return error_reply(data, end, SERVFAIL, opt=opt, recursion=True)

    @staticmethod
    def overloaded(data: bytes, ask: Ask) -> bytes:
        """SERVFAIL: no upstream answered, or too many questions are upstream already."""
        return error_reply(data, ask.asked.end, SERVFAIL, opt=ask.asked.opt, recursion=True)

    def _finish_chase(
        self, data: bytes, ask: Ask, outside: Outside, reply: bytes | None, now: float
    ) -> bytes:
        if reply is None:
            return self.overloaded(data, ask)
        entry = self.cache.peek(outside.target_question, now)
        if entry is None:
            return self._chased(outside, reply)
        return self._chased(outside, self._message_of(entry, outside, now))

    # -- replies from the cache --------------------------------------------------------

    def _from_entry(self, entry: Any, data: bytes, question: Plain, now: float) -> bytes:
        return reply_from_cache(
            data,
            question.end,
            rcode=entry.rcode,
            counts=entry.counts,
            body=self._body(entry, now),
            opt=question.opt,
            limit=question.limit,
        )

    def _message_of(self, entry: Any, outside: Outside, now: float) -> bytes:
        """A cached entry as a whole message again, for the parser (an ExternalName)."""
        flags = (QR | RD | RA | int(entry.rcode)).to_bytes(2, "big")
        counts: bytes = COUNTS.pack(1, *entry.counts)
        body = self._body(entry, now)
        return b"\x00\x00" + flags + counts + outside.target_question + body

    @staticmethod
    def _chased(outside: Outside, message: bytes) -> bytes:
        assert outside.query is not None
        udp = outside.limit < MAX_TCP
        return chased_reply(outside.query, outside.chase, message, udp=udp)
