"""The PHI read audit: one row per staff read of one patient's health data of one kind."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, String
from sqlalchemy.dialects.postgresql import ARRAY
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


KIND_LABELS_ZH = {
    PhiKind.CONDITIONS: "所患病种",
    PhiKind.CHECKINS: "健康打卡",
    PhiKind.VISITS: "就诊记录",
    PhiKind.COMPLAINTS: "投诉",
    PhiKind.SURVEY_ANSWERS: "满意度调查答卷",
}


class PhiRead(IdMixin, Base):
    """Append-only. No foreign keys on purpose: the record of who read a patient's data must outlive
    the patient's erasure and the staff account's removal, and a list of 100 rows costs no 100 key checks."""

    __tablename__ = "phi_reads"
    __table_args__ = (
        CheckConstraint("kind IN ('conditions', 'checkins', 'visits', 'complaints', 'survey_answers')", name="kind"),
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
