"""Rewards and redemptions under concurrency: no oversell, no double spend, idempotent retries."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select

from core import clock
from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import Actor, ActorKind, Role
from loyalty import errors, jobs, rewards
from loyalty.models import LotUse, Redemption, RedemptionStatus
from tests.factories import as_patient, new_member
from tests.loyalty.support import balances, days, give_points, make_reward, site_id, stock_of

CLINIC = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.CLINIC_STAFF}))


pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def _redeem(member: uuid.UUID, reward: uuid.UUID, key: str) -> Redemption | DomainError:
    try:
        async with unit_of_work() as session:
            return await rewards.redeem(session, as_patient(member), reward, key)
    except DomainError as exc:
        return exc


Redeem = Callable[[uuid.UUID, uuid.UUID, str], Awaitable[Redemption | DomainError]]


async def _redeem_at_once(member: uuid.UUID, reward: uuid.UUID, key: str) -> Redemption | DomainError:
    """As the rewardRedeem mutation does it: one statement, else the locked path decides."""
    done = await rewards.redeem_at_once(as_patient(member), reward, key)
    return done if done is not None else await _redeem(member, reward, key)


@pytest.fixture(params=["locked", "at_once"])
def redeem(request: pytest.FixtureRequest) -> Redeem:
    return _redeem if request.param == "locked" else _redeem_at_once


async def test_fifty_members_race_for_five_items(redeem: Redeem) -> None:
    reward = await make_reward(cost=100, stock=5)
    members = [await new_member() for _ in range(50)]
    for m in members:
        await give_points(m, 150)
    results = await asyncio.gather(*[redeem(m, reward, f"race-{m}") for m in members])
    won = [r for r in results if isinstance(r, Redemption)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 5 and all(isinstance(e, errors.OutOfStock) for e in lost)
    assert await stock_of(reward) == 0
    winners = {r.patient_id for r in won}
    for m in members:
        assert (await balances(m))["available"] == (50 if m in winners else 150)


async def test_one_member_fifty_concurrent_redemptions_affords_three(redeem: Redeem) -> None:
    reward = await make_reward(cost=100, stock=None)
    member = await new_member()
    await give_points(member, 350)
    results = await asyncio.gather(*[redeem(member, reward, f"burst-{i:04d}") for i in range(50)])
    won = [r for r in results if isinstance(r, Redemption)]
    assert len(won) == 3
    assert all(isinstance(r, errors.InsufficientPoints) for r in results if not isinstance(r, Redemption))
    assert (await balances(member))["available"] == 50


async def test_replay_returns_the_same_redemption_and_other_body_conflicts(redeem: Redeem) -> None:
    reward, other = await make_reward(cost=10), await make_reward(cost=10)
    member = await new_member()
    await give_points(member, 100)
    first = await redeem(member, reward, "client-key-0001")
    replay = await redeem(member, reward, "client-key-0001")
    assert isinstance(first, Redemption) and isinstance(replay, Redemption)
    assert replay.id == first.id and replay.voucher_code == first.voucher_code
    assert (await balances(member))["available"] == 90 and await stock_of(reward) == 4
    conflict = await redeem(member, other, "client-key-0001")
    assert isinstance(conflict, errors.IdempotencyConflict) and conflict.code == "IDEMPOTENCY_KEY_REUSED"
    concurrent = await asyncio.gather(*[redeem(member, reward, "client-key-0002") for _ in range(10)])
    assert len({r.id for r in concurrent if isinstance(r, Redemption)}) == 1
    assert (await balances(member))["available"] == 80


async def test_rules_tier_limit_and_validity(redeem: Redeem) -> None:
    member = await new_member()
    await give_points(member, 1000)
    gold_only = await make_reward(cost=10, tier_required="gold")
    assert isinstance(await redeem(member, gold_only, "tier-key-0001"), errors.TierTooLow)
    limited = await make_reward(cost=10, per_member_limit=1)
    assert isinstance(await redeem(member, limited, "limit-key-001"), Redemption)
    assert isinstance(await redeem(member, limited, "limit-key-002"), errors.MemberLimitReached)
    assert isinstance(await redeem(member, uuid.uuid4(), "missing-key-1"), errors.RewardNotFound)
    staff = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await rewards.redeem(session, staff, limited, "staff-key-001")


async def test_redeem_at_once_spends_oldest_lots_and_leaves_the_rest_to_the_locked_path():
    member = await new_member()
    await give_points(member, 60)
    await give_points(member, 70)
    plain, limited = await make_reward(cost=100, stock=2), await make_reward(cost=10, per_member_limit=1)
    done = await rewards.redeem_at_once(as_patient(member), plain, "fast-key-0001")
    assert done is not None and done.points == 100 and done.status == RedemptionStatus.ISSUED
    assert (await balances(member))["available"] == 30 and await stock_of(plain) == 1
    async with unit_of_work() as session:
        uses = (
            await session.execute(select(func.count(), func.sum(LotUse.amount)).where(LotUse.entry_id == done.entry_id))
        ).one()
        assert tuple(uses) == (2, 100)  # 60 from the older lot, 40 from the newer
    # A repeated key, a reward with a limit and a balance too small all go to the locked path.
    assert await rewards.redeem_at_once(as_patient(member), plain, "fast-key-0001") is None
    assert await rewards.redeem_at_once(as_patient(member), limited, "fast-key-0002") is None
    assert await rewards.redeem_at_once(as_patient(member), plain, "fast-key-0003") is None
    replay = await _redeem(member, plain, "fast-key-0001")
    assert isinstance(replay, Redemption) and replay.id == done.id
    assert (await balances(member))["available"] == 30 and await stock_of(plain) == 1


async def test_voucher_code_alphabet_has_no_lookalikes():
    codes = {rewards.new_voucher_code() for _ in range(500)}
    assert len(codes) == 500
    assert not any(c in code for code in codes for c in "01OI")


async def test_fulfil_cancel_and_expiry_refund():
    reward = await make_reward(cost=40, stock=3, valid_days=30)
    member, stranger = await new_member(), await new_member()
    await give_points(member, 200)
    a, b, c = [await _redeem(member, reward, f"life-key-{i:03d}") for i in range(3)]
    assert all(isinstance(x, Redemption) for x in (a, b, c))
    site = await site_id()
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await rewards.fulfil(session, as_patient(member), a.voucher_code, site)
    async with unit_of_work() as session:
        done = await rewards.fulfil(session, CLINIC, a.voucher_code.lower(), site)
    assert done.status == RedemptionStatus.FULFILLED
    async with unit_of_work() as session:
        with pytest.raises(errors.RedemptionClosed):
            await rewards.fulfil(session, CLINIC, a.voucher_code, site)
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await rewards.cancel(session, as_patient(stranger), b.id)
    async with unit_of_work() as session:
        cancelled = await rewards.cancel(session, as_patient(member), b.id)
    assert cancelled.status == RedemptionStatus.CANCELLED
    assert (await balances(member))["available"] == 200 - 120 + 40 and await stock_of(reward) == 1
    clock.clock.advance(days(31))
    await jobs.expire_due()
    async with unit_of_work() as session:
        expired = await session.get(Redemption, c.id)
        assert expired is not None and expired.status == RedemptionStatus.EXPIRED
        assert (
            await session.scalar(
                select(func.count()).select_from(Redemption).where(Redemption.status == RedemptionStatus.ISSUED)
            )
            == 0
        )
    assert (await balances(member))["available"] == 160 and await stock_of(reward) == 2
