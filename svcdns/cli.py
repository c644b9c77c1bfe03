"""Command line: flags/config -> Config; wires source, state, handler and transport.

Every failure a user can cause (wrong flag, missing or broken file, port in use) exits
non-zero with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from svcdns import SPEC_VERSION, __version__
from svcdns.config import Config, ConfigError, build, read_file
from svcdns.core.explain import explain
from svcdns.core.model import Event
from svcdns.core.names import reverse_name, under
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode
from svcdns.core.zonefile import to_text, zone_records
from svcdns.dns.codec import dig_text, question_message
from svcdns.dns.handler import Handler
from svcdns.logs import configure
from svcdns.net.transport import ListenError
from svcdns.recursion import Recursion
from svcdns.serve import serve
from svcdns.sources import KubeConfigError
from svcdns.sources.manifests import ManifestError, ManifestSource, files
from svcdns.workers import supervise, worker_number

log = logging.getLogger("svcdns")

RECORDS_LIST_TIMEOUT = 30.0  # `records` waits this long for the API's first lists


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("source")
    group.add_argument("--manifests", metavar="PATH", help="YAML/JSON file or folder of objects")
    group.add_argument("--kubeconfig", metavar="PATH", help="Kubernetes API via this kubeconfig")
    group.add_argument("--context", metavar="NAME", help="kubeconfig context")
    group.add_argument("--config", metavar="FILE", help="YAML file with the same keys; flags win")
    zone = parser.add_argument_group("zone")
    zone.add_argument("--zone", help="cluster domain (default cluster.local)")
    zone.add_argument("--ttl", help="TTL of every record, seconds (default 5)")
    zone.add_argument("--pods", help="disabled|insecure|verified (default insecure)")
    zone.add_argument(
        "--endpoint-pod-names",
        action="store_true",
        default=None,
        help="name endpoints without hostname by their pod name",
    )
    zone.add_argument("--namespaces", metavar="NS,NS", help="serve only these namespaces")
    group.add_argument("--labels", metavar="SELECTOR", help="only Services/slices matching it")
    group.add_argument(
        "--startup-timeout", metavar="SECONDS", help="serve unsynced after this (default 5)"
    )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"svcdns: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="svcdns", description="Kubernetes cluster DNS server")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="answer DNS queries")
    _add_source_options(serving)
    serving.add_argument(
        "--listen",
        action="append",
        metavar="ADDR:PORT",
        help="UDP and TCP listener, repeatable (default 0.0.0.0:53)",
    )
    serving.add_argument(
        "--upstream",
        action="append",
        metavar="ADDR[:PORT]|none",
        help="where names outside the zones go; none: REFUSED",
    )
    serving.add_argument(
        "--stub-domain",
        action="append",
        metavar="DOMAIN=ADDR[:PORT][,ADDR...]",
        help="send this domain and names under it to these servers (repeatable)",
    )
    serving.add_argument(
        "--allow-recursion", metavar="CIDR,...", help="who may use forwarding (default private)"
    )
    serving.add_argument(
        "--max-concurrent", metavar="N", help="forwarded questions in flight (default 1000)"
    )
    serving.add_argument(
        "--force-tcp", action="store_true", default=None, help="ask upstreams over TCP only"
    )
    serving.add_argument(
        "--rotate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="rotate multi-address answers, round robin (default on)",
    )
    serving.add_argument("--cache-size", metavar="N", help="forwarded answers kept (10000)")
    serving.add_argument("--cache-ttl", metavar="SECONDS", help="longest kept (default 30)")
    serving.add_argument(
        "--serve-stale", metavar="SECONDS", help="expired answers when upstreams fail (0: off)"
    )
    serving.add_argument(
        "--http", metavar="ADDR:PORT", help="/health /ready /metrics (default 0.0.0.0:9153; none)"
    )
    serving.add_argument(
        "--lameduck", metavar="SECONDS", help="keep serving after SIGTERM, /ready 503 (default 0)"
    )
    serving.add_argument(
        "--watch-timeout", metavar="SECONDS", help="server-side timeout of a watch (default 300)"
    )
    serving.add_argument("--workers", help="processes sharing the DNS port")
    serving.add_argument("--log-format", metavar="text|json", help="log lines (default text)")
    serving.add_argument("--transfer-to", metavar="CIDR,...", help="who may AXFR (default none)")
    serving.add_argument(
        "--log-queries", action="store_true", default=None, help="one log line per query"
    )
    serving.add_argument(
        "--tcp-idle-timeout", metavar="SECONDS", help="close idle TCP (default 10)"
    )
    serving.add_argument(
        "--tcp-max-connections", metavar="N", help="concurrent TCP cap (default 1000)"
    )
    serving.add_argument(
        "--max-qps-per-client",
        metavar="N",
        help="UDP queries a second from one address; more are dropped (default 5000, 0: off)",
    )
    records = commands.add_parser("records", help="print every record as zone-file text")
    _add_source_options(records)
    explaining = commands.add_parser("explain", help="the answer to a name, and why")
    explaining.add_argument("name", nargs="?", help="the name to explain")
    explaining.add_argument("type", nargs="?", default="A", help="record type (default A)")
    explaining.add_argument(
        "-x", dest="address", metavar="ADDRESS", help="explain the PTR of an address (as dig)"
    )
    _add_source_options(explaining)
    explaining.add_argument("--upstream", action="append", metavar="ADDR[:PORT]|none")
    explaining.add_argument("--stub-domain", action="append", metavar="DOMAIN=ADDR,...")
    commands.add_parser("version", help="print the version")
    return parser


def _config(args: argparse.Namespace) -> Config:
    """The --config file's values, then the flags given (they win), made a Config."""
    values: dict[str, Any] = read_file(Path(args.config)) if args.config else {}
    not_settings = ("command", "name", "type", "address")
    flags = {k: v for k, v in vars(args).items() if k not in not_settings}
    values.update({k: v for k, v in flags.items() if v is not None})
    return build(values)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"svcdns {__version__} (Kubernetes DNS schema {SPEC_VERSION})")
        return 0
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=_log_format(),
    )
    try:
        config = _config(args)
        configure(config.log_format, worker_number())
        if args.command == "records":
            return _records(config)
        if args.command == "explain":
            return _explain(config, *_explained(args))
        if config.workers > 1 and worker_number() is None:
            return supervise(config, argv if argv is not None else sys.argv[1:])
        return serve(config, reread=lambda: _config(args))
    except (ConfigError, ManifestError, ListenError, KubeConfigError) as error:
        print(f"svcdns: {error}", file=sys.stderr)
        return 1


