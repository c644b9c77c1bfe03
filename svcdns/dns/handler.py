"""Bytes in, bytes out: one DNS message to its reply, or None to drop it.

A plain query is answered by the fast path from ready bytes; whatever it declines goes to
the full path (dnslib parse, the answerer, dnslib encode). Every error becomes an rcode
here, in one place: wire errors carry theirs, an exception while answering becomes SERVFAIL
and one log line. Never raises. No sockets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace

from svcdns.core.answer import REVERSE_ZONES, Answer, answer
from svcdns.core.rr import Rcode, Record, RRType
from svcdns.core.state import ClusterState
from svcdns.core.wire import name_wire
from svcdns.dns.codec import (
    CLASS_IN,
    Query,
    WireError,
    encode_reply,
    error_reply,
    parse_query,
    read_header,
)
from svcdns.dns.fastpath import FastPath
from svcdns.dns.rotation import Rotation
from svcdns.wire.limits import MAX_TCP
from svcdns.wire.names import question_end
from svcdns.wire.opt import reply_opt

log = logging.getLogger("svcdns.handler")
FAILURE_REPORT_INTERVAL = 10  # seconds between log lines about failures a client can cause


class BoundedReport:
    """At most one log line per interval about one kind of failure, with a count: no client
    can make the server log without limit, whatever it sends."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = 0
        self.last = -float(FAILURE_REPORT_INTERVAL)

    def __call__(self, error: BaseException, detail: str = "") -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.last >= FAILURE_REPORT_INTERVAL:
            # The detail may quote input (a name, an error message): cut, as every quote is.
            last = f"{type(error).__name__}: {detail[:200]}" if detail else type(error).__name__
            log.error(
                "%d %s since the last such line (at most one in %d s; last: %s)",
                self.count,
                self.what,
                FAILURE_REPORT_INTERVAL,
                last,
            )
            self.count = 0
            self.last = now


_ZONE_TRANSFERS = (RRType.AXFR, RRType.IXFR)


def _opt_of(query: Query) -> bytes:
    if query.edns is None:
        return b""
    return reply_opt(query.edns.do)


_REFUSED = Answer(Rcode.REFUSED, authoritative=False)


@dataclass(frozen=True, slots=True)
class Outside:
    """A plain query for a name outside the zones, to forward: its lower-case name, where
    its question ends, and what the client can take."""

    name: str
    question_end: int
    opt: bytes  # the OPT the client's reply carries (DO copied), b"" without EDNS
    limit: int
    # An ExternalName (spec 2.5) whose target is outside the zones: our CNAME records, the
    # target's question to forward, and the parsed query to answer with both.
    chase: tuple[Record, ...] = ()
    target_question: bytes = b""
    query: Query | None = None


@dataclass(frozen=True, slots=True)
class Transfer:
    """An AXFR or IXFR over TCP for a zone we serve (`zone`): who may have it, the face
    decides (`--transfer-to`)."""

    query: Query
    zone: str


