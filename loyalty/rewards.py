"""The rewards catalogue and redemptions: debit, stock and voucher in one transaction.

Stock is taken with a conditional UPDATE (never below zero, never oversold), as the last statement
so the hot reward row stays locked only until commit; points with the member's accounts locked and
a guarded balance update. A cancelled or expired voucher gives its points back (first repaying what
the member owes after a refund, then into the lots they came from; see `ledger.restore_lots`) and
the item back into stock.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.errors import CoreCode, PermissionDenied, Validator
from core.identity import SYSTEM, Actor, DelegationScope, Role
from core.ids import new_id
from loyalty import errors, ledger, tiers
from loyalty.errors import LoyaltyCode as Code
from loyalty.models import (
    AccountKind,
    EntryKind,
    Redemption,
    RedemptionStatus,
    Reward,
    Tier,
)
from patients import guardians

VOUCHER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I
CATEGORIES = {"gift": "实物礼品", "service_voucher": "服务券", "discount": "折扣券", "checkup": "免费体检"}
STAFF_FULFIL_ROLES = (Role.CLINIC_STAFF,)


def new_voucher_code() -> str:
    return "".join(secrets.choice(VOUCHER_ALPHABET) for _ in range(10))


@dataclass
class RewardInput:
    name: str
    description: str
    category: str
    points_cost: int
    stock: int | None
    tier_required: str | None = None
    per_member_limit: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    voucher_valid_days: int = 90
    active: bool = True


async def _validate(session: AsyncSession, data: RewardInput) -> None:
    v = Validator()
    v.check(1 <= len(data.name.strip()) <= 60, "name", CoreCode.NAME_LENGTH, "名称需为1到60个字符")
    v.check(data.category in CATEGORIES, "category", CoreCode.CATEGORY_INVALID, "类别无效")
    v.check(1 <= data.points_cost <= 10_000_000, "pointsCost", Code.COST_INVALID, "所需积分需为正整数")
    v.check(data.stock is None or data.stock >= 0, "stock", Code.STOCK_INVALID, "库存不能为负")
    v.check(
        data.per_member_limit is None or data.per_member_limit >= 1,
        "perMemberLimit",
        Code.LIMIT_INVALID,
        "每人限兑需至少为1",
    )
    v.check(
        1 <= data.voucher_valid_days <= 3650,
        "voucherValidDays",
        Code.VALIDITY_INVALID,
        "兑换券有效期需为1到3650天",
    )
    v.check(
        not (data.valid_from and data.valid_to and data.valid_from >= data.valid_to),
        "validTo",
        Code.VALIDITY_RANGE,
        "结束时间需晚于开始时间",
    )
    if data.tier_required is not None:
        v.check(
            await session.get(Tier, data.tier_required) is not None,
            "tierRequired",
            CoreCode.TIER_UNKNOWN,
            "会员等级不存在",
        )
    v.raise_if_any()


async def create_reward(session: AsyncSession, actor: Actor, data: RewardInput) -> Reward:
    actor.require_role(Role.MARKETER)
    await _validate(session, data)
    now = clock.now()
    reward = Reward(id=new_id(), created_by=actor.id, created_at=now, updated_at=now, **_fields(data))
    session.add(reward)
    await session.flush()
    return reward


async def update_reward(session: AsyncSession, actor: Actor, reward_id: uuid.UUID, data: RewardInput) -> Reward:
    actor.require_role(Role.MARKETER)
    reward = await session.get(Reward, reward_id, with_for_update=True)
    if reward is None:
        raise errors.RewardNotFound(field="rewardId")
    await _validate(session, data)
    if data.stock is not None:  # the monthly job gives a tier voucher to every member of the tier
        used_by = await session.scalar(select(Tier.code).where(Tier.monthly_voucher_reward_id == reward_id).limit(1))
        v = Validator()
        v.check(used_by is None, "stock", Code.VOUCHER_REWARD_LIMITED, "该奖品用作会员每月权益券，需保持不限库存")
        v.raise_if_any()
    for key, value in _fields(data).items():
        setattr(reward, key, value)
    reward.updated_at = clock.now()
    return reward


def _fields(data: RewardInput) -> dict[str, object]:
    return {
        "name": data.name.strip(),
        "description": data.description.strip(),
        "category": data.category,
        "points_cost": data.points_cost,
        "stock": data.stock,
        "tier_required": data.tier_required,
        "per_member_limit": data.per_member_limit,
        "valid_from": data.valid_from,
        "valid_to": data.valid_to,
        "voucher_valid_days": data.voucher_valid_days,
        "active": data.active,
    }


async def redeem(session: AsyncSession, actor: Actor, reward_id: uuid.UUID, idempotency_key: str) -> Redemption:
    patient_id = actor.require_patient()
    await guardians.acting(session, actor, DelegationScope.REDEEM, "reward_redeem", f"reward:{reward_id}")
    key = (idempotency_key or "").strip()
    v = Validator()  # a malformed key is a validation error, as in points adjustments (not a conflict)
    v.check(8 <= len(key) <= 100, "idempotencyKey", Code.IDEMPOTENCY_KEY_INVALID, "幂等键需为8到100个字符")
    v.raise_if_any()
    digest = ledger.request_hash({"reward": reward_id})
    member = await ledger.lock_member(session, patient_id)
    previous = await session.scalar(
        select(Redemption).where(Redemption.patient_id == patient_id, Redemption.idempotency_key == key)
    )
    if previous is not None:
        if previous.request_hash != digest:
            raise errors.IdempotencyConflict(field="idempotencyKey")
        return previous

    reward = await session.get(Reward, reward_id)
    now = clock.now()
    if reward is None:
        raise errors.RewardNotFound(field="rewardId")
    if (
        not reward.active
        or (reward.valid_from and now < reward.valid_from)
        or (reward.valid_to and now >= reward.valid_to)
    ):
        raise errors.RewardUnavailable(field="rewardId")
    if reward.tier_required is not None:
        required = await session.get(Tier, reward.tier_required)
        if required is not None and await tiers.member_tier_rank(session, patient_id) < required.rank:
            raise errors.TierTooLow(f"该奖品仅限{required.name}及以上会员兑换", field="rewardId")
    if reward.per_member_limit is not None:
        taken = await session.scalar(
            select(func.count())
            .select_from(Redemption)
            .where(
                Redemption.patient_id == patient_id,
                Redemption.reward_id == reward_id,
                Redemption.status.in_([RedemptionStatus.ISSUED, RedemptionStatus.FULFILLED]),
            )
        )
        if (taken or 0) >= reward.per_member_limit:
            raise errors.MemberLimitReached(field="rewardId")
    if member.available.balance < reward.points_cost:
        raise errors.InsufficientPoints(f"可用积分不足：需要{reward.points_cost}分，当前{member.available.balance}分")
    if reward.stock == 0:  # sold out: fail before any work (the guarded UPDATE below decides)
        raise errors.OutOfStock(field="rewardId")

    cost = reward.points_cost
    uses = await ledger.spend_lots(session, patient_id, cost)
    entry = await ledger.post(
        session,
        ledger.Posting(
            key=f"redeem:{patient_id}:{key}",
            digest=digest,
            kind=EntryKind.REDEEM,
            patient_id=patient_id,
            amount=-cost,
            memo=f"兑换：{reward.name}",
            lines=[(member.available.id, -cost), (ledger.system_account(AccountKind.REDEEMED), cost)],
            source_ref=f"reward:{reward.id}",
            actor_id=actor.performer_id,  # the guardian, when one redeems for the member
        ),
        member,
        lot_uses=uses,
    )
    redemption = Redemption(
        id=new_id(),
        patient_id=patient_id,
        reward_id=reward.id,
        points=cost,
        status=RedemptionStatus.ISSUED,
        voucher_code=new_voucher_code(),
        idempotency_key=key,
        request_hash=digest,
        entry_id=entry.id,
        created_at=now,
        expires_at=_voucher_expiry(reward, now),
    )
    session.add(redemption)
    await session.flush()
    # Stock last: every redemption of a popular reward queues on its row, so the lock is taken just
    # before commit. The conditional UPDATE never oversells; when it finds none left, the whole
    # transaction (points, voucher) rolls back.
    if reward.stock is not None:
        left = await session.scalar(
            update(Reward)
            .where(Reward.id == reward_id, Reward.stock > 0)
            .values(stock=Reward.stock - 1)
            .returning(Reward.stock)
        )
        if left is None:
            raise errors.OutOfStock(field="rewardId")
    return redemption


# One statement, run outside any explicit transaction (PostgreSQL commits it when it ends), so the
# hot reward row is locked only while the server runs it: no client round trip (COMMIT) is ever waited
# for with the lock held. Rewards with a tier requirement or a per-member limit take the locked path.
# Order of locks: the member's available account (the balance update), then their lots, then the
# reward's stock, as in `redeem`. Every write depends on the ledger entry, which is inserted only when
# the idempotency key is new (ON CONFLICT DO NOTHING), the reward is redeemable and the balance (as
# last committed) suffices. Stock and balance are taken without a guard: their CHECK constraints abort
# the whole statement rather than oversell or overdraw; a lot shortfall (a concurrent posting of the
# same member committed meanwhile) aborts it too (NULL entry_id); the caller then takes the locked path.
REDEEM_AT_ONCE = """
WITH r AS (
    SELECT id, points_cost, name, voucher_valid_days, valid_to FROM rewards
    WHERE id = $1::uuid AND active AND stock IS DISTINCT FROM 0 AND tier_required IS NULL AND per_member_limit IS NULL
      AND (valid_from IS NULL OR valid_from <= $3::timestamptz) AND (valid_to IS NULL OR valid_to > $3::timestamptz)
), acc AS (
    SELECT id, balance FROM ledger_accounts WHERE patient_id = $2::uuid AND kind = 'available'
), e AS (
    INSERT INTO ledger_entries (id, idempotency_key, request_hash, kind, patient_id, amount, rule_code, source_ref,
                                memo, actor_id, created_at)
    SELECT $4::uuid, $5::text, $6::text, 'redeem', $2::uuid, -r.points_cost, NULL, 'reward:' || r.id,
           '兑换：' || r.name, $2::uuid, $3::timestamptz
    FROM r JOIN acc ON acc.balance >= r.points_cost
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, -amount AS cost
), bal AS (
    UPDATE ledger_accounts a SET balance = a.balance - e.cost FROM e, acc WHERE a.id = acc.id RETURNING a.balance
), locked AS (
    SELECT id, remaining, expires_at FROM ledger_lots
    WHERE patient_id = $2::uuid AND status = 'available' AND remaining > 0 AND EXISTS (SELECT FROM bal)
    ORDER BY expires_at, id FOR UPDATE
), takes AS (
    SELECT s.id, least(s.remaining, e.cost - (s.upto - s.remaining)) AS take
    FROM (SELECT id, remaining, sum(remaining) OVER (ORDER BY expires_at, id) AS upto FROM locked) s, e
    WHERE s.upto - s.remaining < e.cost
), used AS (
    UPDATE ledger_lots l SET remaining = l.remaining - t.take FROM takes t WHERE l.id = t.id RETURNING l.id
), lines AS (
    INSERT INTO ledger_lines (id, entry_id, account_id, amount)
    SELECT $7::uuid, e.id, acc.id, -e.cost FROM e, acc UNION ALL SELECT $8::uuid, e.id, $9::uuid, e.cost FROM e
), uses AS (
    INSERT INTO ledger_lot_uses (entry_id, lot_id, amount) SELECT e.id, t.id, t.take FROM e, takes t
), stock AS (
    UPDATE rewards SET stock = rewards.stock - 1, updated_at = $3::timestamptz FROM e
    WHERE rewards.id = $1::uuid AND rewards.stock IS NOT NULL RETURNING rewards.stock
), red AS (
    INSERT INTO redemptions (id, patient_id, reward_id, points, status, voucher_code, idempotency_key, request_hash,
                             entry_id, created_at, expires_at)
    SELECT $10::uuid, $2::uuid, r.id, e.cost, 'issued', $11::text, $12::text, $6::text,
           CASE WHEN (SELECT coalesce(sum(take), 0) FROM takes) = e.cost THEN e.id END, $3::timestamptz,
           least($3::timestamptz + make_interval(days => r.voucher_valid_days),
                 coalesce(r.valid_to, 'infinity'::timestamptz))
    FROM e, r
    RETURNING id, reward_id, points, voucher_code, entry_id, created_at, expires_at
)
SELECT * FROM red
"""


# Redemptions of one reward all queue on its row. PostgreSQL wakes every waiter of a row lock when its
# holder commits (all but one go back to sleep), so its CPU per redemption grows with the queue: each
# API process lets only a few of its statements per reward wait at once, the rest wait here for free.
REWARD_GATE = 2
_reward_gates: dict[uuid.UUID, asyncio.Semaphore] = {}


async def redeem_at_once(actor: Actor, reward_id: uuid.UUID, idempotency_key: str) -> Redemption | None:
    """`redeem` of a plain reward in one statement and one implicit transaction; None when the request
    needs the locked path (`redeem`): a repeated key, a reward with limits, not enough points or stock,
    or a race with another posting of the same member. Never posts twice, never oversells."""
    key = (idempotency_key or "").strip()
    if not actor.is_patient or actor.id is None or actor.delegate is not None or not 8 <= len(key) <= 100:
        return None  # the locked path gives the typed refusal (and checks and records a guardian)
    patient_id = actor.id
    now = clock.now()
    digest = ledger.request_hash({"reward": reward_id})
    voucher = new_voucher_code()
    params = (
        reward_id,
        patient_id,
        now,
        new_id(),
        f"redeem:{patient_id}:{key}",
        digest,
        new_id(),
        new_id(),
        ledger.SYSTEM_ACCOUNT_IDS[AccountKind.REDEEMED],
        new_id(),
        voucher,
        key,
    )
    gate = _reward_gates.get(reward_id)
    if gate is None:
        gate = _reward_gates[reward_id] = asyncio.Semaphore(REWARD_GATE)
    async with gate:
        row = await ledger.run_at_once(REDEEM_AT_ONCE, params)
    if row is None:
        return None
    return Redemption(
        id=row["id"],
        patient_id=patient_id,
        reward_id=row["reward_id"],
        points=row["points"],
        status=RedemptionStatus.ISSUED,
        voucher_code=row["voucher_code"],
        idempotency_key=key,
        request_hash=digest,
        entry_id=row["entry_id"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        fulfilled_at=None,
    )


def _voucher_expiry(reward: Reward, now: datetime) -> datetime:
    expiry = now + timedelta(days=reward.voucher_valid_days)
    return min(expiry, reward.valid_to) if reward.valid_to else expiry


async def fulfil(session: AsyncSession, actor: Actor, voucher_code: str, site_id: uuid.UUID) -> Redemption:
    actor.require_role(*STAFF_FULFIL_ROLES)
    code = (voucher_code or "").strip().upper()
    redemption = await session.scalar(select(Redemption).where(Redemption.voucher_code == code).with_for_update())
    if redemption is None:
        raise errors.RedemptionNotFound("兑换码不存在", field="voucherCode")
    if redemption.status != RedemptionStatus.ISSUED:
        raise errors.RedemptionClosed(field="voucherCode")
    now = clock.now()
    if redemption.expires_at <= now:
        raise errors.RedemptionClosed("兑换券已过期", field="voucherCode")
    redemption.status = RedemptionStatus.FULFILLED
    redemption.fulfilled_at = now
    redemption.fulfilled_site_id = site_id
    redemption.fulfilled_by = actor.id
    return redemption


async def cancel(
    session: AsyncSession,
    actor: Actor,
    redemption_id: uuid.UUID,
    *,
    status: RedemptionStatus = RedemptionStatus.CANCELLED,
) -> Redemption:
    """The member (their own) or clinic staff cancel an unfulfilled voucher: points and stock return."""
    if not actor.is_system:
        actor.require_authenticated()  # before the lookup: an anonymous caller learns nothing about ids
    redemption = await session.get(Redemption, redemption_id)
    if redemption is None:
        raise errors.RedemptionNotFound(field="redemptionId")
    if not ((actor.is_patient and actor.id == redemption.patient_id) or actor.has_role(Role.CLINIC_STAFF)):
        raise PermissionDenied()
    member = await ledger.lock_member(session, redemption.patient_id)
    redemption = await session.get(Redemption, redemption_id, with_for_update=True, populate_existing=True)
    assert redemption is not None
    if redemption.status != RedemptionStatus.ISSUED:
        raise errors.RedemptionClosed(field="redemptionId")
    # Points owed after a refund (clawback) are repaid first; a voided lot is never reopened.
    give_back = await ledger.restore_lots(session, member, redemption.entry_id)
    label = "兑换券过期" if status == RedemptionStatus.EXPIRED else "取消兑换"
    memo = f"{label}，积分退回" + (f"（其中{give_back.repaid}分抵扣欠扣积分）" if give_back.repaid else "")
    entry = await ledger.post(
        session,
        ledger.Posting(
            key=f"redeem_refund:{redemption.id}",
            digest="",
            kind=EntryKind.REDEEM_REFUND,
            patient_id=redemption.patient_id,
            amount=give_back.total,
            memo=memo,
            lines=[
                (ledger.system_account(AccountKind.REDEEMED), -give_back.total),
                (member.clawback.id, give_back.repaid),
                (member.available.id, give_back.to_available),
            ],
            source_ref=f"{ledger.REISSUE_REF_PREFIX}{redemption.id}",
            actor_id=actor.id,
        ),
        member,
    )
    await ledger.reissue_lots(session, member, entry, give_back)
    await session.execute(
        update(Reward)
        .where(Reward.id == redemption.reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1)
    )
    now = clock.now()
    redemption.status = status
    redemption.closed_at = now
    redemption.closed_by = actor.id
    return redemption


async def expire_vouchers(session: AsyncSession, *, limit: int = 1000) -> int:
    due = list(
        await session.scalars(
            select(Redemption.id)
            .where(Redemption.status == RedemptionStatus.ISSUED, Redemption.expires_at <= clock.now())
            .limit(limit)
        )
    )
    for redemption_id in due:
        await cancel(session, SYSTEM, redemption_id, status=RedemptionStatus.EXPIRED)
    return len(due)
