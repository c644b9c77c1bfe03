"""Per-client query rate over UDP: one pod in a crash loop must not take DNS from the node.

A query over the limit is dropped, before it is parsed: the cheapest thing the server can
do with it (a reply's `sendto` is most of what a query costs), and what BIND's
response-rate limiting does with `slip 0`. A REFUSED would make the client's resolver try its next
search suffix or nameserver at once, so a flood would breed more queries; silence makes a
resolver wait for its timeout. TCP is not limited here: its connections are capped and a
client that gets no UDP answer can still ask over TCP.

Counting is per source address in fixed one-second windows: one dictionary look-up and
one store per query. The table is cleared every second and holds at most `max_clients`
addresses; once it is full, the sources it does not hold share one allowance for the rest
of that second, so a spoofed-source flood that fills the table is still limited.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("svcdns.ratelimit")

MAX_TRACKED_CLIENTS = 65_536  # addresses counted per one-second window
REPORT_INTERVAL = 10.0  # seconds between log lines about dropped queries
OVERFLOW = "(sources beyond the table)"  # the key the table's overflow shares


class ClientRate:
    """Allow at most `per_second` UDP queries a second from each source address."""

    def __init__(self, per_second: int, *, max_clients: int = MAX_TRACKED_CLIENTS) -> None:
        self.per_second = per_second
        self.max_clients = max_clients
        self.dropped = 0  # since start, for /metrics
        self._counts: dict[object, int] = {}
        self._window_end = 0.0
        self._unreported = 0
        self._reported_at = -REPORT_INTERVAL
        self._last_client: object = ""

    def allow(self, client: object) -> bool:
        """Count one query from `client` (a host address); False when it is over the rate."""
        now = time.monotonic()
        if now >= self._window_end:
            self._counts.clear()
            self._window_end = now + 1.0
        counts = self._counts
        seen = counts.get(client)
        if seen is None:
            seen = 0
            if len(counts) >= self.max_clients:
                client = OVERFLOW
                seen = counts.get(client, 0)
        if seen < self.per_second:
            counts[client] = seen + 1
            return True
        self.dropped += 1
        self._unreported += 1
        self._last_client = client
        if now - self._reported_at >= REPORT_INTERVAL:
            self._report(now)
        return False

    def _report(self, now: float) -> None:
        # One line per interval whatever the flood: the address is the only input quoted,
        # and an address is short.
        log.warning(
            "%d UDP queries over --max-qps-per-client %d dropped since the last such line"
            " (at most one in %d s; last from %s)",
            self._unreported,
            self.per_second,
            REPORT_INTERVAL,
            str(self._last_client)[:64],
        )
        self._unreported = 0
        self._reported_at = now
