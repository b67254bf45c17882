"""Live inbox: each new message of the signed-in patient, re-read (and re-checked) per event."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator

import strawberry

from api.context import Info
from api.messaging.types import InboxMessageType
from core import pubsub
from messaging import inbox


@strawberry.type
class MessagingSubscription:
    @strawberry.subscription(description="我的新站内信（仅推送给收件患者本人）")
    async def inbox_messages(self, info: Info) -> AsyncGenerator[InboxMessageType, None]:
        patient_id = info.context.actor.require_patient()
        async for event in pubsub.listen(inbox.inbox_channel(patient_id)):
            try:
                message_id = uuid.UUID(event["message_id"])
            except (KeyError, ValueError, TypeError):
                continue
            async with info.context.db.read() as session:
                found = await inbox.messages_by_ids(session, info.context.actor, [message_id])
            if message_id in found:
                yield InboxMessageType.from_model(found[message_id])
