"""Plain helpers for the tests (no fixtures: those are in conftest.py): a real `svcdns serve`
subprocess, DNS clients over UDP and TCP, assertions on replies, polling, ports, HTTP.

`ServerProcess` is started with `--listen 127.0.0.1:0`; it reads stderr until the
`serving zone ... (udp+tcp)` line names the bound addresses, and keeps draining stderr in a
thread so the pipe never fills. `server_factory` stops only the processes it started.
Tests import these by name (`from helpers import ...`); tests/ is on sys.path as the
conftest's folder. Imports nothing of svcdns.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.query
import dns.rdataclass
import dns.rdatatype
import pytest

REPO = Path(__file__).resolve().parent.parent
CLUSTER_YAML = REPO / "examples" / "cluster.yaml"
LOOPBACK = "127.0.0.1"
READY_TIMEOUT = 10.0
QUERY_TIMEOUT = 2.0
SVCDNS = [sys.executable, "-m", "svcdns"]

_READY = re.compile(r"serving zone (\S+) on (.+) \(udp\+tcp\)")
_ADDRESS = re.compile(r"^\[(?P<v6>[^\]]+)\]:(?P<v6port>\d+)$|^(?P<v4>[^:]+):(?P<v4port>\d+)$")


# -- the server process --------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    host: str
    port: int


class ServerProcess:
    """A running `svcdns serve`; `lines` holds every stderr line so far."""

    def __init__(
        self, args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.args = list(args)
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd or REPO,
            env={**os.environ, **env} if env else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._eof = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()
        self.zone = ""
        self.addresses: list[Address] = []

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self._lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    @property
    def lines(self) -> list[str]:
        with self._lock:
            return list(self._lines)

    def stderr_text(self) -> str:
        return "\n".join(self.lines)

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str | None:
        """The first stderr line matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines:
                    if predicate(line):
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    return None
                self._changed.wait(remaining)

    def count_lines(self, predicate: Callable[[str], bool]) -> int:
        return sum(1 for line in self.lines if predicate(line))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        line = self.wait_for_line(lambda text: _READY.search(text) is not None, timeout)
        if line is None:
            self.stop()
            pytest.fail(
                f"svcdns did not report readiness within {timeout} s "
                f"(exit code {self.proc.returncode}); stderr:\n{self.stderr_text()}"
            )
        match = _READY.search(line)
        assert match is not None
        self.zone = match.group(1)
        self.addresses = [parse_address(text) for text in match.group(2).split(", ")]

    @property
    def port(self) -> int:
        return self.addresses[0].port

    @property
    def host(self) -> str:
        return self.addresses[0].host

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._reader.join(timeout=5)

    # Convenience: query this server.
    def udp(self, qname: str, rdtype: str | int = "A", **kwargs: Any) -> dns.message.Message:
        return udp_query(self.port, qname, rdtype, host=self.host, **kwargs)

    def tcp(self, qname: str, rdtype: str | int = "A", **kwargs: Any) -> dns.message.Message:
        return tcp_query(self.port, qname, rdtype, host=self.host, **kwargs)


def parse_address(text: str) -> Address:
    match = _ADDRESS.match(text.strip())
    if match is None:
        raise AssertionError(f"cannot parse listen address {text!r}")
    if match.group("v6"):
        return Address(match.group("v6"), int(match.group("v6port")))
    return Address(match.group("v4"), int(match.group("v4port")))


def serve_args(
    manifests: Path | str,
    *extra: str,
    listen: Sequence[str] = ("127.0.0.1:0",),
    upstream: str | None = "none",
) -> list[str]:
    args = [*SVCDNS, "serve", "--manifests", str(manifests)]
    for address in listen:
        args += ["--listen", address]
    if upstream is not None:
        args += ["--upstream", upstream]
    if "--http" not in extra:  # the default 0.0.0.0:9153 would collide between test servers
        args += ["--http", "127.0.0.1:0"]
    return [*args, *extra]


ServerFactory = Callable[..., ServerProcess]

