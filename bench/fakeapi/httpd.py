"""HTTP/1.1 as kube-apiserver's Go net/http writes it: the socket server (TLS handshake in
the connection's thread), response heads in the recorded header order, Content-Length or
chunked bodies, and the 2048-byte buffered chunk writer of a watch stream (fact 2 and 10).

Requests are handed to `FakeApiServer._serve`; imports `bodies` only.
"""

from __future__ import annotations

import email.utils
import http
import http.server
import socket
import socketserver
import ssl
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .bodies import encode

if TYPE_CHECKING:
    from .server import FakeApiServer

# Header values of the recordings' flow schema and priority level (any stable uid would do).
PF_UIDS = ("1d64a169-5c4e-47e3-a6ab-a18f7eccc074", "c48eab8c-2e95-4624-a8be-0d6e07f2e94b")
PF_UIDS_ANONYMOUS = (
    "47326251-62b5-47bc-9eb4-9e01eb8f21e1",
    "f111c205-c85f-4def-a8e5-2b2b966429e4",
)
# Go net/http: a body written at once and no larger than this gets Content-Length; the
# buffer in front of the chunked writer of a watch has this size too (fact 2 and 10).
BUFFER = 2048


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    anonymous = False  # the current request has no Authorization header
    server: Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, add=False)

    def handle(self) -> None:
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self.connection.settimeout(10)
                self.connection.do_handshake()
                self.connection.settimeout(None)
            super().handle()
        except (OSError, ValueError):
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.fake._serve(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._serve(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._serve(self, "PUT")

    def do_PATCH(self) -> None:
        self.server.fake._serve(self, "PATCH")

    def do_DELETE(self) -> None:
        self.server.fake._serve(self, "DELETE")


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, port: int, fake: FakeApiServer, context: ssl.SSLContext | None) -> None:
        self.fake = fake
        self.context = context
        super().__init__(("127.0.0.1", port), Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # HTTPServer's would call getfqdn()
        self.server_name, self.server_port = "127.0.0.1", self.server_address[1]

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = self.socket.accept()
        if self.context is not None:  # the handshake happens in the connection's thread
            connection = self.context.wrap_socket(
                connection, server_side=True, do_handshake_on_connect=False
            )
        return connection, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


class ChunkWriter:
    """Chunked transfer encoding behind a 2048-byte buffer, as Go's bufio.Writer does it."""

    def __init__(self, out: Any) -> None:
        self._out = out
        self._buffer = bytearray()

    def _chunk(self, data: bytes) -> None:
        self._out.write(b"%x\r\n%b\r\n" % (len(data), data))

    def write(self, data: bytes) -> None:
        while len(data) > BUFFER - len(self._buffer):
            if not self._buffer:
                self._chunk(data)  # a large write with an empty buffer goes out as one chunk
                return
            room = BUFFER - len(self._buffer)
            self._buffer += data[:room]
            data = data[room:]
            self.flush()
        self._buffer += data

    def flush(self) -> None:
        if self._buffer:
            self._chunk(bytes(self._buffer))
            self._buffer.clear()

    def finish(self) -> None:
        self.flush()
        self._out.write(b"0\r\n\r\n")


def send(
    handler: Handler,
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    stream: bool = False,
    extra: Iterable[str] = (),
) -> ChunkWriter | None:
    """Write a response; for a stream (watch) only the headers, and return its writer."""
    lines = [
        f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}",
        f"Audit-Id: {uuid.uuid4()}",
        "Cache-Control: no-cache, private",
        f"Content-Type: {content_type}",
    ]
    if status == 403 or not content_type.startswith("application/json"):
        lines.append("X-Content-Type-Options: nosniff")
    if status != 401:  # authentication runs before priority and fairness
        flow_schema, priority_level = PF_UIDS_ANONYMOUS if handler.anonymous else PF_UIDS
        lines.append(f"X-Kubernetes-Pf-Flowschema-Uid: {flow_schema}")
        lines.append(f"X-Kubernetes-Pf-Prioritylevel-Uid: {priority_level}")
    lines.extend(extra)
    lines.append(f"Date: {email.utils.formatdate(usegmt=True)}")
    if stream or len(body) > BUFFER:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if stream:
        handler.wfile.write(head)
        return ChunkWriter(handler.wfile)
    if len(body) > BUFFER:
        handler.wfile.write(head + b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body))
    else:
        handler.wfile.write(head + body)
    return None


def send_status(handler: Handler, status: dict[str, Any]) -> None:
    code = int(status["code"])
    extra = ["Retry-After: 1"] if code == 429 else []
    send(handler, code, encode(status), extra=extra)
