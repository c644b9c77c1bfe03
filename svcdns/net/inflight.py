"""One upstream exchange per question in flight: whoever else asks the same question while
it is out awaits the same reply (the forward cache's key: name in any letter case, type,
class). Bounded by the exchanges themselves (`Forwarder.max_concurrent`). Imports nothing
of svcdns but net and wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from svcdns.net.cache import question_key

AskFn = Callable[[bytes, list[Any]], Awaitable[bytes | None]]
DoneFn = Callable[[bytes, bytes | None], None]  # (question, reply): once per exchange


class InFlight:
    def __init__(self, ask: AskFn, done: DoneFn) -> None:
        self._ask = ask
        self._done = done
        self._pending: dict[bytes, asyncio.Future[bytes | None]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    async def ask(self, question: bytes, servers: list[Any]) -> bytes | None:
        key = question_key(question)
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._exchange(question, servers))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        return await asyncio.shield(pending)

    async def _exchange(self, question: bytes, servers: list[Any]) -> bytes | None:
        reply = await self._ask(question, servers)
        self._done(question, reply)
        return reply
