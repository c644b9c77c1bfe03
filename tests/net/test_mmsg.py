"""recvmmsg/sendmmsg through ctypes (svcdns.net.mmsg), the batched listener over it, and
the fallback to asyncio's one-datagram path: on real loopback sockets."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from helpers import ipv6_loopback_available

from svcdns.net import mmsg
from svcdns.net.batched import decode_source
from svcdns.net.mmsg import BATCH, NAME, SLOT, Datagrams
from svcdns.net.transport import DnsServer, ListenAddress


def bound(family: socket.AddressFamily, host: str) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_DGRAM)
    sock.bind((host, 0))
    sock.setblocking(False)
    return sock


def received(batch: Datagrams, count: int) -> list[tuple[bytes, tuple[Any, ...]]]:
    out = []
    for index in range(count):
        data = batch.data[index * SLOT : index * SLOT + batch.length(index)]
        name = batch.names[index * NAME : index * NAME + batch.namelen(index)]
        out.append((data, decode_source(name)))
    return out


@pytest.mark.parametrize("family", ["ipv4", "ipv6"])
def test_a_batch_reads_every_waiting_datagram_with_its_source_and_replies(family: str) -> None:
    if family == "ipv6" and not ipv6_loopback_available():
        pytest.fail("::1 cannot be bound on this machine")
    kind, host = (socket.AF_INET, "127.0.0.1") if family == "ipv4" else (socket.AF_INET6, "::1")
    server, one, two = bound(kind, host), bound(kind, host), bound(kind, host)
    batch = Datagrams.open(server)
    assert batch is not None
    sent = []
    for number in range(100):
        client = (one, two)[number % 2]
        payload = f"query {number}".encode() * (1 + number % 7)
        client.sendto(payload, server.getsockname())
        sent.append((payload, client.getsockname()[:2]))
    got = []
    while count := batch.receive():
        assert count <= BATCH
        offset = 0
        for index, (data, source) in enumerate(received(batch, count)):
            assert not batch.cut(index)
            got.append((data, source[:2]))
            offset = batch.queue(index, index, b"reply:" + data, offset)
        assert batch.send(count) == count
    assert got == sent
    for client in (one, two):
        replies = []
        client.settimeout(2)
        for _ in range(50):
            replies.append(client.recv(65535))
        mine = [data for data, source in sent if source == client.getsockname()[:2]]
        assert replies == [b"reply:" + data for data in mine]
    assert batch.receive() == 0  # nothing waiting: no block, no error
    batch.close()
    for sock in (server, one, two):
        sock.close()


def test_a_datagram_of_the_largest_size_is_read_whole() -> None:
    server, client = bound(socket.AF_INET, "127.0.0.1"), bound(socket.AF_INET, "127.0.0.1")
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    batch = Datagrams.open(server)
    assert batch is not None
    big = (bytes(range(256)) * 256)[:65507]  # the largest UDP payload over IPv4
    client.sendto(big, server.getsockname())
    assert batch.receive() == 1
    assert batch.length(0) == len(big) and not batch.cut(0)
    assert batch.data[: len(big)] == big
    batch.close()
    server.close()
    client.close()


def test_without_recvmmsg_the_server_falls_back_to_one_datagram_a_callback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(mmsg, "_libc", lambda: None)
    assert asyncio.run(answered_by_a_server(batched=True)) == (False, b"echo:hello")


@pytest.mark.parametrize("batched", [True, False])
def test_both_listeners_answer_drop_and_forward(batched: bool) -> None:
    assert asyncio.run(answered_by_a_server(batched=batched)) == (batched, b"echo:hello")
    assert asyncio.run(answered_by_a_server(batched=batched, message=b"later")) == (
        batched,
        b"forwarded:later",
    )
    assert asyncio.run(answered_by_a_server(batched=batched, message=b"boom")) == (
        batched,
        None,
    )


async def answered_by_a_server(
    *, batched: bool, message: bytes = b"hello"
) -> tuple[bool, bytes | None]:
    """Start a DnsServer whose handler echoes, forwards (`later`) or raises (`boom`); send
    `message` and then `hello`; (whether it read in batches, the reply to `message`)."""

    async def forwarded(data: bytes) -> bytes:
        await asyncio.sleep(0.01)
        return b"forwarded:" + data

    def handle(data: bytes, client: Any) -> Any:
        assert client[0] == "127.0.0.1" and isinstance(client[1], int)
        if data == b"boom":
            raise RuntimeError("a handler bug")
        return forwarded(data) if data == b"later" else b"echo:" + data

    server = DnsServer(
        [ListenAddress("127.0.0.1", 0)], handle_udp=handle, handle_tcp=handle, batched=batched
    )
    (address,) = await server.start()
    loop = asyncio.get_running_loop()
    client = bound(socket.AF_INET, "127.0.0.1")
    try:
        client.sendto(message, (address.host, address.port))
        client.sendto(b"hello", (address.host, address.port))
        first = await asyncio.wait_for(loop.sock_recv(client, 65535), 5)
        if first == b"echo:hello" and message != b"hello":  # `message` got no reply yet
            if message == b"boom":
                return server.udp_batched, None
            first = await asyncio.wait_for(loop.sock_recv(client, 65535), 5)
        return server.udp_batched, first
    finally:
        client.close()
        await server.close()
