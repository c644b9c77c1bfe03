"""Bytes in, bytes out: one DNS message to its reply, or None to drop it.

Every error becomes an rcode here, in one place: wire errors carry theirs, an exception
while answering becomes SERVFAIL and one log line. Never raises. No sockets.
"""

from __future__ import annotations

import logging

from svcdns.core.answer import Answer, answer
from svcdns.core.rr import Rcode, RRType
from svcdns.core.state import ClusterState
from svcdns.dns.codec import (
    CLASS_IN,
    Query,
    WireError,
    encode_reply,
    error_reply,
    parse_query,
    read_header,
)
from svcdns.dns.wirecache import WireCache

log = logging.getLogger("svcdns.handler")

_ZONE_TRANSFERS = (RRType.AXFR, RRType.IXFR)


class Handler:
    def __init__(self, state: ClusterState, *, cache: WireCache | None = None) -> None:
        self.state = state
        self.cache = cache or WireCache()

    def handle(self, data: bytes, *, udp: bool) -> bytes | None:
        version = self.state.version
        cached = self.cache.get(data, udp=udp, version=version)
        if cached is not None:
            return cached
        reply = self._answer(data, udp=udp)
        # SERVFAIL is transient (an error, or not synced yet): never remembered.
        if reply is not None and reply[3] & 0xF != Rcode.SERVFAIL:
            self.cache.store(data, reply, udp=udp, version=version)
        return reply

    def _answer(self, data: bytes, *, udp: bool) -> bytes | None:
        try:
            header = read_header(data)
        except WireError:
            return None  # too short for a header: nothing to reply to
        try:
            query = parse_query(data)
        except WireError as error:
            return None if error.rcode is None else error_reply(header, error.rcode)
        try:
            return encode_reply(query, self.resolve(query), udp=udp)
        except Exception as error:  # one bad answer must not take the server down
            log.error(
                "SERVFAIL for %s type %d: %s: %s",
                query.name,
                query.qtype,
                type(error).__name__,
                error,
            )
            return self._servfail(query, udp=udp)

    def resolve(self, query: Query) -> Answer:
        if query.edns is not None and query.edns.version > 0:
            return Answer(Rcode.BADVERS, authoritative=False)  # RFC 6891 section 6.1.3
        if query.qclass != CLASS_IN or query.qtype in _ZONE_TRANSFERS:
            # No CHAOS/HESIOD data, and no zone transfers: the zone is the cluster's.
            return Answer(Rcode.REFUSED, authoritative=False)
        result = answer(self.state, query.name, query.qtype)
        if result is None:  # outside the zones; forwarding is not built yet
            return Answer(Rcode.REFUSED, authoritative=False)
        return result

    @staticmethod
    def _servfail(query: Query, *, udp: bool) -> bytes:
        try:
            return encode_reply(query, Answer(Rcode.SERVFAIL, authoritative=False), udp=udp)
        except Exception:
            return error_reply(query.header, Rcode.SERVFAIL)
