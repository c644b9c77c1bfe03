"""One reply dispatcher for both transports: a message becomes what the listener sends.

The handler's bytes are sent as they are; a name outside the zones becomes the forwarding
coroutine's reply, a zone transfer the transfer's messages, both awaited by the listener.
Each reply is counted here, once, by rcode, in the plain lists `ops.metrics` reads (slot
`dropped` for no reply, `badvers` for rcode 16, whose high bits are in the OPT). No sockets;
imports the core, dns and wire only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from svcdns.dns.handler import Handler, Outside, Transfer
from svcdns.wire.header import RCODE_MASK
from svcdns.wire.opt import is_badvers

ForwardFn = Callable[[bytes, Outside, Any], Awaitable[bytes]]  # (query, outside, client)
TransferFn = Callable[[Transfer, Any], Awaitable[bytes | list[bytes]]]  # REFUSED, or a stream
# A plain UDP question outside the zones, forwarded from its bytes (no parse): the reply
# now (a cache hit), the exchange to await, or None (the full path decides).
PlainFn = Callable[[bytes, Any], bytes | Awaitable[bytes] | None]
# `--autopath` (dns.autopath): a pod's search-path guess answered from the rest of its path,
# the reply now or to await; None for any other query (the paths above answer it).
SearchFn = Callable[..., Any]


class Dispatcher:
    def __init__(
        self,
        handler: Handler,
        *,
        udp_counts: list[int],
        tcp_counts: list[int],
        forward: ForwardFn,
        transfer: TransferFn,
        plain: PlainFn | None = None,
        search: SearchFn | None = None,
        dropped: int,
        badvers: int,
    ) -> None:
        self._handler = handler
        self._tcp_counts = tcp_counts
        self._forward = forward
        self._transfer = transfer
        self._dropped, self._badvers = dropped, badvers
        self._search = search
        self.udp = self._udp_answerer(udp_counts, plain)
        if search is not None:  # only then: a server without autopath pays nothing for it
            self.udp = self._searching(self.udp, search, udp_counts)

    def _udp_answerer(
        self, counts: list[int], plain: PlainFn | None
    ) -> Callable[[bytes, Any], Any]:
        """`(data, client)` for the UDP hot path, as one closure: no frame but the fast
        path's own for a zone hit. A zone transfer cannot come over UDP (the handler
        refuses it)."""
        handler = self._handler
        fast, full = handler.fast.answer, handler.full
        report = handler.report_fast_failure
        dropped, badvers = self._dropped, self._badvers
        forwarded, counted = self._forwarded, self._counted

        def answer_udp(data: bytes, client: Any) -> Any:
            try:
                reply = fast(data)  # positional: the hot path's one call
            except Exception as error:  # a fast-path bug must cost speed, never an answer
                report(error)
                reply = None
            if reply is None and plain is not None:
                decided = plain(data, client)
                if decided is not None and not isinstance(decided, bytes):
                    return counted(decided, counts)  # forwarded: counted when it comes
                reply = decided
            if reply is None:
                found = full(data, udp=True)
                if isinstance(found, Outside):
                    return forwarded(data, found, client, counts)
                if isinstance(found, Transfer):  # only over TCP: cannot happen here
                    found = None
                if found is not None and is_badvers(found):
                    counts[badvers] += 1
                    return found
                reply = found
            counts[dropped if reply is None else reply[3] & RCODE_MASK] += 1
            return reply

        return answer_udp

    def _searching(
        self, answer_udp: Callable[[bytes, Any], Any], search: SearchFn, counts: list[int]
    ) -> Callable[[bytes, Any], Any]:
        """`answer_udp` behind the search path: a pod's first guess is searched before the
        fast path can say NXDOMAIN to it."""
        counted, report = self._counted, self._handler.report_fast_failure
        badvers = self._badvers

        def search_udp(data: bytes, client: Any) -> Any:
            try:
                found = search(data, client)
            except Exception as error:  # a search bug must cost the shortcut, never an answer
                report(error)
                found = None
            if found is None:
                return answer_udp(data, client)
            if isinstance(found, bytes):
                counts[badvers if is_badvers(found) else found[3] & RCODE_MASK] += 1
                return found
            return counted(found, counts)

        return search_udp

    def tcp(self, data: bytes, client: Any) -> Any:
        """One message of a TCP stream: bytes, None (drop), or an awaitable of either a
        reply or a transfer's messages."""
        counts = self._tcp_counts
        if self._search is not None:
            try:
                found = self._search(data, client, udp=False)
            except Exception as error:  # as over UDP: the shortcut lost, never the answer
                self._handler.report_fast_failure(error)
                found = None
            if isinstance(found, bytes):
                counts[self._badvers if is_badvers(found) else found[3] & RCODE_MASK] += 1
                return found
            if found is not None:
                return self._counted(found, counts)
        reply = self._handler.handle(data, udp=False)
        if isinstance(reply, Outside):
            return self._forwarded(data, reply, client, counts)
        if isinstance(reply, Transfer):
            return self._transferred(reply, client, counts)
        if reply is not None and is_badvers(reply):
            counts[self._badvers] += 1
        else:
            counts[self._dropped if reply is None else reply[3] & RCODE_MASK] += 1
        return reply

    async def _forwarded(
        self, data: bytes, outside: Outside, client: Any, counts: list[int]
    ) -> bytes:
        return await self._counted(self._forward(data, outside, client), counts)

    @staticmethod
    async def _counted(pending: Awaitable[bytes], counts: list[int]) -> bytes:
        reply = await pending
        counts[reply[3] & RCODE_MASK] += 1
        return reply

    async def _transferred(
        self, transfer: Transfer, client: Any, counts: list[int]
    ) -> bytes | list[bytes]:
        reply = await self._transfer(transfer, client)
        counts[reply[3] & RCODE_MASK if isinstance(reply, bytes) else 0] += 1
        return reply
