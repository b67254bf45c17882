"""A small, bounded thread pool for CPU-heavy steps (argon2, jieba over a whole article), so the
event loop keeps answering other requests while they run.

Two threads, because the machine has few cores and a burst of sign-ins must not take all of them:
further calls wait in the pool's queue (without blocking the loop) instead of piling up threads.
argon2 releases the GIL, so its calls run truly in parallel with the loop; pure-Python work
(jieba) still shares the GIL, but the loop gets its turn every switch interval instead of
freezing for the whole call.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

from core.admission import step_aside

P = ParamSpec("P")
T = TypeVar("T")

MAX_WORKERS = 2
_pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="portal-cpu")


async def run(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` on the CPU pool, awaited from the event loop (the request's admission turn
    goes to the next request meanwhile: a burst of sign-ins queues here, not in front of every reader)."""
    async with step_aside():
        return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(fn, *args, **kwargs))
