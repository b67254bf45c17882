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

import asyncpg
import structlog
from sqlalchemy import DateTime, MetaData, Uuid
from sqlalchemy import exc as sa_exc
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
_read_sessionmaker: async_sessionmaker[AsyncSession] | None = None


def _make_engine(url: str) -> AsyncEngine:
    settings = get_settings()
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # A request waits this long for a pooled connection, then answers 503 (never a 30 s stall).
        pool_timeout=settings.db_pool_timeout_seconds,
        # No ping per checkout (a round trip on every request): a connection found dead raises a
        # disconnect error, which invalidates the whole pool, so the next request reconnects.
        pool_pre_ping=settings.db_pool_pre_ping,
        echo=settings.db_echo,
        connect_args={"timeout": settings.db_connect_timeout_seconds},
    )


def get_engine() -> AsyncEngine:
    global _engine, _sessionmaker, _read_sessionmaker
    if _engine is None:
        settings = get_settings()
        _engine = _make_engine(settings.require_database_url())
        _sessionmaker = async_sessionmaker(_engine, expire_on_commit=False, autoflush=True)
        _read_sessionmaker = _sessionmaker
        if settings.database_read_url:
            read_engine = _make_engine(settings.database_read_url)
            _read_sessionmaker = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False)
    return _engine


def get_sessionmaker() -> async_sessionmaker[AsyncSession]:
    get_engine()
    assert _sessionmaker is not None
    return _sessionmaker


def has_replica() -> bool:
    return get_read_sessionmaker() is not get_sessionmaker()


def get_read_sessionmaker() -> async_sessionmaker[AsyncSession]:
    """Sessions on the read replica (DATABASE_READ_URL) when one is set, else on the primary."""
    get_engine()
    assert _read_sessionmaker is not None
    return _read_sessionmaker


async def dispose_engine() -> None:
    global _engine, _sessionmaker, _read_sessionmaker
    if _read_sessionmaker is not None and _read_sessionmaker is not _sessionmaker:
        bind = _read_sessionmaker.kw.get("bind")
        if isinstance(bind, AsyncEngine):
            await bind.dispose()
    if _engine is not None:
        await _engine.dispose()
    _engine = None
    _sessionmaker = None
    _read_sessionmaker = None


_UNAVAILABLE = (
    sa_exc.TimeoutError,  # no pooled connection within db_pool_timeout_seconds
    OSError,  # refused, reset, unreachable (ConnectionError is a subclass)
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.InterfaceError,
)


def is_unavailable(exc: BaseException) -> bool:
    """True when `exc` means the database cannot be reached right now (a 503, not a bug)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, _UNAVAILABLE):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        current = current.__cause__ or current.__context__
    return False


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
    """Read access for one GraphQL request, holding at most one pooled connection at a time.

    GraphQL resolves sibling fields concurrently, and one AsyncSession must never be used by two
    coroutines at once, so every read takes a lock around the shared session. DataLoaders batch
    before they read, so the lock costs no extra statements. Each block starts from an empty
    identity map so a read never returns rows cached before a mutation in the same request.

    Connection discipline: `release()` gives the connection back before a mutation's unit of work
    takes one, so N concurrent requests never need more than N connections (no hold-and-wait).
    A read that fails or is cancelled mid-statement (graphql-core cancels the siblings of a failed
    non-null field) discards the session, so the next read starts on a fresh connection and
    closing never raises into the HTTP answer.
    """

    def __init__(self, *, release_after_read: bool = False, primary: bool = False) -> None:
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        # A websocket lives for hours: it must not hold a pooled connection between reads.
        self._release = release_after_read
        # After this request wrote through the primary, it reads the primary too (no replica lag).
        # Live subscriptions read the primary from the start: their event was published after the
        # primary committed, and a lagging replica would not find the row yet.
        self.wrote = primary

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self._lock:
            if self._session is None:
                maker = get_sessionmaker() if self.wrote else get_read_sessionmaker()
                self._session = maker()
            else:
                self._session.expunge_all()
            # READ COMMITTED: each statement already sees what committed before it began.
            try:
                yield self._session
            except Exception:
                await self._close_quietly()  # rolls back a failed transaction; the connection is fine
                raise
            except BaseException:
                await self._discard()  # cancelled mid-statement: the connection is not reusable
                raise
            if self._release:
                await self._close_quietly()

    async def release(self) -> None:
        """Give the pooled connection back (before a unit of work needs one)."""
        async with self._lock:
            await self._close_quietly()

    async def close(self) -> None:
        # Shielded: the request may be ending because its task is being cancelled.
        try:
            await asyncio.shield(self.release())
        except BaseException:  # never let cleanup turn an answered request into a reset
            log.warning("request_db_close_failed", exc_info=True)

    async def _close_quietly(self) -> None:
        session, self._session = self._session, None
        if session is None:
            return
        try:
            await asyncio.shield(session.close())
        except BaseException:
            await self._invalidate(session)

    async def _discard(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await self._invalidate(session)

    @staticmethod
    async def _invalidate(session: AsyncSession) -> None:
        # The connection may be mid-statement: drop it instead of returning it to the pool.
        try:
            await asyncio.shield(session.invalidate())
        except BaseException:
            log.warning("request_db_invalidate_failed", exc_info=True)
