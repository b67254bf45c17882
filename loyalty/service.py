"""Member-facing reads and staff operations of loyalty: summaries, history, adjustments, liability."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.errors import CoreCode, PermissionDenied, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from loyalty import earning, errors, ledger
from loyalty.errors import LoyaltyCode as Code
from loyalty.models import (
    Account,
    AccountKind,
    EarningRule,
    Entry,
    EntryKind,
    Lot,
    LotStatus,
    Redemption,
    Referral,
    Reward,
)
from privacy import reads
from privacy.models import PhiKind

# Who may read a member's points besides the member: care staff at the desk, and admins.
POINTS_READERS = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER, Role.DOCTOR)


def can_read_points(actor: Actor, patient_id: uuid.UUID) -> bool:
    return (actor.is_patient and actor.id == patient_id) or actor.has_role(*POINTS_READERS)


def require_points_reader(actor: Actor, patient_id: uuid.UUID) -> None:
    actor.require_authenticated()
    if not can_read_points(actor, patient_id):
        raise PermissionDenied()


@dataclass(frozen=True)
class Expiring:
    amount: int
    expires_at: datetime


@dataclass(frozen=True)
class PointsSummary:
    available: int
    pending: int
    owed: int
    lifetime_earned: int
    expiring_soon: list[Expiring]


async def summaries(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PointsSummary]:
    """Balances, lifetime earnings and points expiring within 90 days, for many members at once."""
    balances: dict[uuid.UUID, dict[str, int]] = {i: {} for i in ids}
    for patient_id, kind, balance in await session.execute(
        select(Account.patient_id, Account.kind, Account.balance).where(Account.patient_id.in_(ids))
    ):
        if patient_id is not None:
            balances[patient_id][kind] = balance
    earned = dict(
        (
            await session.execute(
                select(Lot.patient_id, func.sum(Lot.amount))
                .where(Lot.patient_id.in_(ids), Lot.status != LotStatus.VOIDED, ledger.earned_lots())
                .group_by(Lot.patient_id)
            )
        ).all()
    )
    now = clock.now()
    expiring: dict[uuid.UUID, list[Expiring]] = {i: [] for i in ids}
    day = func.date_trunc("day", Lot.expires_at)
    for patient_id, when, amount in await session.execute(
        select(Lot.patient_id, func.min(Lot.expires_at), func.sum(Lot.remaining))
        .where(
            Lot.patient_id.in_(ids),
            Lot.status == LotStatus.AVAILABLE,
            Lot.remaining > 0,
            Lot.expires_at <= now + timedelta(days=90),
        )
        .group_by(Lot.patient_id, day)
        .order_by(Lot.patient_id, day)
    ):
        expiring[patient_id].append(Expiring(int(amount), when))
    return {
        i: PointsSummary(
            available=balances[i].get(AccountKind.AVAILABLE, 0),
            pending=balances[i].get(AccountKind.PENDING, 0),
            owed=-balances[i].get(AccountKind.CLAWBACK, 0),
            lifetime_earned=int(earned.get(i, 0) or 0),
            expiring_soon=expiring[i],
        )
        for i in ids
    }


async def history(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[Entry]:
    require_points_reader(actor, patient_id)
    page = await keyset_page(
        session,
        select(Entry).where(Entry.patient_id == patient_id),
        sort=Entry.created_at,
        id_=Entry.id,
        first=first,
        after=after,
        descending=True,
    )
    if any((e.source_ref or "").startswith("visit:") for e in page.items):
        # Points for a visit and its spend, or their reversal on a refund: the page shows the visits.
        await reads.record_reads(session, actor, PhiKind.VISITS, [patient_id])
    return page


async def adjust(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, amount: int, reason: str, idempotency_key: str
) -> Entry:
    """Admin goodwill credit or correction debit. The entry is the audit record: who, why, when."""
    actor.require_role(Role.ADMIN)
    v = Validator()
    v.check(
        amount != 0 and abs(amount) <= 1_000_000,
        "amount",
        Code.AMOUNT_INVALID,
        "调整积分需为非零整数且不超过100万",
    )
    v.check(
        2 <= len((reason or "").strip()) <= 150, "reason", CoreCode.REASON_REQUIRED, "请填写调整原因（2到150个字符）"
    )
    v.check(
        8 <= len((idempotency_key or "").strip()) <= 100,
        "idempotencyKey",
        Code.IDEMPOTENCY_KEY_INVALID,
        "幂等键需为8到100个字符",
    )
    v.raise_if_any()
    key = f"adjust:{idempotency_key.strip()}"
    digest = ledger.request_hash({"patient": patient_id, "amount": amount, "reason": reason.strip()})
    member = await ledger.lock_member(session, patient_id)
    previous = await ledger.find_entry(session, key, digest)
    if previous is not None:
        return previous
    memo = f"人工调整：{reason.strip()}"
    if amount > 0:
        return await earning.credit(
            session,
            member,
            points=amount,
            key=key,
            digest=digest,
            rule=None,
            source_ref=None,
            memo=memo,
            earned_at=clock.now(),
            kind=EntryKind.ADJUST,
            from_account=AccountKind.ADJUSTED,
            actor_id=actor.id,
        )
    if member.available.balance < -amount:
        raise errors.InsufficientPoints(f"可用积分不足：当前{member.available.balance}分", field="amount")
    uses = await ledger.spend_lots(session, patient_id, -amount)
    return await ledger.post(
        session,
        ledger.Posting(
            key=key,
            digest=digest,
            kind=EntryKind.ADJUST,
            patient_id=patient_id,
            amount=amount,
            memo=memo,
            lines=[(member.available.id, amount), (ledger.system_account(AccountKind.ADJUSTED), -amount)],
            actor_id=actor.id,
        ),
        member,
        lot_uses=uses,
    )


# A goodwill credit in one statement and one implicit transaction (PostgreSQL commits it when it ends):
# the member's accounts locked in id order (as `ledger.lock_member`), the entry inserted only under a
# new idempotency key and only when nothing is owed (clawback 0, so nothing is repaid first), then its
# two lines, the available balance and an available lot, all depending on that entry. Adjustments never
# qualify for tiers, so the tier is left to the next qualifying posting or the nightly run.
ADJUST_AT_ONCE = """
WITH acc AS (
    SELECT id, kind, balance FROM ledger_accounts WHERE patient_id = $1::uuid ORDER BY id FOR UPDATE
), e AS (
    INSERT INTO ledger_entries (id, idempotency_key, request_hash, kind, patient_id, amount, rule_code, source_ref,
                                memo, actor_id, created_at)
    SELECT $2::uuid, $3::text, $4::text, 'adjust', $1::uuid, $5::bigint, NULL, NULL, $6::text, $7::uuid,
           $8::timestamptz
    WHERE (SELECT count(*) FROM acc) = 3 AND EXISTS (SELECT FROM acc WHERE kind = 'clawback' AND balance = 0)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id, created_at
), bal AS (
    UPDATE ledger_accounts a SET balance = a.balance + $5::bigint FROM e, acc
    WHERE a.id = acc.id AND acc.kind = 'available' RETURNING a.id
), lines AS (
    INSERT INTO ledger_lines (id, entry_id, account_id, amount)
    SELECT $9::uuid, e.id, $10::uuid, -$5::bigint FROM e
    UNION ALL
    SELECT $11::uuid, e.id, acc.id, $5::bigint FROM e, acc WHERE acc.kind = 'available'
), lot AS (
    INSERT INTO ledger_lots (id, patient_id, source_entry_id, rule_code, source_ref, amount, remaining, status,
                             earned_at, settles_at, expires_at, settled_at, expiry_notice_at)
    SELECT $12::uuid, $1::uuid, e.id, NULL, NULL, $5::bigint, $5::bigint, 'available', $8::timestamptz,
           $8::timestamptz, $13::timestamptz, $8::timestamptz, NULL
    FROM e
)
SELECT e.id, e.created_at FROM e
"""


async def adjust_at_once(
    actor: Actor, patient_id: uuid.UUID, *, amount: int, reason: str, idempotency_key: str
) -> Entry | None:
    """`adjust` of a goodwill credit in one statement; None when the request needs the locked path
    (`adjust`): a debit, invalid input, no admin, a repeated key, points owed or a member without accounts."""
    reason, key = (reason or "").strip(), (idempotency_key or "").strip()
    if not (
        actor.has_role(Role.ADMIN) and 0 < amount <= 1_000_000 and 2 <= len(reason) <= 150 and 8 <= len(key) <= 100
    ):
        return None
    now = clock.now()
    entry = Entry(
        id=new_id(),
        idempotency_key=f"adjust:{key}",
        request_hash=ledger.request_hash({"patient": patient_id, "amount": amount, "reason": reason}),
        kind=EntryKind.ADJUST.value,
        patient_id=patient_id,
        amount=amount,
        rule_code=None,
        source_ref=None,
        memo=f"人工调整：{reason}",
        actor_id=actor.id,
        created_at=now,
    )
    params = (
        patient_id,
        entry.id,
        entry.idempotency_key,
        entry.request_hash,
        amount,
        entry.memo,
        actor.id,
        now,
        new_id(),
        ledger.SYSTEM_ACCOUNT_IDS[AccountKind.ADJUSTED],
        new_id(),
        new_id(),
        ledger.expiry_for(now),
    )
    row = await ledger.run_at_once(ADJUST_AT_ONCE, params)
    return entry if row is not None else None


@dataclass(frozen=True)
class Liability:
    available: int
    pending: int
    owed: int
    expiring_30_days: int
    expiring_90_days: int
    members_with_points: int


async def liability(session: AsyncSession, actor: Actor) -> Liability:
    actor.require_role(Role.MARKETER)
    sums = (
        await session.execute(
            select(
                func.coalesce(func.sum(Account.balance).filter(Account.kind == AccountKind.AVAILABLE), 0),
                func.coalesce(func.sum(Account.balance).filter(Account.kind == AccountKind.PENDING), 0),
                func.coalesce(-func.sum(Account.balance).filter(Account.kind == AccountKind.CLAWBACK), 0),
                func.count().filter(Account.kind == AccountKind.AVAILABLE, Account.balance > 0),
            ).where(Account.patient_id.is_not(None))
        )
    ).one()
    now = clock.now()
    soon = (
        await session.execute(
            select(
                func.coalesce(func.sum(Lot.remaining).filter(Lot.expires_at <= now + timedelta(days=30)), 0),
                func.coalesce(func.sum(Lot.remaining), 0),
            ).where(Lot.status == LotStatus.AVAILABLE, Lot.remaining > 0, Lot.expires_at <= now + timedelta(days=90))
        )
    ).one()
    return Liability(
        available=int(sums[0]),
        pending=int(sums[1]),
        owed=int(sums[2]),
        members_with_points=int(sums[3]),
        expiring_30_days=int(soon[0]),
        expiring_90_days=int(soon[1]),
    )


async def redemptions_page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[Redemption]:
    patient_id = actor.require_patient()
    return await keyset_page(
        session,
        select(Redemption).where(Redemption.patient_id == patient_id),
        sort=Redemption.created_at,
        id_=Redemption.id,
        first=first,
        after=after,
        descending=True,
    )


async def patient_redemptions_page(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[Redemption]:
    """A member's vouchers, newest first: the member, and the clinic staff who fulfil and cancel them."""
    if not ((actor.is_patient and actor.id == patient_id) or actor.has_role(Role.CLINIC_STAFF)):
        actor.require_authenticated()
        raise PermissionDenied()
    return await keyset_page(
        session,
        select(Redemption).where(Redemption.patient_id == patient_id),
        sort=Redemption.created_at,
        id_=Redemption.id,
        first=first,
        after=after,
        descending=True,
    )


