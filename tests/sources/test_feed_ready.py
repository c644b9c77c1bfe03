"""/ready means every listed name is answered (issue 15): the lists being received is not
enough while the event loop has yet to index what they brought. In-process against the
fake API over real sockets; the loop is held busy while the lists complete."""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import pytest
from builders import cluster_ip_service, endpoint, namespace, port, slice_of
from fakeapi import FakeApiServer

from svcdns.config import Config
from svcdns.core.state import ClusterState
from svcdns.feed import Feed
from svcdns.ops.metrics import Metrics

ZONE = "cluster.local"


def fill(fake: FakeApiServer, services: int) -> None:
    fake.apply(namespace("shop"))
    for number in range(services):
        name, host = f"web-{number}", f"{number // 250}.{number % 250 + 1}"
        fake.apply(cluster_ip_service(name, f"10.96.{host}"))
        fake.apply(
            slice_of(name, f"{name}-1", [endpoint(f"10.244.{host}")], ports=[port("http", 80)])
        )


def test_ready_waits_for_the_listed_batches_to_be_applied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(1) or 0)
    with FakeApiServer() as fake:
        fill(fake, 1200)  # more than one page of each kind
        config = Config(kubeconfig=fake.write_kubeconfig(tmp_path / "kubeconfig"))
        state = ClusterState(config.zone_settings())
        feed = Feed(config, state, Metrics())
        source = feed.connect_api()
        seen: dict[str, list[str]] = {}

        def busy_until_listed() -> None:
            """Hold the loop, as a long indexing run would, until every list is in."""
            deadline = time.monotonic() + 30
            while source.pending() and time.monotonic() < deadline:
                time.sleep(0.01)
            seen["listed"] = feed.pending()

        async def scenario() -> None:
            asyncio.get_running_loop().call_soon(busy_until_listed)
            feed.start()
            deadline = time.monotonic() + 30
            while feed.pending() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            seen["ready"] = feed.pending()
            await feed.close()

        asyncio.run(scenario())
        assert seen["listed"], "every list was in but not applied, and /ready said nothing"
        assert "listed batch(es) still being applied" in seen["listed"][0]
        assert seen["ready"] == []
        assert state.synced
        # At ready, the last Service and its endpoint (the last pages) are answered.
        assert state.index.exists(f"web-1199.shop.svc.{ZONE}")
        assert state.index.exists(f"10-244-4-200.web-1199.shop.svc.{ZONE}")
        # Settled without a full collection before ready: what was loaded is frozen.
        assert collections == [] and gc.isenabled() and gc.get_freeze_count() > 0
        gc.unfreeze()
