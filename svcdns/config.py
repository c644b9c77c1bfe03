"""Every setting with its default, from flags and an optional YAML file (flags win).

Validation lives here so that a wrong value exits with one clear line (`ConfigError`).
Each setting says whether SIGHUP applies it while serving or only a restart changes it, and
its flag where that is not its name with dashes: the reload and its log line read both here.
Imports the stdlib and yaml only.
"""

from __future__ import annotations

import enum
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from svcdns.core.zonedata import PodMode, ZoneSettings
from svcdns.net.transport import ListenAddress

DEFAULT_PORT = 53
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


class ConfigError(ValueError):
    """A setting that cannot be used; the message is the one line the user sees."""


class Reload(enum.Enum):
    """What SIGHUP does with a setting read again from --config."""

    LIVE = "applied while serving"
    RESTART = "named in the log line: only a restart changes it"


# Config field metadata: what SIGHUP does with the setting; `flag` where the setting's flag
# is not `--` and its name with dashes.
LIVE: Mapping[str, object] = {"reload": Reload.LIVE}
RESTART: Mapping[str, object] = {"reload": Reload.RESTART}


@dataclass(frozen=True, slots=True)
class Config:
    manifests: Path | None = field(default=None, metadata=RESTART)
    kubeconfig: Path | None = field(default=None, metadata=RESTART)
    context: str | None = field(default=None, metadata=RESTART)
    listen: tuple[ListenAddress, ...] = field(
        default=(ListenAddress("0.0.0.0", DEFAULT_PORT),), metadata=RESTART
    )
    zone: str = field(default="cluster.local", metadata=RESTART)
    ttl: int = field(default=5, metadata=LIVE)  # live: every Service is encoded again
    pods: PodMode = field(default=PodMode.INSECURE, metadata=RESTART)
    endpoint_pod_names: bool = field(default=False, metadata=RESTART)
    namespaces: frozenset[str] | None = field(default=None, metadata=RESTART)
    # None: /etc/resolv.conf; (): `--upstream none`
    upstream: tuple[str, ...] | None = field(default=None, metadata=LIVE)
    # `--stub-domain corp.example=10.0.0.53,10.0.0.54:5353`: that domain's own servers.
    stub_domains: tuple[tuple[str, tuple[str, ...]], ...] = field(
        default=(), metadata={**LIVE, "flag": "--stub-domain"}
    )
    allow_recursion: tuple[str, ...] = field(default=DEFAULT_RECURSION_CLIENTS, metadata=LIVE)
    max_concurrent: int = field(default=1000, metadata=LIVE)
    force_tcp: bool = field(default=False, metadata=LIVE)
    cache_size: int = field(default=10_000, metadata=LIVE)  # forwarded answers kept (LRU)
    cache_ttl: int = field(default=30, metadata=LIVE)  # the longest one is kept, seconds
    # Seconds past expiry an answer may serve when upstreams fail.
    serve_stale: float = field(default=0.0, metadata=LIVE)
    log_format: str = field(default="text", metadata=RESTART)  # or "json"
    # --config: the file SIGHUP reads again, so neither live nor needing a restart.
    config_file: Path | None = field(default=None, metadata={"flag": "--config"})
    # Who may have AXFR (CIDRs); none by default. Read at each transfer.
    transfer_to: tuple[str, ...] = field(default=(), metadata=LIVE)
    log_queries: bool = field(default=False, metadata=RESTART)
    http: str = field(default="0.0.0.0:9153", metadata=RESTART)
    workers: int = field(default=1, metadata=RESTART)
    # Live: read by each connection's next idle timer, and at the next connection.
    tcp_idle_timeout: float = field(default=10.0, metadata=LIVE)
    tcp_max_connections: int = field(default=1000, metadata=LIVE)
    # UDP queries a second from one source address before the rest are dropped; 0: no limit.
    # A pod's resolver asks tens a second; a node-local cache or a busy hostNetwork node
    # may ask thousands: raise it for those.
    max_qps_per_client: int = field(default=5000, metadata=LIVE)
    # Label selector for Services, EndpointSlices and Endpoints.
    labels: str = field(default="", metadata=RESTART)
    startup_timeout: float = field(default=5.0, metadata=RESTART)  # only matters at start
    # Server-side timeoutSeconds of one watch request; live from each watch's next request.
    watch_timeout: int = field(default=300, metadata=LIVE)
    # Seconds to keep serving after SIGTERM, with /ready at 503; read when SIGTERM comes.
    lameduck: float = field(default=0.0, metadata=LIVE)
    # A/AAAA RRsets of several records start one record later each answer (CoreDNS's
    # `loadbalance`), the zone's and cached forwarded ones; `--no-rotate` keeps one order.
    rotate: bool = field(default=True, metadata=LIVE)

    def zone_settings(self) -> ZoneSettings:
        return ZoneSettings(
            zone=self.zone,
            ttl=self.ttl,
            endpoint_pod_names=self.endpoint_pod_names,
            pods=self.pods,
            nameserver_addresses=self.nameserver_addresses(),
        )

    def nameserver_addresses(self) -> tuple[str, ...]:
        """What `ns.dns.<zone>` answers without a kube-dns Service: the listen addresses.

        A wildcard listener has no address of its own; in a pod, POD_IP (downward API) is it.
        """
        specific = tuple(dict.fromkeys(a.host for a in self.listen if a.host not in WILDCARDS))
        return specific or (os.environ.get("POD_IP") or "127.0.0.1",)


