"""Messaging tables: one delivery row per source_ref (the idempotency and tracking key) and the
patient's in-app inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin


class InboxMessage(IdMixin, Base):
    """A message in a patient's in-app inbox: campaign messages and the older service notices."""

    __tablename__ = "inbox_messages"
    __table_args__ = (
        Index("ix_inbox_messages_patient_created", "patient_id", "created_at", "id"),
        # The unread badge is read on every app open: count only the unread rows.
        Index("ix_inbox_messages_unread", "patient_id", postgresql_where=text("read_at IS NULL")),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    source_ref: Mapped[str] = mapped_column(String(120), unique=True)
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # True when a message_deliveries row exists: opens and clicks are reported (message.engaged).
    tracked: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]


class MessageDelivery(IdMixin, Base):
    """What `deliver` did for one source_ref: a second call returns this instead of sending again."""

    __tablename__ = "message_deliveries"
    __table_args__ = (Index("ix_message_deliveries_patient_created", "patient_id", "created_at"),)

    source_ref: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | delivered | failed
    error: Mapped[str | None] = mapped_column(String(300))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
