"""The patient lifecycle stage, computed from visits, tier and referrals; every change is kept.

acquisition: registered, no completed visit; conversion: one completed visit; retention: returning;
loyalty: frequent (N visits in 12 months), gold tier or above, or a rewarded referral;
dormant: no completed visit for `dormant_after_days`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.db import unit_of_work
from core.ids import new_id
from core.settings import get_settings
from loyalty.models import (
    LifecycleChange,
    LifecycleStage,
    MemberTier,
    PatientLifecycle,
    Referral,
    ReferralStatus,
    Tier,
    Visit,
    VisitStatus,
)
from patients import queries as patient_queries

LOYAL_TIER_RANK = 2  # 金卡 and above


@dataclass(frozen=True)
class Facts:
    visits: int
    visits_last_year: int
    last_visit_at: datetime | None
    tier_rank: int
    rewarded_referrals: int


def stage_for(facts: Facts, now: datetime) -> LifecycleStage:
    settings = get_settings()
    if facts.visits == 0 or facts.last_visit_at is None:
        return LifecycleStage.ACQUISITION
    if facts.last_visit_at < now - timedelta(days=settings.dormant_after_days):
        return LifecycleStage.DORMANT
    if (
        facts.visits_last_year >= settings.loyal_visits_per_year
        or facts.tier_rank >= LOYAL_TIER_RANK
        or facts.rewarded_referrals > 0
    ):
        return LifecycleStage.LOYALTY
    if facts.visits == 1:
        return LifecycleStage.CONVERSION
    return LifecycleStage.RETENTION


async def _facts(session: AsyncSession, patient_ids: Sequence[uuid.UUID], now: datetime) -> dict[uuid.UUID, Facts]:
    year_ago = now - timedelta(days=365)
    visits = {
        row.patient_id: row
        for row in await session.execute(
            select(
                Visit.patient_id,
                func.count().label("n"),
                func.count().filter(Visit.visited_at > year_ago).label("n_year"),
                func.max(Visit.visited_at).label("last"),
            )
            .where(Visit.patient_id.in_(patient_ids), Visit.status == VisitStatus.COMPLETED)
            .group_by(Visit.patient_id)
        )
    }
    ranks = dict(
        (
            await session.execute(
                select(MemberTier.patient_id, Tier.rank)
                .join(Tier, Tier.code == MemberTier.tier_code)
                .where(MemberTier.patient_id.in_(patient_ids))
            )
        ).all()
    )
    referrals = dict(
        (
            await session.execute(
                select(Referral.referrer_id, func.count())
                .where(Referral.referrer_id.in_(patient_ids), Referral.status == ReferralStatus.REWARDED)
                .group_by(Referral.referrer_id)
            )
        ).all()
    )
    out = {}
    for pid in patient_ids:
        v = visits.get(pid)
        out[pid] = Facts(
            visits=v.n if v else 0,
            visits_last_year=v.n_year if v else 0,
            last_visit_at=v.last if v else None,
            tier_rank=ranks.get(pid, 0),
            rewarded_referrals=referrals.get(pid, 0),
        )
    return out


async def recompute(session: AsyncSession, patient_ids: Sequence[uuid.UUID], *, reason: str) -> dict[uuid.UUID, str]:
    """Sets the stage of each patient; records a change only when the stage moves."""
    if not patient_ids:
        return {}
    now = clock.now()
    facts = await _facts(session, patient_ids, now)
    current = dict(
        (
            await session.execute(
                select(PatientLifecycle.patient_id, PatientLifecycle.stage)
                .where(PatientLifecycle.patient_id.in_(patient_ids))
                .with_for_update()
            )
        ).all()
    )
    stages: dict[uuid.UUID, str] = {}
    for pid in patient_ids:
        stage = stage_for(facts[pid], now).value
        stages[pid] = stage
        if current.get(pid) == stage:
            continue
        stmt = insert(PatientLifecycle).values(patient_id=pid, stage=stage, changed_at=now)
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["patient_id"], set_={"stage": stage, "changed_at": now})
        )
        session.add(
            LifecycleChange(
                id=new_id(),
                patient_id=pid,
                from_stage=current.get(pid),
                to_stage=stage,
                reason=reason[:60],
                changed_at=now,
            )
        )
    return stages


async def recompute_all(*, batch_size: int = 1000) -> int:
    """Nightly: every patient, in keyset batches, one transaction per batch."""
    after: uuid.UUID | None = None
    total = 0
    while True:
        async with unit_of_work() as session:
            ids = await patient_queries.patient_ids_after(session, after, batch_size)
            if not ids:
                return total
            await recompute(session, ids, reason="nightly")
        total += len(ids)
        after = ids[-1]


async def stages_by_patient(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, PatientLifecycle]:
    rows = await session.scalars(select(PatientLifecycle).where(PatientLifecycle.patient_id.in_(ids)))
    return {r.patient_id: r for r in rows}


async def history_by_patient(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[LifecycleChange]]:
    rows = await session.scalars(
        select(LifecycleChange)
        .where(LifecycleChange.patient_id.in_(ids))
        .order_by(LifecycleChange.changed_at.desc(), LifecycleChange.id.desc())
    )
    out: dict[uuid.UUID, list[LifecycleChange]] = {}
    for r in rows:
        out.setdefault(r.patient_id, []).append(r)
    return out


# A read-only SQL fragment for other domains' one-statement reads (content.access.load_viewer composes
# it as a LATERAL subquery): patient $1's lifecycle stage (no row: none yet).
STAGE_SQL = "SELECT stage FROM patient_lifecycle WHERE patient_id = $1"
