"""Cancelling an event: one notice to everyone going, waiting or holding an offer; offers withdrawn."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import audit
from community.errors import CommunityCode as Code
from community.errors import EventEnded
from community.events.locks import lock_event
from community.events.notices import claim_notices, local_text
from community.events.rules import EVENT_ADMIN_ROLES, NOTIFIED_ON_CANCEL
from community.models import Event, EventRsvp, EventStatus, RsvpStatus
from core import clock
from core.channels import ChannelName, Message
from core.errors import Validator
from core.identity import Actor
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from social import notify


async def cancel_event(
    session: AsyncSession, actor: Actor, event_id: uuid.UUID, *, reason: str, batch_size: int = 1000
) -> Event:
    """Staff cancel: everyone going, waiting or holding an offer gets one notice; offers are withdrawn.
    Cancelling again changes nothing and notifies nobody twice."""
    actor.require_role(*EVENT_ADMIN_ROLES)
    reason = (reason or "").strip()
    v = Validator()
    v.check(2 <= len(reason) <= 300, "reason", Code.REASON_LENGTH, "请填写取消原因（2到300个字符）")
    v.raise_if_any()
    event = await lock_event(session, event_id)
    if event.status == EventStatus.CANCELLED:
        return event
    now = clock.now()
    if now >= event.ends_at:
        raise EventEnded()
    event.status = EventStatus.CANCELLED
    event.cancelled_at = now
    event.cancel_reason = reason
    event.updated_at = now
    body = f"很抱歉，您报名的活动「{event.title}」（{local_text(event.starts_at)}）已取消。原因：{reason}"
    notified = 0
    after: uuid.UUID | None = None
    while True:  # in pages, so a large audience is never held in memory at once
        stmt = (
            select(EventRsvp.patient_id)
            .where(EventRsvp.event_id == event.id, EventRsvp.status.in_(NOTIFIED_ON_CANCEL))
            .order_by(EventRsvp.patient_id)
            .limit(batch_size)
        )
        if after is not None:
            stmt = stmt.where(EventRsvp.patient_id > after)
        patient_ids = list(await session.scalars(stmt))
        if not patient_ids:
            break
        keys = {p: f"event:{event.id}:cancel:{p}" for p in patient_ids}
        claimed = await claim_notices(session, list(keys.values()))
        notices = [
            Notice(p, Message(ChannelName.IN_APP, str(p), body, subject="活动取消通知"), key)
            for p, key in keys.items()
            if key in claimed
        ]
        notified += await outreach.notify(session, MessageClass.NOTICE, notices)
        centre = [(n.patient_id, n.source_ref, "活动取消通知", body) for n in notices]
        await notify.event_notices(session, event_id=event.id, notices=centre)  # the notification centre
        after = patient_ids[-1]
    await session.execute(
        update(EventRsvp)
        .where(EventRsvp.event_id == event.id, EventRsvp.status == RsvpStatus.OFFERED)
        .values(status=RsvpStatus.CANCELLED.value, updated_at=now)
    )
    await audit.record(
        session,
        actor,
        "event_cancel",
        target_kind="event",
        target_id=event.id,
        group_id=event.group_id,
        reason=reason,
        detail={"notified": notified, "going": event.going_count},
    )
    return event
