"""asyncio UDP and TCP listeners around `handle(bytes, client)`, one per transport (the UDP
one sizes its replies for a datagram), which returns a reply, None (drop it) or an awaitable
of a reply (forwarding; over TCP also a zone transfer's messages).

A thin shell: framing (RFC 1035 section 4.2.2 / RFC 7766), an idle timeout, a cap on
concurrent TCP connections. Nothing here may let bad input kill a loop.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from svcdns.net.batched import BatchedUdpListener
from svcdns.net.mmsg import Datagrams
from svcdns.net.ratelimit import ClientRate

log = logging.getLogger("svcdns.transport")

UDP_RECEIVE_BUFFER = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ListenAddress:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class ListenError(OSError):
    """A listen address that cannot be bound; the message names it."""


def _safe(handle: HandleFn, data: bytes, client: Any) -> Any:
    try:
        return handle(data, client)
    except Exception:  # the handler never raises; this keeps a bug from killing the loop
        log.exception("handler raised")
        return None


def _not_connected(data: bytes, addr: tuple[str | int, ...]) -> None:
    raise ConnectionError("no transport yet")


# (data, client address) -> a reply, None (drop), or an awaitable of one (forwarding; over
# TCP also of a zone transfer's messages).
HandleFn = Callable[[bytes, Any], Any]


def _later(reply: Awaitable[bytes | None], pending: set[asyncio.Future[Any]], send: Any) -> None:
    """Send what `reply` resolves to, when it does; the task is kept until then."""
    task = asyncio.ensure_future(reply)
    pending.add(task)

    def done(finished: asyncio.Future[Any]) -> None:
        pending.discard(finished)
        if finished.cancelled():
            return
        if finished.exception() is not None:
            log.error("a forwarded answer failed: %r", finished.exception())
            return
        result = finished.result()
        if result is not None:
            send(result)

    task.add_done_callback(done)


SAMPLE_EVERY = 64  # one query in this many is timed for the request-duration histogram
ObserveFn = Callable[[str, float], None]  # (transport, seconds)


class UdpListener(asyncio.DatagramProtocol):
    def __init__(
        self,
        handle: HandleFn,
        observe: ObserveFn | None = None,
        rate: ClientRate | None = None,
    ) -> None:
        self._handle = handle
        self._observe = observe
        self._allow: Callable[[object], bool] | None = None
        self.limit(rate)
        self._countdown = SAMPLE_EVERY
        self._send: Callable[[bytes, tuple[str | int, ...]], None] = _not_connected
        self._pending: set[asyncio.Future[Any]] = set()

    def limit(self, rate: ClientRate | None) -> None:
        """Count each source against `rate` from now on; None: no limit, and no cost."""
        self._allow = rate.allow if rate is not None else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._send = cast(asyncio.DatagramTransport, transport).sendto

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        # The hottest function of the server: no helper calls beyond the handler itself
        # and the per-client count.
        if self._allow is not None and not self._allow(addr[0]):
            return
        self._countdown -= 1
        if not self._countdown and self._observe is not None:
            self._countdown = SAMPLE_EVERY
            self._timed(data, addr)
            return
        try:
            reply = self._handle(data, addr)
        except Exception:  # the handler never raises; this keeps a bug from killing the loop
            log.exception("handler raised")
            return
        if type(reply) is bytes:
            self._send(reply, addr)
        elif reply is not None:  # forwarded: sent when the upstream has answered
            _later(reply, self._pending, lambda result: self._send(result, addr))

    def _timed(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        """A sampled query: the same handling, with its duration observed."""
        started = time.perf_counter()
        observe = self._observe
        assert observe is not None
        try:
            reply = self._handle(data, addr)
        except Exception:
            log.exception("handler raised")
            return
        if type(reply) is bytes:
            self._send(reply, addr)
            observe("udp", time.perf_counter() - started)
        elif reply is not None:

            def send(result: bytes) -> None:
                self._send(result, addr)
                observe("udp", time.perf_counter() - started)

            _later(reply, self._pending, send)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for an earlier reply; nothing to do


class TcpConnection(asyncio.Protocol):
    """One client connection: 2-byte length-prefixed messages, pipelined, answered in order."""

    def __init__(self, server: DnsServer) -> None:
        self._server = server
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._peer: Any = None
        self._pending: set[asyncio.Future[Any]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._peer = transport.get_extra_info("peername")
        if len(self._server.connections) >= self._server.max_tcp_connections:
            self._transport.abort()  # over the cap: refuse cheaply rather than queue
            return
        self._server.connections.add(self)
        self._arm_idle_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        if self._idle is not None:
            self._idle.cancel()

    def data_received(self, data: bytes) -> None:
        # Only a whole message resets the idle timer: a client trickling bytes cannot hold
        # one of the capped connection slots for ever (RFC 7766 section 6.2.3).
        self._buffer += data
        while len(self._buffer) >= 2:
            size = int.from_bytes(self._buffer[:2], "big")
            if len(self._buffer) < 2 + size:
                break
            message = bytes(self._buffer[2 : 2 + size])
            del self._buffer[: 2 + size]
            self._arm_idle_timer()
            started = time.perf_counter()
            reply = _safe(self._server.handle_tcp, message, self._peer)
            if type(reply) is bytes:
                self._write(reply)
                self._observed(started)
            elif reply is not None:  # forwarded: written when it comes (RFC 7766 6.2.1.1)

                def write(result: bytes | list[bytes], started: float = started) -> None:
                    self._write(result)
                    self._observed(started)

                _later(reply, self._pending, write)

    def _observed(self, started: float) -> None:
        if self._server.observe is not None:  # TCP is not the hot path: every query
            self._server.observe("tcp", time.perf_counter() - started)

    def _write(self, reply: bytes | list[bytes]) -> None:
        """One message, or several in order (a zone transfer)."""
        if self._transport is None or self._transport.is_closing():
            return
        for message in [reply] if isinstance(reply, bytes) else reply:
            self._transport.write(len(message).to_bytes(2, "big") + message)

    # A client that sends queries but does not read the replies: stop reading from it
    # until its replies drain, so its buffer cannot grow without bound.
    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def _arm_idle_timer(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
        loop = asyncio.get_running_loop()
        self._idle = loop.call_later(self._server.tcp_idle_timeout, self.close)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


class DnsServer:
    def __init__(
        self,
        addresses: list[ListenAddress],
        *,
        handle_udp: HandleFn,
        handle_tcp: HandleFn,
        tcp_idle_timeout: float = 10.0,
        max_tcp_connections: int = 1000,
        reuse_port: bool = False,
        observe: ObserveFn | None = None,
        rate: ClientRate | None = None,
        batched: bool = True,
    ) -> None:
        self.handle_udp = handle_udp
        # recvmmsg/sendmmsg where the platform has them (`mmsg`); else, or when False,
        # asyncio's one datagram a callback.
        self.batched = batched
        self.handle_tcp = handle_tcp
        self.observe = observe  # request durations, by transport (UDP sampled)
        self.reuse_port = reuse_port
        self.rate = rate  # per-client UDP query rate, shared by every address
        self.addresses = addresses
        # Both read as they are used, so a new value applies at once (SIGHUP): to each
        # connection's next idle timer, and to the next connection.
        self.tcp_idle_timeout = tcp_idle_timeout
        self.max_tcp_connections = max_tcp_connections
        self.connections: set[TcpConnection] = set()
        self.bound: list[ListenAddress] = []
        self._closers: list[Callable[[], object]] = []
        self._udp: list[UdpListener | BatchedUdpListener] = []

    def limit_rate(self, rate: ClientRate | None) -> None:
        """Put every UDP listener under `rate` (None: no limit) from the next datagram on."""
        self.rate = rate
        for listener in self._udp:
            listener.limit(rate)

    async def start(self) -> list[ListenAddress]:
        loop = asyncio.get_running_loop()
        for address in self.addresses:
            udp_sock, tcp_sock = _bind_pair(address, reuse_port=self.reuse_port)
            self._closers.append(await self._serve_udp(loop, udp_sock))
            server = await loop.create_server(lambda: TcpConnection(self), sock=tcp_sock)
            self._closers.append(server.close)
            self.bound.append(ListenAddress(address.host, udp_sock.getsockname()[1]))
        return self.bound

    async def _serve_udp(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket
    ) -> Callable[[], object]:
        """Serve `sock` batched where possible, else one datagram a callback: its closer."""
        datagrams = Datagrams.open(sock) if self.batched else None
        if datagrams is not None:
            batched = BatchedUdpListener(
                sock,
                datagrams,
                self.handle_udp,
                later=_later,
                observe=self.observe,
                rate=self.rate,
                sample_every=SAMPLE_EVERY,
            )
            batched.start(loop)
            self._udp.append(batched)
            return batched.close
        transport, listener = await loop.create_datagram_endpoint(
            lambda: UdpListener(self.handle_udp, self.observe, self.rate), sock=sock
        )
        self._udp.append(listener)
        return transport.close

    @property
    def udp_batched(self) -> bool:
        """Whether every UDP socket is read in batches."""
        return bool(self._udp) and all(isinstance(u, BatchedUdpListener) for u in self._udp)

    def overload_dropped(self) -> int:
        """Datagrams dropped by fairness under overload, over every batched socket."""
        return sum(u.fairness.dropped for u in self._udp if isinstance(u, BatchedUdpListener))

    async def close(self) -> None:
        for close in self._closers:
            close()
        for connection in list(self.connections):
            connection.close()
        await asyncio.sleep(0)


def _socket(
    address: ListenAddress, kind: socket.SocketKind, *, reuse_port: bool = False
) -> socket.socket:
    family = socket.AF_INET6 if ":" in address.host else socket.AF_INET
    sock = socket.socket(family, kind)
    if reuse_port:
        # `--workers`: each worker binds the same port and the kernel spreads the clients
        # over them. Only then: otherwise a second server would share our port silently.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        # Let `[::]:53` and `0.0.0.0:53` be bound side by side.
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    if kind == socket.SOCK_STREAM:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    else:
        # A burst of queries must queue, not be dropped; the kernel caps this at rmem_max.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
    sock.setblocking(False)
    return sock


def _bind_pair(
    address: ListenAddress, attempts: int = 20, *, reuse_port: bool = False
) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket on the same port (port 0: one free for both)."""
    for _ in range(attempts if address.port == 0 else 1):
        udp = _socket(address, socket.SOCK_DGRAM, reuse_port=reuse_port)
        tcp = _socket(address, socket.SOCK_STREAM, reuse_port=reuse_port)
        try:
            udp.bind((address.host, address.port))
            tcp.bind((address.host, udp.getsockname()[1]))
            tcp.listen(128)
            return udp, tcp
        except OSError as error:
            udp.close()
            tcp.close()
            last = error
    raise ListenError(f"cannot listen on {address}: {last.strerror or last}")


def free_port(address: ListenAddress) -> ListenAddress:
    """`address` with port 0 replaced by a port free for both UDP and TCP right now."""
    if address.port != 0:
        return address
    udp, tcp = _bind_pair(address)
    port = udp.getsockname()[1]
    udp.close()
    tcp.close()
    return ListenAddress(address.host, port)
