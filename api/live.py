"""The loop of every subscription: each row a channel announces, read again as the subscriber.

Publishers announce only an id (core.pubsub); the subscriber's own read decides what it sees, so an
access check, a block or a removal made after the subscription began applies to every event. A
refusal raised before the loop (a DomainError) reaches the client with its code through api/ws.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.relay import VisibleBatch
from core import pubsub
from core.identity import Actor

R = TypeVar("R")
T = TypeVar("T")

ReadOne = Callable[[AsyncSession, Actor, uuid.UUID], Awaitable[R | None]]


def one_of(batch: VisibleBatch[R]) -> ReadOne[R]:
    """A reader of one row from a batch reader that leaves out what the actor may not see."""

    async def read(session: AsyncSession, actor: Actor, row_id: uuid.UUID) -> R | None:
        return (await batch(session, actor, [row_id])).get(row_id)

    return read


async def announced(
    info: Info, channel: str, key: str, read: ReadOne[R], wrap: Callable[[R], T]
) -> AsyncGenerator[T, None]:
    """Each row whose id arrives on `channel` under `key`, read by `read` as the subscriber and
    wrapped; events without a well-formed id and rows the subscriber may not see are skipped."""
    async for event in pubsub.listen(channel):
        try:
            row_id = uuid.UUID(event[key])
        except (KeyError, ValueError, TypeError, AttributeError):
            continue
        row = await info.context.read(read, row_id)
        if row is not None:
            yield wrap(row)
