"""The points ledger: double-entry postings, materialised member balances, lots spent oldest first.

Every write for a member starts by locking that member's accounts (one statement, id order), so
all postings of one member are serial and no two paths ever lock in different orders. Member
balances are materialised and guarded twice: a conditional update for debits and a CHECK
constraint. System accounts are not materialised (every posting would queue on their row); their
balance is the sum of their lines.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import get_engine
from core.ids import new_id
from core.settings import get_settings
from loyalty import errors
from loyalty.models import (
    MEMBER_ACCOUNTS,
    Account,
    AccountKind,
    Entry,
    EntryKind,
    Line,
    Lot,
    LotStatus,
    LotUse,
)

# Fixed ids: created by the migration, so no posting ever has to look them up.
SYSTEM_ACCOUNT_IDS: dict[AccountKind, uuid.UUID] = {
    AccountKind.ISSUED: uuid.UUID("00000000-0000-7000-8000-000000000001"),
    AccountKind.REDEEMED: uuid.UUID("00000000-0000-7000-8000-000000000002"),
    AccountKind.EXPIRED: uuid.UUID("00000000-0000-7000-8000-000000000003"),
    AccountKind.ADJUSTED: uuid.UUID("00000000-0000-7000-8000-000000000004"),
    AccountKind.ERASED: uuid.UUID("00000000-0000-7000-8000-000000000005"),  # migration 0023
}


@dataclass
class MemberAccounts:
    patient_id: uuid.UUID
    pending: Account
    available: Account
    clawback: Account

    def by_kind(self, kind: AccountKind) -> Account:
        return {
            AccountKind.PENDING: self.pending,
            AccountKind.AVAILABLE: self.available,
            AccountKind.CLAWBACK: self.clawback,
        }[kind]


def request_hash(request: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()


def system_account(kind: AccountKind) -> uuid.UUID:
    return SYSTEM_ACCOUNT_IDS[kind]


async def ensure_system_accounts(session: AsyncSession) -> None:
    await session.execute(
        insert(Account)
        .values([{"id": i, "patient_id": None, "kind": k.value, "balance": 0} for k, i in SYSTEM_ACCOUNT_IDS.items()])
        .on_conflict_do_nothing()
    )


async def lock_member(session: AsyncSession, patient_id: uuid.UUID) -> MemberAccounts:
    """Creates the member's accounts on first use and locks them for the rest of the transaction."""
    lock = (
        select(Account)
        .where(Account.patient_id == patient_id)
        .order_by(Account.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = (await session.scalars(lock)).all()
    if len(rows) < len(MEMBER_ACCOUNTS):  # first posting: one statement more, only this once
        await session.execute(
            insert(Account)
            .values(
                [{"id": new_id(), "patient_id": patient_id, "kind": k.value, "balance": 0} for k in MEMBER_ACCOUNTS]
            )
            .on_conflict_do_nothing(index_elements=["patient_id", "kind"])
        )
        rows = (await session.scalars(lock)).all()
    by_kind = {AccountKind(a.kind): a for a in rows}
    return MemberAccounts(
        patient_id, by_kind[AccountKind.PENDING], by_kind[AccountKind.AVAILABLE], by_kind[AccountKind.CLAWBACK]
    )


async def lock_members(session: AsyncSession, patient_ids: list[uuid.UUID]) -> None:
    """Batch form for set-based jobs: same lock order (account id) as single postings."""
    if patient_ids:
        await session.execute(
            select(Account.id).where(Account.patient_id.in_(patient_ids)).order_by(Account.id).with_for_update()
        )


async def find_entry(session: AsyncSession, key: str, digest: str) -> Entry | None:
    """The entry already posted under `key`; a different request under the same key is refused."""
    entry = await session.scalar(select(Entry).where(Entry.idempotency_key == key))
    if entry is not None and entry.request_hash != digest:
        raise errors.IdempotencyConflict(field="idempotencyKey")
    return entry


@dataclass
class Posting:
    key: str
    digest: str
    kind: EntryKind
    patient_id: uuid.UUID | None
    amount: int
    memo: str
    lines: list[tuple[uuid.UUID, int]]
    rule_code: str | None = None
    source_ref: str | None = None
    actor_id: uuid.UUID | None = None


async def post(
    session: AsyncSession,
    posting: Posting,
    member: MemberAccounts | None = None,
    *,
    lot_uses: list[tuple[uuid.UUID, int]] | None = None,
) -> Entry:
    """Writes the entry and its lines and moves the member balances. Caller holds the member lock.
    `lot_uses` records which lots a spending entry took its points from."""
    lines = [(account, amount) for account, amount in posting.lines if amount != 0]
    if sum(amount for _, amount in lines) != 0:
        raise ValueError(f"unbalanced posting {posting.key}: {lines}")
    entry = Entry(
        id=new_id(),
        idempotency_key=posting.key,
        request_hash=posting.digest,
        kind=posting.kind.value,
        patient_id=posting.patient_id,
        amount=posting.amount,
        rule_code=posting.rule_code,
        source_ref=posting.source_ref,
        memo=posting.memo,
        actor_id=posting.actor_id,
        created_at=clock.now(),
    )
    session.add(entry)
    await session.flush()
    if lines:
        await session.execute(
            insert(Line), [{"id": new_id(), "entry_id": entry.id, "account_id": a, "amount": d} for a, d in lines]
        )
    if lot_uses:
        await session.execute(
            insert(LotUse), [{"entry_id": entry.id, "lot_id": lot, "amount": n} for lot, n in lot_uses]
        )
    if member is not None:
        member_ids = {
            member.pending.id: member.pending,
            member.available.id: member.available,
            member.clawback.id: member.clawback,
        }
        for account_id, delta in lines:
            account = member_ids.get(account_id)
            if account is None:
                continue
            guard = Account.balance >= -delta if account.kind != AccountKind.CLAWBACK else Account.balance <= -delta
            new_balance = await session.scalar(
                update(Account)
                .where(Account.id == account_id, guard)
                .values(balance=Account.balance + delta)
                .returning(Account.balance)
            )
            if new_balance is None:
                raise errors.InsufficientPoints()
            account.balance = new_balance
    return entry


def add_months(moment: datetime, months: int) -> datetime:
    year, month0 = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month0 + 1)[1])
    return moment.replace(year=year, month=month0 + 1, day=day)


