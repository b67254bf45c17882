"""Who sees which event: site events everyone signed in, group events the group's readers, any event
its invitees; the online link only confirmed attendees (and the staff who run the event)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community.errors import EventNotFound
from community.events.rules import can_manage, sees_everything
from community.groups import groups_by_ids
from community.models import (
    Event,
    EventInvitation,
    EventRsvp,
    EventStatus,
    Group,
    GroupVisibility,
    Membership,
    MemberState,
    RsvpStatus,
)
from core import clock
from core.identity import Actor, ActorKind
from core.pagination import Page, keyset_page


def visible_link(event: Event, rsvp: EventRsvp | None, actor: Actor | None = None) -> str | None:
    """The online link is for confirmed attendees only (and the staff who run the event)."""
    if event.online_link is None or event.status != EventStatus.SCHEDULED:
        return None
    if actor is not None and can_manage(actor):
        return event.online_link
    if rsvp is not None and rsvp.event_id == event.id and rsvp.status == RsvpStatus.GOING:
        return event.online_link
    return None


async def _invited(session: AsyncSession, actor: Actor, event_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
    if not actor.is_patient or actor.id is None or not event_ids:
        return set()
    rows = await session.scalars(
        select(EventInvitation.event_id).where(
            EventInvitation.patient_id == actor.id, EventInvitation.event_id.in_(event_ids)
        )
    )
    return set(rows)


async def visible_events(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Event]:
    """The events among `ids` this actor may see: site events to everyone signed in, group events to
    whoever may read the group (community.access), and any event the patient was invited to."""
    if actor.kind is ActorKind.ANONYMOUS or not ids:
        return {}
    events = {e.id: e for e in await session.scalars(select(Event).where(Event.id.in_(ids)))}
    if sees_everything(actor) or actor.is_system:
        return events
    group_ids = list({e.group_id for e in events.values() if e.group_id is not None})
    groups = await groups_by_ids(session, group_ids) if group_ids else {}
    mine = await access.memberships_of(session, actor, group_ids)
    invited = await _invited(session, actor, [e.id for e in events.values() if e.group_id is not None])
    out: dict[uuid.UUID, Event] = {}
    for event in events.values():
        if event.group_id is None or event.id in invited:
            out[event.id] = event
            continue
        group = groups.get(event.group_id)
        if group is not None and access.can_read_posts(actor, group, mine.get(group.id)):
            out[event.id] = event
    return out


async def get_event(session: AsyncSession, actor: Actor, event_id: uuid.UUID) -> Event:
    event = (await visible_events(session, actor, [event_id])).get(event_id)
    if event is None:
        raise EventNotFound(field="eventId")
    return event


def _visibility_filter(actor: Actor) -> ColumnElement[bool]:
    now = clock.now()
    kind, account_id = access.account_of(actor)
    readable_groups = select(Group.id).where(Group.visibility == GroupVisibility.PUBLIC)
    member_of = select(Membership.group_id).where(
        Membership.account_kind == kind,
        Membership.account_id == account_id,
        or_(
            Membership.state == MemberState.ACTIVE,
            and_(Membership.state == MemberState.BANNED, Membership.banned_until <= now),
        ),
    )
    conditions = [Event.group_id.is_(None), Event.group_id.in_(readable_groups), Event.group_id.in_(member_of)]
    if actor.is_patient:
        conditions.append(
            Event.id.in_(select(EventInvitation.event_id).where(EventInvitation.patient_id == account_id))
        )
    return or_(*conditions)


async def events_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    first: int | None = None,
    after: str | None = None,
    past: bool = False,
) -> Page[Event]:
    """Upcoming events (not yet ended), soonest first; with `past`, ended ones, latest first.
    Cancelled events stay listed (their status says so)."""
    actor.require_authenticated()
    now = clock.now()
    stmt = select(Event).where(Event.ends_at <= now if past else Event.ends_at > now)
    if group_id is not None:
        if not sees_everything(actor):
            await access.require_reader(session, actor, group_id)
        stmt = stmt.where(Event.group_id == group_id)
    elif not sees_everything(actor):
        stmt = stmt.where(_visibility_filter(actor))
    return await keyset_page(
        session, stmt, sort=Event.starts_at, id_=Event.id, first=first, after=after, descending=past
    )
