"""Admission: how many GraphQL requests one API process executes at once.

One event loop shares its time among every request in flight. With 64 at once each request's few
awaits (token, reads, answer) land behind all the others' work, so all of them finish late and the
unlucky ones very late (feed bench, 64 clients: p50 0.3 s, p99 1.4 s). A few at a time, taken in
arrival order, finish in turn at the same throughput, and the pool never has more requests than
connections. A request that cannot get its turn in time is told so (503 + Retry-After) instead of
waiting without bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from core.admission import Turn, current_turn

BUSY_CODE = "SERVICE_BUSY"
BUSY_MESSAGE = "服务繁忙，请稍后重试"


class RequestGate:
    def __init__(self, slots: int, timeout: float) -> None:
        # asyncio.Semaphore wakes its waiters first come, first served, and gives a slot back when a
        # waiter is cancelled just after being woken (Python >= 3.11.1).
        self._slots = asyncio.Semaphore(slots) if slots > 0 else None
        self._timeout = timeout

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[bool]:
        """Yields True once the request may run, False if its turn did not come within the timeout.
        While it runs, a slow wait inside it (core.admission.step_aside) lets the next one in."""
        slots = self._slots
        if slots is None:
            yield True
            return
        try:
            async with asyncio.timeout(self._timeout):
                await slots.acquire()
        except TimeoutError:
            yield False
            return
        turn = Turn(slots)
        token = current_turn.set(turn)
        try:
            yield True
        finally:
            current_turn.reset(token)
            turn.end()
