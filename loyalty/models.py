"""Loyalty tables: visits, the double-entry points ledger with lots, rules, tiers, rewards, referrals."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, IdMixin, TimestampMixin

# --- visits -----------------------------------------------------------------------------------


class VisitStatus(enum.StrEnum):
    COMPLETED = "completed"
    REFUNDED = "refunded"


class Visit(IdMixin, TimestampMixin, Base):
    __tablename__ = "visits"
    __table_args__ = (
        Index("ix_visits_patient_visited", "patient_id", "visited_at"),
        Index("ix_visits_visited_at", "visited_at"),
        CheckConstraint("self_paid_fen >= 0 AND insured_fen >= 0", name="amounts"),
    )

    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    site_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("sites.id"))
    department: Mapped[str] = mapped_column(String(60))
    visited_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16))
    self_paid_fen: Mapped[int] = mapped_column(BigInteger)
    insured_fen: Mapped[int] = mapped_column(BigInteger)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    source: Mapped[str] = mapped_column(String(16))  # his | staff
    recorded_by: Mapped[uuid.UUID | None]
    refunded_at: Mapped[datetime | None]


class LifecycleStage(enum.StrEnum):
    ACQUISITION = "acquisition"
    CONVERSION = "conversion"
    RETENTION = "retention"
    LOYALTY = "loyalty"
    DORMANT = "dormant"


class PatientLifecycle(Base):
    __tablename__ = "patient_lifecycle"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)


class LifecycleChange(IdMixin, Base):
    __tablename__ = "lifecycle_changes"
    __table_args__ = (Index("ix_lifecycle_changes_patient", "patient_id", "changed_at"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(16))
    to_stage: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(60))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- ledger -----------------------------------------------------------------------------------


class AccountKind(enum.StrEnum):
    # per member
    PENDING = "pending"
    AVAILABLE = "available"
    CLAWBACK = "clawback"  # negative: points the member owes after a refund of spent points
    # system
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    ADJUSTED = "adjusted"
    ERASED = "erased"  # the points of erased members (privacy/erasure.py): no balance stays with a tombstone


MEMBER_ACCOUNTS = (AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.CLAWBACK)
SYSTEM_ACCOUNTS = (
    AccountKind.ISSUED,
    AccountKind.REDEEMED,
    AccountKind.EXPIRED,
    AccountKind.ADJUSTED,
    AccountKind.ERASED,
)


class Account(IdMixin, Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (
        UniqueConstraint("patient_id", "kind"),
        Index("uq_ledger_accounts_system_kind", "kind", unique=True, postgresql_where=text("patient_id IS NULL")),
        # Balances of members can never go negative (the clawback account never positive).
        CheckConstraint(
            "patient_id IS NULL OR (kind = 'clawback' AND balance <= 0) OR (kind <> 'clawback' AND balance >= 0)",
            name="member_balance_sign",
        ),
    )

    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    kind: Mapped[str] = mapped_column(String(16))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)


class EntryKind(enum.StrEnum):
    EARN = "earn"
    SETTLE = "settle"
    VOID = "void"
    REVERSAL = "reversal"
    REDEEM = "redeem"
    REDEEM_REFUND = "redeem_refund"
    EXPIRE = "expire"
    ADJUST = "adjust"
    ERASE = "erase"  # an erased member's balances closed onto the erased account


class Entry(IdMixin, Base):
    """One posting. Its lines sum to zero; its idempotency key makes a retry return the first result."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_patient_created", "patient_id", "created_at", "id"),
        Index("ix_ledger_entries_rule_patient", "rule_code", "patient_id", "created_at"),
    )

    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    patient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("patients.id"))
    amount: Mapped[int] = mapped_column(BigInteger)  # points moved, as the member sees them (signed)
    rule_code: Mapped[str | None] = mapped_column(String(40))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    memo: Mapped[str] = mapped_column(String(200))
    actor_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class Line(IdMixin, Base):
    __tablename__ = "ledger_lines"
    __table_args__ = (Index("ix_ledger_lines_entry", "entry_id"),)

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entries.id"))
    # No foreign key: its check would KEY SHARE-lock the few system accounts on every posting (0007).
    account_id: Mapped[uuid.UUID]
    amount: Mapped[int] = mapped_column(BigInteger)


class LotStatus(enum.StrEnum):
    PENDING = "pending"
    AVAILABLE = "available"
    VOIDED = "voided"
    EXPIRED = "expired"


class Lot(IdMixin, Base):
    """Points earned together: they settle together and expire together, oldest first.

    No index names `status` or `settled_at`, and the table keeps half of each page free (fillfactor
    50, migration 0011): settling a lot is then an in-place (HOT) update that touches no index."""

    __tablename__ = "ledger_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining"),
        Index("ix_lots_expire_due", "expires_at", postgresql_where=text("remaining > 0")),
        Index("ix_lots_patient_spend", "patient_id", "expires_at", "id", postgresql_where=text("remaining > 0")),
        Index("ix_lots_patient_earned", "patient_id", "earned_at"),
        Index("ix_lots_source_entry", "source_entry_id"),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    source_entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entries.id"))
    rule_code: Mapped[str | None] = mapped_column(String(40))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    amount: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    earned_at: Mapped[datetime]
    settles_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]
    expiry_notice_at: Mapped[datetime | None]


