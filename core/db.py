"""Database engine, the declarative base, the unit of work and per-request read access.

Services take an AsyncSession and never commit: the caller's unit of work commits once at the end
(one transaction per mutation or job) and only then runs the after-commit hooks (e.g. enqueueing
the outbox dispatch), so no job ever sees uncommitted or rolled-back data.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import DateTime, MetaData, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core import clock
from core.errors import DomainError
from core.ids import new_id
from core.settings import get_settings

log = structlog.get_logger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: DateTime(timezone=True),
        uuid.UUID: Uuid(as_uuid=True),
        dict[str, Any]: JSONB,
    }


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


_engine: AsyncEngine | None = None
_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def get_engine() -> AsyncEngine:
    global _engine, _sessionmaker
    if _engine is None:
        settings = get_settings()
        _engine = create_async_engine(
            settings.require_database_url(),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=True,
            echo=settings.db_echo,
        )
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False, autoflush=True)
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    get_engine()
    assert _sessionmaker is not None
    return _sessionmaker


async def dispose_engine() -> None:
    global _engine, _sessionmaker
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run `hook` once the surrounding unit of work has committed (never on rollback)."""
    session.info.setdefault("after_commit", []).append(hook)


@asynccontextmanager
async def unit_of_work() -> AsyncIterator[AsyncSession]:
    """One transaction: commit when the block ends, roll back if it raises."""
    session = get_sessionmaker()()
    try:
        try:
            yield session
        except DomainError as exc:
            if not exc.keep_changes:
                await session.rollback()
                raise
            # The failure is itself a fact to record (a wrong code, a reused token): commit it.
            await session.commit()
            await _run_hooks(session)
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
        await _run_hooks(session)
    finally:
        await session.close()


async def _run_hooks(session: AsyncSession) -> None:
    hooks: list[AfterCommit] = session.info.pop("after_commit", [])
    for hook in hooks:
        try:
            await hook()
        except Exception:  # the outbox sweeper re-enqueues whatever a failed hook missed
            log.exception("after_commit_hook_failed")


class RequestDB:
    """Read access for one GraphQL request.

    GraphQL resolves sibling fields concurrently, and one AsyncSession must never be used by two
    coroutines at once, so every read takes a lock around the shared session. DataLoaders batch
    before they read, so the lock costs no extra statements. Each block starts from an empty
    identity map so a read never returns rows cached before a mutation in the same request.
    """

    def __init__(self, *, release_after_read: bool = False) -> None:
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        # A websocket lives for hours: it must not hold a pooled connection between reads.
        self._release = release_after_read

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if self._session is None:
                self._session = get_sessionmaker()()
            else:
                self._session.expunge_all()
            # READ COMMITTED: each statement already sees what committed before it began.
            try:
                yield self._session
            finally:
                if self._release:
                    await self._session.close()
                    self._session = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
