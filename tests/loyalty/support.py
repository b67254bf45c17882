"""Helpers for loyalty tests: members, visits, awards and the ledger invariants checked after each test."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from core import clock
from core.db import unit_of_work
from core.identity import SYSTEM, Actor, ActorKind, Role
from loyalty import earning, rewards, service, visits
from loyalty.models import Account, Reward
from patients import service as patient_service


async def site_id() -> uuid.UUID:
    async with unit_of_work() as session:
        from patients.queries import list_sites

        sites = await list_sites(session)
        if sites:
            return sites[0].id
        site = await patient_service.create_site(session, SYSTEM, code="KN-T", name="测试院区", kind="campus")
        await session.flush()
        return site.id


async def record_visit(
    patient_id: uuid.UUID,
    external_id: str,
    *,
    status: str = "completed",
    consultation_fen: int = 0,
    drug_fen: int = 0,
    insured_fen: int = 0,
    visited_at: datetime | None = None,
) -> visits.VisitOutcome:
    items = [visits.VisitItem("registration", 0, 0)]
    if consultation_fen or insured_fen:
        items.append(visits.VisitItem("consultation", consultation_fen, insured_fen))
    if drug_fen:
        items.append(visits.VisitItem("drug", drug_fen, 0))
    data = visits.VisitData(
        external_id=external_id,
        visited_at=visited_at or clock.now(),
        status=status,
        department="内分泌科",
        patient_id=patient_id,
        site_id=await site_id(),
        items=items,
    )
    async with unit_of_work() as session:
        return await visits.record(session, SYSTEM, data, source="staff")


async def give_points(patient_id: uuid.UUID, points: int, key: str | None = None) -> None:
    """Available points at once, through an admin adjustment (the real posting path)."""
    admin = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    async with unit_of_work() as session:
        await service.adjust(
            session, admin, patient_id, amount=points, reason="测试发放", idempotency_key=key or f"give-{uuid.uuid4()}"
        )


async def award(patient_id: uuid.UUID, rule: str, ref: str, key: str, **kw: Any) -> earning.Award:
    async with unit_of_work() as session:
        return await earning.award(session, patient_id, rule, ref, key, **kw)


async def balances(patient_id: uuid.UUID) -> dict[str, int]:
    async with unit_of_work() as session:
        rows = await session.execute(select(Account.kind, Account.balance).where(Account.patient_id == patient_id))
        return {k: v for k, v in rows}


async def make_reward(
    *,
    cost: int = 100,
    stock: int | None = 5,
    per_member_limit: int | None = None,
    tier_required: str | None = None,
    valid_days: int = 90,
) -> uuid.UUID:
    marketer = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
    async with unit_of_work() as session:
        reward = await rewards.create_reward(
            session,
            marketer,
            rewards.RewardInput(
                name="血糖仪",
                description="家用血糖仪一台",
                category="gift",
                points_cost=cost,
                stock=stock,
                per_member_limit=per_member_limit,
                tier_required=tier_required,
                voucher_valid_days=valid_days,
            ),
        )
    return reward.id


async def stock_of(reward_id: uuid.UUID) -> int | None:
    async with unit_of_work() as session:
        return await session.scalar(select(Reward.stock).where(Reward.id == reward_id))


def days(n: float) -> timedelta:
    return timedelta(days=n)
