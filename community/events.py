"""Events: online lectures, livestreams, offline activities and free clinics (义诊).

Capacity, a waitlist and seat offers: when a seat frees up the first person on the waitlist is
offered it for `offer_hold_hours`; they accept (going) or the offer expires and passes on. An offered
seat is held: seats taken = going + offered (`going_count` counts only the people going). Members
whose tier has priority booking wait ahead of the others (`priority`, set when they join the list).
Check-in at the door, with each attendee's own signed one-use token: community.attendance.

Concurrency: every change of who holds a seat locks the event row first (SELECT ... FOR UPDATE) and
only then the RSVP rows, so RSVPs, offers, expiries and cancellations of one event are serialised
and the lock order is always event -> rsvp (no deadlocks). Waitlist order is (priority first,
waitlisted_at, id); under the lock each new waitlisted_at is strictly later than the last one, so
within a priority class the order is the order in which requests took the lock, even with a frozen
clock.

Notices (offers, reminders, cancellations) are claimed in `community_notices_sent` first (insert ...
on conflict do nothing returning) and sent through the outbox only when the claim was new, so a
retried or overlapping cron never sends one twice.
"""

from __future__ import annotations

import enum
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, or_, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit
from community.errors import CommunityCode as Code
from community.groups import groups_by_ids
from community.models import (
    Event,
    EventInvitation,
    EventKind,
    EventRsvp,
    Group,
    GroupVisibility,
    Membership,
    MemberState,
    NoticeSent,
    RsvpStatus,
)
from core import clock, jobs
from core.channels import ChannelName, Message
from core.db import unit_of_work
from core.errors import Conflict, CoreCode, DomainError, NotFound, Validator
from core.identity import Actor, ActorKind, DelegationScope, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from loyalty import benefits as tier_benefits
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from patients import guardians
from patients.queries import sites_by_ids
from social import notify

EVENT_REMINDERS = jobs.register("community.event_reminders", "In-app reminders before events (24 h/1 h, 10 min)")
EXPIRE_OFFERS = jobs.register("community.expire_offers", "Expire unanswered seat offers and offer the seat on")

# Staff who create, cancel and invite to events (admins hold every role).
EVENT_ADMIN_ROLES = (Role.MARKETER, Role.MODERATOR)
# Staff who check attendees in at the door.
CHECKIN_STAFF_ROLES = (Role.CLINIC_STAFF,)
# Staff who run events: they scan attendees' check-in codes and read the attendee list.
EVENT_STAFF_ROLES = (*EVENT_ADMIN_ROLES, *CHECKIN_STAFF_ROLES)

MAX_OCCURRENCES = 52
MAX_CAPACITY = 100_000
ONLINE_KINDS = frozenset({EventKind.ONLINE_LECTURE.value, EventKind.LIVESTREAM.value})
KIND_LABELS = {
    EventKind.ONLINE_LECTURE.value: "线上讲座",
    EventKind.LIVESTREAM.value: "直播",
    EventKind.OFFLINE.value: "线下活动",
    EventKind.FREE_CLINIC.value: "义诊",
}
# Reminder stages per kind, nearest first: an event inside several windows gets only the nearest
# stage's reminder (a sign-up 30 minutes before an activity gets the 1 h reminder, not both).
_OFFLINE_STAGES = (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)))
_ONLINE_STAGES = (("10m", timedelta(minutes=10)),)
REMINDER_STAGES: dict[str, tuple[tuple[str, timedelta], ...]] = {
    EventKind.OFFLINE.value: _OFFLINE_STAGES,
    EventKind.FREE_CLINIC.value: _OFFLINE_STAGES,
    EventKind.ONLINE_LECTURE.value: _ONLINE_STAGES,
    EventKind.LIVESTREAM.value: _ONLINE_STAGES,
}
REMINDER_HORIZON = max(lead for stages in REMINDER_STAGES.values() for _, lead in stages)
SEAT_HOLDING = (RsvpStatus.GOING.value, RsvpStatus.OFFERED.value)
# Priority members (a tier benefit) first, then in order of arrival.
WAITLIST_ORDER = (EventRsvp.priority.desc(), EventRsvp.waitlisted_at, EventRsvp.id)
NOTIFIED_ON_CANCEL = (RsvpStatus.GOING.value, RsvpStatus.WAITLISTED.value, RsvpStatus.OFFERED.value)


class EventStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class RsvpResponse(enum.StrEnum):
    GOING = "going"
    DECLINED = "declined"


# --- errors (stable codes) ----------------------------------------------------------------------


class EventNotFound(NotFound):
    code = CoreCode.EVENT_NOT_FOUND
    default_message = "活动不存在"


class EventCancelled(DomainError):
    code = Code.EVENT_CANCELLED
    default_message = "该活动已取消"


