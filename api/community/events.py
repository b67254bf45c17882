"""GraphQL for community events: queries `events`/`event`, mutations for creating, cancelling, RSVP,
seat offers, check-in and invitations. A view only: the rules live in community.events/invitations.

Every relation goes through a per-request DataLoader (viewer RSVP, seat counts, waitlist places), so
a page of events costs a fixed number of statements.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import TypeVar

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import CommunityError
from api.mutations import ModelPayload, mutate, on_id
from api.relay import (
    Connection,
    Node,
    node_fetcher,
    optional_id,
    parse_uuid_id,
    read_nodes,
    read_page,
    require_id,
    require_ids,
    to_global_id,
)
from api.views import node_view
from community import attendance, events, invitations
from community import models as cm
from core import clock
from core.identity import Actor

R = TypeVar("R")

EventKind = cm.EventKind
strawberry.enum(EventKind, name="EventKind")
EventStatus = cm.EventStatus
strawberry.enum(EventStatus, name="EventStatus")
EventRsvpStatus = cm.RsvpStatus
strawberry.enum(EventRsvpStatus, name="EventRsvpStatus", description="going/waitlisted/offered ...")


@strawberry.enum(name="EventRsvpResponse")
class EventRsvpResponse(Enum):
    GOING = "going"
    DECLINED = "declined"


async def _viewer_rsvp(info: Info, event_id: uuid.UUID) -> cm.EventRsvp | None:
    actor = info.context.actor
    if not actor.is_patient or actor.id is None:
        return None
    rsvp: cm.EventRsvp | None = await info.context.loaders.get(events.rsvps_for).load((event_id, actor.id))
    return rsvp


async def _event_rsvp_waitlist_position(root: EventRsvpType, info: Info) -> int | None:
    if root.model.status != cm.RsvpStatus.WAITLISTED:
        return None
    place: int | None = await info.context.loaders.get(events.waitlist_positions).load(root.model.id)
    return place


@strawberry.type(name="EventRsvp", description="我的报名状态")
class EventRsvpType:
    model: strawberry.Private[cm.EventRsvp]

    status: EventRsvpStatus
    waitlist_position: int | None = strawberry.field(
        resolver=_event_rsvp_waitlist_position, description="候补排位（从1开始）；不在候补名单时为 null"
    )
    offer_expires_at: datetime | None = strawberry.field(description="为我保留的名额的截止时间（状态为 OFFERED 时）")
    checked_in_at: datetime | None
    responded_at: datetime
    priority: bool = strawberry.field(description="候补优先（会员等级的优先预约权益，加入候补时确定）")
    event: strawberry.Private[cm.Event]

    @classmethod
    def from_model(cls, row: cm.EventRsvp, event: cm.Event) -> EventRsvpType:
        return cls(
            model=row,
            status=cm.RsvpStatus(row.status),
            offer_expires_at=row.offer_expires_at if row.status == cm.RsvpStatus.OFFERED else None,
            checked_in_at=row.checked_in_at,
            responded_at=row.updated_at,
            priority=row.priority,
            event=event,
        )

    @strawberry.field(
        description="我的签到二维码内容（仅本人、已确认参加且尚未签到时可见；到场后出示给工作人员扫码，一次有效）"
    )
    def check_in_qr(self, info: Info) -> str | None:
        return attendance.token_for_viewer(info.context.actor, self.event, self.model)


@strawberry.type(name="Event", description="社群活动：线上讲座、直播、线下活动、义诊")
class EventType(Node):
    model: strawberry.Private[cm.Event]

    kind: EventKind
    kind_label: str = strawberry.field(description="类型中文名")
    title: str
    description: str
    host_name: str | None
    location: str | None = strawberry.field(description="线下地点")
    starts_at: datetime
    ends_at: datetime
    capacity: int | None = strawberry.field(description="名额；null 表示不限")
    registration_deadline: datetime | None
    offer_hold_hours: int = strawberry.field(description="候补名额保留小时数")
    status: EventStatus
    cancelled_at: datetime | None
    cancel_reason: str | None
    group_id: strawberry.ID | None = strawberry.field(description="所属社群；全院活动为 null")
    site_id: strawberry.ID | None = strawberry.field(description="举办院区")
    series_id: str | None = strawberry.field(description="同一系列（每周重复）的场次共享此编号")
    going_count: int = strawberry.field(description="已确认参加人数")

    @classmethod
    def from_model(cls, row: cm.Event) -> EventType:
        return node_view(
            cls,
            row,
            kind=cm.EventKind(row.kind),
            kind_label=events.KIND_LABELS.get(row.kind, row.kind),
            status=EventStatus(row.status),
            group_id=to_global_id("Group", row.group_id) if row.group_id else None,
            site_id=to_global_id("Site", row.site_id) if row.site_id else None,
            series_id=str(row.series_id) if row.series_id else None,
        )

    @strawberry.field(description="剩余名额（保留给候补者的名额不算剩余）；不限名额时为 null")
    async def seats_left(self, info: Info) -> int | None:
        if self.model.capacity is None:
            return None
        occ: events.Occupancy | None = await info.context.loaders.get(events.occupancy).load(self.model.id)
        taken = occ.going + occ.offered if occ else self.model.going_count
        return max(0, self.model.capacity - taken)

    @strawberry.field(description="候补人数")
    async def waitlist_count(self, info: Info) -> int:
        occ: events.Occupancy | None = await info.context.loaders.get(events.occupancy).load(self.model.id)
        return occ.waitlisted if occ else 0

    @strawberry.field(description="当前是否可以报名")
    def registration_open(self) -> bool:
        now = clock.now()
        deadline = self.model.registration_deadline
        return (
            self.model.status == EventStatus.SCHEDULED
            and now < self.model.starts_at
            and (deadline is None or now <= deadline)
        )

    @strawberry.field(description="我的报名；未报名或非患者时为 null")
    async def viewer_rsvp(self, info: Info) -> EventRsvpType | None:
        rsvp = await _viewer_rsvp(info, self.model.id)
        return EventRsvpType.from_model(rsvp, self.model) if rsvp else None

    @strawberry.field(description="线上参会链接：仅对已确认参加者显示")
    async def online_link(self, info: Info) -> str | None:
        if self.model.online_link is None:
            return None
        rsvp = await _viewer_rsvp(info, self.model.id)
        return events.visible_link(self.model, rsvp, info.context.actor)


@strawberry.type(name="EventInvitationRun", description="一次活动邀请的发送进度")
class EventInvitationRunType:
    model: strawberry.Private[cm.InvitationRun]

    id: strawberry.ID
    status: str = strawberry.field(description="queued / running / done")
    invited: int = strawberry.field(description="已发出的邀请数")
    suppressed: int = strawberry.field(description="按统一触达规则未邀请的人数（已故、住院、员工、已退订营销消息）")
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def from_model(cls, row: cm.InvitationRun) -> EventInvitationRunType:
        return node_view(cls, row)


async def _with_event(s: AsyncSession, event_id: uuid.UUID, result: R) -> tuple[cm.Event, R]:
    """What a mutation did to an event, with the event as its unit of work now sees it (for the payload)."""
    event = await s.get(cm.Event, event_id)
    assert event is not None
    return event, result


@node_fetcher("Event")
async def _fetch_events(info: Info, raw: Sequence[str]) -> list[EventType | None]:
    return await read_nodes(info, raw, events.visible_events, EventType.from_model)


@strawberry.type(name="EventAttendee", description="活动报名者（活动工作人员在签到处查看）")
class EventAttendeeType:
    registration_id: strawberry.ID = strawberry.field(description="报名编号")
    patient_id: strawberry.ID
    nickname: str = strawberry.field(description="社群昵称")
    real_name: str | None = strawberry.field(description="真实姓名（仅诊疗与门诊员工可见）")
    masked_phone: str = strawberry.field(description="手机号（打码）")
    status: EventRsvpStatus
    priority: bool = strawberry.field(description="候补优先（会员等级权益）")
    registered_at: datetime
    checked_in_at: datetime | None

    @classmethod
    def from_model(cls, a: attendance.Attendee) -> EventAttendeeType:
        return cls(
            registration_id=strawberry.ID(str(a.rsvp.id)),
            patient_id=to_global_id("Patient", a.rsvp.patient_id),
            nickname=a.nickname,
            real_name=a.real_name,
            masked_phone=a.masked_phone,
            status=cm.RsvpStatus(a.rsvp.status),
            priority=a.rsvp.priority,
            registered_at=a.rsvp.created_at,
            checked_in_at=a.rsvp.checked_in_at,
        )


# --- queries ----------------------------------------------------------------------------------------


@strawberry.type
class EventQuery:
    @strawberry.field(
        description="活动列表：默认未结束的活动，开始时间早的在前；past 为 true 时为已结束的活动，最近的在前"
    )
    async def events(
        self,
        info: Info,
        group_id: strawberry.ID | None = None,
        first: int | None = 20,
        after: str | None = None,
        past: bool = False,
    ) -> Connection[EventType]:
        group = require_id(group_id, "Group", "groupId") if group_id is not None else None
        return await read_page(
            info,
            lambda s, a: events.events_page(s, a, group_id=group, first=first, after=after, past=past),
            EventType.from_model,
        )

    @strawberry.field(description="按编号取活动；无权查看时为 null")
    async def event(self, info: Info, id: strawberry.ID) -> EventType | None:
        event_id = parse_uuid_id(str(id), "Event")
        if event_id is None:
            return None
        found = await info.context.read(events.visible_events, [event_id])
        return EventType.from_model(found[event_id]) if event_id in found else None

    @strawberry.field(
        description="活动报名名单（活动工作人员：市场运营、社区版主、门诊前台），按报名时间排列，含签到时间"
    )
    async def event_attendees(
        self,
        info: Info,
        event_id: strawberry.ID,
        first: int | None = 50,
        after: str | None = None,
        status: EventRsvpStatus | None = None,
    ) -> Connection[EventAttendeeType]:
        event = require_id(event_id, "Event", "eventId")
        return await read_page(
            info,
            lambda s, a: attendance.attendees_page(s, a, event, first=first, after=after, status=status),
            EventAttendeeType.from_model,
        )


# --- mutations --------------------------------------------------------------------------------------


@strawberry.input
class EventCreateInput:
    kind: EventKind
    title: str
    starts_at: datetime
    ends_at: datetime
    group_id: strawberry.ID | None = strawberry.field(default=None, description="社群活动填写；全院活动留空")
    site_id: strawberry.ID | None = None
    description: str = ""
    host_name: str | None = None
    location: str | None = strawberry.field(default=None, description="线下活动、义诊必填")
    online_link: str | None = strawberry.field(default=None, description="线上讲座、直播必填（https）")
    capacity: int | None = strawberry.field(default=None, description="名额；不限名额留空")
    registration_deadline: datetime | None = None
    offer_hold_hours: int = strawberry.field(default=12, description="候补名额为下一位保留的小时数")
    repeat_weekly: int = strawberry.field(default=1, description="每周重复的场次数（含首场）；1 表示不重复")


@strawberry.type
class EventCreatePayload:
    event: EventType | None = strawberry.field(default=None, description="第一场")
    occurrences: list[EventType] = strawberry.field(default_factory=list, description="全部场次（每周重复时多场）")
    errors: list[CommunityError]

    @classmethod
    def of(cls, found: list[cm.Event], _info: Info) -> EventCreatePayload:
        if not found:
            return cls(errors=[])
        wrapped = [EventType.from_model(e) for e in found]
        return cls(event=wrapped[0], occurrences=wrapped, errors=[])


@strawberry.input
class EventCancelInput:
    event_id: strawberry.ID
    reason: str


@strawberry.type
class EventPayload(ModelPayload):
    event: EventType | None = None
    errors: list[CommunityError]


@strawberry.input
class EventRsvpInput:
    event_id: strawberry.ID
    response: EventRsvpResponse


@strawberry.input
class EventOfferAcceptInput:
    event_id: strawberry.ID


@strawberry.type
class EventRsvpPayload:
    event: EventType | None = None
    rsvp: EventRsvpType | None = None
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: tuple[cm.Event, cm.EventRsvp], _info: Info) -> EventRsvpPayload:
        return cls(event=EventType.from_model(v[0]), rsvp=EventRsvpType.from_model(v[1], v[0]), errors=[])


@strawberry.input
class EventCheckInInput:
    event_id: strawberry.ID = strawberry.field(description="工作人员所在的活动")
    token: str | None = strawberry.field(default=None, description="扫描参会者签到二维码得到的内容")
    patient_id: strawberry.ID | None = strawberry.field(
        default=None, description="不扫码时：为该患者签到（含现场加入）"
    )


@strawberry.type
class EventCheckInPayload:
    event: EventType | None = None
    rsvp: EventRsvpType | None = None
    points_awarded: int = 0
    already_checked_in: bool = False
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: tuple[cm.Event, attendance.CheckInResult], _info: Info) -> EventCheckInPayload:
        event, result = v
        return cls(
            event=EventType.from_model(event),
            rsvp=EventRsvpType.from_model(result.rsvp, event),
            points_awarded=result.points,
            already_checked_in=result.already,
            errors=[],
        )


@strawberry.input
class EventInviteInput:
    event_id: strawberry.ID
    group_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    patient_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    segment_id: strawberry.ID | None = strawberry.field(
        default=None, description="营销人群（仅市场运营）：按邀请开始时的条件圈选"
    )


@strawberry.type
class EventInvitePayload(ModelPayload):
    run: EventInvitationRunType | None = None
    errors: list[CommunityError]


@strawberry.type
class EventMutation:
    @strawberry.mutation(description="新建活动（市场运营、社区版主）；可每周重复多场")
    async def event_create(self, info: Info, input: EventCreateInput) -> EventCreatePayload:
        async def work(s: AsyncSession, a: Actor) -> list[cm.Event]:
            data = events.EventInput(
                kind=input.kind.value,
                title=input.title,
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                group_id=require_id(input.group_id, "Group", "groupId") if input.group_id else None,
                site_id=require_id(input.site_id, "Site", "siteId") if input.site_id else None,
                description=input.description,
                host_name=input.host_name,
                location=input.location,
                online_link=input.online_link,
                capacity=input.capacity,
                registration_deadline=input.registration_deadline,
                offer_hold_hours=input.offer_hold_hours,
            )
            return await events.create_event(s, a, data, repeat_weekly=input.repeat_weekly)

        return await mutate(info, EventCreatePayload, work)

    @strawberry.mutation(description="取消活动（市场运营、社区版主）：通知所有已报名、候补者")
    async def event_cancel(self, info: Info, input: EventCancelInput) -> EventPayload:
        return await mutate(
            info, EventPayload, on_id(events.cancel_event, input.event_id, "Event", "eventId", reason=input.reason)
        )

    @strawberry.mutation(description="报名（GOING，满员时进入候补）或不参加（DECLINED，已报名者即取消报名）")
    async def event_rsvp(self, info: Info, input: EventRsvpInput) -> EventRsvpPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[cm.Event, cm.EventRsvp]:
            event_id = require_id(input.event_id, "Event", "eventId")
            return await _with_event(s, event_id, await events.rsvp(s, a, event_id, input.response.value))

        return await mutate(info, EventRsvpPayload, work)

    @strawberry.mutation(description="接受为我保留的候补名额")
    async def event_offer_accept(self, info: Info, input: EventOfferAcceptInput) -> EventRsvpPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[cm.Event, cm.EventRsvp]:
            event_id = require_id(input.event_id, "Event", "eventId")
            return await _with_event(s, event_id, await events.accept_offer(s, a, event_id))

        return await mutate(info, EventRsvpPayload, work)

    @strawberry.mutation(
        description="活动签到（活动工作人员：市场运营、社区版主、门诊前台）：扫描参会者本人的签到二维码（一次有效），"
        "或为指定患者签到；签到后发放参加活动积分（每人每场一次）"
    )
    async def event_check_in(self, info: Info, input: EventCheckInInput) -> EventCheckInPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[cm.Event, attendance.CheckInResult]:
            event_id = require_id(input.event_id, "Event", "eventId")
            patient = require_id(input.patient_id, "Patient", "patientId") if input.patient_id else None
            result = await attendance.check_in(s, a, event_id, token=input.token, patient_id=patient)
            return await _with_event(s, event_id, result)

        return await mutate(info, EventCheckInPayload, work)

    @strawberry.mutation(description="邀请社群成员、指定患者或营销人群参加活动（后台分批发送，遵守统一触达规则）")
    async def event_invite(self, info: Info, input: EventInviteInput) -> EventInvitePayload:
        return await mutate(
            info,
            EventInvitePayload,
            lambda s, a: invitations.start_invitation(
                s,
                a,
                require_id(input.event_id, "Event", "eventId"),
                group_ids=require_ids(input.group_ids, "Group", "groupIds"),
                patient_ids=require_ids(input.patient_ids, "Patient", "patientIds"),
                segment_id=optional_id(input.segment_id, "Segment", "segmentId"),
            ),
        )
