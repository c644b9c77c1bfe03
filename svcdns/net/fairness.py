"""Fairness only under overload: who loses when the server cannot answer everyone.

While the server keeps up, every datagram is answered, whatever its source: a node-local
cache or a benchmark asking from one address gets the full rate. Overload is when the
socket's receive queue fills: a batch comes back full (datagrams are waiting behind it)
*and* the queue holds more than half of the receive buffer, so that the kernel is about to
drop datagrams with no regard to who sent them.

Then each full batch's answers are shared by source address, max-min fair: every source
gets up to a common level, the level as high as the batch's answer budget allows, and the
rest of the heaviest sources' datagrams are dropped unread (a drop costs a tenth of an
answer). The budget halves while the queue stays over half full and grows back as it
drains, so the server drains faster than the flood arrives and a light client's query
reaches the front of the queue instead of being lost at its tail. It halves even when the
queue is no longer growing: Linux frees a read backlog's memory in steps (a quarter of the
buffer at a time), and until a step the kernel drops new datagrams as if the queue were
still full; only a queue kept well under its limit lets the light client's datagrams in (a
variant that gave answers back as soon as the queue stopped growing let the probe of
bench/blast.py lose 15 % instead of 1 %). When a batch comes back short, the queue is
empty: the overload is over.

Pure bookkeeping: the listener feeds it the queue's fill (`SO_MEMINFO`) and each full
batch's source keys.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from collections import Counter

log = logging.getLogger("svcdns.overload")

SO_MEMINFO = 55  # Linux: the socket's memory use; word 0 the receive queue, 1 its limit
HIGH = 0.5  # receive queue this full: overloaded
LOW = 0.125  # this empty: no longer
MIN_BUDGET = 4  # answers a full batch still gets at the worst
REPORT_INTERVAL = 10.0  # seconds between log lines about dropped queries


def queue_fill(sock: socket.socket) -> float:
    """How full `sock`'s receive queue is, 0 to 1 (0 where the kernel does not say)."""
    try:
        used, limit = struct.unpack_from("=II", sock.getsockopt(socket.SOL_SOCKET, SO_MEMINFO, 36))
    except (OSError, struct.error):
        return 0.0
    return used / limit if limit else 0.0


def fair_level(counts: list[int], budget: int) -> int:
    """The highest level L with sum(min(c, L) for c in counts) <= budget: each source gets
    its datagrams up to L answered (max-min fairness)."""
    remaining, sources = budget, len(counts)
    level = 0
    for count in sorted(counts):
        share = remaining // sources
        if count > share:
            return max(level, share)
        level = count
        remaining -= count
        sources -= 1
    return level  # everyone fits


class Fairness:
    """The overload state of one socket, and which of a full batch's datagrams to answer."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.budget = batch
        self.overloaded = False
        self.dropped = 0  # since start, for /metrics
        self._unreported = 0
        self._reported_at = -REPORT_INTERVAL
        self._heaviest: object = ""

    def short_batch(self) -> None:
        """A batch came back short: the queue is empty, and so is the overload."""
        self.overloaded = False
        if self.budget < self.batch:
            self.budget = min(self.batch, self.budget * 2)

    def full_batch(self, fill: float) -> bool:
        """A batch came back full with the queue `fill` full: whether to share this one."""
        if fill >= HIGH:
            if self.overloaded:  # still filling while shared: answer fewer, drop more
                self.budget = max(MIN_BUDGET, self.budget // 2)
            else:
                self.overloaded = True
                self.budget = max(MIN_BUDGET, self.batch // 2)
        elif fill < LOW:
            self.overloaded = False
            self.budget = self.batch
        elif self.overloaded:  # draining: give back some answers
            self.budget = min(self.batch, self.budget + self.batch // 8)
        return self.overloaded

    def keep(self, sources: list[bytes]) -> list[bool]:
        """Of a full batch from `sources` (one key a datagram, in arrival order), which to
        answer: each source up to the fair level, the heaviest sources' excess dropped."""
        counts = Counter(sources)
        level = fair_level(list(counts.values()), self.budget)
        kept: list[bool] = []
        if level == 0:  # more sources than budget: one each, first come, up to the budget
            room, seen = self.budget, set()
            for source in sources:
                answer = room > 0 and source not in seen
                seen.add(source)
                room -= answer
                kept.append(answer)
        else:
            given: dict[bytes, int] = {}
            for source in sources:
                taken = given.get(source, 0)
                given[source] = taken + 1
                kept.append(taken < level)
        dropped = len(kept) - sum(kept)
        if dropped:
            self._count(dropped, counts.most_common(1)[0][0])
        return kept

    def _count(self, dropped: int, heaviest: bytes) -> None:
        self.dropped += dropped
        self._unreported += dropped
        self._heaviest = heaviest
        now = time.monotonic()
        if now - self._reported_at >= REPORT_INTERVAL:
            # One line per interval whatever the flood; the only input quoted is an address.
            log.warning(
                "overloaded: %d UDP queries from the heaviest sources dropped since the last"
                " such line (at most one in %d s; heaviest last: %s)",
                self._unreported,
                REPORT_INTERVAL,
                _host(self._heaviest),
            )
            self._unreported = 0
            self._reported_at = now


def _host(key: object) -> str:
    """A source key (4 or 16 address octets) as text."""
    if isinstance(key, bytes) and len(key) in (4, 16):
        family = socket.AF_INET if len(key) == 4 else socket.AF_INET6
        return socket.inet_ntop(family, key)
    return str(key)[:64]
