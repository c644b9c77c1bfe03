"""Zone transfers (RFC 5936): who may have one, and a snapshot's records as a stream of DNS
messages. Bytes out, no sockets. IXFR is answered with a full AXFR, as RFC 1995 4 allows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from svcdns.core.answer import Answer
from svcdns.core.rr import Rcode, Record
from svcdns.dns.codec import Query, encode_reply
from svcdns.wire.header import FLAGS_AT, QDCOUNT_AT, TC

RECORDS_PER_MESSAGE = 100  # well under 64 KiB even for long names


def transfer_refusal(query: Query, client: Any, allowed: Sequence[str]) -> bytes | None:
    """REFUSED (not authoritative) unless the client's address is in one of the `allowed`
    networks (`--transfer-to`; none by default); None when it may have the zone."""
    host = str(client[0]) if isinstance(client, tuple) else ""
    if _in_networks(host, allowed):
        return None
    return encode_reply(query, Answer(Rcode.REFUSED, authoritative=False), udp=False)


def _in_networks(host: str, networks: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(network) for network in networks)


def transfer_messages(query: Query, records: Sequence[Record]) -> list[bytes]:
    """`records` (the SOA first and last) over as many messages as they need; each keeps
    the question (RFC 5936 2.2.1 allows it) and is authoritative. The closing SOA goes in
    a message of its own: in one with the opening SOA, the encoder would fold both into
    one RRset and the stream would seem to end at its start."""
    messages = []
    body, closing = records[:-1], records[-1:]
    chunks = [body[i : i + RECORDS_PER_MESSAGE] for i in range(0, len(body), RECORDS_PER_MESSAGE)]
    for chunk in (*chunks, closing):
        message = encode_reply(query, Answer(Rcode.NOERROR, answer=tuple(chunk)), udp=False)
        if int.from_bytes(message[FLAGS_AT:QDCOUNT_AT], "big") & TC:
            raise ValueError("a transfer message did not fit in 64 KiB")
        messages.append(message)
    return messages
