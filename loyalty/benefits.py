"""Tier benefits as rules the code applies, and the text members read, derived from them.

- birthday multiplier: `earning.award` multiplies what a rule gives when the points are earned on the
  member's birthday (their local date in the group's zone), before the rule's caps;
- monthly voucher: `issue_monthly_vouchers` (cron `loyalty.tier_vouchers`) gives each member of the
  tier one voucher of the tier's reward per calendar month, free (no points);
- priority booking: members of the tier wait ahead of the others on an event's waitlist
  (community.events), and the flag is shown on the member's tier and their registration.

Perks (discounts, a health manager ...) are honoured by staff at the counter: text only.
"""

from __future__ import annotations

import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, jobs
from core.channels import ChannelName, Message, send_later
from core.db import unit_of_work
from core.errors import Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.settings import get_settings
from loyalty import errors, ledger
from loyalty.errors import LoyaltyCode as Code
from loyalty.models import Entry, EntryKind, MemberTier, Redemption, RedemptionStatus, Reward, Tier
from loyalty.rewards import new_voucher_code
from patients import queries as patient_queries

TIER_VOUCHERS = jobs.register("loyalty.tier_vouchers", "Issue each member the monthly voucher of their tier")

MAX_MULTIPLIER = 5
MAX_PERKS, MAX_PERK_LENGTH = 10, 40
MULTIPLIER_WORDS = {2: "双倍", 3: "三倍", 4: "四倍", 5: "五倍"}
PRIORITY_TEXT = "优先预约：挂号与活动候补优先"
_FIRST = uuid.UUID(int=0)


# --- what a member has -----------------------------------------------------------------------


async def current_tier(session: AsyncSession, patient_id: uuid.UUID) -> Tier:
    """The member's tier as `tiers.progress` decides it: their member_tiers row, else the lowest."""
    tier = await session.scalar(
        select(Tier)
        .outerjoin(MemberTier, and_(MemberTier.patient_id == patient_id, MemberTier.tier_code == Tier.code))
        .order_by(MemberTier.patient_id.is_(None), Tier.rank)
        .limit(1)
    )
    assert tier is not None, "no tiers defined (loyalty.defaults)"
    return tier


async def has_priority_booking(session: AsyncSession, patient_id: uuid.UUID) -> bool:
    return (await current_tier(session, patient_id)).priority_booking


def is_birthday(birth_date: date | None, day: date) -> bool:
    """A 29 February birthday is kept on 28 February in other years."""
    if birth_date is None:
        return False
    if (birth_date.month, birth_date.day) == (2, 29) and not _leap(day.year):
        return (day.month, day.day) == (2, 28)
    return (birth_date.month, birth_date.day) == (day.month, day.day)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


async def birthday_multiplier(session: AsyncSession, patient_id: uuid.UUID, at: datetime) -> int:
    """The multiplier of points earned at `at`: the tier's birthday multiplier when `at` falls on the
    member's birthday (local date), else 1. The patient row is read only for tiers that have one."""
    multiplier = (await current_tier(session, patient_id)).birthday_multiplier
    if multiplier <= 1:
        return 1
    patient = (await patient_queries.patients_by_ids(session, [patient_id])).get(patient_id)
    local_day = at.astimezone(ZoneInfo(get_settings().default_timezone)).date()
    return multiplier if patient is not None and is_birthday(patient.birth_date, local_day) else 1


def benefit_texts(tier: Tier, voucher_name: str | None) -> list[str]:
    """What members read: one line per rule the tier has, then its perks."""
    lines: list[str] = []
    if tier.priority_booking:
        lines.append(PRIORITY_TEXT)
    if tier.birthday_multiplier > 1:
        lines.append(f"生日{MULTIPLIER_WORDS.get(tier.birthday_multiplier, f'{tier.birthday_multiplier}倍')}积分")
    if voucher_name:
        lines.append(f"每月赠送「{voucher_name}」1张")
    return lines + list(tier.perks or [])


# --- administration ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BenefitChanges:
    birthday_multiplier: int | None = None
    priority_booking: bool | None = None
    monthly_voucher_reward_id: uuid.UUID | None = None
    clear_monthly_voucher: bool = False
    perks: list[str] | None = None


def _clean_perk(text: str) -> str | None:
    cleaned = text.strip()
    if not 1 <= len(cleaned) <= MAX_PERK_LENGTH:
        return None
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in cleaned):  # null bytes, zero-width ...
        return None
    return cleaned


