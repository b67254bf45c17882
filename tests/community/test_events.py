"""Community events: seats under concurrency, waitlist and offers, refusals, link visibility,
reminders and cancellation notices exactly once, resumable invitations (check-in: test_attendance.py)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
import strawberry
from sqlalchemy import func, select

from api.community.events import EventMutation, EventQuery
from api.context import Context
from community import access, events, groups, invitations
from community.models import AuditEntry, Event, EventInvitation, EventRsvp, InvitationRun, NoticeSent
from core import clock, queue
from core.db import RequestDB, unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.identity import Actor, Role
from core.outbox import OutboxMessage
from patients import service as patient_service
from patients.queries import patients_by_ids
from tests import factories
from tests.factories import as_patient, join, new_member, staff
from tests.support import count_statements

MODERATOR = staff(Role.MODERATOR)
MARKETER = staff(Role.MARKETER)
CLINIC = staff(Role.CLINIC_STAFF)
LINK = "https://live.example.cn/room/8848"


pytestmark = pytest.mark.usefixtures("ledger_invariants")


# --- helpers --------------------------------------------------------------------------------------


async def make_group(slug: str, *, visibility: str = "public") -> uuid.UUID:
    return await factories.make_group(
        slug, visibility=visibility, condition_code=None, alias_prefix="病友", by=MODERATOR
    )


async def make_event(*, repeat_weekly: int | None = None, **overrides: Any) -> Event:
    now = clock.now()
    values: dict[str, Any] = {
        "kind": "offline",
        "title": "糖尿病饮食讲座",
        "starts_at": now + timedelta(days=3),
        "ends_at": now + timedelta(days=3, hours=2),
        "location": "门诊楼三层报告厅",
        "capacity": 10,
    }
    values.update(overrides)
    async with unit_of_work() as session:
        created = await events.create_event(session, MARKETER, events.EventInput(**values), repeat_weekly=repeat_weekly)
    return created[0]


async def do_rsvp(patient_id: uuid.UUID, event_id: uuid.UUID, response: str = "going") -> EventRsvp:
    async with unit_of_work() as session:
        return await events.rsvp(session, as_patient(patient_id), event_id, response)


async def rsvp_of(event_id: uuid.UUID, patient_id: uuid.UUID) -> EventRsvp:
    async with unit_of_work() as session:
        row = await session.scalar(
            select(EventRsvp).where(EventRsvp.event_id == event_id, EventRsvp.patient_id == patient_id)
        )
    assert row is not None
    return row


async def event_row(event_id: uuid.UUID) -> Event:
    async with unit_of_work() as session:
        event = await session.get(Event, event_id)
    assert event is not None
    return event


async def messages(subject: str | None = None, channel: str | None = None) -> list[dict[str, Any]]:
    async with unit_of_work() as session:
        rows = list(await session.scalars(select(OutboxMessage.payload).order_by(OutboxMessage.created_at)))
    return [
        p
        for p in rows
        if (subject is None or p.get("subject") == subject) and (channel is None or p["channel"] == channel)
    ]


def recipients(items: list[dict[str, Any]]) -> list[str]:
    return [m["recipient"] for m in items]


# --- seats, waitlist, offers ----------------------------------------------------------------------


async def test_thirty_concurrent_rsvps_for_ten_seats_then_offers_pass_on():
    event = await make_event(capacity=10, offer_hold_hours=6)
    patients = [await new_member() for _ in range(30)]
    arrivals: list[uuid.UUID] = []

    async def rsvp_going(patient_id: uuid.UUID) -> str:
        async with unit_of_work() as session:
            row = await events.rsvp(session, as_patient(patient_id), event.id, "going")
            # Still inside the transaction holding the event lock: this is the order of arrival.
            arrivals.append(patient_id)
            return row.status

    statuses = await asyncio.gather(*[rsvp_going(p) for p in patients])
    assert statuses.count("going") == 10 and statuses.count("waitlisted") == 20
    async with unit_of_work() as session:
        going = set(
            await session.scalars(
                select(EventRsvp.patient_id).where(EventRsvp.event_id == event.id, EventRsvp.status == "going")
            )
        )
        queue_order = [r.patient_id for r in await events.waitlist(session, event.id)]
        places = await events.waitlist_positions(session, [r.id for r in await events.waitlist(session, event.id)][:3])
    assert going == set(arrivals[:10])
    assert queue_order == arrivals[10:]
    assert sorted(places.values()) == [1, 2, 3]
    assert (await event_row(event.id)).going_count == 10

    # A going attendee cancels: the first waitlisted gets an offer (with an in-app notice), the seat is held.
    first_waiting, second_waiting, third_waiting = arrivals[10], arrivals[11], arrivals[12]
    assert (await do_rsvp(arrivals[0], event.id, "declined")).status == "declined"
    offer = await rsvp_of(event.id, first_waiting)
    assert offer.status == "offered" and offer.offer_expires_at is not None
    assert abs((offer.offer_expires_at - clock.now()) - timedelta(hours=6)) < timedelta(minutes=1)
    assert recipients(await messages("候补名额通知")) == [str(first_waiting)]
    assert (await event_row(event.id)).going_count == 9
    latecomer = await new_member()
    assert (await do_rsvp(latecomer, event.id)).status == "waitlisted"  # the offered seat is not free
    async with unit_of_work() as session:
        assert await events.accept_offer(session, as_patient(first_waiting), event.id)
    assert (await rsvp_of(event.id, first_waiting)).status == "going"
    assert (await event_row(event.id)).going_count == 10

    # Another cancel offers the seat to the next; nobody answers; the offer expires and passes on.
    await do_rsvp(arrivals[1], event.id, "declined")
    assert (await rsvp_of(event.id, second_waiting)).status == "offered"
    assert await events.expire_offers() == 0  # not yet due
    clock.clock.advance(timedelta(hours=6, minutes=1))
    async with unit_of_work() as session:
        with pytest.raises(events.OfferExpired):
            await events.accept_offer(session, as_patient(second_waiting), event.id)
    assert await events.expire_offers() == 1
    assert await events.expire_offers() == 0  # a second cron run changes nothing
    lapsed = await rsvp_of(event.id, second_waiting)
    assert lapsed.status == "cancelled"
    assert (await rsvp_of(event.id, third_waiting)).status == "offered"
    assert recipients(await messages("候补名额通知")) == [str(first_waiting), str(second_waiting), str(third_waiting)]
    assert recipients(await messages("候补名额已过期")) == [str(second_waiting)]
    # Answering going to an offer accepts it.
    assert (await do_rsvp(third_waiting, event.id)).status == "going"
    final = await event_row(event.id)
    assert final.going_count == 10
    async with unit_of_work() as session:
        holding = await session.scalar(
            select(func.count())
            .select_from(EventRsvp)
            .where(EventRsvp.event_id == event.id, EventRsvp.status.in_(["going", "offered"]))
        )
    assert holding == 10


async def test_deadline_start_and_cancelled_event_refuse_with_codes():
    patient = await new_member()
    event = await make_event(registration_deadline=clock.now() + timedelta(hours=1))
    clock.clock.advance(timedelta(hours=2))
    with pytest.raises(events.RegistrationClosed) as closed:
        await do_rsvp(patient, event.id)
    assert closed.value.code == "REGISTRATION_CLOSED"
    assert (await do_rsvp(patient, event.id, "declined")).status == "declined"  # declining is still fine

    other = await make_event(capacity=None)
    async with unit_of_work() as session:
        await events.cancel_event(session, MODERATOR, other.id, reason="讲者临时有事")
    with pytest.raises(events.EventCancelled) as cancelled:
        await do_rsvp(patient, other.id)
    assert cancelled.value.code == "EVENT_CANCELLED"

    started = await make_event(starts_at=clock.now() + timedelta(minutes=30), ends_at=clock.now() + timedelta(hours=2))
    clock.clock.advance(timedelta(minutes=31))
    with pytest.raises(events.EventStarted):
        await do_rsvp(patient, started.id)
    with pytest.raises(events.EventNotFound):
        await do_rsvp(patient, uuid.uuid4())
    async with unit_of_work() as session:
        with pytest.raises(events.OfferNotFound):
            await events.accept_offer(session, as_patient(patient), event.id)


async def test_create_validation_roles_and_recurring_occurrences():
    patient = await new_member()
    now = clock.now()
    data = events.EventInput(kind="online_lecture", title="控糖直播", starts_at=now + timedelta(days=1), ends_at=now)
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await events.create_event(session, as_patient(patient), data)
        with pytest.raises(ValidationFailed) as invalid:
            await events.create_event(session, MARKETER, data)
    codes = {i.code for i in invalid.value.issues}
    assert {"ENDS_BEFORE_START", "ONLINE_LINK_REQUIRED"} <= codes

    first = await make_event(repeat_weekly=3, capacity=5)
    async with unit_of_work() as session:
        series = list(await session.scalars(select(Event).where(Event.series_id == first.series_id)))
    series.sort(key=lambda e: e.starts_at)
    assert len(series) == 3 and first.series_id is not None
    assert [s.starts_at - series[0].starts_at for s in series] == [timedelta(0), timedelta(weeks=1), timedelta(weeks=2)]
    await do_rsvp(patient, series[1].id)
    async with unit_of_work() as session:
        per_occurrence = dict(
            (
                await session.execute(
                    select(EventRsvp.event_id, func.count())
                    .where(EventRsvp.patient_id == patient)
                    .group_by(EventRsvp.event_id)
                )
            ).all()
        )
    assert per_occurrence == {series[1].id: 1}


# --- visibility and the online link ---------------------------------------------------------------


async def test_group_events_follow_group_visibility_and_invitations_open_them():
    group = await make_group("events-members", visibility="members")
    member, outsider = await new_member(), await new_member()
    await join(group, member)
    group_event = await make_event(group_id=group, title="控糖小组线下交流")
    site_event = await make_event(title="全院义诊日", kind="free_clinic")
    async with unit_of_work() as session:
        seen_by_member = await events.events_page(session, as_patient(member))
        seen_by_outsider = await events.events_page(session, as_patient(outsider))
        with pytest.raises(events.EventNotFound):
            await events.get_event(session, as_patient(outsider), group_event.id)
        assert (await events.get_event(session, as_patient(member), group_event.id)).id == group_event.id
        with pytest.raises(Exception) as not_member:
            await events.events_page(session, as_patient(outsider), group_id=group)
        assert not_member.value.code == "NOT_A_MEMBER"  # type: ignore[attr-defined]
    assert {e.id for e in seen_by_member.items} == {group_event.id, site_event.id}
    assert {e.id for e in seen_by_outsider.items} == {site_event.id}
    with pytest.raises(events.EventNotFound):
        await do_rsvp(outsider, group_event.id)

    async with unit_of_work() as session:
        run = await invitations.start_invitation(session, MARKETER, group_event.id, patient_ids=[outsider])
    await invitations.run_invitation(run.id)
    async with unit_of_work() as session:
        assert (await events.get_event(session, as_patient(outsider), group_event.id)).id == group_event.id
    assert (await do_rsvp(outsider, group_event.id)).status == "going"


async def test_online_link_only_for_going_attendees_through_graphql():
    event = await make_event(kind="livestream", location=None, online_link=LINK, capacity=1, title="控糖直播间")
    going, waiting, stranger = await new_member(), await new_member(), await new_member()
    rsvp_mutation = """mutation($id: ID!) { eventRsvp(input: {eventId: $id, response: GOING}) {
      rsvp { status waitlistPosition } event { goingCount seatsLeft waitlistCount onlineLink }
      errors { code message } } }"""
    gid = str(strawberry.ID(_gid(event.id)))
    first = (await run(as_patient(going), rsvp_mutation, {"id": gid}))["eventRsvp"]
    assert first["errors"] == [] and first["rsvp"] == {"status": "GOING", "waitlistPosition": None}
    assert first["event"] == {"goingCount": 1, "seatsLeft": 0, "waitlistCount": 0, "onlineLink": LINK}
    second = (await run(as_patient(waiting), rsvp_mutation, {"id": gid}))["eventRsvp"]
    assert second["rsvp"] == {"status": "WAITLISTED", "waitlistPosition": 1}
    assert second["event"]["onlineLink"] is None

    query = "query($id: ID!) { event(id: $id) { title onlineLink viewerRsvp { status } } }"
    assert (await run(as_patient(going), query, {"id": gid}))["event"]["onlineLink"] == LINK
    assert (await run(as_patient(waiting), query, {"id": gid}))["event"]["onlineLink"] is None
    seen = (await run(as_patient(stranger), query, {"id": gid}))["event"]
    assert seen == {"title": "控糖直播间", "onlineLink": None, "viewerRsvp": None}

    refused = (await run(as_patient(going), rsvp_mutation, {"id": _gid(uuid.uuid4())}))["eventRsvp"]
    assert [e["code"] for e in refused["errors"]] == ["EVENT_NOT_FOUND"]
    # The list costs a fixed number of statements whatever its length.
    for _ in range(4):
        await make_event(kind="livestream", location=None, online_link=LINK, capacity=3)
    page = "{ events(first: 10) { nodes { title seatsLeft waitlistCount onlineLink viewerRsvp { status } } } }"
    with count_statements() as few:
        small = await run(
            as_patient(going), "{ events(first: 1) { nodes { title seatsLeft onlineLink viewerRsvp { status } } } }", {}
        )
    with count_statements() as many:
        large = await run(as_patient(going), page, {})
    assert len(small["events"]["nodes"]) == 1 and len(large["events"]["nodes"]) == 5
    assert many.count == few.count == 3  # the page, the viewer's RSVPs, the seat counts

    async with unit_of_work() as session:
        event_model = await session.get(Event, event.id)
        assert event_model is not None
        assert events.visible_link(event_model, None) is None
        assert events.visible_link(event_model, None, MARKETER) == LINK


@strawberry.type
class _Query(EventQuery):
    pass


@strawberry.type
class _Mutation(EventMutation):
    pass


_SCHEMA = strawberry.Schema(query=_Query, mutation=_Mutation)


async def run(actor: Actor, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Executes against a schema of just the event mixins, with a real per-request context."""
    db = RequestDB()
    ctx = Context(request=None, response=None, actor=actor, db=db, request_id="test")  # type: ignore[arg-type]
    try:
        result = await _SCHEMA.execute(query, variable_values=variables, context_value=ctx)
    finally:
        await db.close()
    assert result.errors is None, result.errors
    assert result.data is not None
    return result.data


