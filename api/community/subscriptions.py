"""Live updates over graphql-transport-ws: new posts in a group, new moderation queue items."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.community.moderation import ModerationItemType
from api.community.types import PostType, post_view
from api.context import Info
from api.live import announced
from api.relay import require_id
from community import access, moderation, posts
from core import pubsub
from core.errors import DomainError
from core.identity import Actor
from social import blocks


@strawberry.type
class CommunitySubscription:
    @strawberry.subscription(description="群内新帖（仅对能阅读该群的人推送，逐条再校验权限）")
    async def group_posts(self, info: Info, group_id: strawberry.ID) -> AsyncGenerator[PostType, None]:
        gid = require_id(group_id, "Group", "groupId")
        await info.context.read(access.require_reader, gid)
        async for message in pubsub.listen(posts.posts_channel(gid)):
            try:
                async with info.context.db.read() as session:
                    post, _, _ = await posts.get_post(session, info.context.actor, uuid.UUID(message["post_id"]))
                    if await blocks.hides(session, info.context.actor, post):
                        continue  # by someone this subscriber blocked
            except (DomainError, KeyError, ValueError):
                continue  # not (or no longer) visible to this subscriber
            yield post_view(post, info)

    @strawberry.subscription(description="审核队列新条目（版主与医护；逐条校验能否处理）")
    async def moderation_queue(self, info: Info) -> AsyncGenerator[ModerationItemType, None]:
        await info.context.read(moderation.require_queue_reader)

        async def read(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> moderation.QueueEntry | None:
            return (await moderation.items_by_ids(session, actor, [item_id]))[0]

        async for item in announced(info, moderation.QUEUE_CHANNEL, "item_id", read, ModerationItemType.from_entry):
            yield item
