"""Live events for GraphQL subscriptions through Redis pub/sub, so every API process hears them.

Publish only after commit (`publish_after_commit`): a subscriber must never learn of a row that was
rolled back. Messages are small JSON hints (ids); subscribers load the row and check access.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core import queue
from core.db import after_commit

PREFIX = "portal:live:"


async def publish(channel: str, message: dict[str, Any]) -> None:
    pool = await queue.get_pool()
    await pool.publish(PREFIX + channel, json.dumps(message, default=str))


def publish_after_commit(session: AsyncSession, channel: str, message: dict[str, Any]) -> None:
    async def send() -> None:
        await publish(channel, message)

    after_commit(session, send)


_BATCH_KEY = "core.pubsub_batch"


def publish_batch_after_commit(session: AsyncSession, messages: Iterable[tuple[str, str]]) -> None:
    """(channel, JSON text) pairs published after the transaction commits, all of a transaction's in
    pipelined rounds of 1,000: a fan-out or campaign batch putting thousands of messages must not pay
    a Redis round trip for each."""
    pending: list[tuple[str, str]] | None = session.info.get(_BATCH_KEY)
    if pending is None:
        pending = session.info[_BATCH_KEY] = []
        batch = pending

        async def flush() -> None:
            session.info.pop(_BATCH_KEY, None)
            pool = await queue.get_pool()
            for start in range(0, len(batch), 1000):
                pipe = pool.pipeline(transaction=False)
                for channel, payload in batch[start : start + 1000]:
                    pipe.publish(PREFIX + channel, payload)
                await pipe.execute()

        after_commit(session, flush)
    pending.extend(messages)


async def listen(channel: str) -> AsyncIterator[dict[str, Any]]:
    pool = await queue.get_pool()
    pubsub = pool.pubsub()
    await pubsub.subscribe(PREFIX + channel)
    try:
        async for raw in pubsub.listen():
            if raw.get("type") != "message":
                continue
            try:
                yield json.loads(raw["data"])
            except (TypeError, ValueError):
                continue
    finally:
        await pubsub.unsubscribe(PREFIX + channel)
        await pubsub.aclose()
