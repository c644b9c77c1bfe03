"""ClientRate: per-address counts in one-second windows, bounded table, bounded logging."""

from __future__ import annotations

import logging

import pytest

from svcdns.net import ratelimit
from svcdns.net.ratelimit import ClientRate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(ratelimit.time, "monotonic", fake)
    return fake


def test_each_address_gets_its_own_allowance_per_second(clock: Clock) -> None:
    rate = ClientRate(3)
    assert [rate.allow("10.0.0.1") for _ in range(5)] == [True, True, True, False, False]
    assert [rate.allow("10.0.0.2") for _ in range(3)] == [True, True, True]
    assert rate.dropped == 2
    clock.now += 0.999
    assert not rate.allow("10.0.0.1")
    clock.now += 0.001  # a new window
    assert rate.allow("10.0.0.1")
    assert rate.dropped == 3


def test_the_table_is_bounded_and_sources_beyond_it_share_one_allowance(clock: Clock) -> None:
    rate = ClientRate(2, max_clients=2)
    assert rate.allow("a") and rate.allow("b")
    # Full: every other source shares one allowance of 2 this second.
    assert [rate.allow(source) for source in "cdef"] == [True, True, False, False]
    assert rate.allow("a") and not rate.allow("a")
    assert len(rate._counts) == 3
    clock.now += 1.0
    assert rate.allow("c") and rate.allow("c") and not rate.allow("c")


def test_drops_are_logged_once_per_interval_with_a_count(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="svcdns.ratelimit")
    rate = ClientRate(1)
    for _ in range(1000):
        rate.allow("10.0.0.9")
        clock.now += 0.005  # 200 queries a second for 5 s
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "1 UDP queries over --max-qps-per-client 1 dropped since the last such line"
        " (at most one in 10 s; last from 10.0.0.9)"
    ]
    clock.now += ratelimit.REPORT_INTERVAL
    rate.allow("10.0.0.9")
    rate.allow("10.0.0.9")
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage().startswith(f"{rate.dropped - 1} UDP queries over")