# The two UDP paths (svcdns.net): recvmmsg batches, the default on Linux, and asyncio's one
# datagram a callback, the fallback; the environment that picks each, and the words of the
# "serving" line that prove which one runs.
UDP_PATHS = ("batched", "datagram")
UDP_PATH_LINE = {"batched": "udp in batches", "datagram": "udp one datagram a callback"}


def udp_path_env(path: str) -> dict[str, str]:
    return {"SVCDNS_UDP_IO": path}


def assert_udp_path(server: ServerProcess, path: str) -> None:
    """`server` serves UDP on `path`, as its "serving" line says."""
    line = server.wait_for_line(lambda text: "serving zone" in text, 5.0)
    assert line is not None and UDP_PATH_LINE[path] in line, line


@contextlib.contextmanager
def server_factory() -> Iterator[ServerFactory]:
    started: list[ServerProcess] = []

    def start(
        manifests: Path | str = CLUSTER_YAML,
        *extra: str,
        listen: Sequence[str] = ("127.0.0.1:0",),
        upstream: str | None = "none",
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        server = ServerProcess(
            serve_args(manifests, *extra, listen=listen, upstream=upstream), cwd=cwd, env=env
        )
        started.append(server)
        server.wait_ready()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


def run_svcdns(args: Sequence[str], *, timeout: float = 10.0) -> subprocess.CompletedProcess[str]:
    """Run a svcdns command that must finish by itself (not serve for good)."""
    try:
        return subprocess.run(
            [*SVCDNS, *args],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as error:
        pytest.fail(f"svcdns {' '.join(args)} still running after {timeout} s: {error.stderr!r}")


# -- DNS clients -------------------------------------------------------------------------


def make_query(
    qname: str,
    rdtype: str | int = "A",
    rdclass: str | int = dns.rdataclass.IN,
    **kwargs: Any,
) -> dns.message.QueryMessage:
    return dns.message.make_query(
        qname,
        dns.rdatatype.RdataType.make(rdtype),
        dns.rdataclass.RdataClass.make(rdclass),
        **kwargs,
    )


def udp_query(
    port: int, qname: str, rdtype: str | int = "A", *, host: str = LOOPBACK, **kwargs: Any
) -> dns.message.Message:
    return dns.query.udp(
        make_query(qname, rdtype, **kwargs), host, port=port, timeout=QUERY_TIMEOUT
    )


def tcp_query(
    port: int, qname: str, rdtype: str | int = "A", *, host: str = LOOPBACK, **kwargs: Any
) -> dns.message.Message:
    return dns.query.tcp(
        make_query(qname, rdtype, **kwargs), host, port=port, timeout=QUERY_TIMEOUT
    )


def udp_exchange(port: int, wire: bytes, *, host: str = LOOPBACK, timeout: float = 2.0) -> bytes:
    """Send raw bytes in one datagram; the raw reply (fails on timeout)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(wire, (host, port))
        try:
            data, _ = sock.recvfrom(65535)
        except TimeoutError:
            pytest.fail(f"no UDP reply within {timeout} s to {wire[:32]!r}")
        return data


def udp_no_reply(port: int, wire: bytes, *, host: str = LOOPBACK, wait: float = 0.3) -> None:
    """Send raw bytes; assert nothing comes back within `wait` seconds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(wait)
        sock.sendto(wire, (host, port))
        with contextlib.suppress(TimeoutError):
            data, _ = sock.recvfrom(65535)
            pytest.fail(f"expected no reply to {wire[:32]!r}, got {data[:32]!r}")


def recv_exact(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


def tcp_frame(wire: bytes) -> bytes:
    return len(wire).to_bytes(2, "big") + wire


def tcp_read_message(sock: socket.socket) -> bytes:
    size = int.from_bytes(recv_exact(sock, 2), "big")
    return recv_exact(sock, size)


# -- assertions on replies ----------------------------------------------------------------


def rrset_texts(reply: dns.message.Message, section: str = "answer") -> list[str]:
    """Every record of a section as `owner ttl class type rdata` text, in wire order."""
    lines: list[str] = []
    for rrset in getattr(reply, section):
        lines += rrset.to_text().splitlines()
    return lines


def answer_data(reply: dns.message.Message, rdtype: str) -> list[str]:
    wanted = dns.rdatatype.from_text(rdtype)
    return [rd.to_text() for rrset in reply.answer if rrset.rdtype == wanted for rd in rrset]


def assert_authoritative(reply: dns.message.Message, rcode: int = 0) -> None:
    assert reply.rcode() == rcode, f"rcode {reply.rcode()}, expected {rcode}:\n{reply}"
    assert reply.flags & dns.flags.QR
    assert reply.flags & dns.flags.AA, f"AA not set:\n{reply}"
    assert not reply.flags & dns.flags.TC, f"TC set:\n{reply}"


def assert_single_soa(reply: dns.message.Message, zone: str = "cluster.local", ttl: int = 5) -> int:
    """Exactly one SOA in authority with the fixed fields; returns its serial."""
    assert reply.answer == [], f"answer not empty:\n{reply}"
    records = [(rrset, rd) for rrset in reply.authority for rd in rrset]
    assert len(records) == 1, f"expected exactly one authority record:\n{reply}"
    rrset, soa = records[0]
    assert rrset.rdtype == dns.rdatatype.SOA
    assert rrset.name.to_text() == f"{zone}."
    assert rrset.ttl == ttl
    assert rrset.rdclass == dns.rdataclass.IN
    assert soa.mname.to_text() == f"ns.dns.{zone}."
    assert soa.rname.to_text() == f"hostmaster.{zone}."
    assert (soa.refresh, soa.retry, soa.expire, soa.minimum) == (7200, 1800, 86400, ttl)
    assert soa.serial > 0
    return int(soa.serial)


def soa_serial(server: ServerProcess) -> int:
    reply = server.udp(server.zone, "SOA")
    assert reply.rcode() == 0
    soas = [rd for rrset in reply.answer if rrset.rdtype == dns.rdatatype.SOA for rd in rrset]
    assert len(soas) == 1, str(reply)
    return int(soas[0].serial)


def poll(condition: Callable[[], Any], *, timeout: float, interval: float = 0.05) -> Any:
    """Call `condition` until it returns something truthy or `timeout` passes; the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 right now."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    pytest.fail("no port free for both UDP and TCP")


def ops_url(server: ServerProcess) -> str:
    line = server.wait_for_line(lambda text: "ops on http://" in text, 10)
    assert line is not None, server.stderr_text()
    match = re.search(r"ops on (http://\S+)", line)
    assert match
    return match.group(1)


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            kind = response.headers.get("Content-Type", "")
            return response.status, kind, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def http_status(url: str) -> int:
    """The HTTP status of a GET, 0 when nothing answers."""
    try:
        return get(url)[0]
    except OSError:
        return 0


def ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET6, kind) as sock:
                sock.bind(("::1", 0))
    except OSError:
        return False
    return True


# -- manifests ---------------------------------------------------------------------------


def write_atomically(path: Path, text: str) -> None:
    """Replace `path` in one step, so the server never reads a half-written file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


# -- TCP and UDP clients that hold their sockets (limits, overload, SIGHUP) ------------------


def connect(server: ServerProcess) -> socket.socket:
    return socket.create_connection((server.host, server.port), timeout=5)


def answered(sock: socket.socket, ident: int, qname: str = "web.shop.svc.cluster.local") -> bool:
    """One query over an open TCP connection; whether its reply came back."""
    sock.sendall(tcp_frame(make_query(qname, "A", id=ident).to_wire()))
    return dns.message.from_wire(tcp_read_message(sock)).id == ident


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def drain(sock: socket.socket, *, quiet: float) -> int:
    """Replies read until none came for `quiet` seconds."""
    sock.settimeout(quiet)
    count = 0
    try:
        while True:
            sock.recv(4096)
            count += 1
    except TimeoutError:
        return count


def wire(spaced: str) -> bytes:
    """Golden bytes written as hex, spaced by field: `"1234 0100 0001"`."""
    return bytes.fromhex(spaced.replace(" ", ""))


def serve_help(*, columns: int | None = None) -> str:
    """What `svcdns serve --help` prints (`columns`: the width argparse wraps at)."""
    env = {**os.environ, "COLUMNS": str(columns)} if columns else None
    result = subprocess.run(
        [sys.executable, "-m", "svcdns", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    return result.stdout
