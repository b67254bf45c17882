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
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY, CITEXT
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
    # PIPL art. 29: choosing whom to market to by a sensitive condition (depression, pregnancy ...)
    # needs its own, separate consent; MARKETING alone never covers it (campaigns/segments.py).
    MARKETING_SENSITIVE = "marketing_sensitive"


PURPOSE_LABELS_ZH = {
    ConsentPurpose.SERVICE: "服务通知",
    ConsentPurpose.MARKETING: "营销推送",
    ConsentPurpose.MARKETING_SENSITIVE: "基于敏感健康信息的个性化推送",
}


class ConsentSource(enum.StrEnum):
    """Where a consent answer was given: part of its evidence."""

    APP = "app"  # the patient, in the app or on the web
    WECHAT = "wechat"  # the patient, in the WeChat mini program or official account
    FRONT_DESK = "front_desk"  # staff recorded it at the front desk or in the console (paper form, phone)
    IMPORT = "import"  # a batch import of consents collected elsewhere
    SMS_REPLY = "sms_reply"  # the patient replied to an SMS to opt out
    REGISTRATION = "registration"  # the defaults every new account starts with


SOURCE_LABELS_ZH = {
    ConsentSource.APP: "患者App",
    ConsentSource.WECHAT: "微信",
    ConsentSource.FRONT_DESK: "前台/员工登记",
    ConsentSource.IMPORT: "批量导入",
    ConsentSource.SMS_REPLY: "短信回复退订",
    ConsentSource.REGISTRATION: "注册默认设置",
}
_SOURCES_SQL = ", ".join(f"'{s.value}'" for s in ConsentSource)


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
    # Set when the account was erased (privacy/erasure.py): the row stays, pseudonymised (已注销用户,
    # a tombstone phone), so the ledger, visits and the hospital's quality records keep their subject.
    erased_at: Mapped[datetime | None]


class PatientCondition(Base):
    __tablename__ = "patient_conditions"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    condition_code: Mapped[str] = mapped_column(ForeignKey("conditions.code"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(default=clock.now)


class ConsentNotice(IdMixin, Base):
    """A published version of the text a patient reads before answering (隐私/授权说明). Never
    edited: a change is a new version, naming the purposes whose terms changed; grants of those
    purposes under an older version must be given again (patients/consents.py)."""

    __tablename__ = "consent_notices"
    __table_args__ = (CheckConstraint("cardinality(purposes) > 0 AND changed_purposes <@ purposes", name="purposes"),)

    version: Mapped[int] = mapped_column(unique=True)  # 1, 2, 3 ... over all notices
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))  # of the body's UTF-8 bytes
    purposes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))  # the purposes this text covers
    changed_purposes: Mapped[list[str]] = mapped_column(ARRAY(String(32)))
    published_at: Mapped[datetime] = mapped_column(default=clock.now)
    published_by: Mapped[uuid.UUID | None]  # the admin; None for the notices seeded at install


class Consent(Base):
    """The current answer per (patient, channel, purpose); ConsentEvent keeps every change."""

    __tablename__ = "consents"
    __table_args__ = (CheckConstraint(f"source IN ({_SOURCES_SQL})", name="source"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(40))  # a ConsentSource
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)
    # The notice the answer was given under: a grant counts only while no later notice changed its
    # purpose (patients/consents.py IN_FORCE).
    notice_version: Mapped[int] = mapped_column(ForeignKey("consent_notices.version"))


class ConsentEvent(IdMixin, Base):
    """One grant or withdrawal, kept as evidence: what the patient was shown (notice version and the
    hash of its text), where (source) and by whom."""

    __tablename__ = "consent_events"
    __table_args__ = (
        Index("ix_consent_events_patient", "patient_id", "occurred_at"),
        CheckConstraint(f"source IN ({_SOURCES_SQL})", name="source"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(32))
    granted: Mapped[bool]
    source: Mapped[str] = mapped_column(String(40))  # a ConsentSource
    source_note: Mapped[str | None] = mapped_column(String(100))  # e.g. 门诊纸质授权书编号
    actor_id: Mapped[uuid.UUID | None]
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    notice_version: Mapped[int] = mapped_column(ForeignKey("consent_notices.version"))
    text_sha256: Mapped[str] = mapped_column(String(64))  # the notice's body_sha256, copied as evidence


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