class EventStarted(DomainError):
    code = Code.EVENT_STARTED
    default_message = "活动已开始，不能再报名或更改报名"


class EventEnded(DomainError):
    code = Code.EVENT_ENDED
    default_message = "活动已结束"


class RegistrationClosed(DomainError):
    code = Code.REGISTRATION_CLOSED
    default_message = "报名已截止"


class OfferNotFound(Conflict):
    code = Code.OFFER_NOT_FOUND
    default_message = "您没有待确认的名额"


class OfferExpired(Conflict):
    code = Code.OFFER_EXPIRED
    default_message = "名额保留已过期，已顺延给下一位候补"


class NotRegistered(DomainError):
    code = Code.NOT_REGISTERED
    default_message = "您尚未成功报名该活动"


# --- small helpers ------------------------------------------------------------------------------


def new_checkin_nonce() -> str:
    """The random part of an attendee's check-in token; replaced when the registration is withdrawn."""
    return secrets.token_hex(12)


def local_text(at: datetime) -> str:
    """A time as users read it: Asia/Shanghai by default."""
    return at.astimezone(ZoneInfo(get_settings().default_timezone)).strftime("%m月%d日 %H:%M")


def can_manage(actor: Actor) -> bool:
    return actor.has_role(*EVENT_ADMIN_ROLES)


def _sees_everything(actor: Actor) -> bool:
    return actor.has_role(*EVENT_STAFF_ROLES)


def visible_link(event: Event, rsvp: EventRsvp | None, actor: Actor | None = None) -> str | None:
    """The online link is for confirmed attendees only (and the staff who run the event)."""
    if event.online_link is None or event.status != EventStatus.SCHEDULED:
        return None
    if actor is not None and can_manage(actor):
        return event.online_link
    if rsvp is not None and rsvp.event_id == event.id and rsvp.status == RsvpStatus.GOING:
        return event.online_link
    return None


