"""Fuzzing both UDP paths through real servers: recvmmsg batches and one datagram a callback.

Two `svcdns serve` processes on examples/cluster.yaml, one on each path (SVCDNS_UDP_IO),
get the same inputs as the handler's fuzz tests (random bytes, well-formed queries of any
shape, mutants of both) over real sockets. Whatever the input, both send byte for byte the
same replies, or both send none, and every reply is well formed (`check_reply`). Each input
is followed by a sentinel query with an ID of its own: replies come back in order on one
socket, so what arrives before the sentinel's reply is the input's. The zone's SOA serial
(the second each server loaded) is the one difference allowed. Seed and size:
tests/fuzzing.py.
"""

from __future__ import annotations

import itertools
import socket
from collections.abc import Iterator

import dns.message
import pytest
from fuzzing import fuzz
from helpers import (
    CLUSTER_YAML,
    UDP_PATHS,
    ServerProcess,
    assert_udp_path,
    server_factory,
    udp_path_env,
)
from hypothesis import given
from test_fuzz import check_reply, inputs

SENTINEL = dns.message.make_query("web.shop.svc.cluster.local", "A", id=0).to_wire()
TIMEOUT = 5.0


class Client:
    """One socket to one server; `replies(wire)`: what the server sent back for `wire`."""

    def __init__(self, server: ServerProcess) -> None:
        self.target = (server.host, server.port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(TIMEOUT)
        self.ids = itertools.count(1)
        self.sentinel_reply = self._sentinel_reply()
        soa = dns.message.make_query("cluster.local", "SOA")
        self.sock.sendto(soa.to_wire(), self.target)
        serial = dns.message.from_wire(self.sock.recv(65535)).answer[0][0].serial
        self.serial = serial.to_bytes(4, "big")

    def _sentinel_reply(self) -> bytes:
        self.sock.sendto(SENTINEL, self.target)
        return self.sock.recv(65535)[2:]  # all but the ID

    def replies(self, wire: bytes) -> list[bytes]:
        ident = (next(self.ids) % 0xFFFF + 1).to_bytes(2, "big")
        self.sock.sendto(wire, self.target)
        self.sock.sendto(ident + SENTINEL[2:], self.target)
        got: list[bytes] = []
        while True:
            reply = self.sock.recv(65535)
            if reply[:2] == ident and reply[2:] == self.sentinel_reply:
                return got
            got.append(reply.replace(self.serial, b"SOA#"))


@pytest.fixture(scope="module")
def clients() -> Iterator[dict[str, Client]]:
    with server_factory() as start:
        made = {}
        for path in UDP_PATHS:
            server = start(CLUSTER_YAML, env=udp_path_env(path))
            assert_udp_path(server, path)
            made[path] = Client(server)
        yield made
        for client in made.values():
            client.sock.close()


@fuzz
@given(wire=inputs)
def test_fuzz_both_udp_paths_send_the_same_replies(clients: dict[str, Client], wire: bytes) -> None:
    batched = clients["batched"].replies(wire)
    one_by_one = clients["datagram"].replies(wire)
    assert batched == one_by_one, wire
    assert len(batched) <= 1
    for reply in batched:
        check_reply(wire, reply, udp=True)
