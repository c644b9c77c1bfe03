"""Fairness under overload (svcdns.net.fairness): when, and whose datagrams are answered."""

from __future__ import annotations

import logging
import socket

import pytest

from svcdns.net import fairness
from svcdns.net.fairness import HIGH, LOW, MIN_BUDGET, Fairness, fair_level, queue_fill

A, B, C = b"\x0a\x00\x00\x01", b"\x0a\x00\x00\x02", b"\x0a\x00\x00\x03"


@pytest.mark.parametrize(
    ("counts", "budget", "level"),
    [
        ([64], 64, 64),  # one source, everything fits
        ([64], 32, 32),  # one source overloaded: its budget
        ([63, 1], 32, 31),  # the light source whole, the heavy one the rest
        ([32, 32], 32, 16),  # two equal sources: halves
        ([40, 20, 4], 30, 13),  # 4 + 13 + 13 = 30
        ([10, 10, 10], 64, 10),  # everyone fits
        ([1] * 64, 8, 0),  # more sources than budget: level 0 (one each, first come)
        ([5, 1, 1], 3, 1),
    ],
)
def test_the_fair_level_is_max_min(counts: list[int], budget: int, level: int) -> None:
    assert fair_level(counts, budget) == level
    assert sum(min(count, level) for count in counts) <= budget


def test_a_heavy_source_is_cut_to_the_level_and_a_light_one_kept_whole() -> None:
    share = Fairness(8)
    share.budget = 4
    sources = [A, A, B, A, A, A, A, A]
    assert share.keep(sources) == [True, True, True, True, False, False, False, False]
    assert share.dropped == 4


def test_more_sources_than_budget_get_one_each_first_come() -> None:
    share = Fairness(6)
    share.budget = 2
    assert share.keep([A, A, B, C, C, B]) == [True, False, True, False, False, False]


def test_overload_starts_when_the_queue_is_half_full_and_ends_with_a_short_batch() -> None:
    share = Fairness(64)
    assert not share.full_batch(HIGH - 0.01)  # a full batch alone is not overload
    assert share.budget == 64
    assert share.full_batch(HIGH)
    assert share.budget == 32
    assert share.full_batch(0.9)  # still filling while shared: halve again
    assert share.budget == 16
    assert share.full_batch((HIGH + LOW) / 2)  # draining: some answers back
    assert share.budget == 24
    assert not share.full_batch(LOW - 0.01)  # nearly empty: over
    assert share.budget == 64
    share.full_batch(1.0)
    share.short_batch()
    assert not share.overloaded and share.budget == 64


def test_the_budget_never_falls_below_its_floor() -> None:
    share = Fairness(64)
    for _ in range(20):
        share.full_batch(1.0)
    assert share.budget == MIN_BUDGET


def test_drops_are_logged_at_most_once_an_interval(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(fairness.time, "monotonic", lambda: now[0])
    share = Fairness(4)
    share.budget = 2
    with caplog.at_level(logging.WARNING, logger="svcdns.overload"):
        for _ in range(100):
            share.keep([A, A, A, B])
        now[0] += fairness.REPORT_INTERVAL
        share.keep([A, A, A, B])
    assert [r.getMessage() for r in caplog.records] == [
        "overloaded: 2 UDP queries from the heaviest sources dropped since the last such"
        " line (at most one in 10 s; heaviest last: 10.0.0.1)",
        "overloaded: 200 UDP queries from the heaviest sources dropped since the last such"
        " line (at most one in 10 s; heaviest last: 10.0.0.1)",
    ]
    assert share.dropped == 202


def test_the_queue_fill_of_a_real_socket() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client,
    ):
        server.bind(("127.0.0.1", 0))
        assert queue_fill(server) == 0.0
        for _ in range(20):
            client.sendto(b"x" * 100, server.getsockname())
        assert 0.0 < queue_fill(server) <= 1.0
