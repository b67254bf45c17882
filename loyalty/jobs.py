"""Bodies of the loyalty crons. Each batch is one transaction: a run killed midway leaves whole
batches done and the rest untouched, so running again gives exactly the same totals.

Settlement and expiry are set-based: one UPDATE moves a batch of lots, one entry per member per
batch records it, one UPDATE moves the balances. Members who owe a clawback are the exception and
go through the row-by-row path, since part of their points repays the debt.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, jobs
from core.channels import ChannelName, Message, send_later
from core.db import unit_of_work
from core.ids import new_id
from core.settings import get_settings
from loyalty import ledger, lifecycle, referrals, rewards, tiers
from loyalty.ledger import SYSTEM_ACCOUNT_IDS
from loyalty.models import AccountKind, Entry, EntryKind, Line, Lot, LotStatus, MemberTier

SETTLE_DUE = jobs.register("loyalty.settle_due", "Settle pending points whose cooling-off ended; reward referrals")
EXPIRE_DUE = jobs.register("loyalty.expire_due", "Expiry notices, expire points oldest first, expire vouchers")
NIGHTLY = jobs.register("loyalty.nightly", "Re-qualify tiers (grace periods) and recompute lifecycle stages")

_ACCOUNTS_OF = text(
    "SELECT id, patient_id, kind, balance FROM ledger_accounts WHERE patient_id = ANY(:pids) ORDER BY id FOR UPDATE"
)


async def _lock_accounts(session: AsyncSession, patient_ids: list[uuid.UUID]) -> dict[tuple[uuid.UUID, str], tuple]:
    rows = (await session.execute(_ACCOUNTS_OF, {"pids": patient_ids})).all()
    return {(r.patient_id, r.kind): (r.id, r.balance) for r in rows}


async def _write_batch_entries(
    session: AsyncSession,
    *,
    kind: EntryKind,
    memo: str,
    per_member: dict[uuid.UUID, int],
    accounts: dict[tuple[uuid.UUID, str], tuple],
    debit: tuple[str, bool],
    credit: tuple[str, bool],
    sign: int,
) -> None:
    """One entry per member: `per_member[p]` points leave `debit` and arrive in `credit`.
    The bool says whether the account is the member's (else a system account)."""
    now = clock.now()
    batch = new_id()
    entries: list[dict[str, object]] = []
    lines: list[dict[str, object]] = []
    deltas: dict[uuid.UUID, int] = defaultdict(int)

    def account(patient_id: uuid.UUID, which: tuple[str, bool]) -> uuid.UUID:
        kind_name, member_side = which
        return accounts[(patient_id, kind_name)][0] if member_side else SYSTEM_ACCOUNT_IDS[AccountKind(kind_name)]

    for patient_id, points in per_member.items():
        entry_id = new_id()
        entries.append(
            {
                "id": entry_id,
                "idempotency_key": f"{kind.value}:{batch}:{patient_id}",
                "request_hash": "",
                "kind": kind.value,
                "patient_id": patient_id,
                "amount": sign * points,
                "rule_code": None,
                "source_ref": None,
                "memo": memo,
                "actor_id": None,
                "created_at": now,
            }
        )
        src, dst = account(patient_id, debit), account(patient_id, credit)
        lines.append({"id": new_id(), "entry_id": entry_id, "account_id": src, "amount": -points})
        lines.append({"id": new_id(), "entry_id": entry_id, "account_id": dst, "amount": points})
        if debit[1]:
            deltas[src] -= points
        if credit[1]:
            deltas[dst] += points
    if not entries:
        return
    await session.execute(insert(Entry), entries)
    await session.execute(insert(Line), lines)
    await session.execute(
        text(
            "UPDATE ledger_accounts a SET balance = a.balance + v.delta "
            "FROM unnest(CAST(:ids AS uuid[]), CAST(:deltas AS bigint[])) AS v(id, delta) WHERE a.id = v.id"
        ),
        {"ids": list(deltas), "deltas": list(deltas.values())},
    )


# --- settlement -------------------------------------------------------------------------------


