"""Bodies of the loyalty crons. Each batch is one transaction: a run killed midway leaves whole
batches done and the rest untouched, so running again gives exactly the same totals.

Settlement and expiry are set-based: one UPDATE moves a batch of lots, one entry per member per
batch records it, one UPDATE moves the balances. Settlement does all of it in one statement per
batch, clawback repayment included.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, jobs
from core.channels import ChannelName, Message
from core.db import unit_of_work
from core.ids import new_id
from core.settings import get_settings
from loyalty import lifecycle, referrals, rewards, tiers
from loyalty.ledger import SYSTEM_ACCOUNT_IDS
from loyalty.models import AccountKind, Entry, EntryKind, Line, Lot, LotStatus, MemberTier
from messaging import outreach
from messaging.outreach import MessageClass, Notice

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

# Batches walk the members with due lots in id order (a cursor), through the small settle queue, and
# settle all their due lots at once: one settle entry per member and run, not one per lot. The first
# statement picks the members; the second locks their accounts (id order, like every posting), so the
# third sees a settled state no posting can move. Two walkers split the id space so both cores work.
_NEXT_MEMBERS = text(
    """
    SELECT DISTINCT patient_id FROM (
        SELECT patient_id FROM ledger_settle_queue
        WHERE settles_at <= :now AND patient_id > :after AND patient_id < :before
        ORDER BY patient_id LIMIT :limit
    ) due ORDER BY patient_id
    """
)
_LOCK_MEMBERS = text(
    "SELECT id, patient_id, kind FROM ledger_accounts WHERE patient_id = ANY(CAST(:pids AS uuid[])) "
    "ORDER BY id FOR UPDATE"
)

# One statement settles the batch: lots become available; settled points first repay what a member
# owes (taken from the lots soonest to expire, which therefore keep less `remaining`); one settle
# entry per member with its lines; the materialised balances move by the same amounts.
_SETTLE_MEMBERS = text(
    """
    WITH member AS (
        SELECT * FROM unnest(CAST(:pids AS uuid[]), CAST(:pending AS uuid[]), CAST(:available AS uuid[]),
                             CAST(:clawback AS uuid[]))
            AS m(patient_id, pending_id, available_id, clawback_id)
    ),
    owed AS (
        SELECT m.patient_id, -a.balance AS owed
        FROM member m JOIN ledger_accounts a ON a.id = m.clawback_id WHERE a.balance < 0
    ),
    due AS (
        DELETE FROM ledger_settle_queue q USING member m
        WHERE q.patient_id = m.patient_id AND q.settles_at <= :now
        RETURNING q.lot_id
    ),
    repay AS MATERIALIZED (
        SELECT id, least(amount, greatest(0, owed - before)) AS take FROM (
            SELECT l.id, l.amount, o.owed,
                   sum(l.amount) OVER (PARTITION BY l.patient_id ORDER BY l.expires_at, l.id) - l.amount AS before
            FROM due d JOIN ledger_lots l ON l.id = d.lot_id JOIN owed o ON o.patient_id = l.patient_id
            WHERE l.status = 'pending'
        ) owing
    ),
    moved AS (
        UPDATE ledger_lots l
        SET status = 'available', settled_at = :now,
            remaining = l.remaining - coalesce((SELECT r.take FROM repay r WHERE r.id = l.id), 0)
        FROM due d
        WHERE l.id = d.lot_id AND l.status = 'pending'
        RETURNING l.patient_id, l.amount
    ),
    settled AS (
        SELECT m.*, uuidv7() AS entry_id, t.total, least(t.total, coalesce(o.owed, 0)) AS repay
        FROM (SELECT patient_id, sum(amount)::bigint AS total FROM moved GROUP BY patient_id) t
        JOIN member m ON m.patient_id = t.patient_id
        LEFT JOIN owed o ON o.patient_id = t.patient_id
    ),
    entries AS (
        INSERT INTO ledger_entries (id, idempotency_key, request_hash, kind, patient_id, amount, rule_code,
                                    source_ref, memo, actor_id, created_at)
        SELECT entry_id, 'settle:' || :batch || ':' || patient_id, '', 'settle', patient_id, total, NULL, NULL,
               CASE WHEN repay > 0 THEN '积分冷静期结束，其中' || repay || '分抵扣欠扣积分'
                    ELSE '积分冷静期结束，转为可用' END,
               NULL, :now
        FROM settled
    ),
    moves AS (
        SELECT s.entry_id, v.account_id, v.amount
        FROM settled s CROSS JOIN LATERAL (VALUES (s.pending_id, -s.total), (s.available_id, s.total - s.repay),
                                                  (s.clawback_id, s.repay)) AS v(account_id, amount)
        WHERE v.amount <> 0
    ),
    lines AS (
        INSERT INTO ledger_lines (id, entry_id, account_id, amount)
        SELECT uuidv7(), entry_id, account_id, amount FROM moves
    ),
    balances AS (
        UPDATE ledger_accounts a SET balance = a.balance + v.amount FROM moves v
        WHERE a.id = v.account_id
    )
    SELECT coalesce(sum(total), 0) AS points, (SELECT count(*) FROM moved) AS lots FROM settled
    """
)


async def _settle_locked(session: AsyncSession, accounts: Sequence[Row[Any]], now: datetime) -> int:
    """Settles every due lot of the locked members in one statement; returns the lots settled."""
    ids: dict[uuid.UUID, dict[str, uuid.UUID]] = defaultdict(dict)
    for row in accounts:
        ids[row.patient_id][row.kind] = row.id
    pids = list(ids)
    row = (
        await session.execute(
            _SETTLE_MEMBERS,
            {
                "pids": pids,
                "pending": [ids[p][AccountKind.PENDING.value] for p in pids],
                "available": [ids[p][AccountKind.AVAILABLE.value] for p in pids],
                "clawback": [ids[p][AccountKind.CLAWBACK.value] for p in pids],
                "batch": str(new_id()),
                "now": now,
            },
        )
    ).one()
    return int(row.lots)


_FIRST, _LAST = uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)
# Member ids are time-ordered (uuid7), so the walkers split at the median member with due lots.
_SPLIT = text(
    "SELECT patient_id FROM ledger_settle_queue WHERE settles_at <= :now ORDER BY patient_id "
    "OFFSET (SELECT count(*) / 2 FROM ledger_settle_queue WHERE settles_at <= :now) LIMIT 1"
)


async def settle_batch(
    session: AsyncSession, *, limit: int, after: uuid.UUID = _FIRST, before: uuid.UUID = _LAST
) -> tuple[int, uuid.UUID | None]:
    """Settles every due lot of the next members after `after` and before `before` (both
    exclusive), at least `limit` lots' worth. Returns (lots settled, the cursor for the next batch or
    None when done)."""
    now = clock.now()
    params = {"now": now, "limit": limit, "after": after, "before": before}
    pids = list((await session.scalars(_NEXT_MEMBERS, params)).all())
    if not pids:
        return 0, None
    accounts = (await session.execute(_LOCK_MEMBERS, {"pids": pids})).all()
    return await _settle_locked(session, accounts, now), pids[-1]


async def _walk(after: uuid.UUID, before: uuid.UUID, size: int, max_batches: int | None) -> int:
    total, batches = 0, 0
    cursor: uuid.UUID | None = after
    while cursor is not None and (max_batches is None or batches < max_batches):
        async with unit_of_work() as session:
            done, cursor = await settle_batch(session, limit=size, after=cursor, before=before)
        batches += 1
        total += done
    return total


async def settle_due(*, batch_size: int | None = None, max_batches: int | None = None, walkers: int = 2) -> int:
    """Cron `loyalty.settle_due`: pending lots whose cooling-off ended become available; then
    referrals whose first visit has settled are rewarded. Each batch commits on its own and a
    settled lot leaves the queue, so a run killed anywhere is completed exactly by the next. With two
    walkers (two connections, so both cores work) the members are split at the median; members never
    overlap, so the walkers never wait for each other."""
    size = batch_size or get_settings().settle_batch_size
    ranges = [(_FIRST, _LAST)]
    if walkers > 1:
        async with unit_of_work() as session:
            split = await session.scalar(_SPLIT, {"now": clock.now()})
        if split is not None:
            ranges = [(_FIRST, split), (uuid.UUID(int=split.int - 1), _LAST)]
    try:
        async with asyncio.TaskGroup() as group:  # one walker failing stops the other
            tasks = [group.create_task(_walk(after, before, size, max_batches)) for after, before in ranges]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    async with unit_of_work() as session:
        await referrals.reward_settled(session)
    return sum(t.result() for t in tasks)


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
    notices = []
    for patient_id, lots in per_member.items():
        points = sum(r.remaining for r in lots)
        first = min(r.expires_at for r in lots).astimezone(tz).strftime("%Y年%m月%d日")
        body = f"您有{points}积分将于{first}起陆续到期，快去积分商城兑换心仪的礼品吧。"
        message = Message(ChannelName.IN_APP, str(patient_id), body, subject="积分即将到期提醒")
        notices.append(Notice(patient_id, message, f"points_expiring:{min(r.id for r in lots)}"))
    # Through the outreach policy: nobody tells a deceased member that their points expire.
    await outreach.notify(session, MessageClass.NOTICE, notices)
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