async def claim_notices(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """The keys not claimed before (by anyone, ever): send a notice only for these."""
    if not keys:
        return set()
    now = clock.now()
    claimed = await session.scalars(
        insert(NoticeSent)
        .values([{"key": k, "created_at": now} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(NoticeSent.key)
    )
    return set(claimed)


async def _notify(
    session: AsyncSession, key: str, patient_id: uuid.UUID, subject: str, body: str, *, event_id: uuid.UUID
) -> bool:
    if not await claim_notices(session, [key]):
        return False
    message = Message(ChannelName.IN_APP, str(patient_id), body, subject=subject)
    await outreach.notify(session, MessageClass.NOTICE, [Notice(patient_id, message, key)])
    await notify.event_notices(session, event_id=event_id, notices=[(patient_id, key, subject, body)])
    return True


# --- creating -----------------------------------------------------------------------------------


@dataclass
class EventInput:
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    group_id: uuid.UUID | None = None
    site_id: uuid.UUID | None = None
    description: str = ""
    host_name: str | None = None
    location: str | None = None
    online_link: str | None = None
    capacity: int | None = None
    registration_deadline: datetime | None = None
    offer_hold_hours: int = 12


def _aware(value: datetime | None) -> bool:
    return value is None or value.tzinfo is not None


async def _validate(session: AsyncSession, actor: Actor, data: EventInput, repeat_weekly: int) -> None:
    v = Validator()
    now = clock.now()
    v.check(data.kind in KIND_LABELS, "kind", Code.EVENT_KIND_INVALID, "活动类型无效")
    v.check(2 <= len(data.title.strip()) <= 100, "title", Code.TITLE_LENGTH, "标题需为2到100个字符")
    v.check(len(data.description) <= 5000, "description", CoreCode.DESCRIPTION_LENGTH, "简介不能超过5000个字符")
    v.check(len((data.host_name or "").strip()) <= 60, "hostName", Code.HOST_NAME_LENGTH, "主讲人不能超过60个字符")
    times_ok = _aware(data.starts_at) and _aware(data.ends_at) and _aware(data.registration_deadline)
    v.check(times_ok, "startsAt", Code.TIME_ZONE_REQUIRED, "时间需带时区")
    if times_ok:
        v.check(data.starts_at > now, "startsAt", Code.STARTS_IN_PAST, "开始时间需晚于现在")
        v.check(data.ends_at > data.starts_at, "endsAt", Code.ENDS_BEFORE_START, "结束时间需晚于开始时间")
        v.check(
            data.registration_deadline is None or data.registration_deadline <= data.starts_at,
            "registrationDeadline",
            Code.DEADLINE_AFTER_START,
            "报名截止时间不能晚于活动开始时间",
        )
    v.check(
        data.capacity is None or 1 <= data.capacity <= MAX_CAPACITY,
        "capacity",
        Code.CAPACITY_INVALID,
        f"名额需在1到{MAX_CAPACITY}之间，不限名额请留空",
    )
    v.check(
        1 <= data.offer_hold_hours <= 72,
        "offerHoldHours",
        Code.OFFER_HOLD_INVALID,
        "候补名额保留时间需为1到72小时",
    )
    v.check(
        1 <= repeat_weekly <= MAX_OCCURRENCES,
        "repeatWeekly",
        Code.REPEAT_INVALID,
        f"每周重复次数需为1到{MAX_OCCURRENCES}",
    )
    if data.kind in ONLINE_KINDS:
        link = (data.online_link or "").strip()
        v.check(
            link.startswith("https://") and len(link) <= 500,
            "onlineLink",
            Code.ONLINE_LINK_REQUIRED,
            "线上活动需提供 https 开头的参会链接",
        )
    elif data.kind in KIND_LABELS:
        v.check(
            1 <= len((data.location or "").strip()) <= 200,
            "location",
            Code.LOCATION_REQUIRED,
            "线下活动需填写地点（200字以内）",
        )
    if data.site_id is not None:
        site = (await sites_by_ids(session, [data.site_id])).get(data.site_id)
        v.check(site is not None and site.active, "siteId", CoreCode.SITE_NOT_FOUND, "院区不存在")
    v.raise_if_any()
    if data.group_id is not None:
        await access.get_group(session, actor, data.group_id)  # GROUP_NOT_FOUND if unknown or unseen


async def _insert_event(session: AsyncSession, values: dict[str, object]) -> Event:
    event = Event(**values)
    session.add(event)
    await session.flush()
    return event


async def create_event(
    session: AsyncSession, actor: Actor, data: EventInput, *, repeat_weekly: int | None = None
) -> list[Event]:
    """Create an event; with `repeat_weekly=N`, N weekly occurrences sharing a series id, each with
    its own RSVPs (same local wall-clock time each week)."""
    actor.require_role(*EVENT_ADMIN_ROLES)
    count = 1 if repeat_weekly is None else repeat_weekly
    await _validate(session, actor, data, count)
    tz = ZoneInfo(get_settings().default_timezone)
    series_id = uuid.uuid4() if count > 1 else None
    now = clock.now()
    created: list[Event] = []
    for week in range(count):

        def shifted(at: datetime, week: int = week) -> datetime:
            return (at.astimezone(tz) + timedelta(weeks=week)).astimezone(tz)

        deadline = data.registration_deadline
        values: dict[str, object] = {
            "id": new_id(),
            "group_id": data.group_id,
            "site_id": data.site_id,
            "series_id": series_id,
            "kind": data.kind,
            "title": data.title.strip(),
            "description": data.description.strip(),
            "host_name": (data.host_name or "").strip() or None,
            "location": (data.location or "").strip() or None,
            "online_link": (data.online_link or "").strip() or None,
            "starts_at": shifted(data.starts_at),
            "ends_at": shifted(data.ends_at),
            "capacity": data.capacity,
            "registration_deadline": shifted(deadline) if deadline is not None else None,
            "offer_hold_hours": data.offer_hold_hours,
            "status": EventStatus.SCHEDULED.value,
            "going_count": 0,
            "created_by": actor.id,
            "created_at": now,
            "updated_at": now,
        }
        event = await _insert_event(session, values)
        created.append(event)
    first = created[0]
    await audit.record(
        session,
        actor,
        "event_create",
        target_kind="event",
        target_id=first.id,
        group_id=first.group_id,
        detail={"kind": first.kind, "occurrences": count, "series_id": str(series_id) if series_id else None},
    )
    return created


# --- visibility ---------------------------------------------------------------------------------


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
    if _sees_everything(actor) or actor.is_system:
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
        if not _sees_everything(actor):
            await access.require_reader(session, actor, group_id)
        stmt = stmt.where(Event.group_id == group_id)
    elif not _sees_everything(actor):
        stmt = stmt.where(_visibility_filter(actor))
    return await keyset_page(
        session, stmt, sort=Event.starts_at, id_=Event.id, first=first, after=after, descending=past
    )


# --- seats ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occupancy:
    going: int
    offered: int
    waitlisted: int


async def lock_event(session: AsyncSession, event_id: uuid.UUID) -> Event:
    event = await session.scalar(
        select(Event).where(Event.id == event_id).with_for_update().execution_options(populate_existing=True)
    )
    if event is None:
        raise EventNotFound(field="eventId")
    return event


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


async def lock_rsvp(session: AsyncSession, event_id: uuid.UUID, patient_id: uuid.UUID) -> EventRsvp | None:
    return await session.scalar(
        select(EventRsvp)
        .where(EventRsvp.event_id == event_id, EventRsvp.patient_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


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
        await _notify(
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
        await _notify(
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


# --- cancellation ---------------------------------------------------------------------------------


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


# --- reminders ------------------------------------------------------------------------------------


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


# --- reads for the API -----------------------------------------------------------------------------


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