def _gid(event_id: uuid.UUID) -> str:
    from api.relay import to_global_id

    return str(to_global_id("Event", event_id))


async def test_graphql_create_invite_and_check_in_mutations():
    patient = await new_member()
    create = """mutation($input: EventCreateInput!) { eventCreate(input: $input) {
      event { id kind title seriesId } occurrences { startsAt } errors { field code } } }"""
    starts = clock.now() + timedelta(minutes=40)
    variables = {
        "input": {
            "kind": "FREE_CLINIC",
            "title": "糖尿病足义诊",
            "startsAt": starts.isoformat(),
            "endsAt": (starts + timedelta(hours=3)).isoformat(),
            "location": "门诊楼一层大厅",
            "capacity": 50,
            "repeatWeekly": 2,
        }
    }
    refused = (await run(as_patient(patient), create, variables))["eventCreate"]
    assert refused["event"] is None and [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    made = (await run(MARKETER, create, variables))["eventCreate"]
    assert made["errors"] == [] and made["event"]["kind"] == "FREE_CLINIC" and len(made["occurrences"]) == 2
    event_id = made["event"]["id"]

    invite = """mutation($input: EventInviteInput!) { eventInvite(input: $input) {
      run { status invited } errors { field code } } }"""
    bad = (await run(MARKETER, invite, {"input": {"eventId": event_id, "patientIds": ["nonsense"]}}))["eventInvite"]
    assert [e["code"] for e in bad["errors"]] == ["ID_INVALID"]
    from api.relay import to_global_id

    ok = await run(MARKETER, invite, {"input": {"eventId": event_id, "patientIds": [to_global_id("Patient", patient)]}})
    assert ok["eventInvite"] == {"run": {"status": "queued", "invited": 0}, "errors": []}

    rsvp = """mutation($id: ID!) { eventRsvp(input: {eventId: $id, response: GOING}) {
      rsvp { status checkInQr } errors { code } } }"""
    mine = (await run(as_patient(patient), rsvp, {"id": event_id}))["eventRsvp"]["rsvp"]
    assert mine["status"] == "GOING" and mine["checkInQr"].startswith("PCK1.")
    check_in = """mutation($id: ID!, $token: String) { eventCheckIn(input: {eventId: $id, token: $token}) {
      pointsAwarded alreadyCheckedIn rsvp { checkedInAt checkInQr } errors { code } } }"""
    own = (await run(as_patient(patient), check_in, {"id": event_id, "token": mine["checkInQr"]}))["eventCheckIn"]
    assert [e["code"] for e in own["errors"]] == ["PERMISSION_DENIED"]  # no self check-in
    done = (await run(CLINIC, check_in, {"id": event_id, "token": mine["checkInQr"]}))["eventCheckIn"]
    assert done["pointsAwarded"] == 30 and not done["alreadyCheckedIn"] and done["rsvp"]["checkedInAt"]
    assert done["rsvp"]["checkInQr"] is None  # the staff member never sees the attendee's token
    cancel = """mutation($id: ID!) { eventCancel(input: {eventId: $id, reason: "天气原因"}) {
      event { status cancelReason } errors { code } } }"""
    assert (await run(MODERATOR, cancel, {"id": event_id}))["eventCancel"] == {
        "event": {"status": "CANCELLED", "cancelReason": "天气原因"},
        "errors": [],
    }


# --- reminders and cancellation -------------------------------------------------------------------


async def test_reminders_are_sent_once_per_stage_even_when_the_cron_runs_twice():
    offline = await make_event(
        capacity=3, starts_at=clock.now() + timedelta(hours=23), ends_at=clock.now() + timedelta(hours=25)
    )
    online = await make_event(
        kind="online_lecture",
        location=None,
        online_link=LINK,
        capacity=None,
        starts_at=clock.now() + timedelta(minutes=8),
        ends_at=clock.now() + timedelta(hours=1),
    )
    far = await make_event(starts_at=clock.now() + timedelta(days=5), ends_at=clock.now() + timedelta(days=5, hours=1))
    people = [await new_member() for _ in range(6)]
    for p in people[:4]:
        await do_rsvp(p, offline.id)  # 3 going, 1 waitlisted
    await do_rsvp(people[4], offline.id, "declined")
    for p in people[:2]:
        await do_rsvp(p, online.id)
    await do_rsvp(people[5], far.id)

    results = await asyncio.gather(events.send_reminders(), events.send_reminders())  # two workers at once
    assert sum(results) == 5
    assert await events.send_reminders() == 0
    sent = await messages("活动提醒")
    assert sorted(recipients(sent)) == sorted([str(p) for p in people[:3]] + [str(p) for p in people[:2]])
    online_texts = [m["body"] for m in sent if LINK in m["body"]]
    assert len(online_texts) == 2  # going attendees of the online lecture get the link

    clock.clock.advance(timedelta(hours=22, minutes=30))  # the offline event now starts in 30 minutes
    assert await events.send_reminders() == 3
    assert await events.send_reminders() == 0
    assert len(await messages("活动提醒")) == 8
    async with unit_of_work() as session:
        keys = set(
            await session.scalars(select(NoticeSent.key).where(NoticeSent.key.like(f"event:{offline.id}:remind:%")))
        )
    assert {k.split(":")[3] for k in keys} == {"24h", "1h"}


async def test_cancellation_notifies_everyone_once_and_is_audited():
    event = await make_event(capacity=2)
    a, b, c, d, e = [await new_member() for _ in range(5)]
    for p in (a, b, c, d):
        await do_rsvp(p, event.id)  # a, b going; c, d waitlisted
    await do_rsvp(e, event.id, "declined")
    await do_rsvp(a, event.id, "declined")  # c is offered a's seat
    assert (await rsvp_of(event.id, c)).status == "offered"

    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await events.cancel_event(session, as_patient(b), event.id, reason="不想办了")
    async with unit_of_work() as session:
        cancelled = await events.cancel_event(session, MARKETER, event.id, reason="场地检修，改期另行通知")
    assert cancelled.status == "cancelled" and cancelled.cancel_reason == "场地检修，改期另行通知"
    async with unit_of_work() as session:
        await events.cancel_event(session, MODERATOR, event.id, reason="再次取消")
    notices = await messages("活动取消通知")
    assert sorted(recipients(notices)) == sorted(str(p) for p in (b, c, d))
    assert all("场地检修" in m["body"] for m in notices)
    assert (await rsvp_of(event.id, c)).status == "cancelled"  # the offer is withdrawn
    async with unit_of_work() as session:
        audits = list(await session.scalars(select(AuditEntry).where(AuditEntry.action == "event_cancel")))
    assert len(audits) == 1 and audits[0].target_id == event.id and audits[0].detail["notified"] == 3
    assert await events.send_reminders() == 0 and await events.expire_offers() == 0


# --- invitations ----------------------------------------------------------------------------------


class WorkerKilled(Exception):
    pass


async def _invitation_audience() -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID], set[uuid.UUID]]:
    """Two groups (overlapping), a listed patient list (partly members), SMS consent for some."""
    g1, g2 = await make_group("invite-a"), await make_group("invite-b", visibility="members")
    members = [await new_member() for _ in range(22)]
    for p in members[:14]:
        await join(g1, p)
    for p in members[10:]:
        await join(g2, p)  # 10..13 in both groups
    left = members[0]
    async with unit_of_work() as session:
        await groups.leave(session, as_patient(left), g1)  # no longer active: not invited via the group
    listed = [members[1], members[20], await new_member(), await new_member()]
    consenting = {members[2], members[11], listed[2]}
    audience = (set(members) - {left}) | set(listed)
    for p in audience:  # in-app invitations need in-app marketing consent (the outreach policy)
        changes = [patient_service.ConsentChange("in_app", "marketing", True)]
        if p in consenting:
            changes.append(patient_service.ConsentChange("sms", "marketing", True))
        async with unit_of_work() as session:
            await patient_service.update_consents(session, as_patient(p), changes, source="app")
    return g1, g2, listed, audience


