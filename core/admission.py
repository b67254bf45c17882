"""Stepping aside: a request that waits on something slow that is not the event loop's work (the CPU
pool, an outside service) lets the next request in meanwhile.

The API admits a few GraphQL requests at a time per process (api/gate.py). A request waiting 300 ms
for argon2 or for WeChat would hold its turn while the loop has nothing to do for it: a burst of
sign-ins, or one slow provider, would stall every other patient. `step_aside()` gives the turn back
for the wait and takes a new one (in arrival order) before the request goes on. Outside a gated
request (workers, scripts, tests calling services) it does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar


class Turn:
    """One request's admission. Sibling resolvers of the request share it (they run in tasks that copy
    the request's context): the turn is given back when the first steps aside and taken again when
    the last comes back."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self._slots = slots
        self._lock = asyncio.Lock()
        self.held = True
        self._aside = 0

    def leave(self) -> None:
        self._aside += 1
        if self._aside == 1 and self.held:
            self.held = False
            self._slots.release()

    async def rejoin(self) -> None:
        self._aside -= 1
        async with self._lock:  # two siblings coming back together take one turn, not two
            if self._aside == 0 and not self.held:
                await self._slots.acquire()
                self.held = True

    def end(self) -> None:
        if self.held:
            self.held = False
            self._slots.release()


current_turn: ContextVar[Turn | None] = ContextVar("current_turn", default=None)


@asynccontextmanager
async def step_aside() -> AsyncIterator[None]:
    turn = current_turn.get()
    if turn is None:
        yield
        return
    turn.leave()
    try:
        yield
    finally:
        await turn.rejoin()
