"""Messaging tables: one delivery row per source_ref (the idempotency and tracking key) and the
patient's in-app inbox."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
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
    __table_args__ = (
        Index("ix_message_deliveries_patient_created", "patient_id", "created_at"),
        # Receipts find their message by the provider's id (BizId, SerialNo).
        Index("ix_message_deliveries_provider_ref", "provider_ref"),
    )

    source_ref: Mapped[str] = mapped_column(String(120), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    recipient: Mapped[str | None] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    # queued (waits for the worker) | sending | sent (accepted, no receipt yet) | delivered |
    # recorded (a development recorder: reached nobody) | failed
    status: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="notice", server_default="notice")
    error: Mapped[str | None] = mapped_column(String(300))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    opened_at: Mapped[datetime | None]
    clicked_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]  # when the provider's receipt said delivered or failed


class SmsReport(IdMixin, Base):
    """A delivery receipt as the provider pushed it (SMS providers, and WeChat's push with
    provider_ref "wechat:<MsgID>"); kept even when its message is not known yet (the receipt can
    overtake the worker's commit), and applied when it is."""

    __tablename__ = "sms_reports"
    __table_args__ = (UniqueConstraint("provider_ref", name="uq_sms_reports_provider_ref"),)

    provider_ref: Mapped[str] = mapped_column(String(200))  # "aliyun:<BizId>" / "tencent:<SerialNo>"
    phone: Mapped[str | None] = mapped_column(String(32))
    success: Mapped[bool]
    code: Mapped[str | None] = mapped_column(String(100))
    reported_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    applied_at: Mapped[datetime | None]


class SmsReply(IdMixin, Base):
    """An upstream SMS (a patient's reply). "TD"/"退订" withdraws marketing SMS consent: the row is
    the evidence of what the patient sent and when."""

    __tablename__ = "sms_replies"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_sms_replies_dedupe_key"),)

    dedupe_key: Mapped[str] = mapped_column(String(200))  # the provider's id, or a hash of the reply
    provider: Mapped[str] = mapped_column(String(16))
    phone: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(String(500))
    sent_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=clock.now)
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id", ondelete="SET NULL"))
    opted_out: Mapped[bool] = mapped_column(default=False)


class WechatBinding(IdMixin, Base):
    """A patient's openid in one of our WeChat apps (the mini program or the Official Account)."""

    __tablename__ = "wechat_bindings"
    __table_args__ = (
        UniqueConstraint("patient_id", "app", name="uq_wechat_bindings_patient_app"),
        UniqueConstraint("app_id", "openid", name="uq_wechat_bindings_openid"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    app: Mapped[str] = mapped_column(String(20))  # mini_program | official_account
    app_id: Mapped[str] = mapped_column(String(64))
    openid: Mapped[str] = mapped_column(String(128))
    unionid: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class WechatGrant(IdMixin, Base):
    """One mini-program subscribe authorisation (一次性订阅): good for exactly one message."""

    __tablename__ = "wechat_grants"
    __table_args__ = (
        Index(
            "ix_wechat_grants_unused",
            "patient_id",
            "template_id",
            "granted_at",
            postgresql_where=text("used_at IS NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    template_id: Mapped[str] = mapped_column(String(128))
    granted_at: Mapped[datetime] = mapped_column(default=clock.now)
    used_at: Mapped[datetime | None]
    used_by: Mapped[uuid.UUID | None]  # the message_deliveries row that spent it


class OutreachSend(IdMixin, Base):
    """One message the outreach policy let out (or deferred to the end of quiet hours): frequency caps
    count these per patient and message class, across campaigns, journeys, invitations and notices."""

    __tablename__ = "outreach_sends"
    __table_args__ = (Index("ix_outreach_sends_patient_class_at", "patient_id", "message_class", "sent_at"),)

    # No foreign key: written in bulk by senders, and patients are never deleted (erasure pseudonymises).
    patient_id: Mapped[uuid.UUID]
    message_class: Mapped[str] = mapped_column(String(16))  # outreach.MessageClass
    channel: Mapped[str] = mapped_column(String(16))
    source_ref: Mapped[str] = mapped_column(String(160), unique=True)  # idempotency: a retry counts once
    sent_at: Mapped[datetime] = mapped_column(default=clock.now)
