"""The table of settings: `Config`, whose every field is one row (`settings.setting`).

A row gives a setting's default, what SIGHUP does with it, its parser, flag, help and the
commands that take it; the flags (cli.py), the --config file, validation and the reload lists
all come from it, so a new setting is one row. A wrong value is one `ConfigError` line.
Imports the stdlib, yaml (the --config file), settings, core.zonedata and net.transport only.
"""

# setting() returns a dataclasses.field, as field() does: a call in a default is the point.
# ruff: noqa: RUF009

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from svcdns import settings as parse
from svcdns.core.zonedata import PodMode, ZoneSettings
from svcdns.net.transport import ListenAddress
from svcdns.settings import ALL, SERVE, ConfigError, Reload, Setting, parse_listen, rows, setting

__all__ = [
    "LIVE_SETTINGS",
    "RESTART_SETTINGS",
    "SETTINGS",
    "Config",
    "ConfigError",
    "ListenAddress",
    "Setting",
    "build",
    "flag_name",
    "parse_listen",
    "read_file",
    "sighup_changes",
]

# Who may have names outside the zones forwarded: loopback and the private ranges.
DEFAULT_RECURSION_CLIENTS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
    "fe80::/10",
)
WILDCARDS = ("0.0.0.0", "::")
LIVE, RESTART = Reload.LIVE, Reload.RESTART
EXPLAIN = SERVE | {"explain"}  # explain says where a name outside the zones would go


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting's value; a field is a row: default, reload, parser, help, then how its
    flag looks (`--` and the name with dashes unless `flag`) and which commands take it."""

    # One row a setting, its arguments on two or three lines, as a table's.
    # fmt: off
    # -- source: where the objects come from ----------------------------------------------
    manifests: Path | None = setting(
        None, RESTART, parse.path, "YAML/JSON file or folder of objects", metavar="PATH",
        commands=ALL, group="source",
    )
    kubeconfig: Path | None = setting(
        None, RESTART, parse.path, "Kubernetes API via this kubeconfig", metavar="PATH",
        commands=ALL, group="source",
    )
    context: str | None = setting(
        None, RESTART, parse.text, "kubeconfig context", metavar="NAME",
        commands=ALL, group="source",
    )
    # --config: the file SIGHUP reads again, so neither live nor needing a restart.
    config_file: Path | None = setting(
        None, Reload.FILE, parse.path, "YAML file with the same keys; flags win", metavar="FILE",
        flag="--config", commands=ALL, group="source",
    )
    # Label selector for Services, EndpointSlices and Endpoints.
    labels: str = setting(
        "", RESTART, parse.text, "only Services/slices matching it", metavar="SELECTOR",
        commands=ALL, group="source", shown="all",
    )
    startup_timeout: float = setting(  # only matters at start
        5.0, RESTART, parse.number(float, 0.0), "serve unsynced after this", metavar="SECONDS",
        commands=ALL, group="source",
    )
    # Server-side timeoutSeconds of one watch request; live from each watch's next request.
    watch_timeout: int = setting(
        300, LIVE, parse.number(int, 1), "server-side timeout of a watch", metavar="SECONDS",
        group="source",
    )

    # -- zone: what the cluster's names are -------------------------------------------------
    zone: str = setting(
        "cluster.local", RESTART, parse.zone, "cluster domain", metavar="ZONE",
        commands=ALL, group="zone",
    )
    ttl: int = setting(  # live: every Service is encoded again
        5, LIVE, parse.number(int, 0, most=3600, says="must be between 0 and 3600 seconds"),
        "TTL of every record, seconds", metavar="SECONDS", commands=ALL, group="zone",
    )
    pods: PodMode = setting(
        PodMode.INSECURE, RESTART, parse.pods, "pod names: disabled, insecure or verified",
        metavar="MODE", commands=ALL, group="zone",
    )
    endpoint_pod_names: bool = setting(
        False, RESTART, parse.switch, "name endpoints without hostname by their pod name",
        form="switch", commands=ALL, group="zone",
    )
    namespaces: frozenset[str] | None = setting(
        None, RESTART, parse.namespaces, "serve only these namespaces", metavar="NS,NS",
        commands=ALL, group="zone", shown="all",
    )
    # The MCS API's zone, as CoreDNS's `multicluster clusterset.local` names it: its
    # ServiceImports answered there (core/clusterset.py). Off: no such zone.
    multicluster: str = setting(
        "", RESTART, parse.zone, "serve ServiceImports (MCS API) in this zone", metavar="ZONE",
        commands=ALL, group="zone", shown="off",
    )
    # A pod's search-path guess answered from the rest of its path (dns/autopath.py): the
    # client's namespace comes from its address, hence --pods verified.
    autopath: bool = setting(
        False, RESTART, parse.switch, "server-side search path (needs --pods verified)",
        form="switch", group="zone",
    )

    # -- forwarding: names outside the zones ------------------------------------------------
    # None: /etc/resolv.conf; (): `--upstream none`
    upstream: tuple[str, ...] | None = setting(
        None, LIVE, parse.upstream, "where names outside the zones go; none: REFUSED",
        metavar="ADDR[:PORT]|none", form="repeat", commands=EXPLAIN, group="forwarding",
        shown="/etc/resolv.conf",
    )
    # `--stub-domain corp.example=10.0.0.53,10.0.0.54:5353`: that domain's own servers.
    stub_domains: tuple[tuple[str, tuple[str, ...]], ...] = setting(
        (), LIVE, parse.stub_domains, "send this domain and names under it to these servers",
        metavar="DOMAIN=ADDR[:PORT][,ADDR...]", flag="--stub-domain", form="repeat",
        commands=EXPLAIN, group="forwarding",
    )
    allow_recursion: tuple[str, ...] = setting(
        DEFAULT_RECURSION_CLIENTS, LIVE, parse.networks, "who may use forwarding",
        metavar="CIDR,...", group="forwarding",
    )
    max_concurrent: int = setting(
        1000, LIVE, parse.number(int, 1), "forwarded questions in flight", metavar="N",
        group="forwarding",
    )
    force_tcp: bool = setting(
        False, LIVE, parse.switch, "ask upstreams over TCP only", form="switch",
        group="forwarding",
    )
    cache_size: int = setting(
        10_000, LIVE, parse.number(int, 0), "forwarded answers kept, least recently used out",
        metavar="N", group="forwarding",
    )
    cache_ttl: int = setting(
        30, LIVE, parse.number(int, 0), "the longest a forwarded answer is kept",
        metavar="SECONDS", group="forwarding",
    )
    serve_stale: float = setting(
        0.0, LIVE, parse.number(float, 0.0), "expired answers when upstreams fail; 0: off",
        metavar="SECONDS", group="forwarding",
    )

    # -- serving: listeners, limits, processes ----------------------------------------------
    listen: tuple[ListenAddress, ...] = setting(
        parse.DEFAULT_LISTEN, RESTART, parse.listen, "UDP and TCP listener",
        metavar="ADDR:PORT", form="repeat",
    )
    # A/AAAA RRsets of several records start one record later each answer (CoreDNS's
    # `loadbalance`), the zone's and cached forwarded ones; `--no-rotate` keeps one order.
    rotate: bool = setting(
        True, LIVE, parse.switch, "rotate multi-address answers, round robin", form="on-off",
    )
    # Who may have AXFR (CIDRs); none by default. Read at each transfer.
    transfer_to: tuple[str, ...] = setting(
        (), LIVE, parse.some_networks, "who may AXFR", metavar="CIDR,...", shown="none",
    )
    # Live: read by each connection's next idle timer, and at the next connection.
    tcp_idle_timeout: float = setting(
        10.0, LIVE, parse.number(float, 0.0, above=True, says="must be more than 0 seconds"),
        "close idle TCP", metavar="SECONDS",
    )
    tcp_max_connections: int = setting(
        1000, LIVE, parse.number(int, 1), "concurrent TCP cap", metavar="N",
    )
    # An explicit cap, for operators who want one: UDP queries a second from one source
    # address before the rest are dropped. Off (0) by default: while the server keeps up
    # nobody is dropped, and under overload the answers are shared by source anyway
    # (net.fairness), so a node-local cache asking for a whole node is not cut off.
    max_qps_per_client: int = setting(
        0, LIVE, parse.number(int, 0, says="must be 0 (no limit) or more"),
        "explicit cap: UDP queries a second from one address; 0: none (fair share under "
        "overload only)", metavar="N",
    )
    http: str = setting(
        "0.0.0.0:9153", RESTART, parse.text, "/health /ready /metrics; none: off",
        metavar="ADDR:PORT",
    )
    workers: int = setting(
        1, RESTART, parse.number(int, 1), "processes sharing the DNS port", metavar="N",
    )
    # coredns: CoreDNS's metric names too, so its dashboards and alerts keep working during
    # a migration; off by default: each query's type is then read and counted (README).
    metrics_names: str = setting(
        "svcdns", RESTART, parse.metrics_names, "svcdns; coredns: CoreDNS's names as well",
        metavar="svcdns|coredns",
    )
    # Seconds to keep serving after SIGTERM, with /ready at 503; read when SIGTERM comes.
    lameduck: float = setting(
        0.0, LIVE, parse.number(float, 0.0), "keep serving after SIGTERM, /ready 503",
        metavar="SECONDS",
    )

    # -- logging ------------------------------------------------------------------------------
    log_format: str = setting(
        "text", RESTART, parse.log_format, "log lines", metavar="text|json", group="logging",
    )
    log_queries: bool = setting(
        False, RESTART, parse.switch, "one log line per query", form="switch", group="logging",
    )
    # fmt: on

    def zone_settings(self) -> ZoneSettings:
        return ZoneSettings(
            zone=self.zone,
            ttl=self.ttl,
            endpoint_pod_names=self.endpoint_pod_names,
            pods=self.pods,
            nameserver_addresses=self.nameserver_addresses(),
            clusterset_zone=self.multicluster,
        )

    def nameserver_addresses(self) -> tuple[str, ...]:
        """What `ns.dns.<zone>` answers without a kube-dns Service: the listen addresses.

        A wildcard listener has no address of its own; in a pod, POD_IP (downward API) is it.
        """
        specific = tuple(dict.fromkeys(a.host for a in self.listen if a.host not in WILDCARDS))
        return specific or (os.environ.get("POD_IP") or "127.0.0.1",)


SETTINGS = rows(Config)  # field name -> its row, in the table's order
LIVE_SETTINGS = tuple(n for n, row in SETTINGS.items() if row.reload is LIVE)  # SIGHUP applies
RESTART_SETTINGS = tuple(n for n, row in SETTINGS.items() if row.reload is RESTART)


def flag_name(name: str) -> str:
    """The flag of a Config field: `--stub-domain` for stub_domains, `--cache-ttl` for
    cache_ttl."""
    return SETTINGS[name].flag


def sighup_changes(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """The flags of the settings that differ: those SIGHUP applies, those needing a restart."""
    return (
        [flag_name(f) for f in LIVE_SETTINGS if getattr(new, f) != getattr(old, f)],
        [flag_name(f) for f in RESTART_SETTINGS if getattr(new, f) != getattr(old, f)],
    )


def read_file(path: Path) -> dict[str, Any]:
    """The `--config` YAML: the same keys as the flags (`endpoint-pod-names` or `_`)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"--config {path}: {' '.join(str(error).split())}") from None
    if not isinstance(loaded, dict):
        raise ConfigError(f"--config {path}: expected a mapping of settings")
    return {str(k).replace("-", "_"): v for k, v in loaded.items()}


def build(values: Mapping[str, Any]) -> Config:
    """A validated Config from merged flag and file values, keyed as the file's keys with `_`
    (`stub_domain`, `config`); missing or None: the default. Other keys are ignored."""
    given = {k: v for k, v in values.items() if v is not None}
    if "manifests" in given and ("kubeconfig" in given or "context" in given):
        raise ConfigError("--manifests and --kubeconfig/--context are two sources: pick one")
    config = Config(**{name: row.read(given.get(row.key)) for name, row in SETTINGS.items()})
    if config.autopath and config.pods != PodMode.VERIFIED:
        # A client's namespace is known only from pods the server has seen.
        raise ConfigError("--autopath needs --pods verified (a client is known by its pod's IP)")
    return config
