"""Clawbacks meeting cancellations and referrals: points returned by a cancelled redemption repay what a
member owes before anything becomes spendable; a refunded first visit takes both referral bonuses back;
points about to expire are announced once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from campaigns import journeys
from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from core.outbox import OutboxMessage
from loyalty import errors, jobs, referrals, rewards
from loyalty.models import Entry, EntryKind, Lot, LotStatus, Redemption, Referral, ReferralStatus
from tests.factories import as_patient, new_member
from tests.loyalty.invariants import check_member_invariants
from tests.loyalty.support import balances, days, give_points, make_reward, record_visit, stock_of

pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def _redeem(member: uuid.UUID, reward: uuid.UUID, key: str) -> Redemption:
    async with unit_of_work() as session:
        return await rewards.redeem(session, as_patient(member), reward, key)


async def _cancel(member: uuid.UUID, redemption: uuid.UUID) -> Redemption:
    async with unit_of_work() as session:
        return await rewards.cancel(session, as_patient(member), redemption)


async def _settled_visit(member: uuid.UUID, external_id: str, consultation_fen: int) -> None:
    await record_visit(member, external_id, consultation_fen=consultation_fen)
    clock.clock.advance(days(8))
    await jobs.settle_due()


async def test_cancel_after_refund_repays_the_clawback_and_never_reopens_the_voided_lot():
    member = await new_member()
    await _settled_visit(member, "CB-1", 50_000)  # 50 + 50 = 100 available, all from visit CB-1
    reward = await make_reward(cost=80, stock=3)
    redemption = await _redeem(member, reward, "cb-spend-80")
    await record_visit(member, "CB-1", status="refunded")
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -80}  # owes the 80 spent

    cancelled = await _cancel(member, redemption.id)
    assert cancelled.status == "cancelled"
    # The 80 returned repay the debt: nothing becomes spendable (it rose by 80 with the debt kept).
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": 0}
    assert await stock_of(reward) == 3
    async with unit_of_work() as session:
        lots = (await session.scalars(select(Lot).where(Lot.patient_id == member))).all()
        refund = await session.scalar(select(Entry).where(Entry.kind == EntryKind.REDEEM_REFUND))
    assert {(lot.status, lot.remaining) for lot in lots} == {(LotStatus.VOIDED, 0)}
    assert refund is not None and refund.amount == 80 and "80分抵扣欠扣积分" in refund.memo
    with pytest.raises(errors.InsufficientPoints):  # nothing to spend again
        await _redeem(member, reward, "cb-spend-again")
    await check_member_invariants([member])


async def test_cancel_after_the_debt_was_partly_repaid_gives_back_the_rest_in_a_new_lot():
    member = await new_member()
    await _settled_visit(member, "CB-2", 50_000)  # 100 from visit CB-2
    reward = await make_reward(cost=80, stock=None)
    redemption = await _redeem(member, reward, "cb-spend-80b")
    await record_visit(member, "CB-2", status="refunded")  # owes 80
    await _settled_visit(member, "CB-3", 0)  # 50 settle: repay 50 of the debt
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -30}

    await _cancel(member, redemption.id)
    # 30 repay the rest of the debt; the 50 the later visit repaid are the member's again.
    assert await balances(member) == {"pending": 0, "available": 50, "clawback": 0}
    async with unit_of_work() as session:
        lots = (await session.scalars(select(Lot).where(Lot.patient_id == member).order_by(Lot.id))).all()
    voided = [lot for lot in lots if lot.status == LotStatus.VOIDED]
    assert len(voided) == 2 and all(lot.remaining == 0 for lot in voided)
    given_back = [lot for lot in lots if lot.source_ref == f"redemption:{redemption.id}"]
    assert [(g.amount, g.remaining, g.status, g.rule_code) for g in given_back] == [(50, 50, LotStatus.AVAILABLE, None)]
    assert given_back[0].expires_at == voided[0].expires_at  # a refund never extends validity
    await check_member_invariants([member])


async def test_cancel_repays_a_debt_from_another_visit_first():
    member = await new_member()
    await give_points(member, 100)
    reward = await make_reward(cost=60, stock=None)
    redemption = await _redeem(member, reward, "cb-spend-60")  # from the adjustment's lot
    await _settled_visit(member, "CB-4", 0)  # 50 available from visit CB-4 ...
    await _redeem(member, await make_reward(cost=90, stock=None), "cb-spend-90")  # ... and spent
    await record_visit(member, "CB-4", status="refunded")
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -50}
    await _cancel(member, redemption.id)
    assert await balances(member) == {"pending": 0, "available": 10, "clawback": 0}
    await check_member_invariants([member])


async def test_voucher_expiry_after_refund_repays_the_clawback_too():
    member = await new_member()
    await _settled_visit(member, "CB-5", 50_000)
    reward = await make_reward(cost=100, stock=1, valid_days=10)
    await _redeem(member, reward, "cb-spend-100")
    await record_visit(member, "CB-5", status="refunded")
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -100}
    clock.clock.advance(days(11))
    await jobs.expire_due()
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": 0}
    assert await stock_of(reward) == 1
    await check_member_invariants([member])


# --- referrals --------------------------------------------------------------------------------


async def _referred_pair() -> tuple[uuid.UUID, uuid.UUID]:
    referrer, referee = await new_member(), await new_member()
    async with unit_of_work() as session:
        code = await referrals.ensure_code(session, referrer)
    async with unit_of_work() as session:
        assert await referrals.attribute(session, referee, code, device_id=None, registered=True) is not None
    return referrer, referee


async def _referral(referee: uuid.UUID) -> Referral:
    async with unit_of_work() as session:
        referral = await session.scalar(select(Referral).where(Referral.referee_id == referee))
    assert referral is not None
    return referral


async def test_refund_after_the_referral_reward_claws_back_both_bonuses_once():
    referrer, referee = await _referred_pair()
    await _settled_visit(referee, "REF-CB-1", 10_000)  # 50 + 10, settles; then the rewards
    assert (await _referral(referee)).status == ReferralStatus.REWARDED
    assert (await balances(referrer))["available"] == 200
    assert (await balances(referee))["available"] == 60 + 100
    # The referrer spends 150 of the 200 before the refund arrives.
    await _redeem(referrer, await make_reward(cost=150, stock=None), "ref-spend-150")

    await record_visit(referee, "REF-CB-1", status="refunded")
    referral = await _referral(referee)
    assert (referral.status, referral.reject_reason) == (ReferralStatus.REJECTED, "visit_refunded")
    assert await balances(referee) == {"pending": 0, "available": 0, "clawback": 0}
    assert await balances(referrer) == {"pending": 0, "available": 0, "clawback": -150}

    # Replays of the refund, a new settlement run, the same visit again: nothing moves twice.
    assert (await record_visit(referee, "REF-CB-1", status="refunded")).result == "unchanged"
    await jobs.settle_due()
    assert await balances(referrer) == {"pending": 0, "available": 0, "clawback": -150}
    async with unit_of_work() as session:
        reversals = (
            await session.execute(
                select(Entry.patient_id, Entry.amount).where(
                    Entry.kind == EntryKind.REVERSAL, Entry.source_ref == f"referral:{referral.id}"
                )
            )
        ).all()
    assert sorted(a for _, a in reversals) == [-200, -100]
    # A second completed visit of the referee earns its own points but no new referral bonus.
    await _settled_visit(referee, "REF-CB-2", 0)
    assert (await _referral(referee)).status == ReferralStatus.REJECTED
    assert await balances(referrer) == {"pending": 0, "available": 0, "clawback": -150}
    await check_member_invariants([referrer, referee])


async def test_refund_before_the_reward_still_lets_the_next_visit_convert():
    referrer, referee = await _referred_pair()
    await record_visit(referee, "REF-CB-3", consultation_fen=10_000)
    await record_visit(referee, "REF-CB-3", status="refunded")
    assert (await _referral(referee)).status == ReferralStatus.ATTRIBUTED
    await _settled_visit(referee, "REF-CB-4", 0)
    assert (await _referral(referee)).status == ReferralStatus.REWARDED
    assert (await balances(referrer))["available"] == 200
    await check_member_invariants([referrer, referee])


# --- expiry notices ---------------------------------------------------------------------------


async def test_points_about_to_expire_are_announced_once():
    assert "points_expiring" not in journeys.JOURNEYS  # loyalty's nightly expiry run is the one notice
    member = await new_member()
    await give_points(member, 100)
    clock.clock.advance(days(340))  # within the notice window
    await jobs.expire_due()
    await journeys.run_all()
    await jobs.expire_due()
    await journeys.run_all()
    async with unit_of_work() as session:
        notices = (await session.scalars(select(OutboxMessage))).all()
        occasions = await session.scalar(
            select(func.count())
            .select_from(journeys.JourneyOccasion)
            .where(journeys.JourneyOccasion.patient_id == member)
        )
    assert len(notices) == 1 and "100积分" in notices[0].payload["body"]
    assert occasions == 0


async def test_cancelling_twice_is_refused_and_moves_nothing():
    member = await new_member()
    await give_points(member, 100)
    reward = await make_reward(cost=40, stock=2)
    redemption = await _redeem(member, reward, "cb-twice-40")
    await _cancel(member, redemption.id)
    with pytest.raises(DomainError):
        await _cancel(member, redemption.id)
    assert await balances(member) == {"pending": 0, "available": 100, "clawback": 0}
    assert await stock_of(reward) == 2
    await check_member_invariants([member])
