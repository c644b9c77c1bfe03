"""Command line: flags/config -> Config; wires source, state, handler and transport.

Every failure a user can cause (wrong flag, missing or broken file, port in use) exits
non-zero with one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from svcdns import SPEC_VERSION, __version__
from svcdns.config import Config, ConfigError, build, read_file
from svcdns.handler import Handler
from svcdns.sources.manifests import ManifestError, ManifestSource, files
from svcdns.state import ClusterState
from svcdns.transport import DnsServer, ListenError
from svcdns.zonefile import to_text, zone_records

log = logging.getLogger("svcdns")

POLL_INTERVAL = 0.25  # seconds between checks of the manifests; a change shows within 1 s


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


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line, like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"svcdns: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="svcdns", description="Kubernetes cluster DNS server")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="answer DNS queries")
    _add_source_options(serve)
    serve.add_argument(
        "--listen",
        action="append",
        metavar="ADDR:PORT",
        help="UDP and TCP listener, repeatable (default 0.0.0.0:53)",
    )
    serve.add_argument(
        "--upstream",
        action="append",
        metavar="ADDR[:PORT]|none",
        help="where names outside the zones go; none: REFUSED",
    )
    serve.add_argument("--http", metavar="ADDR:PORT", help="/health /ready /metrics listener")
    serve.add_argument("--workers", help="processes sharing the DNS port")
    serve.add_argument("--tcp-idle-timeout", metavar="SECONDS", help="close idle TCP (default 10)")
    serve.add_argument(
        "--tcp-max-connections", metavar="N", help="concurrent TCP cap (default 1000)"
    )
    records = commands.add_parser("records", help="print every record as zone-file text")
    _add_source_options(records)
    commands.add_parser("version", help="print the version")
    return parser


def _config(args: argparse.Namespace) -> Config:
    values: dict[str, Any] = read_file(Path(args.config)) if args.config else {}
    flags = {k: v for k, v in vars(args).items() if k not in ("command", "config")}
    values.update({k: v for k, v in flags.items() if v is not None})
    config = build(values)
    if config.manifests is None:
        raise ConfigError(
            "the Kubernetes API source is not available in this version: use --manifests PATH"
        )
    if config.workers != 1:
        raise ConfigError("--workers: only 1 worker is supported in this version")
    return config


def _load(config: Config, *, now: float | None = None) -> tuple[ClusterState, ManifestSource]:
    assert config.manifests is not None
    state = ClusterState(config.zone_settings(), namespaces=config.namespaces)
    source = ManifestSource(config.manifests)
    events = source.initial()
    if now is None:
        now = time.time()
    for event in events:
        state.apply(event, now=now)
    state.mark_synced()
    return state, source


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "version":
        print(f"svcdns {__version__} (Kubernetes DNS schema {SPEC_VERSION})")
        return 0
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = _config(args)
        if args.command == "records":
            return _records(config)
        return _serve(config)
    except (ConfigError, ManifestError, ListenError) as error:
        print(f"svcdns: {error}", file=sys.stderr)
        return 1


def _records(config: Config) -> int:
    assert config.manifests is not None
    # The serial is the newest manifest's mtime, so two runs over one dump print the same.
    newest = max((p.stat().st_mtime for p in files(config.manifests)), default=0.0)
    state, _ = _load(config, now=newest)
    print(to_text(zone_records(state)))
    return 0


def _serve(config: Config) -> int:
    state, source = _load(config)
    if config.upstream != ():
        log.warning(
            "forwarding is not available in this version: names outside the zones "
            "get REFUSED (as with --upstream none)"
        )
    return asyncio.run(_run(config, state, source))


async def _run(config: Config, state: ClusterState, source: ManifestSource) -> int:
    handler = Handler(state)
    server = DnsServer(
        handler.handle,
        list(config.listen),
        tcp_idle_timeout=config.tcp_idle_timeout,
        max_tcp_connections=config.tcp_max_connections,
    )
    bound = await server.start()
    log.info(
        "serving zone %s on %s (udp+tcp); %d records",
        config.zone,
        ", ".join(str(a) for a in bound),
        len(state.index.records()),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    watcher = asyncio.create_task(_watch(source, state))
    await stop.wait()
    log.info("stopping")
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await server.close()
    return 0


async def _watch(source: ManifestSource, state: ClusterState) -> None:
    while True:
        await asyncio.sleep(POLL_INTERVAL)
        events = await asyncio.to_thread(source.poll)
        now = time.time()
        for event in events:
            state.apply(event, now=now)
