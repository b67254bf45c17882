"""A patient's local calendar date: check-ins and streaks count dates in the zone of their profile."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import CoreCode, NotFound
from core.settings import get_settings
from patients import queries as patient_queries
from patients.models import Patient


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or get_settings().default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(get_settings().default_timezone)


def local_date(moment: datetime, tz: str | None) -> date:
    return moment.astimezone(_zone(tz)).date()


async def load_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    """The patient's row: their zone decides their dates."""
    patient = (await patient_queries.patients_by_ids(session, [patient_id])).get(patient_id)
    if patient is None:
        raise NotFound("患者不存在", code=CoreCode.PATIENT_NOT_FOUND)
    return patient
