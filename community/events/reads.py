"""Batch reads for the API's DataLoaders (one statement per page) and the waitlist for staff views."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from community.events.rules import WAITLIST_ORDER
from community.models import Event, EventRsvp, RsvpStatus


@dataclass(frozen=True)
class Occupancy:
    going: int
    offered: int
    waitlisted: int


async def rsvps_for(
    session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]
) -> dict[tuple[uuid.UUID, uuid.UUID], EventRsvp]:
    """RSVPs by (event id, patient id), for the viewer's status in lists (one query per page)."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(EventRsvp).where(tuple_(EventRsvp.event_id, EventRsvp.patient_id).in_([tuple(k) for k in keys]))
    )
    return {(r.event_id, r.patient_id): r for r in rows}


async def occupancy(session: AsyncSession, event_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Occupancy]:
    if not event_ids:
        return {}
    rows = await session.execute(
        select(
            Event.id,
            Event.going_count,
            func.count(EventRsvp.id).filter(EventRsvp.status == RsvpStatus.OFFERED),
            func.count(EventRsvp.id).filter(EventRsvp.status == RsvpStatus.WAITLISTED),
        )
        .outerjoin(
            EventRsvp,
            and_(
                EventRsvp.event_id == Event.id,
                EventRsvp.status.in_([RsvpStatus.OFFERED, RsvpStatus.WAITLISTED]),
            ),
        )
        .where(Event.id.in_(event_ids))
        .group_by(Event.id)
    )
    return {eid: Occupancy(int(g), int(o), int(w)) for eid, g, o, w in rows}


async def waitlist_positions(session: AsyncSession, rsvp_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
    """1-based places on the waitlist of the given (waitlisted) RSVPs, in one statement."""
    if not rsvp_ids:
        return {}
    rows = await session.execute(
        text(
            "SELECT r.id, (SELECT count(*) FROM community_event_rsvps w WHERE w.event_id = r.event_id"
            "  AND w.status = 'waitlisted'"
            "  AND (NOT w.priority, w.waitlisted_at, w.id) <= (NOT r.priority, r.waitlisted_at, r.id)) AS place "
            "FROM community_event_rsvps r WHERE r.id = ANY(:ids) AND r.status = 'waitlisted'"
        ),
        {"ids": list(rsvp_ids)},
    )
    return {row.id: int(row.place) for row in rows}


async def waitlist(session: AsyncSession, event_id: uuid.UUID) -> list[EventRsvp]:
    """The waitlist of one event in order (staff views and tests)."""
    return list(
        await session.scalars(
            select(EventRsvp)
            .where(EventRsvp.event_id == event_id, EventRsvp.status == RsvpStatus.WAITLISTED)
            .order_by(*WAITLIST_ORDER)
        )
    )
