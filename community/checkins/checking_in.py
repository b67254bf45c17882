"""Checking in: one row per (patient, kind, local date); a second check-in of the same kind on the same
date corrects the first (the value is replaced, the row and its streak day stay)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, errors, moderation
from community.checkins.alerts import assess, raise_alert
from community.checkins.dates import load_patient, local_date
from community.checkins.streaks import MilestoneAward, Streak, advance_streak, lock_streak
from community.checkins.validation import validate
from community.models import CheckIn, HealthAlert
from core import clock
from core.identity import Actor
from core.ids import new_id
from core.settings import get_settings


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    streak: Streak
    milestone: MilestoneAward | None  # a milestone reached by this check-in
    alert: HealthAlert | None  # the alert this check-in raised or renewed
    updated: bool  # True when it corrected an earlier check-in of the same kind and date


async def check_in(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: str,
    value: Mapping[str, Any] | None,
    note: str | None = None,
    group_id: uuid.UUID | None = None,
) -> CheckInResult:
    """The patient checks in for today (their local date). A second check-in of the same kind on the
    same date replaces the value. `group_id` shows the check-in on that group's board (active
    members only)."""
    patient_id = actor.require_patient()
    the_kind, clean, clean_note = validate(kind, value, note)
    # Crisis first: an emergency word in the note brings help and a page, before the group check decides.
    crisis = await moderation.is_crisis(session, actor, clean_note)
    if group_id is not None:
        _, m = await access.get_group(session, actor, group_id)
        if not access.is_active(m):
            if crisis:
                await moderation.help_in_crisis(
                    session, actor, where="健康打卡备注", ref=f"checkin:{patient_id}:{clean_note}", kept=False
                )
                refusal = errors.NotMember("加入社群后才能在社群打卡")
                refusal.keep_changes = True  # the help and the page commit with the refusal
                raise refusal
            raise errors.NotMember("加入社群后才能在社群打卡")
    patient = await load_patient(session, patient_id)
    now = clock.now()
    tz = patient.timezone or get_settings().default_timezone
    today = local_date(now, tz)

    row = await lock_streak(session, patient_id)  # serialises every check-in of this patient
    assessment = assess(the_kind, clean)
    existing = await session.scalar(
        select(CheckIn).where(
            CheckIn.patient_id == patient_id, CheckIn.kind == the_kind.value, CheckIn.local_date == today
        )
    )
    if existing is None:
        record = CheckIn(
            id=new_id(),
            patient_id=patient_id,
            group_id=group_id,
            kind=the_kind.value,
            local_date=today,
            timezone=tz,
            value=clean,
            note=clean_note,
            out_of_range=assessment is not None,
            created_at=now,
        )
        session.add(record)
    else:
        record = existing
        record.value = clean
        record.note = clean_note
        record.out_of_range = assessment is not None
        record.timezone = tz
        if group_id is not None:
            record.group_id = group_id
    await session.flush()

    if crisis:
        await moderation.help_in_crisis(
            session, actor, where="健康打卡备注", ref=f"checkin:{record.id}:{clean_note}", kept=True
        )
    streak, milestone = await advance_streak(session, row, today, tz, now)
    alert = await raise_alert(session, patient, record, assessment, now) if assessment else None
    return CheckInResult(record, streak, milestone, alert, updated=existing is not None)
