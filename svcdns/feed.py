"""The source feeding the cluster state, wired: a manifests file or folder (read before
anything listens, then polled), or the API's watches (their threads hand each batch to the
event loop with `call_soon_threadsafe`). Every batch is applied on the event loop thread,
counted by kind, and timed from its arrival to being served (CoreDNS's
`dns_programming_duration`). Part of the face: it imports the sources, the core and ops.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING

from svcdns.config import Config
from svcdns.core.model import Event, Upsert, key_of
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import PodMode
from svcdns.ops.metrics import Metrics
from svcdns.sources.manifests import ManifestSource

if TYPE_CHECKING:  # the client is imported only when the API is the source
    from svcdns.sources.kube import KubeSource

log = logging.getLogger("svcdns")

POLL_INTERVAL = 0.25  # seconds between checks of the manifests; a change shows within 1 s


class Feed:
    def __init__(self, config: Config, state: ClusterState, metrics: Metrics) -> None:
        self.config = config
        self.state = state
        self.metrics = metrics
        self._manifests: ManifestSource | None = None
        self._api: KubeSource | None = None
        self._poller: asyncio.Task[None] | None = None
        # Batches the watch threads handed over that the loop has yet to apply.
        self._queued = 0
        self._queue_lock = threading.Lock()
        # Set on the loop once the batch of the last first list is applied.
        self._first_sync_applied = False

    def pending(self) -> list[str]:
        """What /ready waits for: the kinds not listed yet, then the listed batches the loop
        has yet to apply. Ready means every listed name is answered, not merely received
        (the lists of a big cluster are in a second or more before they are indexed)."""
        if self._api is None:
            return []  # the manifests are loaded before anything listens
        kinds = self._api.pending()
        if kinds or self._first_sync_applied:
            return kinds
        return [_waiting_for(kinds, self._queued)]

    def apply(self, events: list[Event], received: float | None = None) -> None:
        """Apply a batch; `received` (monotonic) is when its events arrived, so the delay to
        the answers serving them is measured."""
        self.state.apply_all(events, now=time.time())
        if received is not None:
            self.metrics.programming.observe(("api",), time.monotonic() - received)
        kinds = Counter(
            key_of(event.obj).kind if isinstance(event, Upsert) else event.key.kind
            for event in events
        )
        for kind, count in kinds.items():
            self.metrics.events.labels(kind).inc(count)

    def _apply_queued(self, events: list[Event], received: float) -> None:
        with self._queue_lock:
            self._queued -= 1
        self.apply(events, received)

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

    def connect_api(self) -> KubeSource:
        """The API client is configured before anything listens: a bad kubeconfig exits.
        The child process that reads the configuration goes on to make the first lists
        (`sources.firstlists`), while this process opens its sockets and indexes."""
        from svcdns.sources.firstlists import ListPlan
        from svcdns.sources.kube import KubeSource, connect

        config = self.config
        pods = config.pods is PodMode.VERIFIED
        multicluster = bool(config.multicluster)
        plan = ListPlan(
            namespaces=config.namespaces, labels=config.labels, pods=pods, multicluster=multicluster
        )
        connection, first_lists = connect(config.kubeconfig, config.context, plan)
        self._api = KubeSource(
            connection,
            namespaces=config.namespaces,
            labels=config.labels,
            pods=pods,
            watch_timeout=config.watch_timeout,
            first_lists=first_lists,
            multicluster=multicluster,
        )
        return self._api

    def start(self) -> None:
        """On the running loop: the manifests poller, or the API's watches."""
        if self._manifests is not None:
            self._poller = asyncio.create_task(self._poll_manifests(self._manifests))
        if self._api is not None:
            self._start_api(self._api)

    def set_watch_timeout(self, seconds: int) -> None:
        if self._api is not None:
            self._api.set_watch_timeout(seconds)

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
        if self._api is not None:
            self._api.close()

    async def _poll_manifests(self, source: ManifestSource) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            try:
                noticed = time.monotonic()
                events = await asyncio.to_thread(source.poll)
                if events:
                    self.apply(events)
                    self.metrics.programming.observe(("manifests",), time.monotonic() - noticed)
            except Exception as error:  # the poller must outlive any one bad reload
                log.error("manifests reload failed, keeping the last good state: %r", error)

    def _start_api(self, source: KubeSource) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        state = self.state

        def synced() -> None:  # after every batch listed before it: the loop runs them in order
            log.info("initial sync done in %.2f s", time.monotonic() - started)
            self._first_sync_applied = True
            if not state.synced:
                settle_after_load()
            state.mark_synced()

        def give_up_waiting() -> None:
            if not state.synced:
                log.warning(
                    "not synced after %.1f s (waiting for %s): answering from what is known",
                    self.config.startup_timeout,
                    _waiting_for(source.pending(), self._queued),
                )
                settle_after_load()
                state.mark_synced()

        def sink(events: list[Event]) -> None:  # called from the watch threads
            with self._queue_lock:
                self._queued += 1
            loop.call_soon_threadsafe(self._apply_queued, events, time.monotonic())

        def on_synced() -> None:  # called from the watch thread that listed last
            loop.call_soon_threadsafe(synced)

        gc.disable()  # until the first sync: see settle_after_load
        source.start(sink=sink, on_synced=on_synced)
        self.metrics.bind_watches(
            lambda: ((w.resource.name, w.relists, w.restarts) for w in source.watches)
        )
        loop.call_later(self.config.startup_timeout, give_up_waiting)


def _waiting_for(kinds: list[str], queued: int) -> str:
    """What a sync still waits for: kinds not listed yet, or listed batches not applied yet
    (the lists are done, the event loop is still indexing what they brought)."""
    if kinds:
        return ", ".join(kinds)
    return f"{queued} listed batch(es) still being applied" if queued else "the last sync step"


def settle_after_load() -> None:
    """After the first load: the cluster's objects are long-lived, so the cyclic collector
    is kept off while they are built (it would walk all of them a dozen times, about a
    second on a 10,000-Service cluster) and they are then moved out of its sight for good
    (`gc.freeze`): no later collection pauses answering to walk them again. No collection
    comes first: the load leaves next to no cyclic garbage to free (6 objects on the large
    bench cluster), and walking its 1.5 million objects to find them held the loop, and
    /ready, for 0.2-0.4 s."""
    gc.freeze()
    gc.enable()
