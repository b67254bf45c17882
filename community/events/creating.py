"""Creating events: one, or a weekly series whose occurrences each take their own RSVPs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit
from community.errors import CommunityCode as Code
from community.events.rules import EVENT_ADMIN_ROLES, KIND_LABELS, MAX_CAPACITY, MAX_OCCURRENCES, ONLINE_KINDS
from community.models import Event, EventStatus
from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor
from core.ids import new_id
from core.settings import get_settings
from patients.queries import sites_by_ids


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