def _settings(reload: Reload) -> tuple[str, ...]:
    return tuple(f.name for f in fields(Config) if f.metadata.get("reload") is reload)


LIVE_SETTINGS = _settings(Reload.LIVE)  # what SIGHUP applies while serving
RESTART_SETTINGS = _settings(Reload.RESTART)  # what SIGHUP names as needing a restart


def flag_name(setting: str) -> str:
    """The flag of a Config field: `--stub-domain` for stub_domains, `--cache-ttl` for
    cache_ttl."""
    flag: str = Config.__dataclass_fields__[setting].metadata.get("flag", "")
    return flag or "--" + setting.replace("_", "-")


def sighup_changes(old: Config, new: Config) -> tuple[list[str], list[str]]:
    """The flags of the settings that differ: those SIGHUP applies, those needing a restart."""
    return (
        [flag_name(f) for f in LIVE_SETTINGS if getattr(new, f) != getattr(old, f)],
        [flag_name(f) for f in RESTART_SETTINGS if getattr(new, f) != getattr(old, f)],
    )


def parse_listen(text: str) -> ListenAddress:
    """`ADDR:PORT`, `[V6ADDR]:PORT`, `ADDR` (port 53) or `:PORT` (all IPv4 addresses)."""
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"--listen {text}: expected [ADDRESS]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = host or "0.0.0.0"
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ConfigError(f"--listen {text}: expected ADDRESS:PORT with an IP address") from None
    if not 0 <= number < 65536:
        raise ConfigError(f"--listen {text}: port {number} out of range")
    return ListenAddress(host, number)


def _zone(text: str) -> str:
    zone = text.strip().strip(".").lower()
    labels = zone.split(".")
    if not zone or any(not 0 < len(label.encode()) <= 63 for label in labels):
        raise ConfigError(f"--zone {text[:100]!r}: not a domain name")
    if len(zone.encode()) > 253:  # RFC 1035 2.3.4: 255 octets in wire form
        raise ConfigError(f"--zone {text[:100]!r}: longer than a domain name may be")
    return zone


def _number(value: Any, flag: str, kind: type[int] | type[float] = int) -> Any:
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{flag} {value!r}: not a number") from None


def _flag(value: Any, name: str) -> bool:
    """A switch from a flag (True) or the config file (true/false, yes/no, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise ConfigError(f"--{name} {value!r}: expected true or false")


def _ttl(value: Any) -> int:
    ttl: int = _number(value, "--ttl")
    if not 0 <= ttl <= 3600:
        raise ConfigError(f"--ttl {ttl}: must be between 0 and 3600 seconds")
    return ttl


def _pods(value: Any) -> PodMode:
    try:
        return PodMode(str(value))
    except ValueError:
        raise ConfigError(f"--pods {value!r}: one of disabled, insecure, verified") from None


def _namespaces(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = frozenset(str(n).strip() for n in items if str(n).strip())
    return names or None


def _upstream(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    if [str(i).lower() for i in items] == ["none"]:
        return ()
    for item in items:
        _check_upstream(str(item), "--upstream")
    return tuple(str(i) for i in items)


def _stub_domains(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`DOMAIN=ADDR[:PORT][,ADDR...]` items (flags), or a mapping DOMAIN: [ADDR, ...] (file)."""
    if value is None:
        return ()
    pairs: list[tuple[str, list[str]]] = []
    if isinstance(value, Mapping):
        pairs = [(str(k), _as_list(v)) for k, v in value.items()]
    else:
        for item in _as_list(value):
            domain, sep, listed = item.partition("=")
            if not sep or not listed.strip():
                raise ConfigError(f"--stub-domain {item!r}: expected DOMAIN=ADDR[:PORT][,ADDR...]")
            pairs.append((domain, listed.split(",")))
    stubs = []
    for domain, servers in pairs:
        name = _zone(domain)
        for server in servers:
            _check_upstream(server, "--stub-domain")
        stubs.append((name, tuple(s.strip() for s in servers)))
    return tuple(stubs)


