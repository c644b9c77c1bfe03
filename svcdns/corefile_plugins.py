"""What each CoreDNS plugin of a Corefile becomes in svcdns: one handler a plugin.

A handler hears one directive (with its block, its server block's zones, and whether that
block is a stub domain's) and tells the mapper (corefile_map.Mapper) what became of it and
its options: a setting, nothing needed, or not mapped and why. A plugin without a handler
is not mapped; NO_EQUIVALENT says why for the ones operators add most. Imports corefile
(the grammar) only; the mapper's type only for the type checker.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from svcdns.corefile import Directive, is_reverse, quoted, zone_name

if TYPE_CHECKING:
    from svcdns.corefile_map import Mapper

RESOLV_CONF = "/etc/resolv.conf"
# CoreDNS's own defaults where a directive leaves a value out (plugin READMEs).
COREDNS_CACHE_TTL = 3600  # cache: the most a success is kept
COREDNS_SERVE_STALE = "1h"  # serve_stale without a duration
COREDNS_PROMETHEUS = "127.0.0.1:9153"  # prometheus: localhost:9153
COREDNS_HEALTH = ":8080"
COREDNS_READY = ":8181"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
# Why the plugins operators most often add have no svcdns equivalent.
NO_EQUIVALENT = {
    "hosts": "static names (a hosts file or inline): svcdns answers only the cluster's names; "
    "serve them from another server and make its domain a stub domain",
    "rewrite": "svcdns does not rewrite questions or answers",
    "template": "svcdns does not synthesise answers from templates",
    "etcd": "svcdns reads no etcd: only the Kubernetes API or a manifests dump",
    "file": "svcdns serves no zone files: serve them elsewhere and stub that domain there",
    "route53": "svcdns serves no Route 53 zones: stub that domain to the VPC resolver",
    "k8s_external": "svcdns does not answer for LoadBalancer/external IPs in another zone",
    "chaos": "svcdns answers no CHAOS-class names (REFUSED)",
    "bufsize": "svcdns offers an EDNS payload of 1232 bytes, fixed",
    "import": "the files it names are not read: map what they hold by hand",
    "dnssec": "svcdns signs nothing (see DESCRIPTION)",
    "acl": "svcdns limits only forwarding (--allow-recursion); cluster names are for everyone",
}


def seconds(text: str) -> float:
    """A Go duration (`5s`, `1m30s`, `500ms`) in seconds; ValueError if it is none."""
    if not text or _DURATION.sub("", text) != "":
        raise ValueError(f"not a duration: {quoted(text)}")
    return sum(float(n) * _UNITS[unit] for n, unit in _DURATION.findall(text))


# A plugin's handler: (the mapper, the directive, its block's zones, in a stub's block?).
Handler = Callable[["Mapper", Directive, list[str], bool], None]


def _kubernetes(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    named = [zone_name(z) for z in d.args] or zones
    # CoreDNS lists the MCS zone among the plugin's zones too: it is --multicluster's.
    clusterset = {zone_name(z) for o in d.block if o.name == "multicluster" for z in o.args}
    forward = [z for z in named if not is_reverse(z) and z != "." and z not in clusterset]
    if forward:
        m.set("zone", forward[0], d)
    for extra in forward[1:]:
        m.unmapped(d, f"a second cluster zone {quoted(extra)}: svcdns serves one zone (--zone)")
    given = {o.name for o in d.block}
    if "pods" not in given:  # CoreDNS's default is disabled; svcdns's is insecure
        m.set("pods", "disabled", d, f"{d.text()} (no `pods` line: CoreDNS answers no pod names)")
    for o in d.block:
        _kubernetes_option(m, o)


def _kubernetes_option(m: Mapper, o: Directive) -> None:
    args = o.args
    if o.name == "pods" and len(args) == 1:
        m.set("pods", args[0], o)
    elif o.name == "endpoint_pod_names" and not args:
        m.set("endpoint_pod_names", True, o)
    elif o.name == "ttl" and len(args) == 1:
        m.set("ttl", args[0], o)
    elif o.name == "namespaces" and args:
        m.set("namespaces", list(args), o)
    elif o.name == "labels" and args:
        m.set("labels", " ".join(args), o)
    elif o.name == "kubeconfig" and 1 <= len(args) <= 2:
        m.set("kubeconfig", args[0], o)
        if len(args) == 2:
            m.set("context", args[1], o)
    elif o.name == "startup_timeout" and len(args) == 1:
        _duration(m, "startup_timeout", args[0], o)
    elif o.name == "fallthrough":
        theirs = [zone_name(z) for z in args]
        if theirs and all(is_reverse(z) for z in theirs):
            m.needed_not(o, "svcdns forwards reverse names that are no cluster address")
        else:
            m.unmapped(
                o,
                "svcdns never passes names of the cluster zone on: a name it does "
                "not know is NXDOMAIN",
            )
    elif o.name == "upstream":
        m.needed_not(o, "CoreDNS ignores it since 1.7; svcdns follows in-zone CNAMEs itself")
    elif o.name == "multicluster" and args:
        m.set("multicluster", zone_name(args[0]), o)
        for extra in args[1:]:
            m.unmapped(o, f"a second multicluster zone {quoted(extra)}: svcdns serves one")
    elif o.name == "endpoint":
        m.unmapped(
            o,
            "svcdns finds the API in-cluster or from a kubeconfig: write one "
            "for this endpoint and set kubeconfig",
        )
    else:
        m.unmapped(o, f"kubernetes option {quoted(o.name)} has no svcdns equivalent")


def _forward(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    if len(d.args) < 2:
        m.unmapped(d, "forward needs FROM and at least one TO")
        return
    origin, targets = zone_name(d.args[0]), d.args[1:]
    servers: list[str] = []
    for target in targets:
        scheme, sep, rest = target.partition("://")
        if sep and scheme.lower() != "dns":
            m.unmapped(
                d,
                f"{scheme}:// upstream {quoted(target)}: svcdns asks over plain "
                "DNS (UDP, then TCP) only",
            )
            return
        servers.append(rest if sep else target)
    domains = zones if origin == "." and stub else [origin]
    if domains == ["."]:
        if servers == [RESOLV_CONF]:
            m.needed_not(d, "svcdns forwards to /etc/resolv.conf's nameservers by default")
        elif any(s.startswith("/") for s in servers):
            m.unmapped(
                d,
                "svcdns reads /etc/resolv.conf only, and only by default: list the servers instead",
            )
            return
        else:
            m.set("upstream", servers, d)
    elif any(s.startswith("/") for s in servers):
        m.unmapped(d, "a stub domain needs server addresses, not a resolv.conf file")
        return
    else:
        for domain in domains:
            m.stub(domain, servers, d)
    for o in d.block:
        _forward_option(m, o, stub=stub or domains != ["."])


def _forward_option(m: Mapper, o: Directive, *, stub: bool) -> None:
    if o.name == "max_concurrent" and len(o.args) == 1:
        m.set("max_concurrent", o.args[0], o, stub=stub)
    elif o.name == "force_tcp" and not o.args:
        m.set("force_tcp", True, o, stub=stub)
    elif o.name == "prefer_udp" and not o.args:
        m.needed_not(o, "svcdns asks over UDP first and over TCP when the reply is truncated")
    elif o.name == "policy" and o.args == ("sequential",):
        m.needed_not(o, "svcdns asks upstreams in order, those that failed last")
    elif o.name == "policy":
        m.unmapped(o, "svcdns asks upstreams in order (sequential), not at random or round robin")
    elif o.name == "except":
        m.unmapped(
            o,
            "svcdns has no exception list: a stub domain for these names sends "
            "them elsewhere, nothing keeps them from forwarding",
        )
    elif o.name in ("health_check", "max_fails", "expire"):
        m.unmapped(
            o,
            "svcdns's upstream health is fixed: a failed upstream is asked `. NS` "
            "every second and used again once it answers",
        )
    else:
        m.unmapped(o, f"forward option {quoted(o.name)} has no svcdns equivalent")


def _cache(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    ttl, *cached = d.args or (str(COREDNS_CACHE_TTL),)
    if not ttl.isdigit():
        ttl, cached = str(COREDNS_CACHE_TTL), list(d.args)
    if [zone_name(z) for z in cached] not in ([], ["."]):
        m.unmapped(d, "svcdns caches every forwarded name, not some zones' only")
        return
    off = m.out.settings.get("cache_size")
    if stub and off is not None and off.value == 0:
        m.unmapped(
            d,
            f"svcdns's one forward cache is off (line {off.line}): a stub domain "
            "cannot have a cache of its own",
        )
        return
    success = [o for o in d.block if o.name == "success"]
    if not any(len(o.args) == 2 for o in success):  # `success CAP TTL`: its TTL wins
        m.set("cache_ttl", ttl, d, stub=stub)
    if not stub and not success:
        m.needed_not(
            d,
            "svcdns keeps up to 10000 forwarded answers (cache-size; CoreDNS: "
            "9984 successes and 9984 denials); NXDOMAIN and NODATA at most 5 s",
        )
    for o in d.block:
        _cache_option(m, o, stub=stub)


def _cache_option(m: Mapper, o: Directive, *, stub: bool) -> None:
    args = o.args
    if o.name == "success" and 1 <= len(args) <= 2:
        m.set("cache_size", args[0], o, stub=stub)
        if len(args) == 2:
            m.set("cache_ttl", args[1], o, stub=stub)
    elif o.name == "denial":
        m.unmapped(
            o,
            "svcdns keeps NXDOMAIN and NODATA in its one cache (cache-size), for "
            "the SOA's negative TTL and at most 5 s: no capacity or TTL of their own",
        )
    elif o.name == "serve_stale" and len(args) <= 2:
        mode = args[1] if len(args) == 2 else "immediate"
        _duration(m, "serve_stale", args[0] if args else COREDNS_SERVE_STALE, o, stub=stub)
        if mode != "verify":
            m.unmapped(
                o,
                f"refresh mode {mode}: svcdns serves a stale answer only after every "
                "upstream failed (CoreDNS's `verify`), never before asking",
            )
    elif o.name == "disable" and args[:1] in (("success",), ("denial",)):
        theirs = [zone_name(z) for z in args[1:]]
        if theirs and all(z == m.zone or z.endswith("." + m.zone) for z in theirs):
            m.needed_not(
                o, "svcdns answers its own zone from the cluster, never from the forward cache"
            )
        else:
            m.unmapped(o, "svcdns caches every forwarded name or none (cache-size 0)")
    else:
        m.unmapped(o, f"cache option {quoted(o.name)} has no svcdns equivalent")


def _duration(m: Mapper, name: str, text: str, d: Directive, *, stub: bool = False) -> None:
    try:
        value = seconds(text)
    except ValueError as error:
        m.unmapped(d, str(error))
        return
    m.set(name, int(value) if value.is_integer() else value, d, stub=stub)


def _health(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    for o in d.block:
        if o.name == "lameduck" and len(o.args) == 1:
            _duration(m, "lameduck", o.args[0], o)
        else:
            m.unmapped(o, f"health option {quoted(o.name)} has no svcdns equivalent")
    m.probes.append((d, "/health", "liveness", d.args[0] if d.args else COREDNS_HEALTH))


def _ready(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    m.probes.append((d, "/ready", "readiness", d.args[0] if d.args else COREDNS_READY))


def http_address(text: str) -> str:
    """A CoreDNS listen address as svcdns's http takes it: `:9153` is every IPv4 address."""
    host, _, port = text.rpartition(":")
    host = {"": "0.0.0.0", "localhost": "127.0.0.1"}.get(host, host)
    return f"{host}:{port}"


