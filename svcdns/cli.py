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

from svcdns import SPEC_VERSION, __version__, import_corefile
from svcdns.config import SETTINGS, Config, ConfigError, build, read_file
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
from svcdns.settings import Form
from svcdns.sources import KubeConfigError
from svcdns.sources.manifests import ManifestError, ManifestSource, files
from svcdns.workers import supervise, worker_number

log = logging.getLogger("svcdns")

RECORDS_LIST_TIMEOUT = 30.0  # `records` waits this long for the API's first lists


# How each form of setting (settings.Form) reaches argparse. Every flag defaults to None
# (not given), so the --config file's value or the table's default applies.
FORMS: dict[Form, dict[str, Any]] = {
    "value": {},
    "repeat": {"action": "append"},
    "switch": {"action": "store_true"},
    "on-off": {"action": argparse.BooleanOptionalAction},
}


def _add_settings(parser: argparse.ArgumentParser, command: str) -> None:
    """The flags of every setting `command` takes, from the table (config.SETTINGS)."""
    groups: dict[str, Any] = {}
    for row in SETTINGS.values():
        if command not in row.commands:
            continue
        if row.group not in groups:
            groups[row.group] = parser.add_argument_group(row.group)
        groups[row.group].add_argument(
            row.flag,
            dest=row.key,
            default=None,
            help=row.help_line().replace("%", "%%"),
            **({"metavar": row.metavar} if row.metavar else {}),
            **FORMS[row.form],
        )


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"svcdns: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="svcdns", description="Kubernetes cluster DNS server")
    commands = parser.add_subparsers(dest="command", required=True)
    serving = commands.add_parser("serve", help="answer DNS queries")
    _add_settings(serving, "serve")
    records = commands.add_parser("records", help="print every record as zone-file text")
    _add_settings(records, "records")
    explaining = commands.add_parser("explain", help="the answer to a name, and why")
    explaining.add_argument("name", nargs="?", help="the name to explain")
    explaining.add_argument("type", nargs="?", default="A", help="record type (default A)")
    explaining.add_argument(
        "-x", dest="address", metavar="ADDRESS", help="explain the PTR of an address (as dig)"
    )
    _add_settings(explaining, "explain")
    importing = commands.add_parser(
        "import-corefile", help="a CoreDNS Corefile as --config YAML; unmapped lines on stderr"
    )
    importing.add_argument("file", metavar="FILE", help="the Corefile")
    commands.add_parser("version", help="print the version")
    return parser


def _config(args: argparse.Namespace) -> Config:
    """The --config file's values, then the flags given (they win), made a Config."""
    values: dict[str, Any] = read_file(Path(args.config)) if args.config else {}
    flags = {row.key: getattr(args, row.key, None) for row in SETTINGS.values()}
    values.update({key: value for key, value in flags.items() if value is not None})
    return build(values)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"svcdns {__version__} (Kubernetes DNS schema {SPEC_VERSION})")
        return 0
    if args.command == "import-corefile":  # no settings: exit 0, 1 (unmapped lines) or 2
        return import_corefile.main(args.file)
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
        multicluster=bool(config.multicluster),
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