async def settle_batch(session: AsyncSession, *, limit: int) -> int:
    now = clock.now()
    patient_ids = list(
        await session.scalars(
            text(
                "SELECT DISTINCT patient_id FROM (SELECT patient_id FROM ledger_lots WHERE status = 'pending' "
                "AND settles_at <= :now ORDER BY settles_at, id LIMIT :limit) due"
            ),
            {"now": now, "limit": limit},
        )
    )
    if not patient_ids:
        return 0
    accounts = await _lock_accounts(session, patient_ids)
    settled = (
        await session.execute(
            text(
                "UPDATE ledger_lots l SET status = 'available', settled_at = :now FROM ("
                "  SELECT id FROM ledger_lots WHERE status = 'pending' AND settles_at <= :now"
                "  AND patient_id = ANY(:pids)"
                "  ORDER BY settles_at, id LIMIT :limit FOR UPDATE) due "
                "WHERE l.id = due.id RETURNING l.id, l.patient_id, l.amount, l.expires_at"
            ),
            {"now": now, "pids": patient_ids, "limit": limit},
        )
    ).all()
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for row in settled:
        totals[row.patient_id] += row.amount
    owing = {p for p in totals if accounts.get((p, AccountKind.CLAWBACK.value), (None, 0))[1] < 0}
    await _write_batch_entries(
        session,
        kind=EntryKind.SETTLE,
        memo="积分冷静期结束，转为可用",
        per_member={p: n for p, n in totals.items() if p not in owing},
        accounts=accounts,
        debit=(AccountKind.PENDING.value, True),
        credit=(AccountKind.AVAILABLE.value, True),
        sign=1,
    )
    for patient_id in owing:
        await _settle_with_repayment(session, patient_id, [r for r in settled if r.patient_id == patient_id], accounts)
    return len(settled)


async def _settle_with_repayment(session: AsyncSession, patient_id: uuid.UUID, rows: list, accounts: dict) -> None:
    """Settled points first repay what the member owes; only the rest becomes spendable."""
    owed = -accounts[(patient_id, AccountKind.CLAWBACK.value)][1]
    total = sum(r.amount for r in rows)
    repay = min(owed, total)
    left = repay
    for row in sorted(rows, key=lambda r: (r.expires_at, r.id)):
        take = min(left, row.amount)
        if take:
            await session.execute(update(Lot).where(Lot.id == row.id).values(remaining=Lot.remaining - take))
            left -= take
    member = await ledger.lock_member(session, patient_id)
    await ledger.post(
        session,
        ledger.Posting(
            key=f"settle:{new_id()}:{patient_id}",
            digest="",
            kind=EntryKind.SETTLE,
            patient_id=patient_id,
            amount=total,
            memo=f"积分冷静期结束，其中{repay}分抵扣欠扣积分",
            lines=[(member.pending.id, -total), (member.clawback.id, repay), (member.available.id, total - repay)],
        ),
        member,
    )


async def settle_due(*, batch_size: int | None = None, max_batches: int | None = None) -> int:
    """Cron `loyalty.settle_due`: pending lots whose cooling-off ended become available; then
    referrals whose first visit has settled are rewarded."""
    size = batch_size or get_settings().settle_batch_size
    total, batches = 0, 0
    while max_batches is None or batches < max_batches:
        async with unit_of_work() as session:
            done = await settle_batch(session, limit=size)
        batches += 1
        total += done
        if done < size:
            break
    async with unit_of_work() as session:
        await referrals.reward_settled(session)
    return total


# --- expiry -----------------------------------------------------------------------------------


