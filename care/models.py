"""Care tables: post-visit satisfaction surveys (NPS), complaint tickets with their history, the
complaint word list (data, so staff can extend it without a release), and care-team conversations
with the patient's assigned clinicians."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint, text
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


# --- care-team conversations (care/conversations.py) ---------------------------------------------


class CareTeamRole(enum.StrEnum):
    """The roles a patient's named clinicians hold for them (care_assignments.role)."""

    DOCTOR = "doctor"
    HEALTH_MANAGER = "health_manager"


class CareAssignment(IdMixin, Base):
    """A patient's own doctor or health manager: at most one of each. A new conversation goes to them."""

    __tablename__ = "care_assignments"
    __table_args__ = (
        UniqueConstraint("patient_id", "role", name="uq_care_assignments_patient_role"),
        CheckConstraint("role IN ('doctor', 'health_manager')", name="role"),
        # "Whose clinician am I": the inbox and the read check look a staff member's patients up.
        Index("ix_care_assignments_staff", "staff_id", "patient_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id"))
    role: Mapped[str] = mapped_column(String(16))
    assigned_by: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ConversationStatus(enum.StrEnum):
    OPEN = "open"  # the patient wrote last: the reply clock runs
    WAITING_ON_PATIENT = "waiting_on_patient"  # the care team answered
    CLOSED = "closed"  # final: a new question is a new conversation


# The care inbox sorts by (tier, queue_at, id): open threads by their deadline (overdue first), then
# the ones waiting on the patient, then closed ones, each by when they got there.
QUEUE_TIER = {ConversationStatus.OPEN: 0, ConversationStatus.WAITING_ON_PATIENT: 1, ConversationStatus.CLOSED: 2}


class Conversation(IdMixin, Base):
    """A private thread between one patient and their care team (never between patients)."""

    __tablename__ = "care_conversations"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'waiting_on_patient', 'closed')", name="status"),
        CheckConstraint("queue_tier BETWEEN 0 AND 2", name="queue_tier"),
        Index("ix_care_conversations_patient", "patient_id", "last_message_at", "id"),
        Index("ix_care_conversations_queue", "queue_tier", "queue_at", "id"),
        Index("ix_care_conversations_site_queue", "site_id", "queue_tier", "queue_at", "id"),
        Index("ix_care_conversations_assignee", "assignee_id", "queue_tier", "queue_at"),
        # The escalation cron: running clocks past their deadline, not yet escalated.
        Index(
            "ix_care_conversations_overdue",
            "due_at",
            postgresql_where=text("status = 'open' AND escalated_at IS NULL"),
        ),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    # The team: the patient's home site when the thread was opened (else the assignee's site).
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    subject: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(24))
    queue_tier: Mapped[int] = mapped_column(SmallInteger)
    queue_at: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    last_message_at: Mapped[datetime]
    message_count: Mapped[int] = mapped_column(default=0)
    # The reply clock: started by a patient message when none runs, stopped by a care-team reply.
    clock_started_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]  # this clock's escalation (once per clock)
    first_response_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_kind: Mapped[str | None] = mapped_column(String(16))


class MessageAuthor(enum.StrEnum):
    PATIENT = "patient"
    STAFF = "staff"


class ConversationMessage(IdMixin, Base):
    __tablename__ = "care_messages"
    __table_args__ = (
        CheckConstraint("author_kind IN ('patient', 'staff')", name="author_kind"),
        Index("ix_care_messages_conversation", "conversation_id", "created_at", "id"),
    )

    conversation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("care_conversations.id", ondelete="CASCADE"))
    author_kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[uuid.UUID]  # the patient, or the staff member
    body: Mapped[str] = mapped_column(Text)
    crisis: Mapped[bool] = mapped_column(default=False)  # an emergency word: help sent, on-duty paged
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
