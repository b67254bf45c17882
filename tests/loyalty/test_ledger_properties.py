"""Property test of the points ledger: random sequences of visits (pending points), refunds, settlement,
the clock moving (expiry), redemptions (both paths, with replayed keys), cancellations, fulfilment and
admin adjustments, for a few members one of whom referred another; after every step every invariant of
tests/loyalty/invariants.py holds.

Each example creates its own members and rewards (no truncation between examples) and checks them; the
journal is checked as a whole. Examples are bounded (MAX_EXAMPLES of 8 to MAX_STEPS steps, ~20 s here) and
the same on every run; to explore new ones: LEDGER_PROPERTY_RANDOM=1 LEDGER_PROPERTY_EXAMPLES=300
(then --hypothesis-show-statistics shows what the examples reached, e.g. how many ended owing points)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, event, example, given, settings, target
from hypothesis import strategies as st
from sqlalchemy import func, select

from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Actor, ActorKind, Role
from loyalty import jobs, ledger, referrals, rewards, service
from loyalty.models import Account, AccountKind, Redemption
from tests.factories import as_patient, new_member
from tests.loyalty.invariants import check_member_invariants
from tests.loyalty.support import days, make_reward, record_visit, site_id

MAX_EXAMPLES = int(os.environ.get("LEDGER_PROPERTY_EXAMPLES", "20"))
MIN_STEPS, MAX_STEPS = 8, 20
MEMBERS = 3  # member 0 referred member 1
REWARDS = ((30, 2), (70, None), (120, 1))  # (cost, stock)

ADMIN = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
CLINIC = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.CLINIC_STAFF}))

member_index = st.sampled_from([0, 0, 1, 1, 2])  # the third member mostly watches
pick = st.integers(0, 7)  # which visit or redemption, modulo how many there are
OPERATIONS = {
    # a visit, and whether its cooling-off then ends (the clock moves 8 days and settlement runs)
    "visit": st.tuples(
        st.just("visit"), member_index, st.sampled_from([0, 10_000, 30_000, 120_000]), st.sampled_from([True, False])
    ),
    "settle": st.tuples(st.just("settle"), st.sampled_from([8, 8, 0])),  # days the clock moves first
    "redeem": st.tuples(
        st.just("redeem"), member_index, st.integers(0, len(REWARDS) - 1), st.integers(0, 5), st.booleans()
    ),
    "refund": st.tuples(st.just("refund"), pick),
    "cancel": st.tuples(st.just("cancel"), pick),
    "fulfil": st.tuples(st.just("fulfil"), pick),
    "adjust": st.tuples(st.just("adjust"), member_index, st.sampled_from([-90, -25, 15, 60, 150]), st.integers(0, 5)),
    "advance": st.tuples(st.just("advance"), st.sampled_from([1, 40, 200, 370])),
    "expire": st.tuples(st.just("expire")),
}
# Weighted towards what builds up balances, spends them and takes them back (refunds, clawbacks).
WEIGHTS = {"visit": 4, "settle": 3, "redeem": 4, "refund": 2, "cancel": 2, "fulfil": 1, "adjust": 1, "advance": 1}
operation = st.sampled_from([k for k in OPERATIONS for _ in range(WEIGHTS.get(k, 1))]).flatmap(OPERATIONS.__getitem__)


@dataclass
class World:
    members: list[uuid.UUID]
    rewards: dict[uuid.UUID, int | None]
    site: uuid.UUID
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    visits: list[tuple[uuid.UUID, str]] = field(default_factory=list)
    redemptions: list[Redemption] = field(default_factory=list)


async def _world() -> World:
    members = [await new_member() for _ in range(MEMBERS)]
    async with unit_of_work() as session:
        code = await referrals.ensure_code(session, members[0])
    async with unit_of_work() as session:
        await referrals.attribute(session, members[1], code, device_id=None, registered=True)
    stock = {await make_reward(cost=cost, stock=s): s for cost, s in REWARDS}
    return World(members=members, rewards=stock, site=await site_id())


async def ledger_available(member: uuid.UUID) -> int:
    async with unit_of_work() as session:
        return await ledger.available_balance(session, member)


async def _apply(world: World, op: tuple[object, ...]) -> None:
    name = op[0]
    if name == "visit":
        member, fen = world.members[op[1]], op[2]  # type: ignore[index]
        external_id = f"P-{world.run}-{len(world.visits)}"
        await record_visit(member, external_id, consultation_fen=fen)  # type: ignore[arg-type]
        world.visits.append((member, external_id))
        if op[3]:
            clock.clock.advance(days(8))
            await jobs.settle_due()
    elif name == "refund":
        if world.visits:
            member, external_id = world.visits[op[1] % len(world.visits)]  # type: ignore[operator]
            await record_visit(member, external_id, status="refunded")
    elif name == "settle":
        clock.clock.advance(days(op[1]))  # type: ignore[arg-type]
        await jobs.settle_due()
    elif name == "advance":
        clock.clock.advance(days(op[1]))  # type: ignore[arg-type]
    elif name == "expire":
        await jobs.expire_due()
    elif name == "redeem":
        member = world.members[op[1]]  # type: ignore[index]
        # The reward asked for, or the dearest one the member can afford (most attempts then spend).
        available = await ledger_available(member)
        costs = [cost for cost, _ in REWARDS]
        wanted = (
            op[2]
            if costs[op[2]] <= available
            else max(  # type: ignore[index]
                (i for i, cost in enumerate(costs) if cost <= available), default=op[2], key=costs.__getitem__
            )
        )
        reward = list(world.rewards)[wanted]  # type: ignore[index]
        key = f"{world.run}-key-{op[3]}"  # few keys: some redemptions are replays (or conflicts)
        done = await rewards.redeem_at_once(as_patient(member), reward, key) if op[4] else None
        if done is None:
            async with unit_of_work() as session:
                done = await rewards.redeem(session, as_patient(member), reward, key)
        if all(r.id != done.id for r in world.redemptions):
            world.redemptions.append(done)
    elif name == "cancel":
        if world.redemptions:
            redemption = world.redemptions[op[1] % len(world.redemptions)]  # type: ignore[operator]
            async with unit_of_work() as session:
                await rewards.cancel(session, as_patient(redemption.patient_id), redemption.id)
    elif name == "fulfil":
        if world.redemptions:
            redemption = world.redemptions[op[1] % len(world.redemptions)]  # type: ignore[operator]
            async with unit_of_work() as session:
                await rewards.fulfil(session, CLINIC, redemption.voucher_code, world.site)
    elif name == "adjust":
        member, amount = world.members[op[1]], op[2]  # type: ignore[index]
        key = f"{world.run}-adj-{op[3]}-{amount}"  # few keys: some adjustments are replays
        reason = "随机调整"
        if op[3] % 2 == 0 and await service.adjust_at_once(  # type: ignore[operator]
            ADMIN,
            member,
            amount=amount,  # type: ignore[arg-type]
            reason=reason,
            idempotency_key=key,
        ):
            return  # credited in one statement (the mutation's fast path)
        async with unit_of_work() as session:
            await service.adjust(
                session,
                ADMIN,
                member,
                amount=amount,  # type: ignore[arg-type]
                reason=reason,
                idempotency_key=key,
            )
    else:  # pragma: no cover
        raise AssertionError(op)


@pytest.mark.usefixtures("ledger_invariants")
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    # The same examples on every run and machine (a CI failure reproduces locally); set
    # LEDGER_PROPERTY_RANDOM=1 (and LEDGER_PROPERTY_EXAMPLES) to explore new ones.
    derandomize=not os.environ.get("LEDGER_PROPERTY_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=st.lists(operation, min_size=MIN_STEPS, max_size=MAX_STEPS))
# The stories the random examples reach only now and then, always run (issue 13.4):
# spent points of a refunded visit cancelled back (the debt is repaid, the voided lot stays closed);
@example(ops=[("visit", 0, 30_000, True), ("redeem", 0, 1, 0, False), ("refund", 0), ("cancel", 0)])
# the debt partly repaid by a later visit before the cancellation (the rest comes back in a new lot);
@example(
    ops=[
        ("visit", 0, 30_000, True),
        ("redeem", 0, 1, 0, True),
        ("refund", 0),
        ("visit", 0, 0, True),
        ("cancel", 0),
        ("redeem", 0, 0, 1, False),
        ("advance", 370),
        ("expire",),
    ]
)
# the referee's first visit refunded after both referral bonuses were paid (and partly spent);
@example(ops=[("visit", 1, 10_000, True), ("redeem", 0, 2, 0, True), ("refund", 0), ("cancel", 0), ("settle", 8)])
# a voucher cancelled after its points expired, and one expiring unused.
@example(
    ops=[
        ("visit", 0, 120_000, True),
        ("redeem", 0, 0, 0, False),
        ("redeem", 0, 1, 1, True),
        ("fulfil", 1),
        ("advance", 370),
        ("expire",),
        ("cancel", 0),
        ("expire",),
        ("visit", 0, 0, True),
        ("refund", 1),
    ]
)
async def test_every_ledger_invariant_holds_after_every_step(ops: list[tuple[object, ...]]) -> None:
    event(f"steps: {len(ops) // 5 * 5}+")
    world = await _world()
    await check_member_invariants(world.members, stock=world.rewards)
    owed = 0
    for step, op in enumerate(ops):
        try:
            await _apply(world, op)
            event(f"{op[0]} done")
        except DomainError as refused:  # not enough points, sold out, closed voucher, key conflict ...
            event(f"{op[0]} refused: {refused.code}")
        try:
            await check_member_invariants(world.members, stock=world.rewards)
        except AssertionError as broken:
            raise AssertionError(f"after step {step} {op!r} of {ops!r}: {broken}") from broken
        owed = max(owed, await _owed(world))
    event(f"someone owed points: {owed > 0}")
    target(float(owed), label="points owed")  # steers generation towards refunds of spent points


async def _owed(world: World) -> int:
    async with unit_of_work() as session:
        owed = await session.scalar(
            select(-func.coalesce(func.sum(Account.balance), 0)).where(
                Account.patient_id.in_(world.members), Account.kind == AccountKind.CLAWBACK
            )
        )
    return int(owed or 0)