async def expire_batch(session: AsyncSession, *, limit: int) -> int:
    now = clock.now()
    patient_ids = list(
        await session.scalars(
            text(
                "SELECT DISTINCT patient_id FROM (SELECT patient_id FROM ledger_lots WHERE status = 'available' "
                "AND remaining > 0 AND expires_at <= :now ORDER BY expires_at, id LIMIT :limit) due"
            ),
            {"now": now, "limit": limit},
        )
    )
    if not patient_ids:
        return 0
    accounts = await _lock_accounts(session, patient_ids)
    # remaining is read in the subquery before the SET zeroes it (the RETURNING sees new values).
    expired = (
        await session.execute(
            text(
                "UPDATE ledger_lots l SET status = 'expired', remaining = 0 FROM ("
                "  SELECT id, remaining FROM ledger_lots WHERE status = 'available' AND remaining > 0"
                "  AND expires_at <= :now"
                "  AND patient_id = ANY(:pids) ORDER BY expires_at, id LIMIT :limit FOR UPDATE) due "
                "WHERE l.id = due.id RETURNING l.patient_id, due.remaining"
            ),
            {"now": now, "pids": patient_ids, "limit": limit},
        )
    ).all()
    totals: dict[uuid.UUID, int] = defaultdict(int)
    for row in expired:
        totals[row.patient_id] += row.remaining
    await _write_batch_entries(
        session,
        kind=EntryKind.EXPIRE,
        memo="积分到期",
        per_member=dict(totals),
        accounts=accounts,
        debit=(AccountKind.AVAILABLE.value, True),
        credit=(AccountKind.EXPIRED.value, False),
        sign=-1,
    )
    return len(expired)


async def notify_expiring(session: AsyncSession, *, limit: int = 5000) -> int:
    """One in-app notice per member, `points_expiry_notice_days` before their points expire."""
    settings = get_settings()
    now = clock.now()
    horizon = now + timedelta(days=settings.points_expiry_notice_days)
    rows = (
        await session.execute(
            select(Lot.id, Lot.patient_id, Lot.remaining, Lot.expires_at)
            .where(
                Lot.status == LotStatus.AVAILABLE,
                Lot.remaining > 0,
                Lot.expires_at <= horizon,
                Lot.expires_at > now,
                Lot.expiry_notice_at.is_(None),
            )
            .order_by(Lot.expires_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    per_member: dict[uuid.UUID, list] = defaultdict(list)
    for row in rows:
        per_member[row.patient_id].append(row)
    tz = ZoneInfo(settings.default_timezone)
    for patient_id, lots in per_member.items():
        points = sum(r.remaining for r in lots)
        first = min(r.expires_at for r in lots).astimezone(tz).strftime("%Y年%m月%d日")
        await send_later(
            session,
            Message(
                ChannelName.IN_APP,
                str(patient_id),
                f"您有{points}积分将于{first}起陆续到期，快去积分商城兑换心仪的礼品吧。",
                subject="积分即将到期提醒",
            ),
        )
    if rows:
        await session.execute(update(Lot).where(Lot.id.in_([r.id for r in rows])).values(expiry_notice_at=now))
    return len(per_member)


async def expire_due(*, batch_size: int | None = None) -> int:
    """Cron `loyalty.expire_due`: notices for points expiring soon, then expiry, oldest lots first."""
    size = batch_size or get_settings().settle_batch_size
    async with unit_of_work() as session:
        await notify_expiring(session)
    total = 0
    while True:
        async with unit_of_work() as session:
            done = await expire_batch(session, limit=size)
        total += done
        if done < size:
            break
    async with unit_of_work() as session:
        await rewards.expire_vouchers(session)
    return total


# --- nightly ----------------------------------------------------------------------------------


async def recompute_tiers(*, batch_size: int = 500) -> int:
    """Nightly: re-qualify every member with a tier (grace periods end, old points leave the window)."""
    after: uuid.UUID | None = None
    total = 0
    while True:
        async with unit_of_work() as session:
            stmt = select(MemberTier.patient_id).order_by(MemberTier.patient_id).limit(batch_size)
            if after is not None:
                stmt = stmt.where(MemberTier.patient_id > after)
            ids = list(await session.scalars(stmt))
            for patient_id in ids:
                await tiers.evaluate(session, patient_id, reason="nightly")
        if not ids:
            return total
        total += len(ids)
        after = ids[-1]


async def nightly() -> dict[str, int]:
    return {"tiers": await recompute_tiers(), "lifecycle": await lifecycle.recompute_all()}
