"""Seats: RSVPs, the waitlist, seat offers and their expiry.

Capacity, a waitlist and seat offers: when a seat frees up the first person on the waitlist is
offered it for `offer_hold_hours`; they accept (going) or the offer expires and passes on. An offered
seat is held: seats taken = going + offered (`going_count` counts only the people going). Members
whose tier has priority booking wait ahead of the others (`priority`, set when they join the list).

Every change here locks the event first (community.events.locks). Waitlist order is (priority first,
waitlisted_at, id); under the lock each new waitlisted_at is strictly later than the last one, so
within a priority class the order is the order in which requests took the lock, even with a frozen
clock.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community.errors import CommunityCode as Code
from community.errors import (
    EventCancelled,
    EventEnded,
    EventNotFound,
    EventStarted,
    OfferExpired,
    OfferNotFound,
    RegistrationClosed,
)
from community.events.locks import lock_event, lock_rsvp
from community.events.notices import local_text, send_notice
from community.events.rules import SEAT_HOLDING, WAITLIST_ORDER
from community.events.visibility import visible_events
from community.models import Event, EventRsvp, EventStatus, RsvpResponse, RsvpStatus
from core import clock, jobs
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Actor, DelegationScope
from core.ids import new_id
from loyalty import benefits as tier_benefits
from patients import guardians

EXPIRE_OFFERS = jobs.register("community.expire_offers", "Expire unanswered seat offers and offer the seat on")


def new_checkin_nonce() -> str:
    """The random part of an attendee's check-in token; replaced when the registration is withdrawn."""
    return secrets.token_hex(12)


async def _require_visible(session: AsyncSession, actor: Actor, event: Event) -> None:
    if event.id not in await visible_events(session, actor, [event.id]):
        raise EventNotFound(field="eventId")


