"""Every invariant of the points ledger, for a few members (and the journal as a whole): what the
scenario and property tests of tests/loyalty check after each step."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select

from core.db import unit_of_work
from loyalty import ledger
from loyalty.models import (
    Account,
    AccountKind,
    Entry,
    EntryKind,
    Line,
    Lot,
    LotStatus,
    LotUse,
    Redemption,
    RedemptionStatus,
    Reward,
)

COUNTS_AGAINST_STOCK = (RedemptionStatus.ISSUED, RedemptionStatus.FULFILLED)


async def check_member_invariants(
    members: Sequence[uuid.UUID], *, stock: dict[uuid.UUID, int | None] | None = None
) -> None:
    """Raises AssertionError naming the first broken invariant.

    - the journal balances (every entry's lines sum to zero);
    - per member: pending >= 0, available >= 0, clawback <= 0, and each materialised balance equals the
      sum of the lines posted to that account;
    - available == the remainders of the member's spendable (available) lots; pending == the remainders
      of their pending lots, each pending lot whole; voided and expired lots hold nothing; no lot holds
      more than it was issued with;
    - debt: a member who owes points (clawback < 0) has nothing spendable, since every credit repays first;
    - redemptions: each took exactly its points from lots, and each cancelled or expired one gave them
      back exactly once;
    - stock (`stock`: reward id -> stock at creation, None for unlimited): never negative, and equal to
      the initial stock less the vouchers issued or fulfilled (cancelled and expired ones returned it).
    """
    ids = list(members)
    async with unit_of_work() as session:
        assert await ledger.journal_imbalance(session) == 0, "an entry's lines do not sum to zero"

        accounts = {
            (a.patient_id, AccountKind(a.kind)): a
            for a in await session.scalars(select(Account).where(Account.patient_id.in_(ids)))
        }
        line_sums = dict(
            (
                await session.execute(
                    select(Line.account_id, func.sum(Line.amount))
                    .where(Line.account_id.in_([a.id for a in accounts.values()]))
                    .group_by(Line.account_id)
                )
            ).all()
        )
        lots = (await session.scalars(select(Lot).where(Lot.patient_id.in_(ids)))).all()
        redemptions = (await session.scalars(select(Redemption).where(Redemption.patient_id.in_(ids)))).all()
        spent = dict(
            (
                await session.execute(
                    select(LotUse.entry_id, func.sum(LotUse.amount))
                    .where(LotUse.entry_id.in_([r.entry_id for r in redemptions]))
                    .group_by(LotUse.entry_id)
                )
            ).all()
        )
        refunds: dict[str | None, list[int]] = defaultdict(list)
        for source_ref, amount in await session.execute(
            select(Entry.source_ref, Entry.amount).where(
                Entry.patient_id.in_(ids), Entry.kind == EntryKind.REDEEM_REFUND
            )
        ):
            refunds[source_ref].append(int(amount))
        stocks = (
            dict((await session.execute(select(Reward.id, Reward.stock).where(Reward.id.in_(list(stock))))).all())
            if stock
            else {}
        )
        taken: dict[uuid.UUID, int] = defaultdict(int)
        if stock:
            for reward_id, n in await session.execute(
                select(Redemption.reward_id, func.count())
                .where(Redemption.reward_id.in_(list(stock)), Redemption.status.in_(COUNTS_AGAINST_STOCK))
                .group_by(Redemption.reward_id)
            ):
                taken[reward_id] = int(n)

    by_member: dict[uuid.UUID, list[Lot]] = defaultdict(list)
    for lot in lots:
        by_member[lot.patient_id].append(lot)
        assert 0 <= lot.remaining <= lot.amount, ("lot remaining out of range", lot.id, lot.remaining, lot.amount)
        if lot.status in (LotStatus.VOIDED, LotStatus.EXPIRED):
            assert lot.remaining == 0, ("a closed lot holds points", lot.id, lot.status, lot.remaining)
        if lot.status == LotStatus.PENDING:
            assert lot.remaining == lot.amount, ("a pending lot was spent", lot.id)

    for member in ids:
        kinds = {
            k: accounts.get((member, k)) for k in (AccountKind.PENDING, AccountKind.AVAILABLE, AccountKind.CLAWBACK)
        }
        if all(a is None for a in kinds.values()):
            assert not by_member[member], ("lots without accounts", member)
            continue
        balance = {k: a.balance if a is not None else 0 for k, a in kinds.items()}
        for kind, account in kinds.items():
            assert account is not None, ("missing account", member, kind)
            assert account.balance == int(line_sums.get(account.id, 0) or 0), (
                "materialised balance differs from its lines",
                member,
                kind,
                account.balance,
                line_sums.get(account.id),
            )
        assert balance[AccountKind.PENDING] >= 0, ("negative pending", member, balance)
        assert balance[AccountKind.AVAILABLE] >= 0, ("negative available", member, balance)
        assert balance[AccountKind.CLAWBACK] <= 0, ("positive clawback", member, balance)
        spendable = sum(lot.remaining for lot in by_member[member] if lot.status == LotStatus.AVAILABLE)
        pending = sum(lot.remaining for lot in by_member[member] if lot.status == LotStatus.PENDING)
        assert balance[AccountKind.AVAILABLE] == spendable, ("available != spendable lots", member, balance, spendable)
        assert balance[AccountKind.PENDING] == pending, ("pending != pending lots", member, balance, pending)
        assert not (balance[AccountKind.CLAWBACK] < 0 and balance[AccountKind.AVAILABLE] > 0), (
            "spendable points while owing points",
            member,
            balance,
        )

    for r in redemptions:
        assert int(spent.get(r.entry_id, 0) or 0) == r.points, ("redemption not taken from lots", r.id)
        given_back = refunds.get(f"redemption:{r.id}", [])
        if r.status in (RedemptionStatus.CANCELLED, RedemptionStatus.EXPIRED):
            assert given_back == [r.points], ("cancelled redemption not given back once", r.id, given_back)
        else:
            assert given_back == [], ("open redemption given back", r.id, given_back)

    for reward_id, initial in (stock or {}).items():
        current = stocks.get(reward_id)
        if initial is None:
            assert current is None
            continue
        assert current is not None and current >= 0, ("negative stock", reward_id, current)
        assert current == initial - taken[reward_id], ("stock drifted", reward_id, initial, current, taken[reward_id])
