"""How big a message may be (RFC 1035 4.2.1 and 4.2.2, RFC 6891 6.2.5): over UDP, over TCP,
and the payload we advertise. Constants and one function; imports nothing.
"""

from __future__ import annotations

CLASSIC_UDP = 512  # RFC 1035 4.2.1: a UDP message without EDNS
MAX_UDP = 65507  # the largest IPv4 UDP datagram's payload: a client may claim more
MAX_TCP = 65535  # RFC 1035 4.2.2: what the two-octet length prefix can count
OUR_PAYLOAD = 1232  # the EDNS payload we advertise, to clients and upstreams (DNS flag day 2020)


def udp_limit(payload: int | None) -> int:
    """The largest UDP reply a client takes: 512 without EDNS (`payload` None), else its
    payload, never below 512 (RFC 6891 6.2.5) nor above what a datagram holds."""
    if payload is None:
        return CLASSIC_UDP
    return min(max(CLASSIC_UDP, payload), MAX_UDP)
