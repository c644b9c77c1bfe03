"""wire.limits: the size limits, and the one UDP limit whichever way it is worked out."""

from __future__ import annotations

from svcdns.wire.limits import CLASSIC_UDP, MAX_TCP, MAX_UDP, OUR_PAYLOAD, udp_limit
from svcdns.wire.opt import edns_udp_limit, opt_record


def test_the_limits() -> None:
    assert (CLASSIC_UDP, MAX_UDP, MAX_TCP, OUR_PAYLOAD) == (512, 65507, 65535, 1232)
    assert MAX_UDP == 65535 - 8 - 20  # an IPv4 datagram less the UDP and IP headers


def test_without_edns_the_limit_is_512() -> None:
    assert udp_limit(None) == 512


def test_the_payload_counts_between_512_and_a_datagram() -> None:
    assert [udp_limit(p) for p in (0, 511, 512, 1232, 65507, 65535)] == [
        512,
        512,
        512,
        1232,
        65507,
        65507,
    ]


def test_the_fast_paths_limit_is_udp_limit_for_every_payload() -> None:
    """`edns_udp_limit` writes `udp_limit` out for speed: the two never differ."""
    query = bytes.fromhex("1234010000010000000000010161 00 0001 0001".replace(" ", ""))
    start = len(query)
    for payload in range(65536):
        data = query + opt_record(payload)
        assert edns_udp_limit(data, start, len(data)) == udp_limit(payload), payload
