"""Guardianships: a guardian patient's explicit, revocable delegation to act for a dependent (a minor,
or an elder who needs help), and the append-only record of what each guardian did for whom."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin
from core.identity import DelegationScope


class GuardianRelation(enum.StrEnum):
    """What the dependent is to the guardian."""

    CHILD = "child"  # a minor (or an adult child in the guardian's care)
    PARENT = "parent"  # an elder parent
    SPOUSE = "spouse"
    OTHER = "other"


class GuardianshipStatus(enum.StrEnum):
    PENDING = "pending"  # asked by the guardian, waiting for the dependent's own confirmation
    ACTIVE = "active"
    REVOKED = "revoked"  # by either party or staff (a declined request too); never active again


class Confirmation(enum.StrEnum):
    """How a delegation became active: part of its evidence."""

    STAFF_VERIFIED = "staff_verified"  # front-desk or care staff checked the documents (户口本, 出生证明 ...)
    DEPENDENT_CONFIRMED = "dependent_confirmed"  # the dependent signed in and confirmed the guardian's request
    MINOR_ACCOUNT = "minor_account"  # the guardian opened the minor's account, proving its phone by SMS code


def _in(values: type[enum.StrEnum]) -> str:
    return ", ".join(f"'{v.value}'" for v in values)


_SCOPES_SQL = f"ARRAY[{_in(DelegationScope)}]::varchar[]"
# At most one live (asked or active) delegation per pair: a second request is refused, not doubled.
LIVE_SQL = "status IN ('pending', 'active')"


class Guardianship(IdMixin, Base):
    __tablename__ = "guardianships"
    __table_args__ = (
        CheckConstraint("guardian_id <> dependent_id", name="not_self"),
        CheckConstraint(f"relation IN ({_in(GuardianRelation)})", name="relation"),
        CheckConstraint(f"status IN ({_in(GuardianshipStatus)})", name="status"),
        CheckConstraint(f"confirmation IS NULL OR confirmation IN ({_in(Confirmation)})", name="confirmation"),
        CheckConstraint(f"cardinality(scopes) > 0 AND scopes <@ {_SCOPES_SQL}", name="scopes"),
        Index(
            "uq_guardianships_live_pair", "guardian_id", "dependent_id", unique=True, postgresql_where=text(LIVE_SQL)
        ),
        Index("ix_guardianships_guardian", "guardian_id", "created_at"),
        Index("ix_guardianships_dependent", "dependent_id", "created_at"),
    )

    guardian_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    dependent_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    relation: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))  # DelegationScope values
    status: Mapped[str] = mapped_column(String(16))
    created_by_kind: Mapped[str] = mapped_column(String(16))  # patient (the guardian) or staff
    created_by: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    confirmation: Mapped[str | None] = mapped_column(String(24))
    # What staff checked (e.g. 户口本、出生医学证明编号); required when staff verified the relation.
    evidence_note: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None]
    confirmed_by: Mapped[uuid.UUID | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_kind: Mapped[str | None] = mapped_column(String(16))
    revoked_by: Mapped[uuid.UUID | None]
    revoked_reason: Mapped[str | None] = mapped_column(String(200))


class GuardianAction(IdMixin, Base):
    """Append-only: one thing a guardian did for a dependent, with both of them named. No foreign
    keys on purpose (as phi_reads): the record outlives a revoked delegation and an erased account."""

    __tablename__ = "guardian_actions"
    __table_args__ = (
        Index("ix_guardian_actions_guardianship", "guardianship_id", "occurred_at", "id"),
        Index("ix_guardian_actions_dependent", "dependent_id", "occurred_at", "id"),
        Index("ix_guardian_actions_guardian", "guardian_id", "occurred_at", "id"),
    )

    guardianship_id: Mapped[uuid.UUID]
    guardian_id: Mapped[uuid.UUID]
    dependent_id: Mapped[uuid.UUID]
    scope: Mapped[str] = mapped_column(String(16))  # the DelegationScope it used
    action: Mapped[str] = mapped_column(String(40))  # reward_redeem, event_rsvp, post_create, view ...
    target: Mapped[str] = mapped_column(String(200))  # what it acted on: reward:<id>, event:<id>, root fields
    occurred_at: Mapped[datetime] = mapped_column(default=clock.now)
    request_id: Mapped[str | None] = mapped_column(String(64))
