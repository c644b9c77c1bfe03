"""Names outside the zones: who may have them forwarded, to which servers, and the reply.

Wires `net.forward` (the upstream exchange) to `dns.forwarded` (the client's reply). A
client outside `--allow-recursion` gets REFUSED: svcdns is never an open resolver. A name
under a `--stub-domain` goes to that domain's servers (the longest match wins), any other
to `--upstream` (default: the nameservers of /etc/resolv.conf). SERVFAIL when no upstream
answered in time, or when too many questions are in flight already.
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Any

from svcdns.config import Config
from svcdns.dns.forwarded import client_reply, error_reply
from svcdns.dns.handler import Outside
from svcdns.net.forward import Forwarder, Overloaded, Upstream, parse_upstream

log = logging.getLogger("svcdns.forward")

RESOLV_CONF = Path("/etc/resolv.conf")
SERVFAIL, REFUSED = 2, 5
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def resolv_conf_upstreams(path: Path = RESOLV_CONF) -> list[Upstream]:
    """The `nameserver` lines of resolv.conf (a pod's `dnsPolicy: Default` gives the node's)."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                found.append(parse_upstream(fields[1].partition("%")[0]))
            except (ValueError, OSError):
                continue
    return found


class Recursion:
    def __init__(self, config: Config, *, resolv_conf: Path = RESOLV_CONF) -> None:
        if config.upstream is None:
            self.upstreams = resolv_conf_upstreams(resolv_conf)
        else:
            self.upstreams = [parse_upstream(text) for text in config.upstream]
        self.stubs = sorted(
            (
                (domain, [parse_upstream(text) for text in servers])
                for domain, servers in config.stub_domains
            ),
            key=lambda stub: -len(stub[0]),  # the longest (most specific) domain first
        )
        self.allowed: list[Network] = [ipaddress.ip_network(n) for n in config.allow_recursion]
        self.forwarder = Forwarder(max_concurrent=config.max_concurrent, force_tcp=config.force_tcp)
        self._clients: dict[str, bool] = {}  # address -> allowed, bounded below

    @property
    def enabled(self) -> bool:
        return bool(self.upstreams or self.stubs)

    def allows(self, host: str) -> bool:
        allowed = self._clients.get(host)
        if allowed is None:
            try:
                address = ipaddress.ip_address(host.partition("%")[0])
                allowed = any(address in network for network in self.allowed)
            except ValueError:
                allowed = False
            if len(self._clients) >= 4096:  # bounded: a memo, not a record of every client
                self._clients.clear()
            self._clients[host] = allowed
        return allowed

    def servers_for(self, name: str) -> list[Upstream]:
        for domain, servers in self.stubs:
            if name == domain or name.endswith("." + domain):
                return servers
        return self.upstreams

    async def answer(self, data: bytes, outside: Outside, client: Any) -> bytes:
        end, edns = outside.question_end, outside.edns
        host = client[0] if isinstance(client, tuple) else str(client or "")
        servers = self.servers_for(outside.name)
        if not servers or not self.allows(host):
            return error_reply(data, end, REFUSED, edns=edns, recursion=False)
        try:
            reply = await self.forwarder.ask(data[12:end], servers)
        except Overloaded:
            return error_reply(data, end, SERVFAIL, edns=edns, recursion=True)
        if reply is None:
            return error_reply(data, end, SERVFAIL, edns=edns, recursion=True)
        try:
            return client_reply(reply, data, end, edns=edns, limit=outside.limit)
        except (ValueError, IndexError):
            log.warning("unreadable reply from upstream for %.100s; SERVFAIL", outside.name)
            return error_reply(data, end, SERVFAIL, edns=edns, recursion=True)
