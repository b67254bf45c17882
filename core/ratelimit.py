"""Fixed-window counters in Redis, shared by every API process (never in process memory).

A window is one key per (name, subject, window start) that INCR creates and that expires with the
window; INCR and EXPIRE go in one MULTI so a process killed between them cannot leave a counter
that never expires. When Redis cannot answer, limits fail open with a warning: sign-in must keep
working, and the limits that guard money and codes also live in PostgreSQL (per phone, per code).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import structlog

from core import clock, queue

log = structlog.get_logger(__name__)
PREFIX = "portal:rl:"


@dataclass(frozen=True)
class Window:
    name: str
    limit: int
    seconds: int

    def key(self, subject: str) -> str:
        # The one clock (core/clock.py), so tests can move past a window.
        start = int(clock.now().timestamp() // self.seconds)
        return f"{PREFIX}{self.name}:{subject}:{start}"


def subject_of(*parts: str) -> str:
    """A short, non-reversible subject: keys never hold e-mail addresses or phone numbers."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


async def hit(window: Window, subject: str, amount: int = 1) -> int:
    """Counts `amount` against the window and returns the new count (0 when Redis is away)."""
    key = window.key(subject)
    try:
        pool = await queue.get_pool()
        async with pool.pipeline(transaction=True) as pipe:
            pipe.incrby(key, amount)
            pipe.expire(key, window.seconds + 1)
            count, _ = await pipe.execute()
        return int(count)
    except Exception:
        log.warning("rate_limit_unavailable", window=window.name, exc_info=True)
        return 0


async def current(window: Window, subject: str) -> int:
    try:
        pool = await queue.get_pool()
        value = await pool.get(window.key(subject))
    except Exception:
        log.warning("rate_limit_unavailable", window=window.name, exc_info=True)
        return 0
    return int(value or 0)


async def clear(window: Window, subject: str) -> None:
    try:
        pool = await queue.get_pool()
        await pool.delete(window.key(subject))
    except Exception:
        log.warning("rate_limit_unavailable", window=window.name, exc_info=True)
