"""Live inbox: each new message of the signed-in patient, re-read (and re-checked) per event."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api.context import Info
from api.live import announced, one_of
from api.messaging.types import InboxMessageType
from messaging import inbox


@strawberry.type
class MessagingSubscription:
    @strawberry.subscription(description="我的新站内信（仅推送给收件患者本人）")
    async def inbox_messages(self, info: Info) -> AsyncGenerator[InboxMessageType, None]:
        channel = inbox.inbox_channel(info.context.actor.require_patient())
        async for message in announced(
            info, channel, "message_id", one_of(inbox.messages_by_ids), InboxMessageType.from_model
        ):
            yield message