def expiry_for(earned_at: datetime) -> datetime:
    return add_months(earned_at, get_settings().points_expiry_months)


async def spend_lots(session: AsyncSession, patient_id: uuid.UUID, amount: int) -> list[tuple[uuid.UUID, int]]:
    """Takes up to `amount` from available lots, soonest expiry first; returns (lot, points) taken.
    Pass the result to `post(lot_uses=...)`."""
    lots = (
        await session.scalars(
            select(Lot)
            .where(Lot.patient_id == patient_id, Lot.status == LotStatus.AVAILABLE, Lot.remaining > 0)
            .order_by(Lot.expires_at, Lot.id)
            .with_for_update()
        )
    ).all()
    left = amount
    uses: list[tuple[uuid.UUID, int]] = []
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        lot.remaining -= take
        left -= take
        uses.append((lot.id, take))
    return uses


@dataclass
class GiveBack:
    """Where the points of a cancelled spending entry go: first `repaid` to what the member owes, then
    back into the lots they came from (`restored`), and what came from a lot voided meanwhile (its
    visit refunded) into new lots with that lot's dates (`reissued`), since a voided lot never reopens."""

    total: int
    repaid: int
    restored: list[tuple[uuid.UUID, int]]
    reissued: list[tuple[Lot, int]]

    @property
    def to_available(self) -> int:
        return self.total - self.repaid


