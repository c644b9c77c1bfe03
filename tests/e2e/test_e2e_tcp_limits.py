"""TCP limits over real sockets: the idle timeout and the cap on concurrent connections."""

from __future__ import annotations

import time

import dns.message
from helpers import (
    ServerFactory,
    answered,
    closed_by_server,
    connect,
    make_query,
    poll,
    tcp_frame,
    tcp_read_message,
)

WEB = "web.shop.svc.cluster.local"


def test_idle_connection_is_closed_after_the_timeout(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--tcp-idle-timeout", "0.5")
    with connect(server) as sock:
        assert answered(sock, 1)
        started = time.monotonic()
        assert closed_by_server(sock)  # recv blocks until the server closes (3 s socket timeout)
        idle_for = time.monotonic() - started
    assert 0.4 <= idle_for < 2.5
    with connect(server) as sock:  # the server is still taking connections
        assert answered(sock, 2)


def test_activity_keeps_a_connection_open(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--tcp-idle-timeout", "0.5")
    with connect(server) as sock:
        deadline = time.monotonic() + 1.5  # three idle timeouts, never idle for one
        ident = 0
        while time.monotonic() < deadline:
            ident += 1
            assert answered(sock, ident)
            time.sleep(0.1)


def test_connections_over_the_cap_are_closed_at_once(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--tcp-max-connections", "2")
    first, second = connect(server), connect(server)
    try:
        assert answered(first, 1) and answered(second, 2)
        with connect(server) as third:
            assert closed_by_server(third)
        first.close()

        def new_connection_answered() -> bool:
            with connect(server) as sock:
                try:
                    return answered(sock, 3)
                except (ConnectionError, OSError):
                    return False

        assert poll(new_connection_answered, timeout=3)
        assert answered(second, 4)  # the connections under the cap were never disturbed
    finally:
        first.close()
        second.close()


def test_client_that_reads_late_gets_every_reply(start_server: ServerFactory) -> None:
    """Thousands of pipelined queries sent before reading: the server pauses reading while its
    replies wait (flow control) and resumes as they drain; nothing is lost or reordered."""
    import threading

    server = start_server("examples/cluster.yaml")
    count = 3000
    burst = b"".join(tcp_frame(make_query(WEB, "A", id=i).to_wire()) for i in range(count))
    with connect(server) as sock:
        sock.settimeout(10)
        sender = threading.Thread(target=sock.sendall, args=(burst,))
        sender.start()
        time.sleep(0.5)  # let both sides' buffers fill before anything is read
        ids = [dns.message.from_wire(tcp_read_message(sock)).id for _ in range(count)]
        sender.join(timeout=10)
    assert ids == list(range(count))


def test_trickling_bytes_do_not_keep_a_connection_open(start_server: ServerFactory) -> None:
    server = start_server("examples/cluster.yaml", "--tcp-idle-timeout", "0.6")
    framed = tcp_frame(make_query(WEB, "A", id=7).to_wire())
    with connect(server) as sock:
        started = time.monotonic()
        closed = False
        for byte in framed[:-1]:  # one byte every 0.2 s: never a whole message
            try:
                sock.send(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            time.sleep(0.2)
        assert closed or closed_by_server(sock)
    assert time.monotonic() - started < 0.6 + len(framed) * 0.2 - 0.5
