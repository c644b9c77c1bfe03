"""Server-side search path (`--autopath`, CoreDNS's `autopath @kubernetes`): a pod's first
search-path guess answered with the first guess of its search path that exists.

A pod's resolv.conf searches `<ns>.svc.<zone> svc.<zone> <zone>`, then the node's domains,
then the name itself (ndots:5). When a pod of namespace `<ns>` (known by its address:
`--pods verified`) asks `X.<ns>.svc.<zone>` and that name does not exist, the reply is a
CNAME from the asked name to the first of `X.svc.<zone>`, `X.<zone>`, `X.<node domain>`...,
`X` that is not NXDOMAIN, plus that name's records: one query instead of one per guess.
Names of the zone are looked up here; the others through `lookup` (the forwarding path, its
cache first). When every guess is NXDOMAIN, or a lookup fails, the original NXDOMAIN is sent
and the pod walks its path itself, as without autopath (CoreDNS does the same).

The CNAME lives no longer than what it rests on: the NXDOMAIN of the names skipped (the
zone's negative TTL) and the found name's own records (their smallest TTL, or its negative
TTL for NODATA). No sockets; the one await is on what `lookup` hands back. Imports the core,
dns and wire only.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from svcdns.core.answer import Answer, answer
from svcdns.core.rr import Rcode, Record, RRType, SOAData
from svcdns.core.wire import name_wire
from svcdns.dns.codec import (
    CLASS_IN,
    Query,
    WireError,
    chased_reply,
    encode_reply,
    parse_query,
    upstream_answer,
)
from svcdns.dns.handler import Handler
from svcdns.wire.header import HEADER, HEADER_SIZE, RCODE_MASK, RD
from svcdns.wire.limits import MAX_UDP
from svcdns.wire.opt import opt_record

QUESTION_TAIL = struct.Struct("!HH")  # a question's type and class, after its name

# What a search path is walked for: addresses (getaddrinfo) and SRV, the types whose
# records the forwarded answer carries on (codec.upstream_answer).
SEARCHED_TYPES = frozenset({RRType.A, RRType.AAAA, RRType.SRV})
NXDOMAIN, NOERROR = 3, 0
# An OPT asking for the largest datagram: the lookup's reply is not cut before ours is made.
_LOOKUP_OPT = opt_record(MAX_UDP)

# (query message, client) -> the reply now, the exchange to await, or None (not forwarded)
Lookup = Callable[[bytes, Any], bytes | Awaitable[bytes] | None]


def search_names(
    name: str, *, namespace: str, zone: str, domains: Sequence[str] = ()
) -> tuple[str, ...]:
    """The rest of the search path of a pod of `namespace` whose first guess `name` is, in
    the order its resolver tries them; () when `name` is no such guess (CoreDNS
    `firstInSearchPath`: only a name under the first element)."""
    first = f"{namespace}.svc.{zone}"
    if not name.endswith("." + first):
        return ()
    base = name[: -len(first) - 1]
    return (f"{base}.svc.{zone}", f"{base}.{zone}", *(f"{base}.{d}" for d in domains), base)


def lifetime(found: Answer) -> int | None:
    """How long `found` holds: its records' smallest TTL, or for a negative answer its SOA's
    min(TTL, minimum) (RFC 2308 5); None when it says nothing of it."""
    if found.answer:
        return min(record.ttl for record in found.answer)
    for record in found.authority:
        if isinstance(record.data, SOAData):
            return min(record.ttl, record.data.minimum)
    return None


def cname_to(asked: str, name: str, found: Answer, *, ttl: int) -> Record:
    """The CNAME from the asked name to the found one; `ttl` is the negative TTL of the
    names skipped on the way."""
    held = lifetime(found)
    return Record(asked, RRType.CNAME, ttl if held is None else min(ttl, held), name)


def lookup_message(name: str, qtype: int) -> bytes:
    """A plain query (ID 0, RD, our large OPT) for the forwarding path; ValueError for a
    name DNS cannot carry (a long base under a long node domain)."""
    header = HEADER.pack(0, RD, 1, 0, 0, 1)
    return header + name_wire(name) + QUESTION_TAIL.pack(qtype, CLASS_IN) + _LOOKUP_OPT


class AutoPath:
    """The search for one server: the handler (its state and its normal answers), the node's
    search domains (after the cluster's), and how names outside the zones are looked up."""

    def __init__(self, handler: Handler, *, domains: Sequence[str], lookup: Lookup | None) -> None:
        self.handler = handler
        self.state = handler.state
        self.domains = tuple(domains)
        self.lookup = lookup
        self._suffixes: dict[str, bytes] = {}  # namespace -> `<ns>.svc.<zone>` on the wire

    def __call__(self, data: bytes, client: Any, *, udp: bool = True) -> Any:
        """The reply to a pod's search-path guess (bytes, or an awaitable of them), or None:
        not a pod's first guess, and the normal paths answer it."""
        host = client[0] if isinstance(client, tuple) else client
        namespace = self.state.pod_namespace(str(host)) if host else None
        if namespace is None:
            return None  # not a pod's address (a node, a host-network pod): as without
        suffix = self._suffix(namespace)
        # Found on the lower-cased wire, after at least one label (lower-casing is safe: a
        # length byte is at most 63, below "A"), without walking the name: a pod's every
        # query comes here. A false match (the bytes inside a label) costs a parse, then the
        # parsed name is checked and the normal answer sent.
        at = data.lower().find(suffix, HEADER_SIZE + 1)
        if at < 0:
            return None
        end = at + len(suffix) + 4
        if int.from_bytes(data[end - 4 : end - 2], "big") not in SEARCHED_TYPES:
            return None
        original = self.handler.handle(data, udp=udp)
        if not isinstance(original, bytes):
            return None  # an ExternalName to chase: the normal path's
        if original[3] & RCODE_MASK != NXDOMAIN:
            return original  # the name exists: the pod's first guess was right
        try:
            query = parse_query(data)
        except WireError:
            return original
        zone = self.state.settings.zone
        names = search_names(query.name, namespace=namespace, zone=zone, domains=self.domains)
        return self._walk(query, original, names, client, udp=udp)

    def _suffix(self, namespace: str) -> bytes:
        suffix = self._suffixes.get(namespace)
        if suffix is None:
            suffix = self._suffixes[namespace] = name_wire(
                f"{namespace}.svc.{self.state.settings.zone}"
            )
        return suffix

    def _walk(
        self, query: Query, original: bytes, names: tuple[str, ...], client: Any, *, udp: bool
    ) -> Any:
        """The first name that exists, from `names[0]` on: our answer, or the lookup's."""
        for index, name in enumerate(names):
            found = answer(self.state, name, query.qtype)
            if found is not None:  # a name of ours
                if found.rcode == Rcode.NXDOMAIN:
                    continue
                if found.rcode != Rcode.NOERROR:
                    return original  # not synced yet: the pod walks, and gets SERVFAIL
                return self._ours(query, name, found, client, udp=udp)
            pending = self._look_up(name, query.qtype, client)
            if pending is None:
                return original
            if isinstance(pending, bytes):
                reply = self._theirs(query, name, pending, original, udp=udp)
                if reply is None:
                    continue
                return reply
            return self._then(pending, query, original, names, index, client, udp=udp)
        return original

    async def _then(
        self,
        pending: Awaitable[bytes],
        query: Query,
        original: bytes,
        names: tuple[str, ...],
        index: int,
        client: Any,
        *,
        udp: bool,
    ) -> bytes:
        reply = self._theirs(query, names[index], await pending, original, udp=udp)
        if reply is not None:
            return reply
        rest = self._walk(query, original, names[index + 1 :], client, udp=udp)
        return rest if isinstance(rest, bytes) else bytes(await rest)

    def _look_up(self, name: str, qtype: int, client: Any) -> bytes | Awaitable[bytes] | None:
        if self.lookup is None:
            return None  # no forwarding (`--upstream none`): names of the zone only
        try:
            message = lookup_message(name, qtype)
        except ValueError:
            return None
        return self.lookup(message, client)

    def _theirs(
        self, query: Query, name: str, reply: bytes, original: bytes, *, udp: bool
    ) -> bytes | None:
        """The pod's reply from the lookup's for `name`; None for NXDOMAIN (the next name),
        the original for a failure (SERVFAIL, REFUSED: the pod walks and sees it)."""
        rcode = reply[3] & RCODE_MASK if len(reply) > 3 else -1
        if rcode == NXDOMAIN:
            return None
        if rcode != NOERROR:
            return original
        found = upstream_answer(reply)
        if found is None:
            return original
        cname = cname_to(query.name, name, found, ttl=self.state.settings.ttl)
        result = Answer(found.rcode, (cname, *found.answer), found.authority)
        # AA, as the CNAME at the question's name is ours; RA: forwarding is on.
        return encode_reply(query, result, udp=udp, recursion=True)

    def _ours(self, query: Query, name: str, found: Answer, client: Any, *, udp: bool) -> Any:
        """A name of the zone: our CNAME then its answer; an ExternalName at the end whose
        target is outside the zones is chased as the handler chases one."""
        records = (cname_to(query.name, name, found, ttl=self.state.settings.ttl), *found.answer)
        last = found.answer[-1] if found.answer else None
        if last is not None and last.rtype == RRType.CNAME:
            target = str(last.data).lower()
            if answer(self.state, target, query.qtype) is None:
                pending = self._look_up(target, query.qtype, client)
                if isinstance(pending, bytes):
                    return chased_reply(query, records, pending, udp=udp)
                if pending is not None:
                    return self._chase(pending, query, records, udp=udp)
        result = Answer(Rcode.NOERROR, records, found.authority, found.additional)
        return encode_reply(query, result, udp=udp)

    @staticmethod
    async def _chase(
        pending: Awaitable[bytes], query: Query, records: tuple[Record, ...], *, udp: bool
    ) -> bytes:
        return chased_reply(query, records, await pending, udp=udp)