async def test_invitation_job_killed_midway_and_rerun_invites_each_patient_once(monkeypatch):
    event = await make_event(capacity=None, title="高血压管理讲座")
    g1, g2, listed, audience = await _invitation_audience()
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await invitations.start_invitation(session, as_patient(listed[0]), event.id, group_ids=[g1])
    async with unit_of_work() as session:
        run = await invitations.start_invitation(session, MARKETER, event.id, group_ids=[g1, g2], patient_ids=listed)
    pool = await queue.get_pool()
    assert await pool.exists(f"arq:job:community.invite_run:{run.id}")  # enqueued after commit

    original = invitations._invite_batch
    calls = 0

    async def dying(session: Any, run_id: uuid.UUID, batch_size: int) -> tuple[int, bool]:
        nonlocal calls
        calls += 1
        result = await original(session, run_id, batch_size)
        if calls == 3:
            raise WorkerKilled  # after writing batch 3, before its commit
        return result

    monkeypatch.setattr(invitations, "_invite_batch", dying)
    with pytest.raises(WorkerKilled):
        await invitations.run_invitation(run.id, batch_size=5)
    monkeypatch.undo()
    async with unit_of_work() as session:
        midway = await session.get(InvitationRun, run.id)
        assert midway is not None and midway.status == "running" and midway.invited == 10
        assert await invitations.invitation_count(session, event.id) == 10
    # Re-run: two copies at once (a retry racing the sweeper's re-enqueue), then once more when done.
    created = await asyncio.gather(
        invitations.run_invitation(run.id, batch_size=5), invitations.run_invitation(run.id, batch_size=5)
    )
    assert sum(created) == len(audience) - 10
    assert await invitations.run_invitation(run.id, batch_size=5) == 0

    async with unit_of_work() as session:
        invited = list(
            await session.scalars(select(EventInvitation.patient_id).where(EventInvitation.event_id == event.id))
        )
        done = await session.get(InvitationRun, run.id)
        phones = {p.id: p.phone for p in (await patients_by_ids(session, list(audience))).values()}
        consenting = {
            pid
            for pid in audience
            if await patient_service.has_consent(
                session, pid, patient_service.ConsentChannel.SMS, patient_service.ConsentPurpose.MARKETING
            )
        }
    assert sorted(invited) == sorted(audience) and len(invited) == len(set(invited))
    assert done is not None and done.status == "done" and done.invited == len(audience)
    in_app = await messages("活动邀请", "in_app")
    assert sorted(recipients(in_app)) == sorted(str(p) for p in audience)
    sms = await messages(channel="sms")
    assert len(consenting) == 3
    assert sorted(recipients(sms)) == sorted(phones[p] for p in consenting)
    assert all("高血压" not in m["body"] for m in sms)  # the lock screen never names a condition

    # A second run for the same event adds only people not invited yet.
    newcomer = await new_member()
    async with unit_of_work() as session:
        await patient_service.update_consents(
            session, as_patient(newcomer), [patient_service.ConsentChange("in_app", "marketing", True)], source="app"
        )
    async with unit_of_work() as session:
        rerun = await invitations.start_invitation(session, MODERATOR, event.id, group_ids=[g1], patient_ids=[newcomer])
    assert await invitations.run_invitation(rerun.id) == 1
    assert len(await messages("活动邀请", "in_app")) == len(audience) + 1