def _log_format() -> str:
    worker = worker_number()
    where = "%(name)s" if worker is None else f"%(name)s[worker {worker}]"
    return f"%(asctime)s %(levelname)s {where}: %(message)s"


def _loaded(config: Config) -> ClusterState:
    """The state `serve` would start from, read once from the source."""
    state = ClusterState(config.zone_settings(), namespaces=config.namespaces)
    if config.manifests is not None:
        events = ManifestSource(config.manifests, pods=config.pods is PodMode.VERIFIED).initial()
        # The serial is the newest manifest's mtime, so two runs over one dump print the same.
        now = max((p.stat().st_mtime for p in files(config.manifests)), default=0.0)
    else:
        events, now = _list_api(config), time.time()
    state.apply_all(events, now=now)
    state.mark_synced()
    return state


def _records(config: Config) -> int:
    print(to_text(zone_records(_loaded(config))))
    return 0


def _explained(args: argparse.Namespace) -> tuple[str, str]:
    """`explain`'s (name, type): `-x ADDRESS` asks the PTR of its reverse name, as dig's."""
    if args.address is None:
        if args.name is None:
            raise ConfigError("explain: a name, or -x ADDRESS")
        return args.name, args.type
    if args.name is not None:
        raise ConfigError("explain: a name or -x ADDRESS, not both")
    try:
        return reverse_name(str(ipaddress.ip_address(args.address))), "PTR"
    except ValueError:
        raise ConfigError(f"explain: -x {args.address[:100]!r} is not an IP address") from None


def _explain(config: Config, name: str, qtype: str) -> int:
    """`svcdns explain`: the answer as dig shows it, then why. Exit 0 whatever the rcode."""
    try:
        query = question_message(name, qtype.upper())
    except ValueError as error:
        raise ConfigError(f"explain: {error}") from None
    state = _loaded(config)
    recursion = Recursion(config)
    handler = Handler(state)  # forwarding off: a name outside the zones is explained
    reply = handler.full(query, udp=False)
    if isinstance(reply, bytes):
        print(dig_text(reply))
    lowered = name.rstrip(".").lower()
    if not recursion.enabled:
        forwarding = "forwarding is off (--upstream none): REFUSED."
    else:
        servers = ", ".join(map(str, recursion.servers_for(lowered)))
        stub = next((d for d, _ in recursion.stubs if under(lowered, d)), None)
        via = f" (stub domain {stub})" if stub else ""
        forwarding = f"it is forwarded to {servers}{via}."
    print()
    for line in explain(state, lowered, forwarding=forwarding, qtype=qtype):
        print(f";; {line}")
    return 0


def _list_api(config: Config) -> list[Event]:
    """One full list of every watched kind, as `serve` would start from."""
    from svcdns.sources.kube import KubeSource, api_client  # only with an API source

    source = KubeSource(
        api_client(config.kubeconfig, config.context),
        namespaces=config.namespaces,
        labels=config.labels,
        pods=config.pods is PodMode.VERIFIED,
    )
    received: list[Event] = []
    lock, listed = threading.Lock(), threading.Event()

    def sink(events: list[Event]) -> None:
        with lock:
            received.extend(events)

    source.start(sink=sink, on_synced=listed.set)
    wait = max(config.startup_timeout, RECORDS_LIST_TIMEOUT)
    done = listed.wait(wait)
    source.close()
    if not done:
        raise ConfigError(f"records: not listed within {wait:.0f} s: {', '.join(source.pending())}")
    with lock:
        return list(received)
