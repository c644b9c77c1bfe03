"""Log lines: text (the default) or JSON, one object a line, and the per-query line.

Every line that quotes input is bounded (`MAX_FIELD`), so no client or manifest can make
one line large. Imports the stdlib and `wire` only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from svcdns.wire.header import AA_HIGH, HEADER_SIZE, RCODE_MASK, RCODE_NAMES
from svcdns.wire.names import labels

MAX_FIELD = 300  # characters of a message or field kept in a line


class JsonFormatter(logging.Formatter):
    """`{"time": ..., "level": ..., "logger": ..., "message": ...}` plus any `fields`."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self._worker = worker
        self.converter = _utc  # the "Z" in the time says UTC

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage()[:MAX_FIELD],
        }
        if self._worker is not None:
            line["worker"] = self._worker
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)[-MAX_FIELD:]
        return json.dumps(line, separators=(",", ":"))


def _utc(seconds: float | None) -> time.struct_time:
    return time.gmtime(seconds)


def configure(log_format: str, worker: int | None) -> None:
    """Replace the root handler's formatter once the configuration is known."""
    handlers = logging.getLogger().handlers or [logging.StreamHandler(sys.stderr)]
    for handler in handlers:
        if log_format == "json":
            handler.setFormatter(JsonFormatter(worker))


query_log = logging.getLogger("svcdns.query")
_TYPES = {1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA"}
_TYPES |= {33: "SRV", 41: "OPT", 65: "HTTPS", 251: "IXFR", 252: "AXFR", 255: "ANY"}


def _question(data: bytes) -> tuple[str, str]:
    """The question's name and type as text, bounded; ("?", "?") when unreadable."""
    try:
        found, position = labels(data, HEADER_SIZE, budget=MAX_FIELD)
    except (IndexError, ValueError):  # cut short, or compressed
        return "?", "?"
    name = ".".join(label.decode("ascii", "backslashreplace") for label in found)
    qtype = int.from_bytes(data[position + 1 : position + 3], "big")
    return (name or ".")[:MAX_FIELD], _TYPES.get(qtype, str(qtype))


def log_query(
    data: bytes, reply: bytes | list[bytes] | None, client: object, seconds: float, source: str
) -> None:
    """One line for one query: client, name, type, rcode, duration, and where the answer
    came from (zone, cache or upstream)."""
    if isinstance(reply, list):  # a zone transfer: several messages
        reply = reply[0] if reply else None
    name, qtype = _question(data)
    host = client[0] if isinstance(client, tuple) else client
    low = None if reply is None else reply[3] & RCODE_MASK
    rcode = "dropped" if low is None else RCODE_NAMES.get(low, str(low))
    fields = {
        "client": str(host)[:64],
        "name": name,
        "type": qtype,
        "rcode": rcode,
        "duration_ms": round(seconds * 1000, 3),
        "from": source,
    }
    query_log.info(
        "query %s %s %s %s %.3f ms from %s",
        fields["client"],
        name,
        qtype,
        rcode,
        seconds * 1000,
        source,
        extra={"fields": fields},
    )


def source_of(reply: bytes | list[bytes] | None, *, awaited: bool) -> str:
    if isinstance(reply, list):
        return "zone"
    if reply is None:
        return "none"
    if reply[2] & AA_HIGH:
        return "zone"  # authoritative: the cluster's own answer
    return "upstream" if awaited else "cache"


Handle = Callable[[bytes, Any], Any]  # a transport's (data, client) -> reply or awaitable


def logged(handle: Handle, upstream_source: Callable[[], str]) -> Handle:
    """`--log-queries`: `handle`, with one line per query. `upstream_source` says where a
    forwarded answer came from (`cache` or `upstream`), read when it is sent."""

    def with_line(data: bytes, client: Any) -> Any:
        started = time.perf_counter()
        reply = handle(data, client)
        if reply is None or isinstance(reply, bytes):
            elapsed = time.perf_counter() - started
            log_query(data, reply, client, elapsed, source_of(reply, awaited=False))
            return reply
        return _logged_later(reply, data, client, started, upstream_source)

    return with_line


async def _logged_later(
    reply: Awaitable[bytes | None],
    data: bytes,
    client: Any,
    started: float,
    upstream_source: Callable[[], str],
) -> bytes | None:
    result = await reply
    elapsed = time.perf_counter() - started
    source = source_of(result, awaited=True)
    log_query(data, result, client, elapsed, upstream_source() if source == "upstream" else source)
    return result
