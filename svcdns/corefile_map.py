"""A parsed Corefile mapped onto svcdns's settings: what maps, and why each other line does not.

Every directive ends up in exactly one of three lists: `settings` (a `--config` key, its
value and the Corefile line it came from), `nothing_needed` (svcdns does that by itself:
loop detection, errors, reload on SIGHUP) or `unmapped` (no svcdns equivalent, or not the
same behaviour: the operator must decide). Values go through the settings table's own
parsers, so a value svcdns would refuse is reported, never printed. Here: which server
block is which (the cluster's, the root's, stub domains') and CoreDNS's defaults made
explicit; corefile_plugins: each plugin. Imports settings and config (the table),
corefile (the grammar) and corefile_plugins only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from svcdns.config import SETTINGS
from svcdns.corefile import (
    DNS_PORT,
    Corefile,
    Directive,
    Key,
    ServerBlock,
    is_reverse,
    quoted,
    zone_name,
)
from svcdns.corefile_plugins import HANDLERS, NO_EQUIVALENT, http_address
from svcdns.settings import ConfigError, Setting


@dataclass(frozen=True, slots=True)
class Line:
    """A Corefile line and what became of it: `why` says it in words."""

    line: int
    text: str
    why: str


@dataclass(frozen=True, slots=True)
class Value:
    """One `--config` key's value, from Corefile line `line`."""

    key: str
    value: Any
    line: int
    why: str


@dataclass(slots=True)
class Mapping:
    settings: dict[str, Value] = field(default_factory=dict)  # by Config field name
    stubs: dict[str, Value] = field(default_factory=dict)  # by domain: servers
    nothing_needed: list[Line] = field(default_factory=list)
    unmapped: list[Line] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.unmapped


def map_corefile(corefile: Corefile) -> Mapping:
    """What svcdns makes of `corefile` (see the module's first lines)."""
    return Mapper(corefile).run()


