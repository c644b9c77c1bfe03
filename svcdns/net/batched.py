"""The batched UDP listener: up to 64 datagrams read and their replies sent per system
call (`mmsg`), drained from an event-loop reader callback on the non-blocking socket.

The same `handle(data, client)` as asyncio's one-datagram listener (`transport`), with
the same answers: a reply is sent with the batch, a forwarded one (an awaitable) when the
upstream has answered. What only this path adds is fairness under overload (`fairness`),
since only a batch tells that datagrams are waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

from svcdns.net.fairness import Fairness, queue_fill
from svcdns.net.mmsg import BATCH, NAME, SLOT, Datagrams
from svcdns.net.ratelimit import ClientRate

log = logging.getLogger("svcdns.transport")

MAX_SOURCES = 4096  # decoded source addresses remembered, then afresh
BATCHES_A_TURN = 8  # full batches read in one event-loop turn before yielding
IPV4_NAME = 16  # sizeof(sockaddr_in); sockaddr_in6 is 28

HandleFn = Callable[[bytes, Any], Any]
ObserveFn = Callable[[str, float], None]  # (transport, seconds)
LaterFn = Callable[..., None]  # transport._later: send an awaited reply when it comes


def decode_source(raw: bytes) -> tuple[Any, ...]:
    """A sockaddr as asyncio gives it: (host, port) or (host, port, flowinfo, scope_id)."""
    port = int.from_bytes(raw[2:4], "big")
    if len(raw) == IPV4_NAME:
        return (socket.inet_ntop(socket.AF_INET, raw[4:8]), port)
    return (
        socket.inet_ntop(socket.AF_INET6, raw[8:24]),
        port,
        int.from_bytes(raw[4:8], "big"),
        int.from_bytes(raw[24:28], sys.byteorder),  # the scope id is in host order
    )


class BatchedUdpListener:
    """One UDP socket served in batches. `sample_every`: one duration observed per that
    many datagrams (a batch's, from its read to its replies sent)."""

    def __init__(
        self,
        sock: socket.socket,
        datagrams: Datagrams,
        handle: HandleFn,
        *,
        later: LaterFn,
        observe: ObserveFn | None = None,
        rate: ClientRate | None = None,
        sample_every: int = 64,
    ) -> None:
        self._sock = sock
        self._datagrams = datagrams
        self._handle = handle
        self._later = later
        self._observe = observe
        self._sample_every = sample_every
        self._countdown = sample_every
        self._allow: Callable[[object], bool] | None = None
        self.limit(rate)
        self.fairness = Fairness(BATCH)
        self._sources: dict[bytes, tuple[Any, ...]] = {}
        b = datagrams
        self._views = (
            b.data, b.names, b.out, b.in32, b.out32, b.out64, b.iov64, b.names_at, b.out_at
        )  # fmt: skip
        # Datagram i: (its namelen word, its length word, its name's offset, its data's).
        self._received = [
            (
                i * b.stride32 + b.namelen_at,
                i * b.stride32 + b.len_at,
                i * NAME,
                i * SLOT,
            )
            for i in range(BATCH)
        ]
        # Send slot j: (its iov base word, iov length word, name pointer word, namelen word).
        self._sending = [
            (
                j * b.iov_stride64 + b.iov_base_at,
                j * b.iov_stride64 + b.iov_len_at,
                j * b.stride64 + b.name_at,
                j * b.stride32 + b.namelen_at,
            )
            for j in range(BATCH)
        ]
        self._pending: set[asyncio.Future[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def limit(self, rate: ClientRate | None) -> None:
        """Count each source against `rate` from now on; None: no limit, and no cost."""
        self._allow = rate.allow if rate is not None else None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._datagrams.close()

    def _readable(self) -> None:
        # A full batch means more are waiting: read on, up to a bound, before going back
        # to the event loop (one epoll_wait saved a batch), so timers and TCP still run.
        try:
            for _ in range(BATCHES_A_TURN):
                if self._batch() < BATCH:
                    return
        except Exception:  # nothing in a batch may stop the listener
            log.exception("UDP batch failed")

    def _batch(self) -> int:
        """Read and answer one batch: how many datagrams it held."""
        # The hottest function of the server: locals, slices and integer stores only; every
        # offset is looked up in the tables made at start (`_offsets`), not computed.
        batch = self._datagrams
        count = batch.receive()
        if not count:
            return 0
        self._countdown -= count
        timed = self._countdown <= 0 and self._observe is not None
        started = time.perf_counter() if timed else 0.0
        fairness = self.fairness
        keep: list[bool] | None = None
        if count < BATCH:
            if fairness.overloaded or fairness.budget < BATCH:
                fairness.short_batch()
        elif fairness.full_batch(queue_fill(self._sock)):
            keep = fairness.keep([self._host_key(i) for i in range(count)])
        data, names, out, in32, out32, out64, iov64, names_at, out_at = self._views
        received, sending = self._received, self._sending
        sources, handle, allow = self._sources, self._handle, self._allow
        replies = filled = 0
        for index in range(count):
            if keep is not None and not keep[index]:
                continue
            namelen_word, len_word, at, start = received[index]
            namelen = in32[namelen_word]
            raw = names[at : at + namelen]
            client = sources.get(raw)
            if client is None:
                if len(sources) >= MAX_SOURCES:
                    sources.clear()
                client = sources[raw] = decode_source(raw)
            if allow is not None and not allow(client[0]):
                continue
            try:
                reply = handle(data[start : start + in32[len_word]], client)
            except Exception:  # the handler never raises; this keeps a bug from killing us
                log.exception("handler raised")
                continue
            if type(reply) is bytes:  # into send slot `replies`, to this datagram's source
                base_word, size_word, name_word, out_namelen_word = sending[replies]
                end = filled + len(reply)
                out[filled:end] = reply
                iov64[base_word] = out_at + filled
                iov64[size_word] = end - filled
                out64[name_word] = names_at + at
                out32[out_namelen_word] = namelen
                replies += 1
                filled = end
            elif reply is not None:  # forwarded: sent when the upstream has answered
                self._later(reply, self._pending, self._sender(client))
        if replies:
            batch.send(replies)
        if timed:
            assert self._observe is not None
            self._countdown += self._sample_every
            self._observe("udp", time.perf_counter() - started)
        return count

    def _host_key(self, index: int) -> bytes:
        """Datagram `index`'s source address octets, undecoded: the fairness key."""
        names, at = self._datagrams.names, index * NAME
        if self._datagrams.namelen(index) == IPV4_NAME:
            return names[at + 4 : at + 8]
        return names[at + 8 : at + 24]

    def _sender(self, client: tuple[Any, ...]) -> Callable[[bytes], None]:
        sock = self._sock

        def send(reply: bytes) -> None:
            # A full buffer or a vanished route: lost, as a datagram may be.
            with contextlib.suppress(OSError):
                sock.sendto(reply, client)

        return send
