"""Version numbers of shared, changeable data, kept in Redis so every process agrees on them.

A process may keep a local copy of data that staff or a deployment can change (a word list, a
catalogue), but only while the data's version in Redis is the one the copy was made at: whoever
changes the data bumps the version after commit, and every process sees the bump on its next
check (one Redis GET). The copy also expires after `ttl` seconds, which bounds staleness for
changes made outside the application (SQL by hand, a migration run without Redis, a Redis restart
that lost the counter).

Order matters: the version is read BEFORE the data is loaded, so a change committed while a
process is loading is either in what it loaded or bumps the version past the one it stored.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from core import queue
from core.db import after_commit

PREFIX = "portal:version:"
T = TypeVar("T")
log = structlog.get_logger("core.versions")


async def current(name: str) -> int | None:
    """The data's version; None when Redis cannot say (then no local copy is trusted)."""
    try:
        pool = await queue.get_pool()
        raw = await pool.get(PREFIX + name)
    except (RedisError, OSError) as exc:
        log.warning("version_unavailable", name=name, error=type(exc).__name__)
        return None
    return int(raw) if raw is not None else 0


async def bump(name: str) -> int:
    pool = await queue.get_pool()
    return int(await pool.incr(PREFIX + name))


def bump_after_commit(session: AsyncSession, name: str) -> None:
    """Bump once the change is committed: bumping earlier would let a process reload the old rows
    and keep them under the new version."""

    async def send() -> None:
        await bump(name)

    after_commit(session, send)


class VersionedCache(Generic[T]):
    """One process's copy of shared data, valid while its Redis version is unchanged (and young)."""

    def __init__(self, name: str, *, ttl: float) -> None:
        self.name = name
        self.ttl = ttl
        self._entry: tuple[int, float, T] | None = None  # (version, loaded at, value)

    async def get(self, load: Callable[[], Awaitable[T]]) -> T:
        version = await current(self.name)
        now = time.monotonic()
        entry = self._entry
        if entry is not None and version is not None and entry[0] == version and now - entry[1] < self.ttl:
            return entry[2]
        value = await load()
        self._entry = None if version is None else (version, now, value)
        return value

    def clear(self) -> None:
        self._entry = None
