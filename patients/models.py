"""Identity tables: patients, staff, sign-in codes, sessions and refresh tokens, sites, conditions."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import CITEXT
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin, TimestampMixin


class Gender(enum.StrEnum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNDISCLOSED = "undisclosed"


class ConsentChannel(enum.StrEnum):
    IN_APP = "in_app"
    SMS = "sms"
    EMAIL = "email"
    WECHAT = "wechat"


class ConsentPurpose(enum.StrEnum):
    SERVICE = "service"
    MARKETING = "marketing"


class SubjectKind(enum.StrEnum):
    PATIENT = "patient"
    STAFF = "staff"


class Site(IdMixin, TimestampMixin, Base):
    __tablename__ = "sites"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))  # campus (院区) or clinic (门诊部)
    address: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    active: Mapped[bool] = mapped_column(default=True)


class Condition(Base):
    __tablename__ = "conditions"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    sensitive: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(default=0)


class Patient(IdMixin, TimestampMixin, Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year"),
        Index("ix_patients_created_at_id", "created_at", "id"),
    )

    phone: Mapped[str] = mapped_column(String(20), unique=True)
    nickname: Mapped[str] = mapped_column(String(30))
    real_name: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(CITEXT)  # for the e-mail channel; optional
    birth_year: Mapped[int | None] = mapped_column(SmallInteger)
    gender: Mapped[str] = mapped_column(String(16), default=Gender.UNDISCLOSED)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    home_site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    last_sign_in_at: Mapped[datetime | None]
    # Optional full birth date (birthday greetings); birth_year stays the age field.
    birth_date: Mapped[date | None]
    # Suppression flags set by staff: no campaign ever reaches a deceased or admitted patient, and no
    # marketing one a patient who opted out of all marketing (campaigns/segments.py).
    marketing_opt_out: Mapped[bool] = mapped_column(default=False, server_default="false")
    deceased: Mapped[bool] = mapped_column(default=False, server_default="false")
    admitted: Mapped[bool] = mapped_column(default=False, server_default="false")


class PatientCondition(Base):
    __tablename__ = "patient_conditions"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    condition_code: Mapped[str] = mapped_column(ForeignKey("conditions.code"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=clock.now)


class Consent(Base):
    """The current answer per (patient, channel, purpose); ConsentEvent keeps every change."""

    __tablename__ = "consents"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)


class ConsentEvent(IdMixin, Base):
    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_patient", "patient_id", "occurred_at"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    email: Mapped[str] = mapped_column(CITEXT, unique=True)
    name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)  # to refuse staff as referrers
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]


class StaffRole(Base):
    __tablename__ = "staff_roles"

    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)


class SignInCode(IdMixin, Base):
    __tablename__ = "sign_in_codes"
    __table_args__ = (Index("ix_sign_in_codes_phone_created", "phone", "created_at"),)

    phone: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None]


class AuthSession(IdMixin, Base):
    """One sign-in: the family of its rotating refresh tokens. Revoking it ends every token."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_subject", "subject_kind", "subject_id"),)

    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID]
    device_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(40))


class RefreshToken(IdMixin, Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (UniqueConstraint("token_hash"),)

    session_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    rotated_at: Mapped[datetime | None]
