"""Inbox mutations: mark read (an open), mark all read, open the link (a click)."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.errors import UserError
from api.messaging.types import InboxMessageType
from api.mutations import perform
from api.relay import require_id
from core.identity import Actor
from messaging import inbox
from messaging.models import InboxMessage


@strawberry.input
class InboxMessageInput:
    id: strawberry.ID


@strawberry.type
class InboxMessagePayload:
    message: InboxMessageType | None = None
    unread_count: int | None = None
    errors: list[UserError]


@strawberry.type
class InboxMarkAllReadPayload:
    marked: int = 0
    unread_count: int | None = None
    errors: list[UserError]


@strawberry.type
class InboxOpenLinkPayload:
    link: str | None = None
    message: InboxMessageType | None = None
    errors: list[UserError]


def _id(value: strawberry.ID) -> uuid.UUID:
    return require_id(value, "InboxMessage", "id")


@strawberry.type
class MessagingMutation:
    @strawberry.mutation(description="标记站内信为已读")
    async def inbox_mark_read(self, info: Info, input: InboxMessageInput) -> InboxMessagePayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[InboxMessage, int]:
            message = await inbox.mark_read(s, a, _id(input.id))
            return message, await inbox.unread_count(s, a)

        out = await perform(info, work)
        if out.value is None:
            return InboxMessagePayload(errors=out.errors)
        return InboxMessagePayload(message=InboxMessageType(model=out.value[0]), unread_count=out.value[1], errors=[])

    @strawberry.mutation(description="全部标记为已读")
    async def inbox_mark_all_read(self, info: Info) -> InboxMarkAllReadPayload:
        async def work(s: AsyncSession, a: Actor) -> int:
            return await inbox.mark_all_read(s, a)

        out = await perform(info, work)
        if out.value is None:
            return InboxMarkAllReadPayload(errors=out.errors)
        return InboxMarkAllReadPayload(marked=out.value, unread_count=0, errors=[])

    @strawberry.mutation(description="打开站内信中的链接（记录点击），返回要跳转的地址")
    async def inbox_open_link(self, info: Info, input: InboxMessageInput) -> InboxOpenLinkPayload:
        out = await perform(info, lambda s, a: inbox.open_link(s, a, _id(input.id)))
        if out.value is None:
            return InboxOpenLinkPayload(errors=out.errors)
        return InboxOpenLinkPayload(link=out.value.link, message=InboxMessageType(model=out.value), errors=[])