def _check_upstream(text: str, flag: str) -> None:
    from svcdns.net.forward import parse_upstream

    try:
        parse_upstream(text)
    except (ValueError, OSError):
        raise ConfigError(f"{flag} {text!r}: expected ADDR, ADDR:PORT or [ADDR]:PORT") from None


def _networks(value: Any, flag: str = "--allow-recursion") -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else _as_list(value)
    networks = []
    for item in (i.strip() for i in items):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(f"{flag} {item!r}: not a CIDR") from None
    return tuple(networks)


def _log_format(value: Any) -> str:
    text = str(value).lower()
    if text not in ("text", "json"):
        raise ConfigError(f"--log-format {value!r}: text or json")
    return text


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


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
    """A validated Config from merged flag and file values (missing or None: the default)."""
    given = {k: v for k, v in values.items() if v is not None}
    default = Config()
    listen = tuple(parse_listen(t) for t in _as_list(given.get("listen", [])))
    workers: int = _number(given.get("workers", default.workers), "--workers")
    if workers < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    idle: float = _number(
        given.get("tcp_idle_timeout", default.tcp_idle_timeout), "--tcp-idle-timeout", float
    )
    if not idle > 0:
        raise ConfigError(f"--tcp-idle-timeout {idle}: must be more than 0 seconds")
    max_connections: int = _number(
        given.get("tcp_max_connections", default.tcp_max_connections), "--tcp-max-connections"
    )
    if max_connections < 1:
        raise ConfigError(f"--tcp-max-connections {max_connections}: must be at least 1")
    max_qps: int = _number(
        given.get("max_qps_per_client", default.max_qps_per_client), "--max-qps-per-client"
    )
    if max_qps < 0:
        raise ConfigError(f"--max-qps-per-client {max_qps}: must be 0 (no limit) or more")
    startup: float = _number(
        given.get("startup_timeout", default.startup_timeout), "--startup-timeout", float
    )
    watch_timeout: int = _number(
        given.get("watch_timeout", default.watch_timeout), "--watch-timeout"
    )
    lameduck: float = _number(given.get("lameduck", default.lameduck), "--lameduck", float)
    if startup < 0 or watch_timeout < 1 or lameduck < 0:
        raise ConfigError(
            "--startup-timeout and --lameduck must be >= 0, --watch-timeout >= 1 second"
        )
    max_concurrent: int = _number(given.get("max_concurrent", 1000), "--max-concurrent")
    if max_concurrent < 1:
        raise ConfigError(f"--max-concurrent {max_concurrent}: must be at least 1")
    cache_size: int = _number(given.get("cache_size", 10_000), "--cache-size")
    cache_ttl: int = _number(given.get("cache_ttl", 30), "--cache-ttl")
    serve_stale: float = _number(given.get("serve_stale", 0), "--serve-stale", float)
    if cache_size < 0 or cache_ttl < 0 or serve_stale < 0:
        raise ConfigError("--cache-size, --cache-ttl and --serve-stale must be >= 0")
    if "manifests" in given and ("kubeconfig" in given or "context" in given):
        raise ConfigError("--manifests and --kubeconfig/--context are two sources: pick one")
    return Config(
        manifests=Path(given["manifests"]) if "manifests" in given else None,
        kubeconfig=Path(given["kubeconfig"]) if "kubeconfig" in given else None,
        context=given.get("context"),
        listen=listen or default.listen,
        zone=_zone(str(given.get("zone", default.zone))),
        ttl=_ttl(given.get("ttl", default.ttl)),
        pods=_pods(given.get("pods", default.pods.value)),
        endpoint_pod_names=_flag(given.get("endpoint_pod_names", False), "endpoint-pod-names"),
        namespaces=_namespaces(given.get("namespaces")),
        upstream=_upstream(given.get("upstream")),
        stub_domains=_stub_domains(given.get("stub_domain")),
        allow_recursion=_networks(given.get("allow_recursion", default.allow_recursion)),
        max_concurrent=max_concurrent,
        force_tcp=_flag(given.get("force_tcp", False), "force-tcp"),
        cache_size=cache_size,
        cache_ttl=cache_ttl,
        serve_stale=serve_stale,
        log_format=_log_format(given.get("log_format", "text")),
        config_file=Path(given["config_file"]) if "config_file" in given else None,
        transfer_to=_networks(given["transfer_to"], "--transfer-to")
        if given.get("transfer_to")
        else (),
        log_queries=_flag(given.get("log_queries", False), "log-queries"),
        http=str(given.get("http", default.http)),
        workers=workers,
        tcp_idle_timeout=idle,
        tcp_max_connections=max_connections,
        max_qps_per_client=max_qps,
        labels=str(given.get("labels", "")),
        startup_timeout=startup,
        watch_timeout=watch_timeout,
        lameduck=lameduck,
        rotate=_flag(given.get("rotate", True), "rotate"),
    )
