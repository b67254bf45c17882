"""Row locks on an event and its registrations, always in the order event -> rsvp.

Every change of who holds a seat (RSVPs, offers, expiries, cancellations, walk-ins at the door) locks
the event row first (SELECT ... FOR UPDATE) and only then the RSVP rows, so the changes of one event
are serialised and two of them never deadlock.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community.errors import EventNotFound
from community.models import Event, EventRsvp


async def lock_event(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.scalar(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)
    )
    if event is None:
        raise EventNotFound(field="eventId")
    return event


async def lock_rsvp(session: AsyncSession, event_id: uuid.UUID, patient_id: uuid.UUID) -> EventRsvp | None:
    return await session.scalar(
        select(EventRsvp)
        .where(EventRsvp.event_id == event_id, EventRsvp.patient_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