class SettleQueue(Base):
    """One row per pending lot until it settles: how settlement finds due lots without an index on
    the lots' status. A voided lot's row is dropped when its member next settles."""

    __tablename__ = "ledger_settle_queue"
    __table_args__ = (Index("ix_settle_queue_patient", "patient_id", "settles_at"),)

    lot_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    patient_id: Mapped[uuid.UUID]
    settles_at: Mapped[datetime]


class LotUse(Base):
    """How much of which lot a spending entry took, so a cancellation puts it back where it was."""

    __tablename__ = "ledger_lot_uses"

    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entries.id"), primary_key=True)
    lot_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_lots.id"), primary_key=True, index=True)
    amount: Mapped[int] = mapped_column(BigInteger)


# --- rules and tiers --------------------------------------------------------------------------


class EarningRule(TimestampMixin, Base):
    __tablename__ = "earning_rules"
    __table_args__ = (CheckConstraint("points >= 0 AND pending_days >= 0", name="non_negative"),)

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    points: Mapped[int] = mapped_column(Integer)  # fixed points, or points per `fen_per_point` for spend
    fen_per_point: Mapped[int | None] = mapped_column(Integer)
    daily_cap: Mapped[int | None] = mapped_column(Integer)
    monthly_cap: Mapped[int | None] = mapped_column(Integer)
    pending_days: Mapped[int] = mapped_column(SmallInteger, default=0)
    excluded_categories: Mapped[list[str]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(default=True)


class Tier(Base):
    """A tier and its benefit rules. The rules are columns the code applies (earning multiplies points
    on the member's birthday, a monthly job issues the voucher, the event waitlist admits priority
    members first); `perks` are what staff honour at the counter (discounts ...), shown as text only.
    What members read is derived from both (loyalty.tiers.benefit_texts)."""

    __tablename__ = "tiers"
    __table_args__ = (CheckConstraint("birthday_multiplier BETWEEN 1 AND 5", name="birthday_multiplier"),)

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(20))
    rank: Mapped[int] = mapped_column(SmallInteger, unique=True)
    min_points: Mapped[int] = mapped_column(Integer)  # points earned in the rolling 12 months
    perks: Mapped[list[str]] = mapped_column(JSONB, default=list)
    birthday_multiplier: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    priority_booking: Mapped[bool] = mapped_column(default=False, server_default="false")
    # No foreign key: rewards already point at tiers (tier_required); rewards are never deleted, and the
    # voucher job joins the reward, so an unknown id issues nothing.
    monthly_voucher_reward_id: Mapped[uuid.UUID | None]


class MemberTier(Base):
    __tablename__ = "member_tiers"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    tier_code: Mapped[str] = mapped_column(ForeignKey("tiers.code"))
    qualifying_points: Mapped[int] = mapped_column(BigInteger, default=0)
    since: Mapped[datetime] = mapped_column(default=clock.now)
    grace_until: Mapped[datetime | None]  # a downgrade waits until then
    evaluated_at: Mapped[datetime] = mapped_column(default=clock.now)


class TierChange(IdMixin, Base):
    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_changes_patient", "patient_id", "changed_at"),)

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    from_tier: Mapped[str | None] = mapped_column(String(20))
    to_tier: Mapped[str] = mapped_column(String(20))
    qualifying_points: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(default=clock.now)


# --- rewards ----------------------------------------------------------------------------------


class Reward(IdMixin, TimestampMixin, Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock"),
        CheckConstraint("points_cost > 0", name="cost"),
    )

    name: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[str] = mapped_column(String(20))
    points_cost: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    tier_required: Mapped[str | None] = mapped_column(ForeignKey("tiers.code"))
    per_member_limit: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime | None]
    valid_to: Mapped[datetime | None]
    voucher_valid_days: Mapped[int] = mapped_column(Integer, default=90)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[uuid.UUID | None]


class RedemptionStatus(enum.StrEnum):
    ISSUED = "issued"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Redemption(IdMixin, Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("patient_id", "idempotency_key"),
        Index("ix_redemptions_patient_created", "patient_id", "created_at", "id"),
        Index("ix_redemptions_reward_patient", "reward_id", "patient_id"),
        Index("ix_redemptions_issued_expiry", "expires_at", postgresql_where=text("status = 'issued'")),
    )

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    # No foreign key: its check would KEY SHARE-lock a popular reward's row on every redemption (0007).
    reward_id: Mapped[uuid.UUID]
    points: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    voucher_code: Mapped[str] = mapped_column(String(16), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    entry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    fulfilled_at: Mapped[datetime | None]
    fulfilled_site_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("sites.id"))
    fulfilled_by: Mapped[uuid.UUID | None]
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[uuid.UUID | None]


# --- referrals --------------------------------------------------------------------------------


class ReferralCode(Base):
    __tablename__ = "referral_codes"

    patient_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)


class ReferralStatus(enum.StrEnum):
    ATTRIBUTED = "attributed"  # registered with the code, no completed visit yet
    CONVERTED = "converted"  # first completed visit; rewards wait for its points to settle
    REWARDED = "rewarded"
    REJECTED = "rejected"


class Referral(IdMixin, Base):
    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_referrer", "referrer_id", "created_at"),
        Index("ix_referrals_converted", "status", postgresql_where=text("status = 'converted'")),
    )

    referrer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"))
    referee_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("patients.id"), unique=True)
    code: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(16))
    reject_reason: Mapped[str | None] = mapped_column(String(40))
    device_id: Mapped[str | None] = mapped_column(String(100))
    visit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("visits.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    converted_at: Mapped[datetime | None]
    rewarded_at: Mapped[datetime | None]
