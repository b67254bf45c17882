"""Helpers for care and dashboard tests: a frozen clock, sites, staff, visits and surveys."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from care import surveys
from care.models import Survey
from core import clock
from core.db import unit_of_work
from core.identity import SYSTEM
from loyalty import visits

SHANGHAI = ZoneInfo("Asia/Shanghai")


def start() -> datetime:
    """Just after the real time: deferred outbox jobs must not lie in Redis's past."""
    return datetime.now(SHANGHAI).replace(second=0, microsecond=0) + timedelta(minutes=1)


async def visit(
    patient_id: uuid.UUID,
    site_id: uuid.UUID,
    external_id: str,
    *,
    at: datetime | None = None,
    status: str = "completed",
) -> uuid.UUID:
    data = visits.VisitData(
        external_id=external_id,
        visited_at=at or clock.now(),
        status=status,
        department="内分泌科",
        patient_id=patient_id,
        site_id=site_id,
        items=[visits.VisitItem("consultation", 5000, 0)],
    )
    async with unit_of_work() as session:
        outcome = await visits.record(session, SYSTEM, data, source="staff")
        return outcome.visit.id


async def survey_of(visit_id: uuid.UUID) -> Survey | None:
    async with unit_of_work() as session:
        found: Survey | None = await session.scalar(select(Survey).where(Survey.visit_id == visit_id))
        return found


async def survey_count() -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(Survey)) or 0)


async def surveyed_visit(patient_id: uuid.UUID, site_id: uuid.UUID, external_id: str) -> Survey:
    """A completed visit now, the clock moved a day on, the survey cron run: the visit's survey."""
    visit_id = await visit(patient_id, site_id, external_id)
    clock.clock.advance(timedelta(days=1, minutes=1))
    await surveys.run_due()
    found = await survey_of(visit_id)
    assert found is not None
    return found
