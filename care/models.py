"""Care tables: post-visit satisfaction surveys (NPS), complaint tickets with their history, and the
complaint word list (data, so staff can extend it without a release)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin


class SurveyStatus(enum.StrEnum):
    SENT = "sent"  # delivered to the in-app inbox
    UNSENT = "unsent"  # no service consent for in-app messages: kept, answerable in the app, not pushed
    ANSWERED = "answered"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # the visit was refunded before the survey was answered


OPEN_SURVEY = (SurveyStatus.SENT, SurveyStatus.UNSENT)


class Survey(IdMixin, Base):
    __tablename__ = "care_surveys"
    __table_args__ = (
        CheckConstraint("score IS NULL OR score BETWEEN 0 AND 10", name="score"),
        Index("ix_care_surveys_patient", "patient_id", "created_at", "id"),
        Index("ix_care_surveys_open_expiry", "expires_at", postgresql_where=text("status IN ('sent', 'unsent')")),
        # NPS trend: answered surveys by answer time.
        Index("ix_care_surveys_answered", "answered_at", postgresql_where=text("status = 'answered'")),
    )

    # One survey per visit: the cron inserts with ON CONFLICT DO NOTHING on this key.
    visit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("visits.id"), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    visited_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None]
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    score: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str | None] = mapped_column(Text)
    points_awarded: Mapped[int] = mapped_column(default=0)


class ComplaintStatus(enum.StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    RESPONDED = "responded"
    RESOLVED = "resolved"
    CLOSED = "closed"


class ComplaintSource(enum.StrEnum):
    SURVEY = "survey"
    PATIENT = "patient"


class Complaint(IdMixin, Base):
    __tablename__ = "care_complaints"
    __table_args__ = (
        Index("ix_care_complaints_patient", "patient_id", "created_at", "id"),
        Index("ix_care_complaints_queue", "status", "due_at", "id"),
        Index("ix_care_complaints_assignee", "assignee_id", "status"),
        # The escalation cron: unanswered tickets past their clock, not yet escalated.
        Index(
            "ix_care_complaints_overdue",
            "due_at",
            postgresql_where=text("first_response_at IS NULL AND escalated_at IS NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    source: Mapped[str] = mapped_column(String(16))
    survey_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("care_surveys.id"), unique=True)
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"))
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    score: Mapped[int | None] = mapped_column(SmallInteger)
    reasons: Mapped[list[str]] = mapped_column(ARRAY(String(40)), default=list)  # low_score, words:..., filed
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    due_at: Mapped[datetime]  # the response clock: created_at + 24 h
    first_response_at: Mapped[datetime | None]
    responded_at: Mapped[datetime | None]  # the latest response
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]


class ComplaintAction(IdMixin, Base):
    """Every step of a ticket (opened, assigned, responded, resolved, closed, escalated)."""

    __tablename__ = "care_complaint_actions"
    __table_args__ = (Index("ix_care_complaint_actions_complaint", "complaint_id", "created_at", "id"),)

    complaint_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_complaints.id", ondelete="CASCADE"))
    action: Mapped[str] = mapped_column(String(16))
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[uuid.UUID | None]
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ComplaintWord(Base):
    """Words in a survey comment that open a complaint even with a good score."""

    __tablename__ = "care_complaint_words"

    word: Mapped[str] = mapped_column(String(30), primary_key=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
