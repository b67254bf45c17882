"""The PHI read audit: one row per staff read of one patient's health data of one kind."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, SmallInteger, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin


class PhiKind(enum.StrEnum):
    """Which health data was read (PIPL art. 28: sensitive personal information)."""

    CONDITIONS = "conditions"
    CHECKINS = "checkins"
    VISITS = "visits"
    COMPLAINTS = "complaints"
    SURVEY_ANSWERS = "survey_answers"
    CONVERSATIONS = "conversations"  # care-team conversations (care/conversations.py)


KIND_LABELS_ZH = {
    PhiKind.CONDITIONS: "所患病种",
    PhiKind.CHECKINS: "健康打卡",
    PhiKind.VISITS: "就诊记录",
    PhiKind.COMPLAINTS: "投诉",
    PhiKind.SURVEY_ANSWERS: "满意度调查答卷",
    PhiKind.CONVERSATIONS: "护理团队咨询",
}


class PhiRead(IdMixin, Base):
    """Append-only. No foreign keys on purpose: the record of who read a patient's data must outlive
    the patient's erasure and the staff account's removal, and a list of 100 rows costs no 100 key checks."""

    __tablename__ = "phi_reads"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('conditions', 'checkins', 'visits', 'complaints', 'survey_answers', 'conversations')",
            name="kind",
        ),
        # "谁查看了我的健康信息": the patient's reads, newest first.
        Index("ix_phi_reads_patient", "patient_id", "read_at", "id"),
        # The admin's filter by staff member, and the whole log by time.
        Index("ix_phi_reads_staff", "staff_id", "read_at", "id"),
        Index("ix_phi_reads_read_at", "read_at", "id"),
    )

    staff_id: Mapped[uuid.UUID]
    # The roles the reader held at the time (they justify the read; roles change later).
    staff_roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    patient_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    read_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The channel: "graphql:<root fields>", "console", "export", a job name.
    through: Mapped[str] = mapped_column(String(120))
    request_id: Mapped[str | None] = mapped_column(String(64))


# --- access, copy and erasure (PIPL art. 45, 47) ---------------------------------------------------


class ExportStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


OPEN_EXPORT = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class DataExport(IdMixin, Base):
    """A copy of everything about one patient (privacy/export.py). The JSON is kept gzip-compressed in
    the row (no object storage in this product) until `expires_at`, then the content is dropped."""

    __tablename__ = "data_exports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_data_exports_patient", "patient_id", "requested_at", "id"),
        # At most one copy in the making per patient, whatever races.
        Index(
            "uq_data_exports_open", "patient_id", unique=True, postgresql_where=text("status IN ('queued', 'running')")
        ),
        Index("ix_data_exports_unfinished", "requested_at", postgresql_where=text("status IN ('queued', 'running')")),
        Index("ix_data_exports_expiry", "expires_at", postgresql_where=text("content IS NOT NULL")),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    content: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)  # gzip of the JSON
    size_bytes: Mapped[int | None]  # of the JSON
    compressed_bytes: Mapped[int | None]
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the JSON
    error: Mapped[str | None] = mapped_column(String(200))


class ErasureStatus(enum.StrEnum):
    SCHEDULED = "scheduled"  # waits for execute_after; the patient may still cancel
    RUNNING = "running"
    DONE = "done"
    CANCELLED = "cancelled"


OPEN_ERASURE = (ErasureStatus.SCHEDULED, ErasureStatus.RUNNING)


class PostsChoice(enum.StrEnum):
    """What happens to the patient's posts and comments."""

    ANONYMISE = "anonymise"  # kept, the author shown as 已注销用户
    DELETE = "delete"  # removed, their texts cleared


class ErasureRequest(IdMixin, Base):
    """One erasure (privacy/erasure.py). `steps` is the audit: per step the time it finished and what it
    changed (counts), written in the step's own transaction, so a resumed job skips what is done."""

    __tablename__ = "erasure_requests"
    __table_args__ = (
        CheckConstraint("status IN ('scheduled', 'running', 'done', 'cancelled')", name="status"),
        CheckConstraint("posts IN ('anonymise', 'delete')", name="posts"),
        Index("ix_erasure_requests_requested", "requested_at", "id"),
        Index("ix_erasure_requests_patient", "patient_id", "requested_at"),
        Index(
            "uq_erasure_requests_open",
            "patient_id",
            unique=True,
            postgresql_where=text("status IN ('scheduled', 'running')"),
        ),
        Index("ix_erasure_requests_due", "execute_after", postgresql_where=text("status IN ('scheduled', 'running')")),
    )

    # No cascade: patients are never deleted (erasure pseudonymises the row).
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    status: Mapped[str] = mapped_column(String(16))
    posts: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(default=clock.now)
    execute_after: Mapped[datetime]  # the end of the grace period
    due_by: Mapped[datetime]  # the legal time limit
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    run_by: Mapped[uuid.UUID | None]  # the admin who ran it before the grace period ended
    attempts: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    steps: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
