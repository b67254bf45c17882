"""Earning points: rules with caps, the `award` function other domains call, clawback repayment.
On the member's birthday their tier's multiplier applies (loyalty.benefits).

Incentives never reward clinical decisions: spend earns only on self-paid amounts of categories a
patient chooses (registration, consultation, therapy ...); insured amounts and drug/exam items earn
nothing, whatever the rule's configuration says.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.settings import get_settings
from loyalty import benefits, errors, ledger, tiers
from loyalty.errors import LoyaltyCode as Code
from loyalty.models import AccountKind, EarningRule, EntryKind, Lot, LotStatus, SettleQueue

# Never rewarded, even if an admin lists them as eligible: points must not steer treatment.
CLINICAL_CATEGORIES = frozenset({"drug", "exam", "lab", "imaging", "prescription", "surgery"})


@dataclass(frozen=True)
class Award:
    points: int
    pending: bool
    capped: bool
    replayed: bool
    entry_id: uuid.UUID | None


def _local_starts(now: datetime) -> tuple[datetime, datetime]:
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day.replace(day=1)


async def _cap_room(session: AsyncSession, rule: EarningRule, patient_id: uuid.UUID, now: datetime) -> int | None:
    if rule.daily_cap is None and rule.monthly_cap is None:
        return None
    day, month = _local_starts(now)
    counted = (Lot.patient_id == patient_id, Lot.rule_code == rule.code, Lot.status != LotStatus.VOIDED)
    today, this_month = (
        await session.execute(
            select(
                func.coalesce(func.sum(Lot.amount).filter(Lot.earned_at >= day), 0),
                func.coalesce(func.sum(Lot.amount), 0),
            ).where(*counted, Lot.earned_at >= month)
        )
    ).one()
    room = []
    if rule.daily_cap is not None:
        room.append(rule.daily_cap - int(today))
    if rule.monthly_cap is not None:
        room.append(rule.monthly_cap - int(this_month))
    return max(0, min(room))


def spend_points(rule: EarningRule, items: list[dict[str, object]]) -> int:
    """Points for the eligible self-paid part of a visit's items."""
    excluded = CLINICAL_CATEGORIES | set(rule.excluded_categories or [])
    eligible = sum(int(str(i.get("self_paid_fen", 0))) for i in items if str(i.get("category")) not in excluded)
    if not rule.fen_per_point:
        return 0
    return (eligible // rule.fen_per_point) * rule.points


async def award(
    session: AsyncSession,
    patient_id: uuid.UUID,
    rule_code: str,
    source_ref: str,
    idempotency_key: str,
    *,
    items: list[dict[str, object]] | None = None,
    earned_at: datetime | None = None,
) -> Award:
    """Award the points a rule gives for `source_ref`. Retrying with the same key changes nothing.

    The one entry point for community, content and campaigns: they name a rule, never a number.
    """
    rule = await session.get(EarningRule, rule_code)
    if rule is None or not rule.active:
        raise errors.RuleNotFound(field="rule")
    digest = ledger.request_hash({"patient": patient_id, "rule": rule_code, "ref": source_ref, "items": items})
    member = await ledger.lock_member(session, patient_id)
    previous = await ledger.find_entry(session, idempotency_key, digest)
    if previous is not None:
        return Award(
            previous.amount, previous.kind == EntryKind.EARN and rule.pending_days > 0, False, True, previous.id
        )

    now = clock.now()
    points = spend_points(rule, items or []) if rule.fen_per_point else rule.points
    # The tier's birthday multiplier, decided once: a retry with this key returns the entry above.
    # Caps still bound the result (they are the hospital's budget for the rule).
    multiplier = await benefits.birthday_multiplier(session, patient_id, earned_at or now) if points > 0 else 1
    points *= multiplier
    room = await _cap_room(session, rule, patient_id, now)
    capped = room is not None and room < points
    if room is not None:
        points = min(points, room)
    if points <= 0:
        return Award(0, False, capped, False, None)
    entry = await credit(
        session,
        member,
        points=points,
        key=idempotency_key,
        digest=digest,
        rule=rule,
        source_ref=source_ref,
        memo=rule.name if multiplier == 1 else f"{rule.name}（生日{benefits.MULTIPLIER_WORDS[multiplier]}积分）",
        earned_at=earned_at or now,
    )
    return Award(points, rule.pending_days > 0, capped, False, entry.id)


async def credit(
    session: AsyncSession,
    member: ledger.MemberAccounts,
    *,
    points: int,
    key: str,
    digest: str,
    rule: EarningRule | None,
    source_ref: str | None,
    memo: str,
    earned_at: datetime,
    kind: EntryKind = EntryKind.EARN,
    from_account: AccountKind = AccountKind.ISSUED,
    actor_id: uuid.UUID | None = None,
) -> ledger.Entry:
    """New points as a lot: pending during the rule's cooling-off, else available at once after
    repaying any clawback first."""
    now = clock.now()
    pending_days = rule.pending_days if rule else 0
    if pending_days > 0:
        lines = [(ledger.system_account(from_account), -points), (member.pending.id, points)]
        remaining, status = points, LotStatus.PENDING
    else:
        repay = min(points, -member.clawback.balance)
        lines = [
            (ledger.system_account(from_account), -points),
            (member.clawback.id, repay),
            (member.available.id, points - repay),
        ]
        remaining, status = points - repay, LotStatus.AVAILABLE
    entry = await ledger.post(
        session,
        ledger.Posting(
            key=key,
            digest=digest,
            kind=kind,
            patient_id=member.patient_id,
            amount=points,
            memo=memo,
            lines=lines,
            rule_code=rule.code if rule else None,
            source_ref=source_ref,
            actor_id=actor_id,
        ),
        member,
    )
    lot_id = new_id()
    settles_at = earned_at + timedelta(days=pending_days)
    if pending_days:
        session.add(SettleQueue(lot_id=lot_id, patient_id=member.patient_id, settles_at=settles_at))
    session.add(
        Lot(
            id=lot_id,
            patient_id=member.patient_id,
            source_entry_id=entry.id,
            rule_code=rule.code if rule else None,
            source_ref=source_ref,
            amount=points,
            remaining=remaining,
            status=status,
            earned_at=earned_at,
            settles_at=settles_at,
            expires_at=ledger.expiry_for(earned_at),
            settled_at=None if pending_days else now,
        )
    )
    await session.flush()
    await tiers.evaluate(session, member.patient_id, reason="earn")
    return entry


# --- rule administration ----------------------------------------------------------------------


@dataclass(frozen=True)
class RuleChanges:
    name: str | None = None
    points: int | None = None
    fen_per_point: int | None = None
    daily_cap: int | None = None
    monthly_cap: int | None = None
    clear_daily_cap: bool = False
    clear_monthly_cap: bool = False
    pending_days: int | None = None
    excluded_categories: list[str] | None = None
    active: bool | None = None


async def update_rule(session: AsyncSession, actor: Actor, code: str, changes: RuleChanges) -> EarningRule:
    actor.require_role(Role.ADMIN)
    rule = await session.get(EarningRule, code, with_for_update=True)
    if rule is None:
        raise errors.RuleNotFound(field="code")
    v = Validator()
    if changes.name is not None:
        v.check(1 <= len(changes.name.strip()) <= 60, "name", CoreCode.NAME_LENGTH, "名称需为1到60个字符")
    for field, value, high in (
        ("points", changes.points, 100_000),
        ("dailyCap", changes.daily_cap, 10_000_000),
        ("monthlyCap", changes.monthly_cap, 10_000_000),
        ("pendingDays", changes.pending_days, 90),
    ):
        v.check(value is None or 0 <= value <= high, field, Code.OUT_OF_RANGE, f"取值需在0到{high}之间")
    v.check(
        changes.fen_per_point is None or changes.fen_per_point >= 100,
        "fenPerPoint",
        Code.OUT_OF_RANGE,
        "每积分对应金额至少1元（100分）",
    )
    v.raise_if_any()
    for attr in (
        "points",
        "fen_per_point",
        "daily_cap",
        "monthly_cap",
        "pending_days",
        "excluded_categories",
        "active",
    ):
        value = getattr(changes, attr)
        if value is not None:
            setattr(rule, attr, value)
    if changes.name is not None:
        rule.name = changes.name.strip()
    if changes.clear_daily_cap:
        rule.daily_cap = None
    if changes.clear_monthly_cap:
        rule.monthly_cap = None
    rule.updated_at = clock.now()
    return rule
