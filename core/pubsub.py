"""Live events for GraphQL subscriptions through Redis pub/sub, so every API process hears them.

Publish only after commit (`publish_after_commit`): a subscriber must never learn of a row that was
rolled back. Messages are small JSON hints (ids); subscribers load the row and check access.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
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
