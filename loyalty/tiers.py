"""Tiers: qualified on points EARNED in a rolling 12 months, upgraded at once, downgraded only after
a grace period that ends with the next calendar quarter (in the group's time zone)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.ids import new_id
from core.settings import get_settings
from loyalty.ledger import add_months
from loyalty.models import Lot, LotStatus, MemberTier, Tier, TierChange


def end_of_next_quarter(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    quarter_start = local.replace(
        month=(local.month - 1) // 3 * 3 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
    return add_months(quarter_start, 6)


async def all_tiers(session: AsyncSession) -> list[Tier]:
    return list(await session.scalars(select(Tier).order_by(Tier.rank)))


async def qualifying_points(session: AsyncSession, patient_id: uuid.UUID, now: datetime) -> int:
    """Points earned through rules in the last 12 months; refunded (voided) points do not count,
    and neither do manual adjustments or what was spent (spending never lowers a tier)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Lot.amount), 0)).where(
            Lot.patient_id == patient_id,
            Lot.earned_at > add_months(now, -12),
            Lot.status != LotStatus.VOIDED,
            Lot.rule_code.is_not(None),
        )
    )
    return int(total or 0)


def tier_for(tiers: list[Tier], points: int) -> Tier:
    eligible = [t for t in tiers if t.min_points <= points]
    return eligible[-1] if eligible else tiers[0]


@dataclass(frozen=True)
class Progress:
    current: Tier
    next: Tier | None
    qualifying_points: int
    points_to_next: int
    grace_until: datetime | None


async def evaluate(session: AsyncSession, patient_id: uuid.UUID, *, reason: str) -> MemberTier:
    now = clock.now()
    tiers = await all_tiers(session)
    by_code = {t.code: t for t in tiers}
    points = await qualifying_points(session, patient_id, now)
    target = tier_for(tiers, points)
    state = await session.get(MemberTier, patient_id, with_for_update=True)
    if state is None:
        state = MemberTier(
            patient_id=patient_id,
            tier_code=tiers[0].code,
            qualifying_points=0,
            since=now,
            grace_until=None,
            evaluated_at=now,
        )
        session.add(state)
        await session.flush()
    current = by_code[state.tier_code]
    if target.rank > current.rank:
        _change(session, state, current, target, points, f"upgrade:{reason}", now)
    elif target.rank == current.rank:
        state.grace_until = None
    elif state.grace_until is None:
        state.grace_until = end_of_next_quarter(now)
    elif now >= state.grace_until:
        _change(session, state, current, target, points, "downgrade_after_grace", now)
    state.qualifying_points = points
    state.evaluated_at = now
    return state


def _change(
    session: AsyncSession, state: MemberTier, old: Tier, new: Tier, points: int, reason: str, now: datetime
) -> None:
    state.tier_code = new.code
    state.since = now
    state.grace_until = None
    session.add(
        TierChange(
            id=new_id(),
            patient_id=state.patient_id,
            from_tier=old.code,
            to_tier=new.code,
            qualifying_points=points,
            reason=reason[:40],
            changed_at=now,
        )
    )


async def progress(session: AsyncSession, patient_id: uuid.UUID) -> Progress:
    return (await progress_many(session, [patient_id]))[patient_id]


async def member_tier_rank(session: AsyncSession, patient_id: uuid.UUID) -> int:
    tiers = await all_tiers(session)
    code = await session.scalar(select(MemberTier.tier_code).where(MemberTier.patient_id == patient_id))
    return next((t.rank for t in tiers if t.code == code), tiers[0].rank)


async def progress_many(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Progress]:
    """Batch form of `progress` for DataLoaders: three statements for any number of members."""
    tiers = await all_tiers(session)
    now = clock.now()
    states = {s.patient_id: s for s in await session.scalars(select(MemberTier).where(MemberTier.patient_id.in_(ids)))}
    points = dict(
        (
            await session.execute(
                select(Lot.patient_id, func.sum(Lot.amount))
                .where(
                    Lot.patient_id.in_(ids),
                    Lot.earned_at > add_months(now, -12),
                    Lot.status != LotStatus.VOIDED,
                    Lot.rule_code.is_not(None),
                )
                .group_by(Lot.patient_id)
            )
        ).all()
    )
    out = {}
    for pid in ids:
        state = states.get(pid)
        current = next((t for t in tiers if state and t.code == state.tier_code), tiers[0])
        higher = [t for t in tiers if t.rank > current.rank]
        nxt = higher[0] if higher else None
        qualifying = int(points.get(pid, 0) or 0)
        out[pid] = Progress(
            current=current,
            next=nxt,
            qualifying_points=qualifying,
            points_to_next=max(0, nxt.min_points - qualifying) if nxt else 0,
            grace_until=state.grace_until if state else None,
        )
    return out


# A read-only SQL fragment for other domains' one-statement reads (content.access.load_viewer composes
# it as a LATERAL subquery): patient $1's current tier as `progress` decides it (their member_tiers row,
# else the lowest tier), columns tier_code and tier_rank.
CURRENT_TIER_SQL = """SELECT t.code AS tier_code, t.rank AS tier_rank FROM tiers t
LEFT JOIN member_tiers mt ON mt.patient_id = $1 AND mt.tier_code = t.code
ORDER BY mt.patient_id IS NULL, t.rank LIMIT 1"""
