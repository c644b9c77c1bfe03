"""Fuzzing the TCP framer (RFC 1035 4.2.2, RFC 7766): any byte stream, cut anywhere.

A stream of length-prefixed frames (queries, junk, empty messages) and maybe a trailing
partial frame is fed to a TcpConnection in random chunks. Whatever the cuts, the handler
sees exactly the complete frames in order, the replies are written in the same order, each
with its own length prefix, and nothing raises. Seed and size: tests/fuzzing.py.
"""

from __future__ import annotations

import asyncio
import itertools
import struct
from typing import Any

import dns.message
from fuzzing import fuzz
from hypothesis import given
from hypothesis import strategies as st

from svcdns.net.transport import TcpConnection


class Transport:
    """What TcpConnection uses of an asyncio transport, recording what is written."""

    def __init__(self) -> None:
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 5353) if name == "peername" else default

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    abort = close

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


class Server:
    """The DnsServer fields a connection reads; the handler echoes, reversed, or drops."""

    def __init__(self) -> None:
        self.connections: set[TcpConnection] = set()
        self.max_tcp_connections = 10
        self.tcp_idle_timeout = 10.0
        self.observe = None
        self.seen: list[bytes] = []

    def handle_tcp(self, data: bytes, client: Any) -> bytes | None:
        self.seen.append(data)
        return None if data[:1] == b"\xff" else data[::-1]


QUERY = dns.message.make_query("web.shop.svc.cluster.local", "A").to_wire()
messages = st.one_of(st.just(QUERY), st.binary(max_size=300), st.just(b""))


def frame(message: bytes) -> bytes:
    return struct.pack("!H", len(message)) + message


def read_frames(data: bytes) -> list[bytes]:
    frames, position = [], 0
    while position < len(data):
        size = int.from_bytes(data[position : position + 2], "big")
        frames.append(data[position + 2 : position + 2 + size])
        position += 2 + size
    assert position == len(data), "a reply frame is cut"
    return frames


@fuzz
@given(
    frames=st.lists(messages, max_size=20),
    tail=st.binary(max_size=5),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30),
)
def test_fuzz_frames_cut_anywhere_arrive_whole_and_in_order(
    frames: list[bytes], tail: bytes, cuts: list[int]
) -> None:
    stream = b"".join(frame(message) for message in frames)
    # A trailing partial frame: a length that promises more than the tail holds.
    partial = struct.pack("!H", len(tail) + 1) + tail if tail else b""
    data = stream + partial
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})

    async def feed() -> tuple[Server, Transport]:
        server, transport = Server(), Transport()
        connection = TcpConnection(server)  # type: ignore[arg-type]
        connection.connection_made(transport)  # type: ignore[arg-type]
        for start, end in itertools.pairwise(points):
            connection.data_received(data[start:end])
        connection.connection_lost(None)
        return server, transport

    server, transport = asyncio.run(feed())
    assert server.seen == frames
    expected = [message[::-1] for message in frames if message[:1] != b"\xff"]
    assert read_frames(bytes(transport.written)) == expected
