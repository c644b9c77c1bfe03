"""A real second DNS server on loopback, to be svcdns's upstream in tests (dnspython).

It answers A for the names it is given and NXDOMAIN with an SOA for the rest, over UDP and
TCP, on a free port. It can be told to misbehave: be slow, truncate every UDP reply, send a
reply with the wrong ID or the wrong question (or garbage) before the right one, or say
nothing. It counts the questions it received.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from dataclasses import dataclass, field

import dns.flags
import dns.message
import dns.rcode
import dns.rrset


@dataclass
class Behaviour:
    delay: float = 0.0
    truncate_udp: bool = False
    spoof_first: str = ""  # "id", "question" or "garbage": sent before the real reply
    silent: bool = False
    ttl: int = 60
    cut_records: bool = False  # the header and question right, the records cut short


@dataclass
class UpstreamServer:
    host: str = "127.0.0.1"
    records: dict[str, str] = field(default_factory=dict)  # name -> IPv4 address(es)
    behaviour: Behaviour = field(default_factory=Behaviour)
    port: int = 0
    questions: list[tuple[str, str]] = field(default_factory=list)  # (name, transport)

    def start(self) -> UpstreamServer:
        self._udp, self._tcp = self._bind_pair()
        self._tcp.listen(16)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        return self

    def _bind_pair(self) -> tuple[socket.socket, socket.socket]:
        """UDP and TCP on one port. With port 0 the UDP port the kernel picks may be taken
        for TCP by another test's socket: then try another (tests share the machine)."""
        for _ in range(50 if self.port == 0 else 1):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((self.host, self.port))
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((self.host, udp.getsockname()[1]))
            except OSError:
                udp.close()
                tcp.close()
                continue
            self.port = udp.getsockname()[1]
            return udp, tcp
        raise OSError(f"no port free for both UDP and TCP on {self.host}")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._udp.close()
        self._tcp.close()

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _reply(self, query: dns.message.Message) -> dns.message.Message:
        reply = dns.message.make_response(query)
        reply.flags |= dns.flags.RA
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        if name in self.records and question.rdtype == 1:
            addresses = self.records[name].split()  # several, space-separated: a big answer
            ttl = self.behaviour.ttl
            reply.answer.append(dns.rrset.from_text(question.name, ttl, "IN", "A", *addresses))
        elif name not in self.records:
            reply.set_rcode(dns.rcode.NXDOMAIN)
            soa = "ns.example. hostmaster.example. 1 3600 600 86400 30"
            reply.authority.append(dns.rrset.from_text("example.", 60, "IN", "SOA", soa))
        return reply

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._udp, self._tcp], [], [], 0.05)
            for sock in ready:
                if sock is self._udp:
                    data, client = self._udp.recvfrom(4096)
                    threading.Thread(target=self._answer_udp, args=(data, client)).start()
                else:
                    connection, _ = self._tcp.accept()
                    threading.Thread(target=self._answer_tcp, args=(connection,)).start()

    def _answer_udp(self, data: bytes, client: tuple[str, int]) -> None:
        with contextlib.suppress(OSError):  # stopped while answering: nobody is listening
            self._answer_udp_now(data, client)

    def _answer_udp_now(self, data: bytes, client: tuple[str, int]) -> None:
        query = dns.message.from_wire(data)
        self.questions.append((query.question[0].name.to_text(), "udp"))
        behaviour = self.behaviour
        if behaviour.silent:
            return
        time.sleep(behaviour.delay)
        reply = self._reply(query)
        if behaviour.spoof_first:
            self._udp.sendto(self._spoof(query, reply), client)
        if behaviour.truncate_udp:
            reply.flags |= dns.flags.TC
            reply.answer = []
            reply.authority = []
        wire = reply.to_wire()
        self._udp.sendto(wire[:-3] if behaviour.cut_records else wire, client)

    def _spoof(self, query: dns.message.Message, reply: dns.message.Message) -> bytes:
        kind = self.behaviour.spoof_first
        if kind == "garbage":
            return b"\x12\x34garbage"
        fake = dns.message.make_response(query)
        fake.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "6.6.6.6"))
        if kind == "id":
            fake.id = (query.id + 1) % 65536
        else:  # a reply to another question
            other = dns.message.make_query("spoofed.example.", "A")
            other.id = query.id
            fake = dns.message.make_response(other)
            fake.answer.append(dns.rrset.from_text("spoofed.example.", 60, "IN", "A", "6.6.6.6"))
        return fake.to_wire()

    def _answer_tcp(self, connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                size = int.from_bytes(connection.recv(2), "big")
                data = b""
                while len(data) < size:
                    data += connection.recv(size - len(data))
            except OSError:
                return
            query = dns.message.from_wire(data)
            self.questions.append((query.question[0].name.to_text(), "tcp"))
            if self.behaviour.silent:
                return
            time.sleep(self.behaviour.delay)
            wire = self._reply(query).to_wire()
            connection.sendall(len(wire).to_bytes(2, "big") + wire)


if __name__ == "__main__":  # a standalone upstream: HOST PORT NAME=ADDRESS...
    import sys

    host, port, *pairs = sys.argv[1:]
    records = dict(pair.split("=", 1) for pair in pairs)
    UpstreamServer(host=host, port=int(port), records=records).start()
    print("upstream ready", flush=True)
    threading.Event().wait()
