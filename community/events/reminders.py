"""Reminders before events: one in-app reminder per going attendee and stage, sent by a cron."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.events.notices import claim_notices, local_text
from community.events.rules import KIND_LABELS, ONLINE_KINDS, REMINDER_HORIZON, REMINDER_STAGES
from community.models import Event, EventRsvp, EventStatus, RsvpStatus
from core import clock, jobs
from core.channels import ChannelName, Message
from core.db import unit_of_work
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from social import notify

EVENT_REMINDERS = jobs.register("community.event_reminders", "In-app reminders before events (24 h/1 h, 10 min)")


def reminder_stage(kind: str, until_start: timedelta) -> str | None:
    for stage, lead in REMINDER_STAGES.get(kind, ()):
        if timedelta(0) < until_start <= lead:
            return stage
    return None


async def _remind_batch(
    session: AsyncSession, event_id: uuid.UUID, stage: str, after: uuid.UUID | None, limit: int
) -> tuple[int, uuid.UUID | None]:
    event = await session.get(Event, event_id)
    if event is None or event.status != EventStatus.SCHEDULED:
        return 0, None
    stmt = (
        select(EventRsvp.patient_id)
        .where(EventRsvp.event_id == event_id, EventRsvp.status == RsvpStatus.GOING)
        .order_by(EventRsvp.patient_id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(EventRsvp.patient_id > after)
    patient_ids = list(await session.scalars(stmt))
    if not patient_ids:
        return 0, None
    keys = {p: f"event:{event_id}:remind:{stage}:{p}" for p in patient_ids}
    claimed = await claim_notices(session, list(keys.values()))
    where = event.location if event.kind not in ONLINE_KINDS else event.online_link
    body = f"您报名的{KIND_LABELS.get(event.kind, '活动')}「{event.title}」将于{local_text(event.starts_at)}开始"
    body += f"，{'参会链接' if event.kind in ONLINE_KINDS else '地点'}：{where}。" if where else "。"
    if event.kind not in ONLINE_KINDS:
        body += "到场后请在报名页面打开签到二维码，由工作人员扫码签到。"
    notices = [
        Notice(p, Message(ChannelName.IN_APP, str(p), body, subject="活动提醒"), key)
        for p, key in keys.items()
        if key in claimed
    ]
    sent = await outreach.notify(session, MessageClass.NOTICE, notices)
    centre = [(n.patient_id, n.source_ref, "活动提醒", body) for n in notices]
    await notify.event_notices(session, event_id=event_id, notices=centre)  # the notification centre
    return sent, (patient_ids[-1] if len(patient_ids) == limit else None)


async def send_reminders(*, batch_size: int = 500) -> int:
    """Cron `community.event_reminders` (every minute): one in-app reminder per going attendee and
    stage (24 h and 1 h before offline activities and free clinics, 10 min before online ones).
    Idempotent through notice keys: two workers or a restart never send one twice."""
    now = clock.now()
    async with unit_of_work() as session:
        due = (
            await session.execute(
                select(Event.id, Event.kind, Event.starts_at)
                .where(
                    Event.status == EventStatus.SCHEDULED,
                    Event.starts_at > now,
                    Event.starts_at <= now + REMINDER_HORIZON,
                )
                .order_by(Event.starts_at)
            )
        ).all()
    sent = 0
    for event_id, kind, starts_at in due:
        stage = reminder_stage(kind, starts_at - now)
        if stage is None:
            continue
        after: uuid.UUID | None = None
        while True:
            async with unit_of_work() as session:
                n, after = await _remind_batch(session, event_id, stage, after, batch_size)
            sent += n
            if after is None:
                break
    return sent
