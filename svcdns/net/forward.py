"""Forwarding: one question to the upstream servers, the first valid reply back.

Bytes only; imports no other part of svcdns but `wire`. Every try gets a fresh random ID
and a fresh socket (so a fresh random source port), and a reply counts only when its ID,
question name (any letter case), type and class match what was asked (RFC 5452): anything
else is ignored and the wait goes on. UDP first, TCP when the reply is truncated (or
always, with `force_tcp`). Each try has its own timeout; then the next upstream. Upstreams
that failed are tried after the healthy ones until they answer again. A cap on questions
in flight turns the excess away at once instead of queueing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

from svcdns.wire.header import (
    FLAGS_AT,
    HEADER,
    HEADER_SIZE,
    QDCOUNT_AT,
    QR,
    RCODE_MASK,
    RCODE_NAMES,
    RD,
    TC,
)
from svcdns.wire.opt import OUR_OPT

log = logging.getLogger("svcdns.forward")

DEFAULT_PORT = 53
HEALTH_INTERVAL = 1.0  # seconds between checks of an upstream that stopped answering
ROOT_NS = b"\x00\x00\x02\x00\x01"  # `. NS`, what CoreDNS asks a failing upstream


@dataclass(frozen=True, slots=True)
class Upstream:
    host: str
    port: int = DEFAULT_PORT

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_upstream(text: str) -> Upstream:
    """`ADDR`, `ADDR:PORT` or `[V6ADDR]:PORT`; raises ValueError."""
    host, port = text.strip(), DEFAULT_PORT
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest:
            port = int(rest.removeprefix(":"))
    elif host.count(":") == 1:
        host, number = host.split(":")
        port = int(number)
    socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range")
    return Upstream(host, port)


class Overloaded(Exception):
    """More questions in flight than the cap: answer SERVFAIL at once."""


def query_message(question: bytes, ident: int) -> bytes:
    """A recursive query for `question` (name, type, class as on the wire) with our OPT, DO
    clear."""
    return HEADER.pack(ident, RD, 1, 0, 0, 1) + question + OUR_OPT


def matches(reply: bytes, ident: int, question: bytes) -> bool:
    """RFC 5452: our ID, a response, and the question we asked (name in any letter case)."""
    if len(reply) < HEADER_SIZE + len(question):
        return False
    got_id, flags, qdcount, _, _, _ = HEADER.unpack_from(reply)
    if got_id != ident or not flags & QR or qdcount != 1:
        return False
    echoed = reply[HEADER_SIZE : HEADER_SIZE + len(question)]
    return echoed[:-4].lower() == question[:-4].lower() and echoed[-4:] == question[-4:]


class Forwarder:
    def __init__(
        self,
        *,
        timeout: float = 2.0,
        max_concurrent: int = 1000,
        force_tcp: bool = False,
    ) -> None:
        self.timeout = timeout
        self.max_concurrent = max_concurrent
        self.force_tcp = force_tcp
        self.in_flight = 0
        self.failing: set[Upstream] = set()  # tried last until they answer again
        # For /metrics: replies by (upstream, rcode name or "timeout"), and how long each
        # try took, handed to `observe(upstream, seconds)`.
        self.replies: dict[tuple[str, str], int] = {}
        self.observe: Callable[[str, float], None] = lambda upstream, seconds: None
        self._checker: asyncio.Task[None] | None = None

    async def ask(self, question: bytes, upstreams: list[Upstream]) -> bytes | None:
        """The first valid reply from `upstreams` (healthy ones first), or None when none
        answered in time. Raises Overloaded above the cap."""
        if self.in_flight >= self.max_concurrent:
            raise Overloaded(f"{self.in_flight} questions in flight")
        self.in_flight += 1
        try:
            ordered = [u for u in upstreams if u not in self.failing]
            ordered += [u for u in upstreams if u in self.failing]
            for upstream in ordered:
                reply = await self._try(upstream, question)
                if reply is not None:
                    self.failing.discard(upstream)
                    return reply
                self._failed(upstream)
            return None
        finally:
            self.in_flight -= 1

    def _failed(self, upstream: Upstream) -> None:
        if upstream in self.failing:
            return
        log.warning("upstream %s did not answer; trying it last until it does", upstream)
        self.failing.add(upstream)
        if self._checker is None or self._checker.done():
            self._checker = asyncio.ensure_future(self._check_failing())

    async def _check_failing(self) -> None:
        """Ask each failing upstream `. NS` every second; one that answers is healthy."""
        while self.failing:
            await asyncio.sleep(HEALTH_INTERVAL)
            for upstream in list(self.failing):
                if await self._try(upstream, ROOT_NS) is not None:
                    self.failing.discard(upstream)
                    log.info("upstream %s answers again", upstream)

    def close(self) -> None:
        if self._checker is not None:
            self._checker.cancel()

    async def _try(self, upstream: Upstream, question: bytes) -> bytes | None:
        started = time.monotonic()
        reply = await self._exchange(upstream, question)
        self.observe(str(upstream), time.monotonic() - started)
        outcome = (
            "timeout"
            if reply is None
            else RCODE_NAMES.get(reply[3] & RCODE_MASK, str(reply[3] & RCODE_MASK))
        )
        key = (str(upstream), outcome)
        self.replies[key] = self.replies.get(key, 0) + 1
        return reply

    async def _exchange(self, upstream: Upstream, question: bytes) -> bytes | None:
        try:
            if not self.force_tcp:
                reply = await asyncio.wait_for(self._udp(upstream, question), self.timeout)
                if not int.from_bytes(reply[FLAGS_AT:QDCOUNT_AT], "big") & TC:
                    return reply
            return await asyncio.wait_for(self._tcp(upstream, question), self.timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            return None

    async def _udp(self, upstream: Upstream, question: bytes) -> bytes:
        ident = secrets.randbits(16)
        loop = asyncio.get_running_loop()
        replies: asyncio.Queue[bytes] = asyncio.Queue(maxsize=64)
        family = socket.AF_INET6 if ":" in upstream.host else socket.AF_INET
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Receiver(replies),
            remote_addr=(upstream.host, upstream.port),
            family=family,
        )
        try:
            transport.sendto(query_message(question, ident))
            while True:  # a datagram that is not our answer is ignored: wait on
                reply = await replies.get()
                if not reply:
                    raise ConnectionRefusedError(f"{upstream}: port unreachable")
                if matches(reply, ident, question):
                    return reply
        finally:
            transport.close()

    async def _tcp(self, upstream: Upstream, question: bytes) -> bytes:
        ident = secrets.randbits(16)
        reader, writer = await asyncio.open_connection(upstream.host, upstream.port)
        try:
            message = query_message(question, ident)
            writer.write(len(message).to_bytes(2, "big") + message)
            await writer.drain()
            while True:
                size = int.from_bytes(await reader.readexactly(2), "big")
                reply = await reader.readexactly(size)
                if matches(reply, ident, question):
                    return reply
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


class _Receiver(asyncio.DatagramProtocol):
    def __init__(self, replies: asyncio.Queue[bytes]) -> None:
        self._replies = replies

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a flood of junk cannot grow memory
            self._replies.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable: give up on this upstream now rather than at the timeout.
        with contextlib.suppress(asyncio.QueueFull):
            self._replies.put_nowait(b"")
