"""Taking points back: a refunded visit's points, and the referral bonuses its referral paid out.

Refund policy (README): pending points are voided; settled points are reversed, first from their own
lot, then from other lots oldest-expiry first; whatever the member already spent becomes a clawback
that later earnings (and cancelled redemptions) repay before anything else.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import ledger, tiers
from loyalty.models import AccountKind, EntryKind, Lot, LotStatus


async def reverse_source(session: AsyncSession, patient_id: uuid.UUID, source_ref: str, *, reason: str) -> int:
    """Takes back every lot of `patient_id` earned for `source_ref`; returns the points reversed by this
    call. Pending points are voided; settled points are reversed, first from that lot, then from other
    lots oldest-expiry first; whatever the member already spent becomes a clawback. Idempotent: one
    entry per lot (key `refund:<lot>`), and a voided lot is skipped; an expired lot is left alone."""
    member = await ledger.lock_member(session, patient_id)
    lots = (
        await session.scalars(
            select(Lot)
            .where(Lot.patient_id == patient_id, Lot.source_ref == source_ref)
            .order_by(Lot.id)
            .with_for_update()
        )
    ).all()
    issued = ledger.system_account(AccountKind.ISSUED)
    reversed_points = 0
    for lot in lots:
        key = f"refund:{lot.id}"
        if lot.status == LotStatus.PENDING:
            lines = [(member.pending.id, -lot.amount), (issued, lot.amount)]
            kind, memo = EntryKind.VOID, f"{reason}，待入账积分作废"
        elif lot.status == LotStatus.AVAILABLE:
            own = lot.remaining
            lot.remaining = 0
            await session.flush()
            uses = await ledger.spend_lots(session, patient_id, lot.amount - own)
            others = sum(n for _, n in uses)
            shortfall = lot.amount - own - others
            lines = [(member.available.id, -(own + others)), (member.clawback.id, -shortfall), (issued, lot.amount)]
            lot.status = LotStatus.VOIDED
            memo = f"{reason}，已入账积分冲回" + (f"（欠扣{shortfall}分）" if shortfall else "")
            await ledger.post(
                session,
                ledger.Posting(
                    key=key,
                    digest="",
                    kind=EntryKind.REVERSAL,
                    patient_id=patient_id,
                    amount=-lot.amount,
                    memo=memo,
                    lines=lines,
                    rule_code=lot.rule_code,
                    source_ref=source_ref,
                ),
                member,
                lot_uses=uses,
            )
            reversed_points += lot.amount
            continue
        else:
            continue  # already voided, or expired long ago: nothing left to take back
        lot.status = LotStatus.VOIDED
        lot.remaining = 0
        await ledger.post(
            session,
            ledger.Posting(
                key=key,
                digest="",
                kind=kind,
                patient_id=patient_id,
                amount=-lot.amount,
                memo=memo,
                lines=lines,
                rule_code=lot.rule_code,
                source_ref=source_ref,
            ),
            member,
        )
        reversed_points += lot.amount
    await tiers.evaluate(session, patient_id, reason="refund")
    return reversed_points
