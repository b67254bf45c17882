"""Live page inbox: each new page (or escalation reaching me), re-read and re-checked per event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry
from graphql import GraphQLError

from api.context import Info
from api.oncall.types import StaffPageType
from core import pubsub
from core.errors import DomainError
from oncall import service


@strawberry.type
class OncallSubscription:
    @strawberry.subscription(description="推送给我的新值班提醒（仅限工作人员本人）")
    async def my_pages(self, info: Info) -> AsyncGenerator[StaffPageType, None]:
        try:
            staff_id = service.inbox_owner(info.context.actor)
        except DomainError as exc:
            # Subscriptions skip the error formatting of queries: carry the stable code ourselves.
            raise GraphQLError(exc.message, extensions={"code": exc.code}) from exc
        async for event in pubsub.listen(service.staff_channel(staff_id)):
            try:
                page_id = uuid.UUID(event["page_id"])
            except (KeyError, ValueError, TypeError):
                continue
            async with info.context.db.read() as session:
                found = await service.my_pages_by_ids(session, info.context.actor, [page_id])
            if page_id in found:
                yield StaffPageType.from_model(found[page_id])