class Mapper:
    def __init__(self, corefile: Corefile) -> None:
        self.corefile = corefile
        self.out = Mapping()
        self.zone = "cluster.local"
        self.port = DNS_PORT
        self.cluster_line = 0
        # health and ready: (directive, path, probe, address), judged once http is known
        self.probes: list[tuple[Directive, str, str, str]] = []
        # autopath lines, judged once the kubernetes block's pod mode is known (CoreDNS's
        # plugin order, not the file's, decides)
        self.autopaths: list[Directive] = []

    # -- recording ---------------------------------------------------------------------

    def unmapped(self, d: Directive | int, why: str, text: str = "") -> None:
        line = d if isinstance(d, int) else d.line
        said = text or (d.text() if isinstance(d, Directive) else "")
        self.out.unmapped.append(Line(line, said, why))

    def needed_not(self, d: Directive, why: str) -> None:
        self.out.nothing_needed.append(Line(d.line, d.text(), why))

    def set(
        self, name: str, value: Any, d: Directive, why: str = "", *, stub: bool = False
    ) -> None:
        """`name` (a Config field) = `value`, from `d`; checked by the setting's own parser.
        `stub`: asked for by a stub domain's block, where a global setting must already
        hold that value."""
        row: Setting[Any] = SETTINGS[name]
        key = row.flag.removeprefix("--")
        try:
            parsed = row.read(value)
        except ConfigError as error:
            self.unmapped(d, f"svcdns refuses it: {error}")
            return
        before = self.out.settings.get(name)
        current = row.read(before.value) if before else row.default
        if stub and parsed != current:
            shown = before.value if before else row.default
            self.unmapped(
                d,
                f"for one stub domain only: svcdns's {key} applies to every "
                f"upstream and stub domain (it is {shown})",
            )
            return
        if stub:
            self.needed_not(d, f"svcdns's {key} is that already, for every upstream")
            return
        if before is not None and row.read(before.value) != parsed:
            self.unmapped(
                d,
                f"{key} is already {before.value} from line {before.line}: "
                "svcdns has one value for every server block",
            )
            return
        if before is not None:
            self.needed_not(d, f"{key} is that already, from line {before.line}")
        else:
            # Numbers and switches as the setting reads them (`ttl: 30`, not "30").
            shown = parsed if isinstance(parsed, int | float) else value
            if isinstance(shown, float) and shown.is_integer():
                shown = int(shown)
            self.out.settings[name] = Value(key, shown, d.line, why or d.text())

    def stub(self, domain: str, servers: list[str], d: Directive) -> None:
        """`domain` goes to `servers` (--stub-domain), checked by that setting's parser."""
        before = self.out.stubs.get(domain)
        if before is not None:
            self.unmapped(
                d, f"stub domain {domain} is already sent to {before.value} from line {before.line}"
            )
            return
        try:
            SETTINGS["stub_domains"].read({domain: servers})
        except ConfigError as error:
            self.unmapped(d, f"svcdns refuses it: {error}")
            return
        self.out.stubs[domain] = Value(domain, servers, d.line, d.text())

    # -- the file ------------------------------------------------------------------------

    def run(self) -> Mapping:
        for line, name in self.corefile.unset:
            self.unmapped(
                line, "not set in the environment: read as empty, as CoreDNS would", f"{{${name}}}"
            )
        for d in self.corefile.top:
            self.unmapped(d, NO_EQUIVALENT["import"])
        blocks = self.corefile.blocks
        cluster = [b for b in blocks if any(d.name == "kubernetes" for d in b.directives)]
        if not cluster:
            self.unmapped(
                blocks[0].line if blocks else 1,
                "no kubernetes plugin: svcdns "
                "always serves the cluster zone (cluster.local unless you set zone)",
                "(the whole file)",
            )
        else:
            self.cluster_line = cluster[0].line
            self.port = Key.of(cluster[0].keys[0]).port
            first = next(d for d in cluster[0].directives if d.name == "kubernetes")
            zones = [zone_name(z) for z in first.args] or [Key.of(k).zone for k in cluster[0].keys]
            self.zone = next((z for z in zones if not is_reverse(z) and z != "."), self.zone)
        roots = [b for b in blocks if b not in cluster and "." in self._zones(b)]
        stubs = [b for b in blocks if b not in cluster and b not in roots]
        for block in cluster[:1] + roots:
            self.block(block, stub=False)
        for block in cluster[1:]:
            self.unmapped(
                block.line,
                "a second server block with kubernetes: svcdns serves one cluster zone",
                " ".join(block.keys),
            )
        self.defaults(cluster[:1] + roots)  # before the stubs, which are judged against them
        for block in stubs:
            self.block(block, stub=True)
        self.judge_probes()
        self.judge_autopath()
        self.out.unmapped.sort(key=lambda x: x.line)
        self.out.nothing_needed.sort(key=lambda x: x.line)
        return self.out

    def _zones(self, block: ServerBlock) -> list[str]:
        return [Key.of(k).zone for k in block.keys]

    def defaults(self, main: list[ServerBlock]) -> None:
        """Where CoreDNS's main blocks leave a plugin out, CoreDNS does without it: say so
        with svcdns's setting, as svcdns's defaults differ."""
        used = {d.name for b in main for d in b.directives}
        line = self.cluster_line or 1
        absent = Directive("", (), line)
        if main and "cache" not in used:
            self.set("cache_size", 0, absent, "no cache plugin: CoreDNS kept no forwarded answers")
        if main and "loadbalance" not in used:
            self.set("rotate", False, absent, "no loadbalance plugin: CoreDNS kept record order")
        forwards = [d for b in main for d in b.directives if d.name == "forward"]
        if main and not any(d.args[:1] == (".",) for d in forwards):
            self.set("upstream", "none", absent, "no `forward .`: CoreDNS forwarded nothing")

    def judge_probes(self) -> None:
        """svcdns serves /health and /ready on its one http address: where CoreDNS had them
        there too, nothing changes; elsewhere, the Deployment's probe must move."""
        chosen = self.out.settings.get("http")
        http = str(chosen.value) if chosen else SETTINGS["http"].default
        for d, path, probe, address in self.probes:
            if http_address(address) == http:
                self.needed_not(d, f"svcdns serves {path} on its http address {http} too")
            else:
                default = "" if d.args else " (its default)"
                self.unmapped(
                    d,
                    f"CoreDNS serves {path} on {address}{default}; svcdns serves it on its one "
                    f"http address ({http}): point the {probe} probe there",
                )

    def judge_autopath(self) -> None:
        """`autopath @kubernetes` in the cluster's block is svcdns's --autopath, which needs
        `pods verified` as CoreDNS's does (without it CoreDNS silently searches nothing,
        and svcdns would refuse to start: so it is not set then, and said why)."""
        pods = self.out.settings.get("pods")
        mode = str(pods.value) if pods else SETTINGS["pods"].default
        for d in self.autopaths:
            if list(d.args) != ["@kubernetes"]:
                self.unmapped(
                    d,
                    "svcdns searches the kubernetes plugin's path only (`autopath "
                    "@kubernetes`): no zone arguments, no resolv.conf file",
                )
            elif mode != "verified":
                self.unmapped(
                    d,
                    f"needs `pods verified` (here {mode}): CoreDNS then searches nothing, "
                    "and svcdns's --autopath refuses to start without it",
                )
            else:
                self.set("autopath", True, d)

    def block(self, block: ServerBlock, *, stub: bool) -> None:
        keys = [Key.of(k) for k in block.keys]
        for key in keys:
            if key.scheme != "dns":
                self.unmapped(
                    block.line,
                    f"{key.scheme}:// server: svcdns serves plain DNS over UDP and TCP only",
                    " ".join(block.keys),
                )
                return
            if key.port != self.port:
                self.unmapped(
                    block.line,
                    f"a server on port {key.port}: svcdns serves every "
                    f"zone on its listen addresses (port {self.port})",
                    " ".join(block.keys),
                )
                return
        binds = any(d.name == "bind" for d in block.directives)
        if block.line == self.cluster_line and not binds:
            # CoreDNS's `:53` is every address of both families; svcdns's default is IPv4's
            # only, and its `[::]` listener is IPv6 only (as deploy/ has both).
            where = Directive(block.keys[0], (), block.line)
            both = [f"0.0.0.0:{self.port}", f"[::]:{self.port}"]
            why = f"the server block {block.keys[0]}: every address, IPv4 and IPv6 (drop [::] "
            why += "where the kernel has IPv6 off)"
            self.set("listen", both, where, why)
        for d in block.directives:
            self.directive(d, [k.zone for k in keys], stub=stub)

    def directive(self, d: Directive, zones: list[str], *, stub: bool) -> None:
        handler = HANDLERS.get(d.name)
        if handler is None:
            why = NO_EQUIVALENT.get(d.name, f"{quoted(d.name)} has no svcdns equivalent")
            self.unmapped(d, why)
            return
        handler(self, d, zones, stub)
