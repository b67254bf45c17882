"""Out-of-range readings: an alert for the care team (and a page to the health manager on duty), advice
for the patient, and the care team's queue of open alerts.

A correction never closes an alert raised by the earlier reading; a new dangerous reading re-opens an
acknowledged one. The care team is notified through one in-app recipient, ``care-team`` (the
care-team inbox), because the staff directory belongs to the identity domain and has no query for
"active staff with role X" yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.checkins.permissions import require_care_team
from community.checkins.rules import (
    CARE_TEAM_RECIPIENT,
    DIASTOLIC_HIGH,
    GLUCOSE_CONTEXT_LABELS,
    GLUCOSE_HIGH,
    GLUCOSE_LOW,
    KIND_LABELS,
    SYSTOLIC_HIGH,
)
from community.errors import HealthAlertNotFound
from community.models import CheckIn, CheckInKind, GlucoseContext, HealthAlert
from core import clock
from core.channels import ChannelName, Message, send_later
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from oncall import service as oncall
from oncall.models import PageKind
from patients import service as patient_service
from patients.models import ConsentChannel, ConsentPurpose, Patient
from privacy import reads
from privacy.models import PhiKind


@dataclass(frozen=True)
class Assessment:
    reading: str
    message: str  # for the alert (care team)
    advice: str  # for the patient


def assess(kind: CheckInKind, value: Mapping[str, Any]) -> Assessment | None:
    """An assessment when the reading is outside the safe range, else None."""
    team = "您的医护团队已收到提醒，会尽快与您联系。"
    if kind is CheckInKind.GLUCOSE:
        mmol = float(value["mmol"])
        context = value.get("context")
        when = f"（{GLUCOSE_CONTEXT_LABELS[GlucoseContext(context)]}）" if context else ""
        reading = f"血糖 {mmol:g} mmol/L{when}"
        if mmol < GLUCOSE_LOW:
            return Assessment(
                reading,
                f"血糖{mmol:g} mmol/L，低于{GLUCOSE_LOW} mmol/L，提示低血糖",
                "您今天记录的血糖偏低。如有心慌、出汗、手抖或头晕，请马上吃些含糖食物（如糖块、果汁），"
                "15分钟后复测；若仍不缓解请及时就医。" + team,
            )
        if mmol > GLUCOSE_HIGH:
            return Assessment(
                reading,
                f"血糖{mmol:g} mmol/L，高于{GLUCOSE_HIGH} mmol/L，血糖明显升高",
                "您今天记录的血糖偏高。请多喝水、注意休息并按时复测；如出现明显口渴、恶心呕吐或乏力，"
                "请及时就医。" + team,
            )
        return None
    if kind is CheckInKind.BLOOD_PRESSURE:
        systolic, diastolic = int(value["systolic"]), int(value["diastolic"])
        if systolic >= SYSTOLIC_HIGH or diastolic >= DIASTOLIC_HIGH:
            return Assessment(
                f"血压 {systolic}/{diastolic} mmHg",
                f"血压{systolic}/{diastolic} mmHg，达到收缩压≥{SYSTOLIC_HIGH}或舒张压≥{DIASTOLIC_HIGH}的警戒值",
                "您今天记录的血压偏高。请先安静休息，15分钟后复测；如伴有剧烈头痛、胸闷胸痛、"
                "视物模糊或肢体无力，请立即就医或拨打120。" + team,
            )
    return None


async def raise_alert(
    session: AsyncSession, patient: Patient, check_in: CheckIn, assessment: Assessment, now: datetime
) -> HealthAlert:
    """One alert per check-in row. A correction updates it; a dangerous reading after an
    acknowledgement re-opens it. The care team and the patient are told when it opens."""
    alert = await session.scalar(select(HealthAlert).where(HealthAlert.checkin_id == check_in.id).with_for_update())
    notify = False
    if alert is None:
        alert = HealthAlert(
            id=new_id(),
            patient_id=check_in.patient_id,
            checkin_id=check_in.id,
            kind=check_in.kind,
            reading=assessment.reading[:60],
            message=assessment.message[:200],
            created_at=now,
        )
        session.add(alert)
        notify = True
    else:
        alert.reading = assessment.reading[:60]
        alert.message = assessment.message[:200]
        if alert.acknowledged_at is not None:
            alert.acknowledged_at = None
            alert.acknowledged_by = None
            alert.created_at = now  # back into the open queue as a new reading
            notify = True
    if notify:
        label = KIND_LABELS[CheckInKind(check_in.kind)]
        day = check_in.local_date.strftime("%m月%d日")
        # No values in the message: the care team reads them in the alert list, behind their role.
        care_text = f"患者「{patient.nickname}」{day}的{label}打卡超出安全范围，请在「健康预警」中查看并及时跟进。"
        await send_later(
            session,
            Message(ChannelName.IN_APP, CARE_TEAM_RECIPIENT, care_text, subject="健康预警"),
            sensitive=True,
        )
        # Page the health manager on duty at the patient's site; a re-opened alert is a new page.
        await oncall.page(
            session,
            kind=PageKind.HEALTH_ALERT,
            ref=f"{alert.id}:{alert.created_at.isoformat()}",
            site_id=patient.home_site_id,
            role=Role.HEALTH_MANAGER,
            subject="健康预警",
            body=care_text,
        )
        if await patient_service.has_consent(session, patient.id, ConsentChannel.IN_APP, ConsentPurpose.SERVICE):
            await send_later(
                session,
                Message(ChannelName.IN_APP, str(patient.id), assessment.advice, subject="健康提醒"),
                sensitive=True,
            )
    await session.flush()
    return alert


async def open_alerts(
    session: AsyncSession, actor: Actor, *, first: int | None = None, after: str | None = None
) -> Page[HealthAlert]:
    """Unacknowledged alerts for the care team, oldest first (a queue to work through)."""
    require_care_team(actor)
    stmt = select(HealthAlert).where(HealthAlert.acknowledged_at.is_(None))
    page = await keyset_page(session, stmt, sort=HealthAlert.created_at, id_=HealthAlert.id, first=first, after=after)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [a.patient_id for a in page.items])
    return page


async def acknowledge_alert(session: AsyncSession, actor: Actor, alert_id: uuid.UUID) -> HealthAlert:
    """The care team takes the alert in hand. Repeating it changes nothing (the first one counts)."""
    require_care_team(actor)
    alert = await session.get(HealthAlert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise HealthAlertNotFound(field="alertId")
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [alert.patient_id])
    if alert.acknowledged_at is None:
        alert.acknowledged_at = clock.now()
        alert.acknowledged_by = actor.id
        await session.flush()
    return alert