async def update_benefits(session: AsyncSession, actor: Actor, code: str, changes: BenefitChanges) -> Tier:
    """An admin changes a tier's benefit rules and perks; the text members read follows."""
    actor.require_role(Role.ADMIN)
    tier = await session.get(Tier, (code or "")[:20], with_for_update=True)
    if tier is None:
        raise errors.TierNotFound(field="code")
    v = Validator()
    multiplier = changes.birthday_multiplier
    v.check(
        multiplier is None or 1 <= multiplier <= MAX_MULTIPLIER,
        "birthdayMultiplier",
        Code.OUT_OF_RANGE,
        f"生日积分倍数需为1到{MAX_MULTIPLIER}（1表示无此权益）",
    )
    perks: list[str] | None = None
    if changes.perks is not None:
        cleaned = [_clean_perk(p) for p in changes.perks[: MAX_PERKS + 1]]
        ok = len(changes.perks) <= MAX_PERKS and all(p is not None for p in cleaned)
        v.check(ok, "perks", Code.PERKS_INVALID, f"其他权益最多{MAX_PERKS}条，每条1到{MAX_PERK_LENGTH}个字符")
        perks = [p for p in cleaned if p is not None]
    reward_id = changes.monthly_voucher_reward_id
    if reward_id is not None and not changes.clear_monthly_voucher:
        reward = await session.get(Reward, reward_id)
        v.check(reward is not None, "monthlyVoucherRewardId", Code.REWARD_NOT_FOUND, "奖品不存在")
        v.check(
            reward is None or reward.stock is None,
            "monthlyVoucherRewardId",
            Code.VOUCHER_REWARD_LIMITED,
            "每月权益券对应的奖品需为不限库存",
        )
    v.raise_if_any()
    if multiplier is not None:
        tier.birthday_multiplier = multiplier
    if changes.priority_booking is not None:
        tier.priority_booking = changes.priority_booking
    if perks is not None:
        tier.perks = perks
    if changes.clear_monthly_voucher:
        tier.monthly_voucher_reward_id = None
    elif reward_id is not None:
        tier.monthly_voucher_reward_id = reward_id
    await session.flush()
    return tier


# --- the monthly voucher -------------------------------------------------------------------------


def voucher_month(now: datetime) -> tuple[str, datetime]:
    """The local calendar month of `now` ("2026-03") and the moment it ends (the voucher's expiry)."""
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return f"{local.year:04d}-{local.month:02d}", ledger.add_months(start, 1)


def voucher_key(month: str) -> str:
    """The redemption's idempotency key: unique per (member, key), so one voucher per member and month."""
    return f"tier_voucher:{month}"


async def issue_voucher_batch(
    session: AsyncSession, *, now: datetime, after: uuid.UUID, limit: int
) -> tuple[int, uuid.UUID | None]:
    """Vouchers for the next `limit` members (by id, after `after`) whose tier has a monthly voucher.
    Returns (vouchers issued, the cursor for the next batch or None when done). A member who has this
    month's voucher already is skipped by the unique entry key (insert ... on conflict do nothing), so a
    batch run twice, or two runs at once, issue each voucher once."""
    rows = (
        await session.execute(
            select(MemberTier.patient_id, Reward)
            .join(Tier, Tier.code == MemberTier.tier_code)
            .join(Reward, Reward.id == Tier.monthly_voucher_reward_id)
            .where(MemberTier.patient_id > after, Reward.stock.is_(None))
            .order_by(MemberTier.patient_id)
            .limit(limit)
        )
    ).all()
    if not rows:
        return 0, None
    month, month_end = voucher_month(now)
    patients = await patient_queries.patients_by_ids(session, [r.patient_id for r in rows])
    due = [(pid, reward) for pid, reward in rows if pid in patients and not patients[pid].deceased]
    entries = {
        pid: {
            "id": new_id(),
            "idempotency_key": f"{voucher_key(month)}:{pid}",
            "request_hash": ledger.request_hash({"tier_voucher": month, "reward": reward.id}),
            "kind": EntryKind.REDEEM.value,
            "patient_id": pid,
            "amount": 0,
            "rule_code": None,
            "source_ref": f"reward:{reward.id}",
            "memo": f"会员权益：{reward.name}（{month}）"[:200],
            "actor_id": None,
            "created_at": now,
        }
        for pid, reward in due
    }
    if not entries:
        return 0, rows[-1].patient_id
    created: dict[uuid.UUID, uuid.UUID] = {
        row.patient_id: row.id
        for row in await session.execute(
            insert(Entry)
            .values(list(entries.values()))
            .on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(Entry.patient_id, Entry.id)
        )
        if row.patient_id is not None
    }
    rewards = dict(due)
    issued = 0
    for pid, entry_id in created.items():
        reward = rewards[pid]
        expires = min(month_end, now + timedelta(days=reward.voucher_valid_days))
        session.add(
            Redemption(
                id=new_id(),
                patient_id=pid,
                reward_id=reward.id,
                points=0,
                status=RedemptionStatus.ISSUED,
                voucher_code=new_voucher_code(),
                idempotency_key=voucher_key(month),
                request_hash=str(entries[pid]["request_hash"]),
                entry_id=entry_id,
                created_at=now,
                expires_at=expires,
            )
        )
        await send_later(
            session,
            Message(
                ChannelName.IN_APP,
                str(pid),
                f"您本月的会员权益「{reward.name}」已发放到“我的兑换”，请于本月内到院出示兑换码使用。",
                subject="会员权益已发放",
            ),
        )
        issued += 1
    await session.flush()
    return issued, rows[-1].patient_id


async def issue_monthly_vouchers(*, batch_size: int = 500) -> int:
    """Cron `loyalty.tier_vouchers` (daily, and at start-up): this month's voucher for every member whose
    tier has one, members who reached the tier during the month included. One transaction per batch: a
    run killed midway leaves whole batches done, and the next run issues the rest and nothing twice."""
    now = clock.now()
    total = 0
    cursor: uuid.UUID | None = _FIRST
    while cursor is not None:
        async with unit_of_work() as session:
            issued, cursor = await issue_voucher_batch(session, now=now, after=cursor, limit=batch_size)
        total += issued
    return total