async def referrals_page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[Referral]:
    patient_id = actor.require_patient()
    return await keyset_page(
        session,
        select(Referral).where(Referral.referrer_id == patient_id),
        sort=Referral.created_at,
        id_=Referral.id,
        first=first,
        after=after,
        descending=True,
    )


async def rewards_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Reward]:
    return {r.id: r for r in await session.scalars(select(Reward).where(Reward.id.in_(ids)))}


async def rewards_page(
    session: AsyncSession,
    actor: Actor,
    *,
    first: int | None,
    after: str | None,
    category: str | None = None,
    include_inactive: bool = False,
) -> Page[Reward]:
    """Cheapest first. Everyone sees what can be redeemed now; marketers may include the rest."""
    stmt = select(Reward)
    if include_inactive and actor.has_role(Role.MARKETER):
        pass
    else:
        now = clock.now()
        stmt = stmt.where(
            Reward.active.is_(True),
            (Reward.valid_from.is_(None)) | (Reward.valid_from <= now),
            (Reward.valid_to.is_(None)) | (Reward.valid_to > now),
        )
    if category:
        stmt = stmt.where(Reward.category == category)
    return await keyset_page(session, stmt, sort=Reward.points_cost, id_=Reward.id, first=first, after=after)


async def all_rules(session: AsyncSession) -> list[EarningRule]:
    return list(await session.scalars(select(EarningRule).order_by(EarningRule.code)))
