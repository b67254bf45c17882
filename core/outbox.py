"""The transactional outbox.

A side effect to the outside world (SMS, e-mail, push) is written as a row in the same
transaction as the business change. After commit a dispatch job is enqueued; a sweeper
re-enqueues whatever was missed (Redis down, worker killed), so delivery is at-least-once and
handlers must be idempotent per message id.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Index, String, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, jobs
from core.db import Base, IdMixin, after_commit, unit_of_work
from core.ids import new_id
from core.settings import get_settings

log = structlog.get_logger(__name__)


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class OutboxMessage(IdMixin, Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending_due", "available_at", postgresql_where=text("status = 'pending'")),)

    topic: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    sensitive: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    available_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(500))


Handler = Callable[[AsyncSession, OutboxMessage], Awaitable[None]]
_handlers: dict[str, Handler] = {}


def handler(topic: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _handlers[topic] = fn
        return fn

    return register


async def emit(
    session: AsyncSession,
    topic: str,
    payload: dict[str, Any],
    *,
    sensitive: bool = False,
    available_at: datetime | None = None,
) -> OutboxMessage:
    now = clock.now()
    message = OutboxMessage(
        id=new_id(),
        topic=topic,
        payload=payload,
        sensitive=sensitive,
        created_at=now,
        available_at=available_at or now,
    )
    session.add(message)
    message_id, due = message.id, message.available_at

    async def enqueue() -> None:
        await jobs.OUTBOX_DISPATCH.enqueue(str(message_id), key=(message_id, 0), defer_until=due)

    after_commit(session, enqueue)
    return message


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(15 * 2 ** (attempts - 1), 3600))


async def dispatch(message_id: uuid.UUID) -> str:
    """Deliver one message. Safe to run twice or concurrently: the row lock decides who sends."""
    async with unit_of_work() as session:
        message = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == OutboxStatus.PENDING)
            .with_for_update(skip_locked=True)
        )
        if message is None:
            return "skipped"
        now = clock.now()
        if message.available_at > now:
            return "not_due"
        fn = _handlers.get(message.topic)
        try:
            if fn is None:
                raise LookupError(f"no outbox handler for topic {message.topic}")
            async with session.begin_nested():
                await fn(session, message)
        except Exception as exc:
            message.attempts += 1
            message.last_error = repr(exc)[:500]
            message.available_at = now + _backoff(message.attempts)
            if message.attempts >= get_settings().outbox_max_attempts:
                message.status = OutboxStatus.DEAD
            log.warning(
                "outbox_delivery_failed",
                message_id=str(message_id),
                topic=message.topic,
                attempts=message.attempts,
                error=message.last_error,
            )
            return "failed"
        message.status = OutboxStatus.SENT
        message.sent_at = now
        if message.sensitive and get_settings().env == "production":
            # One-time codes must not outlive their delivery in plain text.
            message.payload = {**message.payload, "body": "[已脱敏]"}
            if "params" in message.payload:
                message.payload["params"] = {k: "[已脱敏]" for k in message.payload["params"]}
        return "sent"


async def sweep(*, grace: timedelta = timedelta(seconds=10), limit: int = 1000) -> int:
    """Enqueue dispatch for every due pending message older than `grace`.

    The job id includes the attempt count, so a message already queued for this attempt is not
    queued twice, and a failed message gets a fresh job after its backoff.
    """
    now = clock.now()
    async with unit_of_work() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.id, OutboxMessage.attempts)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING,
                    OutboxMessage.available_at <= now,
                    OutboxMessage.created_at <= now - grace,
                )
                .order_by(OutboxMessage.available_at)
                .limit(limit)
            )
        ).all()
    enqueued = 0
    for message_id, attempts in rows:
        if await jobs.OUTBOX_DISPATCH.enqueue(str(message_id), key=(message_id, attempts)):
            enqueued += 1
    return enqueued
