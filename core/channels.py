"""Notification channels behind one interface.

Messages reach a channel only through the outbox (`notify.send`), so a message exists if and only
if the business transaction that caused it committed. The development provider records what would
be sent in `dev_messages`, which `portal outbox` prints. Other layers plug real providers in with
`register_provider` (messaging puts in-app notices into the patient's inbox and sends SMS through
the configured provider, refusing the recorder in production).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import String, Text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock, outbox
from core.db import Base, IdMixin
from core.ids import new_id

NOTIFY_TOPIC = "notify.send"


class ChannelName(enum.StrEnum):
    IN_APP = "in_app"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"


# What staff read for each channel (explanations, journeys, the delivery trace).
CHANNEL_LABELS_ZH = {"in_app": "站内信", "sms": "短信", "wechat": "微信", "email": "电子邮件"}


@dataclass(frozen=True)
class Message:
    channel: ChannelName
    recipient: str
    body: str
    subject: str | None = None
    # What the message is (sign_in_code | notice | marketing) and its template parameters: SMS and
    # WeChat providers send registered templates, not free text. Parameters of a sensitive message
    # are blanked with its body once delivered in production.
    kind: str = "notice"
    params: dict[str, str] | None = None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "channel": self.channel.value,
            "recipient": self.recipient,
            "body": self.body,
            "subject": self.subject,
        }
        if self.kind != "notice":
            payload["kind"] = self.kind
        if self.params:
            payload["params"] = self.params
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Message:
        return cls(
            channel=ChannelName(payload["channel"]),
            recipient=payload["recipient"],
            body=payload["body"],
            subject=payload.get("subject"),
            kind=payload.get("kind") or "notice",
            params=payload.get("params"),
        )


class Channel(Protocol):
    async def send(self, session: AsyncSession, message: Message, *, message_id: uuid.UUID) -> None: ...


class DevMessage(IdMixin, Base):
    __tablename__ = "dev_messages"

    outbox_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class DevRecordingChannel:
    """Records instead of sending; unique per outbox message, so a repeated dispatch is harmless."""

    async def send(self, session: AsyncSession, message: Message, *, message_id: uuid.UUID) -> None:
        await session.execute(
            insert(DevMessage)
            .values(
                id=new_id(),
                outbox_id=message_id,
                channel=message.channel.value,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["outbox_id"])
        )


# Providers registered by higher layers (messaging registers the in-app inbox), so core never
# imports a domain. A channel without a registered provider falls back to the recording one.
_providers: dict[ChannelName, Channel] = {}


def register_provider(channel: ChannelName, provider: Channel) -> None:
    _providers[channel] = provider


def get_channel(name: ChannelName) -> Channel:
    provider = _providers.get(name)
    if provider is not None:
        return provider
    return DevRecordingChannel()


async def send_later(
    session: AsyncSession, message: Message, *, sensitive: bool = False, not_before: datetime | None = None
) -> None:
    """Queue `message` in the caller's transaction; a worker delivers it after commit (and not before
    `not_before`: the end of the patient's quiet hours)."""
    await outbox.emit(session, NOTIFY_TOPIC, message.to_payload(), sensitive=sensitive, available_at=not_before)


@outbox.handler(NOTIFY_TOPIC)
async def _deliver(session: AsyncSession, row: outbox.OutboxMessage) -> None:
    message = Message.from_payload(row.payload)
    await get_channel(message.channel).send(session, message, message_id=row.id)
