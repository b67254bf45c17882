"""Test set-up: a real PostgreSQL and a real Redis for the whole session, clean tables per test.

Unless DATABASE_URL / REDIS_URL are set, throw-away servers are started from the pip-installed
packages. With DATABASE_URL set, a fresh database is created beside the one it names; REDIS_URL
must then point at a Redis database the tests may flush.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ["PORTAL_ENV"] = "test"
os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
# Every test client comes from one address: per-address sign-in limits would stop ordinary tests
# (tests/test_doors.py sets them low to test them).
for _limit in ("PORTAL_OTP_PER_CLIENT_PER_MINUTE", "PORTAL_OTP_PER_CLIENT_PER_HOUR", "PORTAL_OTP_GLOBAL_PER_MINUTE"):
    os.environ.setdefault(_limit, "100000")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


async def _create_database(url: str, name: str) -> None:
    import asyncpg

    dsn = _with_database(url, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    from core import devservers

    handles = []
    tmp = Path(tempfile.mkdtemp(prefix="portal-test-", dir="/tmp"))
    try:
        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            name = f"portal_test_{os.getpid()}"
            asyncio.run(_create_database(database_url, name))
            database_url = _with_database(database_url, name)
        else:
            pg = devservers.start_postgres(tmp, database="portal_test", throwaway=True)
            handles.append(pg)
            database_url = pg.url
        redis_url = os.environ.get("REDIS_URL")
        if not redis_url:
            redis = devservers.start_redis(tmp, throwaway=True)
            handles.append(redis)
            redis_url = redis.url
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = redis_url
        from core.settings import reset_settings

        reset_settings()
        from cli.main import migrate

        migrate()
        yield {"database_url": database_url, "redis_url": redis_url}
    finally:
        for handle in reversed(handles):
            handle.stop()


@pytest.fixture(scope="session", autouse=True)
async def _engine(servers: dict[str, str]) -> AsyncIterator[None]:
    from core import queue
    from core.db import dispose_engine

    yield
    await queue.close_pool()
    await dispose_engine()


KEEP_TABLES = {"alembic_version", "conditions", "care_complaint_words"}  # reference data from migrations


@pytest.fixture(autouse=True)
async def _clean(servers: dict[str, str]) -> AsyncIterator[None]:
    from sqlalchemy import text

    from community.wordlist import ensure_default_words
    from content.compliance import ensure_default_terms
    from core import clock, queue
    from core.db import get_engine, unit_of_work
    from loyalty.defaults import ensure_defaults
    from loyalty.ledger import journal_imbalance
    from migrations.metadata import metadata

    clock.clock.reset()
    yield
    clock.clock.reset()
    async with unit_of_work() as session:
        assert await journal_imbalance(session) == 0, "a ledger entry does not sum to zero"
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables if t.name not in KEEP_TABLES)
    async with get_engine().begin() as conn:
        await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    async with unit_of_work() as session:
        await ensure_defaults(session)
        await ensure_default_words(session)
        await ensure_default_terms(session)
    pool = await queue.get_pool()
    await pool.flushdb()


@pytest.fixture
async def client(servers: dict[str, str]) -> AsyncIterator[object]:
    import httpx

    from api.app import app

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def unique_phone() -> Iterator[str]:
    yield "139" + str(uuid.uuid4().int)[:8]
