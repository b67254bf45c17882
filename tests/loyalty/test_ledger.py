"""The points ledger: earning rules and caps, settlement, refunds and clawback, expiry, adjustments."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import Actor, ActorKind, Role
from core.outbox import OutboxMessage
from loyalty import earning, errors, jobs, service
from loyalty.models import Entry, Lot, LotStatus
from tests.factories import as_patient, new_member
from tests.loyalty.support import award, balances, days, give_points, record_visit

pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def test_visit_points_are_pending_then_settle():
    member = await new_member()
    await record_visit(member, "HIS-1", consultation_fen=25_000, drug_fen=80_000, insured_fen=50_000)
    # 50 for the visit; spend: only the self-paid consultation (¥250 -> 25 points); drug and insured earn nothing.
    assert await balances(member) == {"pending": 75, "available": 0, "clawback": 0}
    assert await jobs.settle_due() == 0  # cooling-off not over
    clock.clock.advance(days(7) + timedelta(seconds=1))
    assert await jobs.settle_due() == 2
    assert await balances(member) == {"pending": 0, "available": 75, "clawback": 0}
    assert await jobs.settle_due() == 0  # a second run changes nothing
    assert await balances(member) == {"pending": 0, "available": 75, "clawback": 0}


async def test_settlement_interrupted_midway_then_rerun_gives_exact_totals(monkeypatch):
    members = [await new_member() for _ in range(6)]
    for i, m in enumerate(members):
        await record_visit(m, f"HIS-B{i}", consultation_fen=10_000)  # 50 + 10 points each, two lots
    clock.clock.advance(days(8))
    original = jobs._settle_locked
    calls = {"n": 0}

    async def fail_on_second_batch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            await original(*args, **kwargs)  # half written ...
            raise RuntimeError("worker killed")  # ... then the process dies
        return await original(*args, **kwargs)

    monkeypatch.setattr(jobs, "_settle_locked", fail_on_second_batch)
    with pytest.raises(RuntimeError):
        await jobs.settle_due(batch_size=4, walkers=1)
    monkeypatch.setattr(jobs, "_settle_locked", original)
    async with unit_of_work() as session:
        settled = await session.scalar(select(func.count()).select_from(Lot).where(Lot.status == LotStatus.AVAILABLE))
    assert settled == 4  # the first batch committed, the failed one rolled back whole
    await jobs.settle_due(batch_size=4)
    await jobs.settle_due(batch_size=4)
    for m in members:
        assert await balances(m) == {"pending": 0, "available": 60, "clawback": 0}


async def test_refund_before_settlement_voids_pending_points():
    member = await new_member()
    await record_visit(member, "HIS-R1", consultation_fen=30_000)
    outcome = await record_visit(member, "HIS-R1", status="refunded")
    assert outcome.result == "refunded"
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": 0}
    again = await record_visit(member, "HIS-R1", status="refunded")
    assert again.result == "unchanged"
    clock.clock.advance(days(8))
    assert await jobs.settle_due() == 0


async def test_refund_after_settlement_reverses_and_spent_points_become_clawback():
    member = await new_member()
    await record_visit(member, "HIS-C1", consultation_fen=50_000)  # 50 + 50 = 100
    clock.clock.advance(days(8))
    await jobs.settle_due()
    from tests.loyalty.support import make_reward

    reward = await make_reward(cost=80, stock=None)
    from loyalty import rewards

    async with unit_of_work() as session:
        await rewards.redeem(session, as_patient(member), reward, "spend-80-points")
    assert await balances(member) == {"pending": 0, "available": 20, "clawback": 0}
    await record_visit(member, "HIS-C1", status="refunded")
    # 100 to take back: 20 left in the lot, 80 already spent -> clawback.
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -80}

    # Later earnings repay the debt first: a visit of 50 + 20 points settles into the clawback.
    await record_visit(member, "HIS-C2", consultation_fen=20_000)
    clock.clock.advance(days(8))
    await jobs.settle_due()
    assert await balances(member) == {"pending": 0, "available": 0, "clawback": -10}
    admin = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    owed = await service.adjust_at_once(admin, member, amount=25, reason="补发积分", idempotency_key="owed-key-0001")
    assert owed is None  # points owed: the locked path repays them first
    await give_points(member, 25)  # immediate credits repay too
    assert await balances(member) == {"pending": 0, "available": 15, "clawback": 0}


async def test_fifo_expiry_across_lots_and_notice():
    member = await new_member()
    start = datetime(2026, 1, 10, 2, 0, tzinfo=UTC)
    clock.clock.freeze(start)
    await give_points(member, 100)  # lot A expires 2027-01-10
    clock.clock.freeze(start + days(60))
    await give_points(member, 50)  # lot B expires 2027-03-11
    from loyalty import rewards
    from tests.loyalty.support import make_reward

    reward = await make_reward(cost=30, stock=None)
    async with unit_of_work() as session:
        await rewards.redeem(session, as_patient(member), reward, "fifo-spend-1")
    async with unit_of_work() as session:
        lots = (await session.scalars(select(Lot).where(Lot.patient_id == member).order_by(Lot.expires_at))).all()
    assert [lot.remaining for lot in lots] == [70, 50]  # spent from the lot that expires first

    clock.clock.freeze(datetime(2026, 12, 20, 2, 0, tzinfo=UTC))  # within 30 days of lot A's expiry
    await jobs.expire_due()
    async with unit_of_work() as session:
        notices = (await session.scalars(select(OutboxMessage))).all()
    assert len(notices) == 1 and "70积分" in notices[0].payload["body"]
    await jobs.expire_due()
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 1  # no second notice

    clock.clock.freeze(datetime(2027, 1, 11, tzinfo=UTC))
    assert await jobs.expire_due() == 1
    assert await balances(member) == {"pending": 0, "available": 50, "clawback": 0}
    assert await jobs.expire_due() == 0
    clock.clock.freeze(datetime(2027, 3, 12, tzinfo=UTC))
    await jobs.expire_due()
    assert (await balances(member))["available"] == 0


async def test_daily_and_monthly_caps():
    member = await new_member()
    clock.clock.freeze(datetime(2026, 5, 3, 1, 0, tzinfo=UTC))  # 09:00 in Shanghai
    results = [await award(member, "article_read", f"article:{i}", f"read:{member}:{i}") for i in range(7)]
    assert [r.points for r in results] == [2, 2, 2, 2, 2, 0, 0]  # daily cap 10
    assert results[5].capped
    clock.clock.freeze(datetime(2026, 5, 3, 16, 30, tzinfo=UTC))  # 00:30 next day in Shanghai: a new day
    assert (await award(member, "article_read", "article:x", f"read:{member}:x")).points == 2
    for day in range(4, 31):
        clock.clock.freeze(datetime(2026, 5, day, 16, 30, tzinfo=UTC))
        for i in range(5):
            await award(member, "article_read", f"a:{day}:{i}", f"r:{member}:{day}:{i}")
    async with unit_of_work() as session:
        may = await session.scalar(
            select(func.sum(Lot.amount)).where(
                Lot.patient_id == member,
                Lot.rule_code == "article_read",
                Lot.earned_at < datetime(2026, 5, 31, 16, 0, tzinfo=UTC),
            )
        )
    assert may == 200  # monthly cap
    clock.clock.freeze(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))
    assert (await award(member, "article_read", "june", f"read:{member}:june")).points == 2


async def test_award_is_idempotent_and_conflicting_reuse_is_refused():
    member = await new_member()
    first = await award(member, "event_attendance", "event:1", "attend:event:1")
    again = await award(member, "event_attendance", "event:1", "attend:event:1")
    assert (first.points, again.points, again.replayed) == (30, 30, True)
    assert (await balances(member))["available"] == 30
    with pytest.raises(errors.IdempotencyConflict):
        await award(member, "event_attendance", "event:2", "attend:event:1")


async def test_concurrent_awards_respect_the_cap():
    import asyncio

    member = await new_member()
    results = await asyncio.gather(*[award(member, "article_read", f"c:{i}", f"c:{member}:{i}") for i in range(20)])
    assert sum(r.points for r in results) == 10


async def test_spend_rule_never_rewards_clinical_items():
    rule_items = [
        {"category": "drug", "self_paid_fen": 100_000},
        {"category": "exam", "self_paid_fen": 50_000},
        {"category": "consultation", "self_paid_fen": 9_999},
    ]
    async with unit_of_work() as session:
        rule = await session.get(earning.EarningRule, "visit_spend")
        rule.excluded_categories = []  # even when an admin clears the list
        assert earning.spend_points(rule, rule_items) == 9


async def test_patient_may_not_adjust_or_read_another_patients_history():
    alice, bob = await new_member(), await new_member()
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await service.adjust(
                session, as_patient(alice), alice, amount=100, reason="自己加分", idempotency_key="x" * 10
            )
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await service.history(session, as_patient(alice), bob, first=10, after=None)
        page = await service.history(session, as_patient(alice), alice, first=10, after=None)
    assert page.items == []


async def test_adjustment_requires_reason_and_cannot_overdraw():
    member = await new_member()
    await give_points(member, 40)
    import uuid

    from core.identity import Actor, ActorKind, Role

    admin = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    async with unit_of_work() as session:
        with pytest.raises(errors.InsufficientPoints):
            await service.adjust(session, admin, member, amount=-41, reason="纠错扣减", idempotency_key="debit-41-x")
    async with unit_of_work() as session:
        entry = await service.adjust(
            session, admin, member, amount=-40, reason="纠错扣减", idempotency_key="debit-40-x"
        )
    assert entry.actor_id == admin.id and "纠错扣减" in entry.memo
    assert (await balances(member))["available"] == 0
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Entry).where(Entry.kind == "adjust")) == 2


async def test_adjust_at_once_credits_in_one_statement_and_leaves_the_rest_to_the_locked_path():
    admin = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    member = await new_member()
    once = service.adjust_at_once
    assert (
        await once(admin, member, amount=30, reason="活动补发", idempotency_key="once-key-0000") is None
    )  # no accounts
    await give_points(member, 40)
    entry = await once(admin, member, amount=30, reason="活动补发", idempotency_key="once-key-0001")
    assert (
        entry is not None and entry.amount == 30 and entry.actor_id == admin.id and entry.memo == "人工调整：活动补发"
    )
    assert await balances(member) == {"pending": 0, "available": 70, "clawback": 0}
    # A repeated key, a debit and a patient all go to the locked path, which answers as `adjust` does.
    assert await once(admin, member, amount=30, reason="活动补发", idempotency_key="once-key-0001") is None
    assert await once(admin, member, amount=-30, reason="活动补发", idempotency_key="once-key-0002") is None
    assert await once(as_patient(member), member, amount=30, reason="活动补发", idempotency_key="once-key-0003") is None
    async with unit_of_work() as session:
        again = await service.adjust(
            session, admin, member, amount=30, reason="活动补发", idempotency_key="once-key-0001"
        )
        assert again.id == entry.id
        with pytest.raises(errors.IdempotencyConflict):
            await service.adjust(session, admin, member, amount=31, reason="活动补发", idempotency_key="once-key-0001")
    assert await balances(member) == {"pending": 0, "available": 70, "clawback": 0}
    async with unit_of_work() as session:
        lot = await session.scalar(select(Lot).where(Lot.source_entry_id == entry.id))
        assert lot is not None and (lot.remaining, lot.status, lot.rule_code) == (30, LotStatus.AVAILABLE, None)
