"""Helpers for campaign tests: staff actors, patients with attributes, approved campaigns, runs."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from campaigns import runner, segments, sender, service
from campaigns.models import Campaign, Delivery
from campaigns.segments import SegmentCriteria
from core import clock
from core.db import unit_of_work
from core.identity import SYSTEM, Role
from loyalty.models import MemberTier, PatientLifecycle
from patients import service as patient_service
from patients.models import Patient, PatientCondition
from tests.factories import new_member, next_phone, staff

__all__ = ["MARKETER", "REVIEWER", "new_member"]


MARKETER = staff(Role.MARKETER)
MARKETER_2 = staff(Role.MARKETER)
REVIEWER = staff(Role.REVIEWER)


async def make_patient(
    *,
    consents: list[tuple[str, str]] = (),  # type: ignore[assignment]
    conditions: list[str] = (),  # type: ignore[assignment]
    stage: str | None = None,
    tier: str | None = None,
    phone: str | None = None,
    **attrs: Any,
) -> uuid.UUID:
    """A registered patient (in-app service consent by default) with the given columns and facts."""
    patient_id = await new_member(phone or next_phone())
    async with unit_of_work() as session:
        if attrs:
            await session.execute(update(Patient).where(Patient.id == patient_id).values(**attrs))
        if consents:
            await patient_service.update_consents(
                session,
                SYSTEM,
                [patient_service.ConsentChange(c, p, True) for c, p in consents],
                source="import",
                patient_id=patient_id,
            )
        for code in conditions:
            session.add(PatientCondition(patient_id=patient_id, condition_code=code, added_at=clock.now()))
        if stage is not None:
            await set_stage(session, patient_id, stage)
        if tier is not None:
            await session.execute(
                insert(MemberTier)
                .values(patient_id=patient_id, tier_code=tier, qualifying_points=0, since=clock.now())
                .on_conflict_do_update(index_elements=["patient_id"], set_={"tier_code": tier})
            )
    return patient_id


async def set_stage(session: Any, patient_id: uuid.UUID, stage: str, at: datetime | None = None) -> None:
    stmt = insert(PatientLifecycle).values(patient_id=patient_id, stage=stage, changed_at=at or clock.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["patient_id"], set_={"stage": stmt.excluded.stage, "changed_at": stmt.excluded.changed_at}
        )
    )


async def withdraw(patient_id: uuid.UUID, channel: str, purpose: str) -> None:
    async with unit_of_work() as session:
        await patient_service.update_consents(
            session,
            SYSTEM,
            [patient_service.ConsentChange(channel, purpose, False)],
            source="import",
            patient_id=patient_id,
        )


async def segment(criteria: SegmentCriteria | None = None, name: str | None = None) -> uuid.UUID:
    async with unit_of_work() as session:
        seg = await segments.create_segment(
            session, MARKETER, name=name or f"人群{uuid.uuid4().hex[:6]}", criteria=criteria or SegmentCriteria()
        )
    return seg.id


async def approved_campaign(
    criteria: SegmentCriteria | None = None,
    *,
    kind: str = "marketing",
    channels: list[str] | None = None,
    body: str = "{nickname}您好，春季健康讲座开始报名啦。",
    scheduled_at: datetime | None = None,
    **extra: Any,
) -> uuid.UUID:
    """Drafted by MARKETER, approved by REVIEWER: running at once unless scheduled."""
    seg = await segment(criteria)
    async with unit_of_work() as session:
        campaign = await service.create_campaign(
            session,
            MARKETER,
            service.CampaignInput(
                name="测试活动",
                kind=kind,
                channels=channels or ["in_app"],
                body=body,
                subject="健康提醒",
                segment_id=seg,
                scheduled_at=scheduled_at,
                **extra,
            ),
        )
        await service.submit(session, MARKETER, campaign.id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, campaign.id)
    return campaign.id


async def send_all(*channels: str) -> int:
    total = 0
    for channel in channels or ("in_app", "sms", "email", "wechat"):
        total += await sender.send_due(channel, max_seconds=30)
    return total


async def run(campaign_id: uuid.UUID, *, batch_size: int = 5) -> None:
    await runner.materialise(campaign_id, batch_size=batch_size)
    await send_all()


async def deliveries(campaign_id: uuid.UUID) -> dict[uuid.UUID, Delivery]:
    async with unit_of_work() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.campaign_id == campaign_id))
        return {d.patient_id: d for d in rows}


async def campaign(campaign_id: uuid.UUID) -> Campaign:
    async with unit_of_work() as session:
        found = await session.get(Campaign, campaign_id)
    assert found is not None
    return found


async def delivery_count(campaign_id: uuid.UUID) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.campaign_id == campaign_id))
            or 0
        )


def born(year: int, month: int = 1, day: int = 1) -> date:
    return date(year, month, day)
