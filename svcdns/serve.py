"""`svcdns serve` at run time: a source feeding the state, the DNS and ops listeners.

All state changes happen on the event loop thread: the manifests poller applies its events
there, and the API watch threads hand theirs over with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from svcdns.config import RESTART_SETTINGS, Config, ConfigError, parse_listen, sighup_changes
from svcdns.core.model import Event, Upsert, key_of
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode
from svcdns.core.zonefile import transfer_records
from svcdns.dns.axfr import transfer_messages, transfer_refusal
from svcdns.dns.dispatch import Dispatcher
from svcdns.dns.handler import Handler, Transfer
from svcdns.logs import logged
from svcdns.net.ratelimit import ClientRate
from svcdns.net.transport import SAMPLE_EVERY, DnsServer, HandleFn
from svcdns.ops.http import OpsServer
from svcdns.ops.metrics import BADVERS, DROPPED, Metrics
from svcdns.recursion import Recursion, answered_from
from svcdns.sources.manifests import ManifestSource
from svcdns.workers import report_ops_address, worker_config, worker_number

if TYPE_CHECKING:  # the client is imported only when the API is the source
    from svcdns.sources.kube import KubeSource

log = logging.getLogger("svcdns")

LOOP_VARIABLE = "SVCDNS_EVENT_LOOP"  # "asyncio" forces the stock loop even with uvloop installed
POLL_INTERVAL = 0.25  # seconds between checks of the manifests; a change shows within 1 s


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
        self.programming = self.metrics.programming
        self.pending: Callable[[], list[str]] = list
        self._tasks: list[asyncio.Task[None]] = []
        self._manifests: ManifestSource | None = None
        self._api: KubeSource | None = None
        self._closers: list[Callable[[], object]] = []
        # Made even when off (0), so that SIGHUP can turn the limit on; not used until then.
        self._rate = ClientRate(config.max_qps_per_client)

    def apply(self, events: list[Event], received: float | None = None) -> None:
        """Apply a batch; `received` (monotonic) is when its events arrived, so the delay to
        the answers serving them is measured (CoreDNS's dns_programming_duration)."""
        self.state.apply_all(events, now=time.time())
        if received is not None:
            self.programming.observe(("api",), time.monotonic() - received)
        kinds = Counter(
            key_of(event.obj).kind if isinstance(event, Upsert) else event.key.kind
            for event in events
        )
        for kind, count in kinds.items():
            self.metrics.events.labels(kind).inc(count)

    def load_manifests(self) -> None:
        """Read the manifests before anything listens: a broken file exits at once."""
        assert self.config.manifests is not None
        source = ManifestSource(self.config.manifests, pods=self.config.pods is PodMode.VERIFIED)
        gc.disable()
        try:
            for events in source.initial_batches():  # applied while the rest is parsed
                self.apply(events)
        finally:
            settle_after_load()
        self.state.mark_synced()
        self._manifests = source

    async def _poll_manifests(self, source: ManifestSource) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                noticed = time.monotonic()
                events = await asyncio.to_thread(source.poll)
                if events:
                    self.apply(events)
                    self.programming.observe(("manifests",), time.monotonic() - noticed)
            except Exception as error:  # the poller must outlive any one bad reload
                log.error("manifests reload failed, keeping the last good state: %r", error)

    def connect_api(self) -> KubeSource:
        """The API client is configured before anything listens: a bad kubeconfig exits."""
        from svcdns.sources.kube import KubeSource, api_client

        config = self.config
        return KubeSource(
            api_client(config.kubeconfig, config.context),
            namespaces=config.namespaces,
            labels=config.labels,
            pods=config.pods is PodMode.VERIFIED,
            watch_timeout=config.watch_timeout,
        )

    def start_api(self, source: KubeSource) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()

        def synced() -> None:
            log.info("initial sync done in %.2f s", time.monotonic() - started)
            if not self.state.synced:
                settle_after_load()
            self.state.mark_synced()

        def give_up_waiting() -> None:
            if not self.state.synced:
                log.warning(
                    "not synced after %.1f s (waiting for %s): answering from what is known",
                    self.config.startup_timeout,
                    ", ".join(source.pending()),
                )
                settle_after_load()
                self.state.mark_synced()

        def sink(events: list[Event]) -> None:  # called from the watch threads
            loop.call_soon_threadsafe(self.apply, events, time.monotonic())

        def on_synced() -> None:  # called from the watch thread that listed last
            loop.call_soon_threadsafe(synced)

        gc.disable()  # until the first sync: see settle_after_load
        source.start(sink=sink, on_synced=on_synced)
        self.metrics.bind_watches(
            lambda: ((w.resource.name, w.relists, w.restarts) for w in source.watches)
        )
        loop.call_later(self.config.startup_timeout, give_up_waiting)
        self.pending = source.pending
        self._api = source
        self._closers.append(source.close)

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
        recursion.reconfigure(new)
        handler.forwarding = handler.fast.chase_external = recursion.enabled
        handler.rotation.enabled = new.rotate
        if new.ttl != old.ttl:
            self.state.reconfigure(new.zone_settings(), now=time.time())
            handler.fast.refresh()
        server.tcp_idle_timeout = new.tcp_idle_timeout
        server.max_tcp_connections = new.tcp_max_connections
        self._limit_rate(server, new.max_qps_per_client)
        if self._api is not None:
            self._api.set_watch_timeout(new.watch_timeout)
        self.config = dataclasses.replace(new, **{f: getattr(old, f) for f in RESTART_SETTINGS})
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

    def _forwarding_metrics(self, recursion: Recursion) -> None:
        forwarder = recursion.forwarder
        durations = self.metrics.forward_durations
        forwarder.observe = lambda upstream, seconds: durations.observe((upstream,), seconds)
        self.metrics.bind_forwarding(
            replies=lambda: forwarder.replies,
            healthy=lambda: {
                (str(u),): u not in forwarder.failing
                for u in dict.fromkeys([*recursion.upstreams, *recursion.stub_servers()])
            },
            cache=lambda: (
                recursion.cache.hits,
                recursion.cache.misses,
                recursion.cache.evictions,
                len(recursion.cache),
            ),
            in_flight=lambda: forwarder.in_flight,
        )

    @staticmethod
    async def _check_loop(recursion: Recursion, stop: asyncio.Event, exit_code: list[int]) -> None:
        looped = await recursion.loop_check()
        if looped is not None:
            log.error(
                "forwarding loop: a question sent to upstream %s came back to this server "
                "(does that node's resolv.conf point at the cluster DNS?); stopping",
                looped,
            )
            exit_code[0] = 1
            stop.set()

    async def run(self, source: KubeSource | None) -> int:
        config = self.config
        recursion = Recursion(config)
        if config.upstream != () and not recursion.enabled:
            log.warning(
                "no upstream (/etc/resolv.conf has none): names outside the zones get REFUSED"
            )
        handler = Handler(self.state, forwarding=recursion.enabled, rotate=config.rotate)
        if recursion.enabled:
            self._forwarding_metrics(recursion)
        metrics = self.metrics
        dispatch = Dispatcher(
            handler,
            udp_counts=metrics.queries.udp,
            tcp_counts=metrics.queries.tcp,
            forward=recursion.answer,
            transfer=self._transfer,
            plain=recursion.plain,
            dropped=DROPPED,
            badvers=BADVERS,
        )
        handle_udp: HandleFn = dispatch.udp
        handle_tcp: HandleFn = dispatch.tcp
        if config.log_queries:
            handle_udp = logged(handle_udp, answered_from.get)
            handle_tcp = logged(handle_tcp, answered_from.get)
        requests = metrics.requests
        server = DnsServer(
            list(config.listen),
            handle_tcp=handle_tcp,
            tcp_idle_timeout=config.tcp_idle_timeout,
            max_tcp_connections=config.tcp_max_connections,
            reuse_port=self.worker is not None,
            handle_udp=handle_udp,
            observe=lambda transport, seconds: requests.observe((transport,), seconds),
        )
        self._limit_rate(server, config.max_qps_per_client)
        asyncio.get_running_loop().add_signal_handler(
            signal.SIGHUP, lambda: self.reload(handler, recursion, server)
        )
        stopping: list[str] = []  # "shutting down" once signalled: /ready turns 503 at once

        ops = OpsServer(pending=lambda: stopping + self.pending(), metrics=metrics)
        stop = _stop_on_signals()  # before the "serving" line: a SIGTERM after it is ours
        bound = await server.start()
        try:
            if config.http and config.http.lower() != "none":
                ops_address = await ops.start(parse_listen(config.http))
                log.info("ops on http://%s (/health /ready /metrics)", ops_address)
                if self.worker is not None:
                    report_ops_address(ops_address)
            metrics.bind_zone(
                names=lambda: len(self.state.index.rrsets),
                serial=lambda: self.state.serial,
                synced=lambda: not self.pending(),
                tcp_connections=lambda: len(server.connections),
            )
            if source is not None:
                self.start_api(source)
            if self._manifests is not None:
                self._tasks.append(asyncio.create_task(self._poll_manifests(self._manifests)))
            exit_code: list[int] = [0]
            if recursion.enabled:
                self._tasks.append(
                    asyncio.create_task(self._check_loop(recursion, stop, exit_code))
                )
            log.info(
                "serving zone %s on %s (udp+tcp); %d names; %s loop",
                config.zone,
                ", ".join(str(a) for a in bound),
                len(self.state.index.rrsets),
                type(asyncio.get_running_loop()).__module__.partition(".")[0],
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
            for task in self._tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            for close in self._closers:
                close()
            await ops.close()
            await server.close()
        return 0


def settle_after_load() -> None:
    """After the first load: the cluster's objects are long-lived, so the cyclic collector
    is kept off while they are built (it would walk all of them a dozen times, about a
    second on a 10,000-Service cluster) and they are then moved out of its sight for good
    (`gc.freeze`): no later collection pauses answering to walk them again."""
    gc.collect()
    gc.freeze()
    gc.enable()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop


def serve(config: Config, reread: Callable[[], Config] | None = None) -> int:
    worker = worker_number()
    if worker is not None:
        config = worker_config(config)
    runtime = Runtime(config, worker=worker, reread=reread)
    source = None
    if config.manifests is not None:
        runtime.load_manifests()
    else:
        source = runtime.connect_api()
    return run_loop(runtime.run(source))


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
