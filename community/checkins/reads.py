"""Reading check-ins: a patient's history (their own, or for the care team) and batch reads for the API."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.checkins.dates import load_patient, local_date
from community.checkins.permissions import require_value_reader
from community.checkins.rules import MAX_DAYS
from community.errors import CommunityCode as Code
from community.models import CheckIn, CheckInKind, HealthAlert
from core import clock
from core.errors import Validator
from core.identity import Actor
from privacy import reads
from privacy.models import PhiKind


async def _history(session: AsyncSession, patient_id: uuid.UUID, days: int, kind: str | None) -> list[CheckIn]:
    v = Validator()
    v.check(1 <= days <= MAX_DAYS, "days", Code.DAYS_OUT_OF_RANGE, f"天数需在1到{MAX_DAYS}之间")
    v.check(
        kind is None or kind in {k.value for k in CheckInKind},
        "kind",
        Code.CHECKIN_KIND_INVALID,
        "打卡类型无效",
    )
    v.raise_if_any()
    patient = await load_patient(session, patient_id)
    since = local_date(clock.now(), patient.timezone) - timedelta(days=days - 1)
    stmt = select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.local_date >= since)
    if kind is not None:
        stmt = stmt.where(CheckIn.kind == kind)
    return list(await session.scalars(stmt.order_by(CheckIn.local_date.desc(), CheckIn.kind, CheckIn.id)))


async def my_check_ins(
    session: AsyncSession, actor: Actor, *, days: int = 30, kind: str | None = None
) -> list[CheckIn]:
    """The patient's own check-ins of the last `days` local dates, newest first."""
    return await _history(session, actor.require_patient(), days, kind)


async def patient_check_ins(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, days: int = 30, kind: str | None = None
) -> list[CheckIn]:
    """A patient's check-ins for the care team (or the patient)."""
    require_value_reader(actor, patient_id)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [patient_id])
    return await _history(session, patient_id, days, kind)


async def check_ins_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CheckIn]:
    """Batch read for DataLoaders; callers check `can_read_values` before showing a value."""
    return {c.id: c for c in await session.scalars(select(CheckIn).where(CheckIn.id.in_(ids)))}


async def alerts_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, HealthAlert]:
    """Batch read for DataLoaders; callers check `is_care_team` (or that it is the patient's own)."""
    return {a.id: a for a in await session.scalars(select(HealthAlert).where(HealthAlert.id.in_(ids)))}