def _require_changeable(event: Event, now: datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled()
    if now >= event.ends_at:
        raise EventEnded()
    if now >= event.starts_at:
        raise EventStarted()


async def _counts(session: AsyncSession, event_id: uuid.UUID) -> tuple[int, int]:
    """(offered, waitlisted) of one event."""
    offered, waitlisted = (
        await session.execute(
            select(
                func.count().filter(EventRsvp.status == RsvpStatus.OFFERED),
                func.count().filter(EventRsvp.status == RsvpStatus.WAITLISTED),
            ).where(EventRsvp.event_id == event_id, EventRsvp.status.in_([RsvpStatus.OFFERED, RsvpStatus.WAITLISTED]))
        )
    ).one()
    return int(offered), int(waitlisted)


async def _next_waitlist_time(session: AsyncSession, event_id: uuid.UUID, now: datetime) -> datetime:
    """Strictly after everyone already waiting, so the waitlist keeps the order of arrival."""
    last = await session.scalar(
        select(func.max(EventRsvp.waitlisted_at)).where(
            EventRsvp.event_id == event_id, EventRsvp.status == RsvpStatus.WAITLISTED
        )
    )
    return max(now, last + timedelta(microseconds=1)) if last is not None else now


async def _promote(session: AsyncSession, event: Event, now: datetime) -> list[EventRsvp]:
    """Offer every free seat to the next people on the waitlist (the event row is locked)."""
    if event.capacity is None or event.status != EventStatus.SCHEDULED or now >= event.starts_at:
        return []
    await session.flush()
    offered, waitlisted = await _counts(session, event.id)
    free = event.capacity - event.going_count - offered
    if free <= 0 or waitlisted == 0:
        return []
    rows = list(
        await session.scalars(
            select(EventRsvp)
            .where(EventRsvp.event_id == event.id, EventRsvp.status == RsvpStatus.WAITLISTED)
            .order_by(*WAITLIST_ORDER)
            .limit(free)
            .with_for_update()
        )
    )
    expires = min(now + timedelta(hours=event.offer_hold_hours), event.starts_at)
    for row in rows:
        row.status = RsvpStatus.OFFERED
        row.offer_expires_at = expires
        row.updated_at = now
        await send_notice(
            session,
            f"event:{event.id}:offer:{row.id}:{int(expires.timestamp())}",
            row.patient_id,
            "候补名额通知",
            f"您候补的活动「{event.title}」有名额了！名额为您保留至{local_text(expires)}，请尽快确认参加，逾期将顺延给下一位。",
            event_id=event.id,
        )
    return rows


async def rsvp(session: AsyncSession, actor: Actor, event_id: uuid.UUID, response: str) -> EventRsvp:
    """A patient answers going or declined. Going takes a free seat or joins the waitlist (answering
    going to a seat offer accepts it); declining frees the seat, which is offered to the next."""
    patient_id = actor.require_patient()
    await guardians.acting(session, actor, DelegationScope.BOOK, "event_rsvp", f"event:{event_id}:{response}")
    if response not in {r.value for r in RsvpResponse}:
        raise DomainError("报名选项无效", field="response", code=Code.RSVP_RESPONSE_INVALID)
    event = await lock_event(session, event_id)
    await _require_visible(session, actor, event)
    now = clock.now()
    _require_changeable(event, now)
    mine = await lock_rsvp(session, event.id, patient_id)
    if response == RsvpResponse.GOING:
        if mine is not None and mine.status in (RsvpStatus.GOING, RsvpStatus.WAITLISTED):
            return mine
        if mine is not None and mine.status == RsvpStatus.OFFERED:
            return await _accept(session, event, mine, now)
        if event.registration_deadline is not None and now > event.registration_deadline:
            raise RegistrationClosed()
        offered, waitlisted = await _counts(session, event.id)
        seat_free = event.capacity is None or (waitlisted == 0 and event.going_count + offered < event.capacity)
        status = RsvpStatus.GOING if seat_free else RsvpStatus.WAITLISTED
        waitlisted_at = None if seat_free else await _next_waitlist_time(session, event.id, now)
        if mine is None:
            mine = EventRsvp(id=new_id(), event_id=event.id, patient_id=patient_id, status=status, created_at=now)
            session.add(mine)
        mine.status = status
        mine.waitlisted_at = waitlisted_at
        # A tier with priority booking waits ahead of the others (as the tier was when they joined).
        mine.priority = not seat_free and await tier_benefits.has_priority_booking(session, patient_id)
        mine.offer_expires_at = None
        mine.updated_at = now
        if seat_free:
            event.going_count += 1
        else:
            await _promote(session, event, now)  # normally nothing: seats are offered as soon as they free
        await session.flush()
        return mine
    previous = mine.status if mine is not None else None
    if mine is None:
        mine = EventRsvp(
            id=new_id(), event_id=event.id, patient_id=patient_id, status=RsvpStatus.DECLINED, created_at=now
        )
        session.add(mine)
    mine.status = RsvpStatus.DECLINED
    mine.waitlisted_at = None
    mine.offer_expires_at = None
    mine.checkin_nonce = new_checkin_nonce()  # a check-in QR handed out before stops working
    mine.updated_at = now
    if previous == RsvpStatus.GOING:
        event.going_count -= 1
    if previous in SEAT_HOLDING:
        await _promote(session, event, now)
    await session.flush()
    return mine


async def _accept(session: AsyncSession, event: Event, mine: EventRsvp, now: datetime) -> EventRsvp:
    if mine.offer_expires_at is not None and mine.offer_expires_at <= now:
        raise OfferExpired()
    mine.status = RsvpStatus.GOING
    mine.offer_expires_at = None
    mine.waitlisted_at = None
    mine.updated_at = now
    event.going_count += 1
    await session.flush()
    return mine


async def accept_offer(session: AsyncSession, actor: Actor, event_id: uuid.UUID) -> EventRsvp:
    """The offered patient takes the held seat (before the offer expires)."""
    patient_id = actor.require_patient()
    await guardians.acting(session, actor, DelegationScope.BOOK, "event_offer_accept", f"event:{event_id}")
    event = await lock_event(session, event_id)
    await _require_visible(session, actor, event)
    now = clock.now()
    _require_changeable(event, now)
    mine = await lock_rsvp(session, event.id, patient_id)
    if mine is not None and mine.status == RsvpStatus.GOING:
        return mine
    if mine is None or mine.status != RsvpStatus.OFFERED:
        raise OfferNotFound()
    return await _accept(session, event, mine, now)


async def _expire_event_offers(session: AsyncSession, event_id: uuid.UUID) -> int:
    event = await lock_event(session, event_id)
    now = clock.now()
    rows = list(
        await session.scalars(
            select(EventRsvp)
            .where(
                EventRsvp.event_id == event_id,
                EventRsvp.status == RsvpStatus.OFFERED,
                EventRsvp.offer_expires_at <= now,
            )
            .with_for_update()
        )
    )
    for row in rows:
        row.status = RsvpStatus.CANCELLED  # offer_expires_at stays: it says why
        row.updated_at = now
        lapsed = int(row.offer_expires_at.timestamp()) if row.offer_expires_at else 0
        await send_notice(
            session,
            f"event:{event.id}:offer_expired:{row.id}:{lapsed}",
            row.patient_id,
            "候补名额已过期",
            f"您未在保留时间内确认活动「{event.title}」的名额，名额已顺延给下一位。如仍想参加，可重新报名候补。",
            event_id=event.id,
        )
    await _promote(session, event, now)
    return len(rows)


async def expire_offers(*, limit: int = 500) -> int:
    """Cron `community.expire_offers`: unanswered offers lapse and the seat passes to the next person.
    One transaction per event; safe to run twice at once (the event lock serialises)."""
    now = clock.now()
    async with unit_of_work() as session:
        event_ids = list(
            await session.scalars(
                select(EventRsvp.event_id)
                .where(EventRsvp.status == RsvpStatus.OFFERED, EventRsvp.offer_expires_at <= now)
                .distinct()
                .limit(limit)
            )
        )
    expired = 0
    for event_id in event_ids:
        async with unit_of_work() as session:
            expired += await _expire_event_offers(session, event_id)
    return expired
