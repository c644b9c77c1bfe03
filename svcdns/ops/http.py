"""The operations listener: /health (alive), /ready (initial sync done), /metrics.

A deliberately small HTTP/1.1 responder on asyncio: one request per connection, GET and
HEAD only. Probes and Prometheus need no more, and it keeps a web framework out.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from svcdns.net.transport import ListenAddress, ListenError
from svcdns.ops.metrics import CONTENT_TYPE

log = logging.getLogger("svcdns.http")

REQUEST_TIMEOUT = 5.0
MAX_REQUEST = 8192
Readiness = Callable[[], list[str]]  # what is still pending; empty means ready


class Renders(Protocol):
    """What /metrics shows: a server's own metrics, or the workers' gathered."""

    def render(self) -> bytes | Awaitable[bytes]: ...


class OpsServer:
    def __init__(self, *, pending: Readiness, metrics: Renders) -> None:
        self._pending = pending
        self._metrics = metrics
        self._server: asyncio.Server | None = None

    async def start(self, address: ListenAddress) -> ListenAddress:
        try:
            self._server = await asyncio.start_server(self._serve, address.host, address.port)
        except OSError as error:
            raise ListenError(f"cannot listen on {address} (--http): {error.strerror}") from None
        port = self._server.sockets[0].getsockname()[1]
        return ListenAddress(address.host, port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def respond(self, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) for a path; pure apart from the callbacks."""
        if path == "/health":
            return 200, "text/plain", b"ok\n"
        if path == "/ready":
            pending = self._pending()
            if pending:
                return 503, "text/plain", f"not ready: {', '.join(pending)}\n".encode()
            return 200, "text/plain", b"ready\n"
        return 404, "text/plain", b"not found\n"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), REQUEST_TIMEOUT)
            method, path = _request_line(head)
            if method not in ("GET", "HEAD"):
                status, kind, body = 405, "text/plain", b"method not allowed\n"
            elif path.split("?", 1)[0] == "/metrics":
                rendered = self._metrics.render()
                if inspect.isawaitable(rendered):  # `--workers`: gathered from each worker
                    rendered = await rendered
                status, kind, body = 200, CONTENT_TYPE, rendered
            else:
                status, kind, body = self.respond(path.split("?", 1)[0])
            writer.write(_response(status, kind, body, with_body=method != "HEAD"))
            await writer.drain()
        except (
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ConnectionError,
            ValueError,
        ):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def _request_line(head: bytes) -> tuple[str, str]:
    method, path, _version = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    return method, path


def _response(status: int, kind: str, body: bytes, *, with_body: bool) -> bytes:
    head = (
        f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\n"
        f"Content-Type: {kind}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + (body if with_body else b"")
