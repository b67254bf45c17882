"""Enqueueing background jobs on Redis (arq). Job ids are deterministic so a repeat is a no-op."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from core.settings import get_settings

_pool: ArqRedis | None = None


def redis_settings() -> RedisSettings:
    return RedisSettings.from_dsn(get_settings().require_redis_url())


async def get_pool() -> ArqRedis:
    global _pool
    if _pool is None:
        _pool = await create_pool(redis_settings())
    return _pool


async def close_pool() -> None:
    global _pool
    if _pool is not None:
        await _pool.aclose()
    _pool = None


async def enqueue(function: str, *args: Any, job_id: str, defer_until: datetime | None = None) -> bool:
    """Returns False when a job with this id is already queued or running (arq dedupes by id)."""
    pool = await get_pool()
    # arq derives the job's expiry from how far ahead `defer_until` lies: a moment more than a day in
    # the past (a replayed or frozen clock) would give a negative expiry that Redis refuses. Due is due.
    if defer_until is not None and defer_until <= datetime.now(UTC):
        defer_until = None
    job = await pool.enqueue_job(function, *args, _job_id=job_id, _defer_until=defer_until)
    return job is not None
