"""On-call tables: duty shifts, pages, their recipients (the staff inbox) and the page event log."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin


class PageKind(enum.StrEnum):
    EMERGENCY_POST = "emergency_post"
    HEALTH_ALERT = "health_alert"
    COMPLAINT_OVERDUE = "complaint_overdue"
    CRISIS_TEXT = "crisis_text"  # an emergency word in a check-in note, a complaint or a refused post
    CONVERSATION_OVERDUE = "conversation_overdue"  # a care-team conversation past its reply clock


class Fallback(enum.StrEnum):
    """Who the first recipients were when nobody was on duty (a page never goes nowhere)."""

    SITE_ROLE = "site_role"  # every active staff member with the role at the site
    ANY_ROLE = "any_role"  # ... at any site
    ADMINS = "admins"  # nobody holds the role: the admins


class PageEventKind(enum.StrEnum):
    CREATED = "created"
    NOTIFIED = "notified"  # one per recipient: in-app, plus SMS when they have a phone
    ESCALATED = "escalated"
    ACKNOWLEDGED = "acknowledged"


MAX_LEVEL = 3


class DutyShift(IdMixin, Base):
    __tablename__ = "oncall_duty_shifts"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="times"),
        # "Who is on duty now for this role": shifts of the role overlapping now.
        Index("ix_oncall_duty_shifts_role_time", "role", "starts_at", "ends_at"),
        Index("ix_oncall_duty_shifts_staff", "staff_id", "starts_at"),
    )

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))  # None: every site
    role: Mapped[str] = mapped_column(String(32))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Page(IdMixin, Base):
    __tablename__ = "oncall_pages"
    __table_args__ = (
        # One page per source event: a retried job or a repeated call finds the existing page.
        UniqueConstraint("kind", "ref", name="uq_oncall_pages_kind_ref"),
        CheckConstraint("level BETWEEN 1 AND 3", name="level"),
        # The escalation cron: open pages whose escalation time passed.
        Index("ix_oncall_pages_escalate", "escalate_at", postgresql_where=text("acknowledged_at IS NULL")),
    )

    kind: Mapped[str] = mapped_column(String(32))
    ref: Mapped[str] = mapped_column(String(120))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))  # None: every site
    role: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    sms_text: Mapped[str] = mapped_column(String(200))
    level: Mapped[int] = mapped_column(SmallInteger, default=1)
    fallback: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    escalate_at: Mapped[datetime | None]  # None once the last level is reached or acknowledged
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[uuid.UUID | None]


class PageRecipient(IdMixin, Base):
    """A page in one staff member's inbox; unique per (page, staff) so escalation never repeats a
    notification, even when two workers escalate the same page."""

    __tablename__ = "oncall_page_recipients"
    __table_args__ = (
        UniqueConstraint("page_id", "staff_id", name="uq_oncall_page_recipients_page_staff"),
        Index("ix_oncall_page_recipients_staff", "staff_id", "created_at"),
    )

    page_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oncall_pages.id", ondelete="CASCADE"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(SmallInteger)
    sms_queued: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class PageEvent(IdMixin, Base):
    """Append-only (a database trigger refuses UPDATE and DELETE): what happened to a page."""

    __tablename__ = "oncall_page_events"
    __table_args__ = (Index("ix_oncall_page_events_page", "page_id", "created_at"),)

    page_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("oncall_pages.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(SmallInteger)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    staff_id: Mapped[uuid.UUID | None]  # the recipient of a notification
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
