"""`svcdns serve` at run time: the composition root. It builds the parts, wires them
together and handles the signals (SIGTERM/SIGINT stop after the lame duck, SIGHUP reads
--config again), and does nothing of their work.

All state changes happen on the event loop thread (`feed`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import signal
import time
from collections.abc import Callable, Coroutine
from typing import Any

from svcdns.config import RESTART_SETTINGS, Config, ConfigError, parse_listen, sighup_changes
from svcdns.core.state import ClusterState
from svcdns.core.zonefile import transfer_records
from svcdns.dns.autopath import AutoPath
from svcdns.dns.axfr import transfer_messages, transfer_refusal
from svcdns.dns.dispatch import Dispatcher
from svcdns.dns.handler import Handler, Transfer
from svcdns.feed import Feed
from svcdns.logs import logged
from svcdns.net.ratelimit import ClientRate
from svcdns.net.transport import SAMPLE_EVERY, DnsServer, HandleFn
from svcdns.ops.coredns import add_coredns_names, count_types, server_label
from svcdns.ops.http import OpsServer
from svcdns.ops.metrics import BADVERS, DROPPED, Metrics
from svcdns.recursion import Recursion, answered_from, resolv_conf_search
from svcdns.workers import report_ops_address, worker_config, worker_number

log = logging.getLogger("svcdns")

LOOP_VARIABLE = "SVCDNS_EVENT_LOOP"  # "asyncio" forces the stock loop even with uvloop installed
# "datagram" forces asyncio's one-datagram UDP path where recvmmsg batches would be used.
UDP_IO_VARIABLE = "SVCDNS_UDP_IO"


class Runtime:
    def __init__(
        self,
        config: Config,
        *,
        worker: int | None = None,
        reread: Callable[[], Config] | None = None,
    ) -> None:
        self.config = config
        self.reread = reread  # the configuration again (file and flags), for SIGHUP
        self.worker = worker  # this process's number under `--workers`, else None
        self.state = ClusterState(config.zone_settings(), namespaces=config.namespaces)
        self.metrics = Metrics(udp_sampled_every=SAMPLE_EVERY)
        self.coredns = (  # --metrics-names coredns: requests by type, counted as they come
            add_coredns_names(self.metrics, listen=str(config.listen[0]))
            if config.metrics_names == "coredns"
            else None
        )
        self.feed = Feed(config, self.state, self.metrics)
        # Made even when off (0), so that SIGHUP can turn the limit on; not used until then.
        self._rate = ClientRate(config.max_qps_per_client)
        # The stop signal and the exit status the loop check sets; its tasks.
        self._stopping: tuple[asyncio.Event, list[int]] = (asyncio.Event(), [0])
        self._checks: list[asyncio.Task[None]] = []

    async def _transfer(self, transfer: Transfer, client: Any) -> bytes | list[bytes]:
        """AXFR/IXFR over TCP (dns.axfr decides who may): a snapshot taken now, decoded off
        the event loop, sent as a stream of messages."""
        refusal = transfer_refusal(transfer.query, client, self.config.transfer_to)
        if refusal is not None:
            return refusal
        snapshot = self.state.index.snapshot()  # consistent: taken between two events
        stored = await asyncio.to_thread(snapshot.records)
        records = transfer_records(self.state, transfer.zone, stored)
        messages = await asyncio.to_thread(transfer_messages, transfer.query, records)
        log.info("zone transfer of %s to %s: %d records", transfer.zone, client, len(records))
        return messages

    def reload(self, handler: Handler, recursion: Recursion, server: DnsServer) -> None:
        """SIGHUP: read --config again and apply what can change while serving (the
        settings `config` marks live). A bad file changes nothing; settings that need a
        restart are named in the same one line. Live settings not pushed here are read
        from `self.config` as they are used (--transfer-to, --lameduck)."""
        old = self.config
        if self.reread is None or old.config_file is None:
            log.warning("SIGHUP: no --config file to read again")
            return
        try:
            new = self.reread()
        except (ConfigError, OSError) as error:
            log.error("SIGHUP: keeping the current settings: %s", str(error)[:300])
            return
        if self.worker is not None:
            new = worker_config(new)
        changed, restart = sighup_changes(old, new)
        # What needs a restart keeps its value until then (the zone, the pod mode...).
        new = dataclasses.replace(new, **{f: getattr(old, f) for f in RESTART_SETTINGS})
        was_forwarding = recursion.enabled
        recursion.reconfigure(new)
        if recursion.enabled and not was_forwarding:  # as at start: the loop check once
            self._checks.append(asyncio.create_task(recursion.stop_on_loop(*self._stopping)))
        if new.ttl != old.ttl:
            self.state.reconfigure(new.zone_settings(), now=time.time())
        handler.reconfigure(
            forwarding=recursion.enabled, rotate=new.rotate, settings_changed=new.ttl != old.ttl
        )
        server.tcp_idle_timeout = new.tcp_idle_timeout
        server.max_tcp_connections = new.tcp_max_connections
        self._limit_rate(server, new.max_qps_per_client)
        self.feed.set_watch_timeout(new.watch_timeout)
        self.config = new
        log.info(
            "SIGHUP: read %s again: %s%s",
            old.config_file,
            ", ".join(changed) + " applied" if changed else "no change",
            "; needs a restart to change: " + ", ".join(restart) if restart else "",
        )

    def _limit_rate(self, server: DnsServer, per_second: int) -> None:
        """--max-qps-per-client: the UDP listeners' limit, none for 0; its counter from the
        first time it is on."""
        self._rate.per_second = per_second
        server.limit_rate(self._rate if per_second else None)
        if per_second:
            self.metrics.bind_rate_limited(lambda: self._rate.dropped)

    def _autopath(self, handler: Handler, recursion: Recursion) -> AutoPath | None:
        """--autopath: pods' search-path guesses, with the node's search domains of this
        process's resolv.conf; names outside the zones through the forwarding path."""
        if not self.config.autopath:
            return None
        domains = resolv_conf_search(zone=self.config.zone)
        log.info("autopath: after the cluster's, the search domains %s", domains or "none")
        return AutoPath(handler, domains=domains, lookup=recursion.plain)

    def _listeners(self, handler: Handler, recursion: Recursion) -> DnsServer:
        config, metrics = self.config, self.metrics
        dispatch = Dispatcher(
            handler,
            udp_counts=metrics.queries.udp,
            tcp_counts=metrics.queries.tcp,
            forward=recursion.answer,
            transfer=self._transfer,
            plain=recursion.plain,
            search=self._autopath(handler, recursion),
            dropped=DROPPED,
            badvers=BADVERS,
        )
        handle_udp: HandleFn = dispatch.udp
        handle_tcp: HandleFn = dispatch.tcp
        if config.log_queries:
            handle_udp = logged(handle_udp, answered_from.get)
            handle_tcp = logged(handle_tcp, answered_from.get)
        if self.coredns is not None:
            handle_udp = count_types(handle_udp, self.coredns.types, "udp")
            handle_tcp = count_types(handle_tcp, self.coredns.types, "tcp")
        requests = metrics.requests
        server = DnsServer(
            list(config.listen),
            handle_udp=handle_udp,
            handle_tcp=handle_tcp,
            tcp_idle_timeout=config.tcp_idle_timeout,
            max_tcp_connections=config.tcp_max_connections,
            reuse_port=self.worker is not None,
            observe=lambda transport, seconds: requests.observe((transport,), seconds),
            batched=os.environ.get(UDP_IO_VARIABLE, "batched") != "datagram",
        )
        self._limit_rate(server, config.max_qps_per_client)
        return server

    async def run(self) -> int:
        config, metrics, loop = self.config, self.metrics, asyncio.get_running_loop()
        recursion = Recursion(config)
        if config.upstream != () and not recursion.enabled:
            log.warning(
                "no upstream (/etc/resolv.conf has none): names outside the zones get REFUSED"
            )
        handler = Handler(self.state, forwarding=recursion.enabled, rotate=config.rotate)
        # Bound even with forwarding off: a SIGHUP may turn it on, and the series stay put.
        recursion.bind_metrics(metrics)
        server = self._listeners(handler, recursion)
        stop, exit_code = self._stopping
        _stop_on_signals(stop)  # before the "serving" line: a SIGTERM after it is ours
        loop.add_signal_handler(signal.SIGHUP, lambda: self.reload(handler, recursion, server))
        stopping: list[str] = []  # "shutting down" once signalled: /ready turns 503 at once
        ops = OpsServer(pending=lambda: stopping + self.feed.pending(), metrics=metrics)
        bound = await server.start()
        if self.coredns is not None:
            self.coredns.server = server_label(str(bound[0]))
        checks = self._checks
        try:
            if config.http and config.http.lower() != "none":
                ops_address = await ops.start(parse_listen(config.http))
                log.info("ops on http://%s (/health /ready /metrics)", ops_address)
                if self.worker is not None:
                    report_ops_address(ops_address)
            metrics.bind_zone(
                names=lambda: len(self.state.index.rrsets),
                serial=lambda: self.state.serial,
                synced=lambda: not self.feed.pending(),
                tcp_connections=lambda: len(server.connections),
            )
            metrics.bind_overload(server.overload_dropped)
            self.feed.start()
            if recursion.enabled:
                checks.append(asyncio.create_task(recursion.stop_on_loop(stop, exit_code)))
            log.info(
                "serving zone %s on %s (udp+tcp); %d names; %s loop; udp %s",
                config.zone,
                ", ".join(str(a) for a in bound),
                len(self.state.index.rrsets),
                type(loop).__module__.partition(".")[0],
                "in batches (recvmmsg)" if server.udp_batched else "one datagram a callback",
            )
            await stop.wait()
            if exit_code[0]:
                return exit_code[0]
            stopping.append("shutting down")
            lameduck = self.config.lameduck  # as the last SIGHUP left it
            if lameduck > 0:
                # Keep answering while endpoints controllers and kube-proxy take us out.
                log.info("stopping in %.1f s (lame duck; /ready is 503)", lameduck)
                await asyncio.sleep(lameduck)
            log.info("stopping")
        finally:
            for task in checks:
                task.cancel()
            await asyncio.gather(*checks, return_exceptions=True)
            await self.feed.close()
            await ops.close()
            await server.close()
        return 0


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)


def serve(config: Config, reread: Callable[[], Config] | None = None) -> int:
    worker = worker_number()
    if worker is not None:
        config = worker_config(config)
    runtime = Runtime(config, worker=worker, reread=reread)
    if config.manifests is not None:
        runtime.feed.load_manifests()
    else:
        runtime.feed.connect_api()
    return run_loop(runtime.run())


def run_loop(main: Coroutine[Any, Any, int]) -> int:
    """Run on uvloop when it is installed (the `fast` extra): about a quarter more queries
    per second and a much lower p99 than the stock loop, measured on this server."""
    try:
        if os.environ.get(LOOP_VARIABLE, "uvloop") != "uvloop":
            raise ImportError(f"{LOOP_VARIABLE} says so")
        import uvloop
    except ImportError as why:
        log.debug("event loop: asyncio (uvloop: %s)", why)
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