class Handler:
    def __init__(
        self, state: ClusterState, *, forwarding: bool = False, rotate: bool = True
    ) -> None:
        self.state = state
        self.forwarding = forwarding  # names outside the zones: Outside, else REFUSED
        self.rotation = Rotation(enabled=rotate)  # shared: one turn per owner either path
        self.fast = FastPath(state, self.rotation)
        self.fast.chase_external = forwarding
        self.report_fast_failure = BoundedReport("fast path failures, answered by the full path")
        self._report_malformed = BoundedReport("malformed packets the parser choked on (FORMERR)")
        self._report_servfail = BoundedReport("errors while answering (SERVFAIL)")

    def reconfigure(self, *, forwarding: bool, rotate: bool, settings_changed: bool) -> None:
        """New settings while serving (SIGHUP): forwarding on or off, rotation, and the
        fast path's bytes made again when the zone's settings (the TTL) changed."""
        self.forwarding = self.fast.chase_external = forwarding
        self.rotation.enabled = rotate
        if settings_changed:
            self.fast.refresh()

    def handle(self, data: bytes, *, udp: bool) -> bytes | Outside | Transfer | None:
        try:
            reply = self.fast.answer(data, udp=udp)
        except Exception as error:  # a fast-path bug must cost speed, never an answer
            self.report_fast_failure(error)
            reply = None
        return reply if reply is not None else self.full(data, udp=udp)

    def full(self, data: bytes, *, udp: bool) -> bytes | Outside | Transfer | None:
        try:
            header = read_header(data)
        except WireError:
            return None  # too short for a header: nothing to reply to
        try:
            query = parse_query(data)
        except WireError as error:
            return None if error.rcode is None else error_reply(header, error.rcode)
        except Exception as error:  # what dnslib raises on input it did not foresee
            self._report_malformed(error)
            return error_reply(header, Rcode.FORMERR)
        if not udp and query.qtype in _ZONE_TRANSFERS and query.qclass == CLASS_IN:
            zone = query.name
            if zone == self.state.settings.zone or zone in REVERSE_ZONES:
                return Transfer(query, zone)
        try:
            result = self.resolve(query)
            if result is None:
                end = question_end(data)
                if end < 0:  # a compressed question: nothing to forward it as
                    return encode_reply(query, _REFUSED, udp=udp)
                limit = query.udp_limit() if udp else MAX_TCP
                return Outside(query.name, end, opt=_opt_of(query), limit=limit)
            chase = self._external_target(query, result, data, udp=udp)
            if chase is not None:
                return chase
            if len(result.answer) > 1:
                result = replace(result, answer=self.rotation.records(result.answer))
            return encode_reply(query, result, udp=udp)
        except Exception as error:  # one bad answer must not take the server down
            self._report_servfail(error, f"{query.name[:100]!r} type {query.qtype}: {error}")
            return self._servfail(query, udp=udp)

    def _external_target(
        self, query: Query, result: Answer, data: bytes, *, udp: bool
    ) -> Outside | None:
        """When the answer ends at an ExternalName target outside the zones and forwarding
        is on, the target to look up upstream (CoreDNS does too); else None."""
        if not self.forwarding or result.rcode != Rcode.NOERROR or not result.answer:
            return None
        last = result.answer[-1]
        if last.rtype != RRType.CNAME or query.qtype in (RRType.CNAME, RRType.ANY):
            return None
        target = str(last.data).lower()
        if answer(self.state, target, query.qtype) is not None:
            # Ours (a chain that ends in the zone without that type, or loops): the answer
            # stands, CNAME then NODATA with our SOA (RFC 1034 4.3.2 3a, RFC 2308 2.2).
            return None
        end = question_end(data)
        if end < 0:  # a compressed question: nothing to forward it as
            return None
        try:
            question = name_wire(target) + data[end - 4 : end]
        except ValueError:
            return None
        limit = query.udp_limit() if udp else MAX_TCP
        return Outside(target, end, _opt_of(query), limit, result.answer, question, query)

    def resolve(self, query: Query) -> Answer | None:
        """The answer, or None for a name outside the zones when forwarding is on."""
        if query.edns is not None and query.edns.version > 0:
            return Answer(Rcode.BADVERS, authoritative=False)  # RFC 6891 section 6.1.3
        if query.qclass != CLASS_IN or query.qtype in _ZONE_TRANSFERS:
            # No CHAOS/HESIOD data, and no zone transfers: the zone is the cluster's.
            return Answer(Rcode.REFUSED, authoritative=False)
        result = answer(self.state, query.name, query.qtype)
        if result is None:  # outside the zones
            return None if self.forwarding else _REFUSED
        return result

    @staticmethod
    def _servfail(query: Query, *, udp: bool) -> bytes:
        try:
            return encode_reply(query, Answer(Rcode.SERVFAIL, authoritative=False), udp=udp)
        except Exception:
            return error_reply(query.header, Rcode.SERVFAIL)