def _prometheus(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    if len(d.args) > 1:
        m.unmapped(d, "one metrics address only")
        return
    address = http_address(d.args[0] if d.args else COREDNS_PROMETHEUS)
    m.set("http", address, d, f"{d.text()} (/metrics, /health and /ready there)")
    # Dashboards and alerts built on coredns_* keep working through the migration.
    m.set("metrics_names", "coredns", d, f"{d.text()} (CoreDNS's metric names as well)")


def _loadbalance(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    if d.args not in ((), ("round_robin",)):
        m.unmapped(d, "svcdns turns multi-address answers round robin only")
        return
    m.set("rotate", True, d, f"{d.text()} (svcdns turns the records; CoreDNS shuffles)", stub=stub)


def _log(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    names = [a for a in d.args if not a.startswith("{")]
    classes = {c for o in d.block if o.name == "class" for c in o.args}
    if [zone_name(n) for n in names] not in ([], ["."]) or len(names) > 1:
        m.unmapped(d, "svcdns logs every query or none, not some names' or a format of yours")
    elif classes == {"error"}:
        m.needed_not(d, "svcdns logs errors by itself, at most one line per 10 s per kind")
    elif classes in (set(), {"all"}):
        formatted = len(names) < len(d.args)
        why = f"{d.text()} (svcdns's own fields, not that format)" if formatted else ""
        m.set("log_queries", True, d, why, stub=stub)
    else:
        m.unmapped(
            d,
            f"log class {' '.join(sorted(classes))}: svcdns logs every query (log-queries) or none",
        )


def _transfer(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    theirs = [zone_name(z) for z in d.args] or zones
    if not all(z in (m.zone, ".") or is_reverse(z) for z in theirs):
        m.unmapped(
            d, "svcdns transfers its own zones only (the cluster zone, in-addr.arpa, ip6.arpa)"
        )
        return
    to = [a for o in d.block if o.name == "to" for a in o.args]
    if any(o.name != "to" for o in d.block) or not to:
        m.unmapped(d, "svcdns takes `transfer { to ADDRESS... }` only")
        return
    if "*" in to:
        to = ["0.0.0.0/0", "::/0"]
    m.set(
        "transfer_to",
        ",".join(a.rpartition(":")[0] if a.count(":") == 1 else a for a in to),
        d,
        stub=stub,
    )


def _bind(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    addresses = []
    for address in d.args:
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            m.unmapped(d, f"svcdns binds IP addresses, not interfaces: {quoted(address)}")
            return
        addresses.append(f"[{parsed}]:{m.port}" if parsed.version == 6 else f"{parsed}:{m.port}")
    m.set("listen", addresses, d, stub=stub)


def _nothing(why: str) -> Handler:
    def handle(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
        m.needed_not(d, why)

    return handle


def _autopath(m: Mapper, d: Directive, zones: list[str], stub: bool) -> None:
    if stub:
        m.unmapped(d, "svcdns searches only for the cluster's pods, not in a stub domain")
        return
    m.autopaths.append(d)  # judged at the end (Mapper.judge_autopath)


HANDLERS: dict[str, Handler] = {
    "kubernetes": _kubernetes,
    "forward": _forward,
    "cache": _cache,
    "health": _health,
    "ready": _ready,
    "prometheus": _prometheus,
    "loadbalance": _loadbalance,
    "log": _log,
    "transfer": _transfer,
    "bind": _bind,
    "autopath": _autopath,
    "errors": _nothing("svcdns logs errors by itself, at most one line per 10 s per kind"),
    "loop": _nothing(
        "svcdns asks each upstream for a random name at start and stops with "
        "one line if it comes back (FORWARDING)"
    ),
    "reload": _nothing(
        "svcdns reads --config again on SIGHUP; it does not watch the file: "
        "send SIGHUP (or roll the pods) after a change"
    ),
}
