"""Streaks of consecutive local dates, the milestones they reach (7/30/100 days), and reading one.

`CheckInStreak` keeps (current, longest, last_date) per patient and is locked for the whole check-in,
so concurrent check-ins of one patient are serial. The start of the current run is
`last_date - (current - 1)`; the milestone idempotency key is derived from it, so each milestone is
awarded once per run, through `loyalty.earning.award` only. Flying east can swallow a whole calendar
date, so when the zone changed since the last check-in the date in the *previous* zone is asked too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community.checkins.dates import load_patient, local_date
from community.checkins.permissions import require_value_reader
from community.checkins.rules import MILESTONES
from community.models import CheckIn, CheckInStreak
from core import clock
from core.identity import Actor
from core.settings import get_settings
from loyalty import earning
from loyalty import errors as loyalty_errors
from privacy import reads
from privacy.models import PhiKind


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    last_date: date | None
    start_date: date | None


@dataclass(frozen=True)
class MilestoneAward:
    days: int
    points: int  # 0 when the rule is switched off or its cap is used up
    capped: bool


async def lock_streak(session: AsyncSession, patient_id: uuid.UUID) -> CheckInStreak:
    """The patient's streak row, created on first use, locked until the transaction ends."""
    await session.execute(
        insert(CheckInStreak)
        .values(patient_id=patient_id, current=0, longest=0, last_date=None)
        .on_conflict_do_nothing(index_elements=["patient_id"])
    )
    row = await session.scalar(
        select(CheckInStreak)
        .where(CheckInStreak.patient_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _view(row: CheckInStreak | None, *, alive: bool = True) -> Streak:
    if row is None or row.last_date is None or row.current <= 0:
        return Streak(0, row.longest if row else 0, row.last_date if row else None, None)
    if not alive:
        return Streak(0, row.longest, row.last_date, None)
    return Streak(row.current, row.longest, row.last_date, row.last_date - timedelta(days=row.current - 1))


async def _continues(
    session: AsyncSession, patient_id: uuid.UUID, last_date: date, today: date, tz: str, now: datetime
) -> bool:
    """Whether a check-in on `today` (current zone) continues a run that ended on `last_date`."""
    if (today - last_date).days <= 1:
        return True
    previous_tz = await session.scalar(
        select(CheckIn.timezone)
        .where(CheckIn.patient_id == patient_id, CheckIn.local_date == last_date)
        .order_by(CheckIn.created_at.desc())
        .limit(1)
    )
    if previous_tz is None or previous_tz == tz:
        return False
    # The zone changed (travel): in the zone of the last check-in it may still be the next day.
    return (local_date(now, previous_tz) - last_date).days <= 1


async def advance_streak(
    session: AsyncSession, row: CheckInStreak, today: date, tz: str, now: datetime
) -> tuple[Streak, MilestoneAward | None]:
    last = row.last_date
    if last is not None and today <= last:
        # The same day again, or an earlier date after flying west: the run is unchanged.
        return _view(row), None
    if last is not None and row.current > 0 and await _continues(session, row.patient_id, last, today, tz, now):
        row.current += 1
    else:
        row.current = 1
    row.last_date = today
    row.longest = max(row.longest, row.current)
    streak = _view(row)
    milestone = None
    if row.current in MILESTONES:
        milestone = await _award_milestone(session, row.patient_id, row.current, streak.start_date or today)
    return streak, milestone


async def _award_milestone(session: AsyncSession, patient_id: uuid.UUID, days: int, start: date) -> MilestoneAward:
    """Once per run: the key names the run by its first date, so a repeat is a no-op in the ledger."""
    ref = f"streak:{patient_id}:{start.isoformat()}:{days}"
    try:
        award = await earning.award(session, patient_id, f"checkin_streak_{days}", ref, f"checkin:{ref}")
    except loyalty_errors.RuleNotFound:  # an admin switched the rule off: the streak still counts
        return MilestoneAward(days, 0, False)
    return MilestoneAward(days, award.points, award.capped)


async def streak_of(session: AsyncSession, actor: Actor, patient_id: uuid.UUID | None = None) -> Streak:
    """The streak as it stands today: `current` is 0 once a calendar date was missed."""
    target = actor.require_patient() if patient_id is None else patient_id
    require_value_reader(actor, target)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [target])
    row = await session.get(CheckInStreak, target, populate_existing=True)
    if row is None or row.last_date is None:
        return _view(row)
    patient = await load_patient(session, target)
    now = clock.now()
    tz = patient.timezone or get_settings().default_timezone
    alive = await _continues(session, target, row.last_date, local_date(now, tz), tz, now)
    return _view(row, alive=alive)