async def restore_lots(session: AsyncSession, member: MemberAccounts, spend_entry_id: uuid.UUID) -> GiveBack:
    """Gives back the points a spending entry took. Points returned repay an open clawback first, as every
    credit does: taken from the uses of voided lots first (those are the points the refund found spent),
    then from lots soonest to expire. The rest goes back into the lots it came from; a lot that expired
    meanwhile is reopened with its old expiry, so the next expiry run takes it again (a cancellation never
    extends validity); a voided lot is never reopened: what it would get back comes in a new lot with its
    dates. The caller posts `total` (`repaid` to the clawback, `to_available` to available), then calls
    `reissue_lots` with the entry."""
    uses = (await session.scalars(select(LotUse).where(LotUse.entry_id == spend_entry_id))).all()
    lots = {
        lot.id: lot
        for lot in await session.scalars(
            select(Lot).where(Lot.id.in_([u.lot_id for u in uses])).order_by(Lot.id).with_for_update()
        )
    }
    total = sum(u.amount for u in uses)
    owed = -member.clawback.balance
    repay_left = min(total, max(owed, 0))
    now = clock.now()

    def repay_order(use: LotUse) -> tuple[int, int, datetime, uuid.UUID]:
        lot = lots[use.lot_id]
        return (lot.status != LotStatus.VOIDED, lot.expires_at > now, lot.expires_at, lot.id)

    restored: list[tuple[uuid.UUID, int]] = []
    reissued: list[tuple[Lot, int]] = []
    for use in sorted(uses, key=repay_order):
        lot = lots[use.lot_id]
        repay = min(use.amount, repay_left)
        repay_left -= repay
        back = use.amount - repay
        if back == 0:
            continue
        if lot.status == LotStatus.VOIDED:
            reissued.append((lot, back))
            continue
        lot.remaining += back
        if lot.status == LotStatus.EXPIRED:
            lot.status = LotStatus.AVAILABLE
        restored.append((lot.id, back))
    return GiveBack(total=total, repaid=min(total, max(owed, 0)), restored=restored, reissued=reissued)


REISSUE_REF_PREFIX = "redemption:"


def earned_lots() -> Any:
    """SQL condition: the lot holds earned points, not points given back by a cancellation (`reissue_lots`)."""
    return or_(Lot.source_ref.is_(None), ~Lot.source_ref.startswith(REISSUE_REF_PREFIX))


async def reissue_lots(session: AsyncSession, member: MemberAccounts, entry: Entry, give_back: GiveBack) -> None:
    """New available lots for the points `restore_lots` could not put back into voided lots."""
    now = clock.now()
    merged: dict[tuple[datetime, datetime, datetime], int] = {}  # one new lot per set of dates
    for voided, points in give_back.reissued:
        dates = (voided.earned_at, voided.settles_at, voided.expires_at)
        merged[dates] = merged.get(dates, 0) + points
    for (earned_at, settles_at, expires_at), points in merged.items():
        session.add(
            Lot(
                id=new_id(),
                patient_id=member.patient_id,
                source_entry_id=entry.id,
                rule_code=None,  # the points were earned once: they qualify for no tier again
                source_ref=entry.source_ref,  # redemption:<id>: not counted as earned again either
                amount=points,
                remaining=points,
                status=LotStatus.AVAILABLE,
                earned_at=earned_at,
                settles_at=settles_at,
                expires_at=expires_at,
                settled_at=now,
            )
        )
    if give_back.reissued:
        await session.flush()


async def run_at_once(sql: str, params: tuple[Any, ...]) -> Any:
    """Runs one statement outside any explicit transaction, so PostgreSQL commits it when it ends (one round
    trip, and the rows it locks are held only while the server runs it). Returns its first row, or None
    when it failed inside PostgreSQL (a CHECK or NOT NULL guard, a broken deadlock): nothing was written.
    It goes to the driver directly: the statement needs none of SQLAlchemy's transaction handling."""
    async with get_engine().connect() as conn:
        raw = await conn.get_raw_connection()
        try:
            return await raw.driver_connection.fetchrow(sql, *params)  # type: ignore[union-attr]
        except asyncpg.PostgresError:
            return None
        except BaseException as exc:  # the connection may be broken: never hand it out again
            raw.invalidate(exc if isinstance(exc, Exception) else None)
            raise


async def available_balance(session: AsyncSession, patient_id: uuid.UUID) -> int:
    value = await session.scalar(
        select(Account.balance).where(Account.patient_id == patient_id, Account.kind == AccountKind.AVAILABLE)
    )
    return int(value or 0)


async def journal_imbalance(session: AsyncSession) -> int:
    """Number of entries whose lines do not sum to zero (always 0; the tests check it)."""
    unbalanced = select(Line.entry_id).group_by(Line.entry_id).having(func.sum(Line.amount) != 0).subquery()
    return int(await session.scalar(select(func.count()).select_from(unbalanced)) or 0)
