"""wire.soa: the timers both paths write into our SOA."""

from __future__ import annotations

from svcdns.core.answer import soa
from svcdns.core.rr import SOAData
from svcdns.core.state import ClusterState
from svcdns.core.zonedata import ZoneSettings
from svcdns.wire.soa import EXPIRE, MAX_SOA_TTL, REFRESH, RETRY, timers


def test_the_timers_are_the_golden_bytes() -> None:
    # serial 7 | refresh 7200 | retry 1800 | expire 86400 | minimum 5
    assert timers(7, 5) == bytes.fromhex("00000007 00001c20 00000708 00015180 00000005")
    assert (REFRESH, RETRY, EXPIRE, MAX_SOA_TTL) == (7200, 1800, 86400, 300)


def test_the_full_paths_soa_has_them() -> None:
    state = ClusterState(ZoneSettings(ttl=3600))
    record = soa(state, "cluster.local")
    assert isinstance(record.data, SOAData)
    data = record.data
    assert (data.refresh, data.retry, data.expire, record.ttl) == (7200, 1800, 86400, 300)