async def test_invitation_through_a_real_worker_and_the_sweeper():
    from workers.settings import build_worker

    group = await make_group("invite-worker")
    people = [await new_member() for _ in range(3)]
    for p in people:
        await join(group, p)
    event = await make_event(group_id=group)
    async with unit_of_work() as session:
        run = await invitations.start_invitation(session, MARKETER, event.id, group_ids=[group])
    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    async with unit_of_work() as session:
        done = await session.get(InvitationRun, run.id)
        assert done is not None and done.status == "done" and done.invited == 3
    # A finished run is left alone by the sweeper; an unfinished one whose job was lost is re-enqueued.
    async with unit_of_work() as session:
        lost = await invitations.start_invitation(session, MARKETER, event.id, patient_ids=[await new_member()])
    pool = await queue.get_pool()
    await pool.delete(f"arq:job:community.invite_run:{lost.id}")
    await pool.zrem("arq:queue", f"community.invite_run:{lost.id}")
    clock.clock.advance(timedelta(minutes=3))
    assert await invitations.sweep_runs() == 1
    assert await pool.exists(f"arq:job:community.invite_run:{lost.id}")


async def test_banned_member_loses_sight_of_members_only_group_events():
    # Events ask community.access for the group rules.
    group = await make_group("events-banned", visibility="members")
    member = await new_member()
    await join(group, member)
    event = await make_event(group_id=group)
    async with unit_of_work() as session:
        m = await access.membership(session, group, as_patient(member), lock=True)
        assert m is not None
        m.state = "banned"
    async with unit_of_work() as session:
        with pytest.raises(events.EventNotFound):
            await events.get_event(session, as_patient(member), event.id)
