"""Check-in at the door with each attendee's own signed, one-use token (community.attendance): a
token checks in once even when scanned by many staff at the same moment, attendance points are awarded
once, bad, tampered, expired, revoked and foreign tokens get typed codes, nobody checks themself in,
and only staff who run events check in or read the attendee list. Priority members wait ahead."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from community import attendance, events
from community.models import Event, EventRsvp, RsvpStatus
from core import clock
from core.db import unit_of_work
from core.errors import NotAuthenticated, PermissionDenied
from core.identity import ANONYMOUS, Actor, Role
from loyalty import errors as loyalty_errors
from loyalty.models import MemberTier
from patients import service as patient_service
from tests.factories import as_patient, new_member, staff
from tests.loyalty.support import balances

MARKETER = staff(Role.MARKETER)
MODERATOR = staff(Role.MODERATOR)
CLINIC = staff(Role.CLINIC_STAFF)
DOOR = (MARKETER, MODERATOR, CLINIC)
NOT_EVENT_STAFF = (staff(Role.DOCTOR), staff(Role.HEALTH_MANAGER), staff(Role.REVIEWER))

pytestmark = pytest.mark.usefixtures("ledger_invariants")


async def make_event(*, starts_in: timedelta = timedelta(minutes=30), **overrides: Any) -> Event:
    now = clock.now()
    values: dict[str, Any] = {
        "kind": "free_clinic",
        "title": "糖尿病足义诊",
        "starts_at": now + starts_in,
        "ends_at": now + starts_in + timedelta(hours=2),
        "location": "门诊楼一层大厅",
        "capacity": 20,
    }
    values.update(overrides)
    async with unit_of_work() as session:
        return (await events.create_event(session, MARKETER, events.EventInput(**values)))[0]


async def going(patient_id: uuid.UUID, event_id: uuid.UUID, response: str = "going") -> EventRsvp:
    async with unit_of_work() as session:
        return await events.rsvp(session, as_patient(patient_id), event_id, response)


async def token_of(patient_id: uuid.UUID, event_id: uuid.UUID) -> str | None:
    """The token as the attendee's app gets it (their own registration, read as them)."""
    async with unit_of_work() as session:
        event = await session.get(Event, event_id)
        rsvp = await session.scalar(
            select(EventRsvp).where(EventRsvp.event_id == event_id, EventRsvp.patient_id == patient_id)
        )
    assert event is not None and rsvp is not None
    return attendance.token_for_viewer(as_patient(patient_id), event, rsvp)


async def scan(actor: Actor, event_id: uuid.UUID, token: str | None) -> attendance.CheckInResult:
    async with unit_of_work() as session:
        return await attendance.check_in(session, actor, event_id, token=token)


async def by_patient(actor: Actor, event_id: uuid.UUID, patient_id: uuid.UUID) -> attendance.CheckInResult:
    async with unit_of_work() as session:
        return await attendance.check_in(session, actor, event_id, patient_id=patient_id)


def tampered(token: str) -> str:
    """The same token with one byte of its payload changed (another registration id), signature kept."""
    prefix, body, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=="))
    raw[20] ^= 0x01
    return ".".join([prefix, base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("="), signature])


# --- one token, one check-in --------------------------------------------------------------------


async def test_fifty_staff_scanning_one_token_at_once_check_in_once_and_award_once():
    event = await make_event()
    attendee = await new_member()
    await going(attendee, event.id)
    token = await token_of(attendee, event.id)
    assert token is not None and token.startswith("PCK1.") and len(token) < 120

    async def attempt(i: int) -> str:
        try:
            result = await scan(DOOR[i % 3], event.id, token)
        except attendance.CheckInTokenUsed:
            return "used"
        assert result.points == 30 and not result.already
        return "in"

    outcomes = await asyncio.gather(*[attempt(i) for i in range(50)])
    assert outcomes.count("in") == 1 and outcomes.count("used") == 49
    assert (await balances(attendee))["available"] == 30
    # Used: the attendee's app no longer offers it, and a later scan says when they came in.
    assert await token_of(attendee, event.id) is None
    with pytest.raises(attendance.CheckInTokenUsed) as used:
        await scan(CLINIC, event.id, token)
    assert "签到" in used.value.message and used.value.field == "token"
    # Checking the same person in by id afterwards is answered "already", never a second award.
    again = await by_patient(CLINIC, event.id, attendee)
    assert again.already and again.points == 0
    assert (await balances(attendee))["available"] == 30


async def test_each_attendee_has_their_own_token():
    event = await make_event()
    a, b = await new_member(), await new_member()
    await going(a, event.id)
    await going(b, event.id)
    token_a, token_b = await token_of(a, event.id), await token_of(b, event.id)
    assert token_a and token_b and token_a != token_b
    assert (await scan(CLINIC, event.id, token_a)).rsvp.patient_id == a
    assert (await scan(MARKETER, event.id, token_b)).rsvp.patient_id == b
    assert (await balances(a))["available"] == 30 and (await balances(b))["available"] == 30


# --- who may -------------------------------------------------------------------------------------


async def test_nobody_checks_themself_in_and_only_event_staff_scan():
    event = await make_event()
    attendee, other = await new_member(), await new_member()
    await going(attendee, event.id)
    await going(other, event.id)
    token = await token_of(attendee, event.id)
    for actor in (as_patient(attendee), as_patient(other), *NOT_EVENT_STAFF):
        with pytest.raises(PermissionDenied):
            await scan(actor, event.id, token)
        with pytest.raises(PermissionDenied):
            await by_patient(actor, event.id, attendee)
    with pytest.raises(NotAuthenticated):
        await scan(ANONYMOUS, event.id, token)
    assert (await balances(attendee)).get("available", 0) == 0
    assert (await scan(MODERATOR, event.id, token)).points == 30


async def test_the_token_is_shown_only_to_the_attendee_while_it_can_be_used():
    event = await make_event(capacity=1)
    attendee, waiting, stranger = await new_member(), await new_member(), await new_member()
    await going(attendee, event.id)
    await going(waiting, event.id)  # full: waitlisted
    async with unit_of_work() as session:
        rsvps = {
            r.patient_id: r for r in await session.scalars(select(EventRsvp).where(EventRsvp.event_id == event.id))
        }
    row = rsvps[attendee]
    assert attendance.token_for_viewer(as_patient(attendee), event, row) is not None
    for viewer in (as_patient(stranger), CLINIC, MARKETER):
        assert attendance.token_for_viewer(viewer, event, row) is None
    assert await token_of(waiting, event.id) is None
    # A token made for a waitlisted registration anyway is refused: no seat, no check-in.
    with pytest.raises(events.NotRegistered):
        await scan(CLINIC, event.id, attendance.issue_token(event, rsvps[waiting]))


# --- bad tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "ABC123",
        "PCK1.abc.def",
        "PCK1." + "A" * 70 + "." + "0" * 32,  # well formed, signature wrong
        "PCK1\x00." + "A" * 70 + "." + "0" * 32,
        "x" * 100_000,
        "签到码",
    ],
)
async def test_malformed_or_forged_tokens_are_invalid(bad: str):
    event = await make_event()
    with pytest.raises(attendance.CheckInTokenInvalid) as invalid:
        await scan(CLINIC, event.id, bad)
    assert invalid.value.code == "CHECKIN_TOKEN_INVALID" and invalid.value.field == "token"


async def test_tampered_foreign_revoked_and_expired_tokens_get_their_codes():
    event, other_event = await make_event(), await make_event(title="高血压讲座")
    attendee = await new_member()
    await going(attendee, event.id)
    await going(attendee, other_event.id)
    token = await token_of(attendee, event.id)
    assert token is not None
    with pytest.raises(attendance.CheckInTokenInvalid):
        await scan(CLINIC, event.id, tampered(token))
    with pytest.raises(attendance.CheckInTokenInvalid):  # signature of another token on this payload
        other = await token_of(attendee, other_event.id)
        assert other is not None
        await scan(CLINIC, event.id, ".".join(token.split(".")[:2] + other.split(".")[2:]))
    with pytest.raises(attendance.CheckInTokenWrongEvent):  # scanned at the door of another event
        await scan(CLINIC, other_event.id, token)

    # Withdrawn and registered again: the old token (a screenshot sent to a friend) no longer works.
    await going(attendee, event.id, "declined")
    await going(attendee, event.id)
    with pytest.raises(attendance.CheckInTokenInvalid):
        await scan(CLINIC, event.id, token)
    fresh = await token_of(attendee, event.id)
    assert fresh is not None and fresh != token

    clock.clock.advance(timedelta(hours=5))  # past the end + 2 h
    with pytest.raises(attendance.CheckInTokenExpired):
        await scan(CLINIC, event.id, fresh)
    assert await token_of(attendee, event.id) is None
    assert (await balances(attendee)).get("available", 0) == 0


async def test_check_in_window_and_cancelled_events():
    early = await make_event(starts_in=timedelta(days=3))
    cancelled = await make_event()
    attendee = await new_member()
    await going(attendee, early.id)
    await going(attendee, cancelled.id)
    with pytest.raises(attendance.CheckInNotOpen):
        await scan(CLINIC, early.id, await token_of(attendee, early.id))
    token = await token_of(attendee, cancelled.id)
    async with unit_of_work() as session:
        await events.cancel_event(session, MARKETER, cancelled.id, reason="场地检修")
    with pytest.raises(events.EventCancelled):
        await scan(CLINIC, cancelled.id, token)
    assert await token_of(attendee, cancelled.id) is None


# --- check-in by patient id (walk-ins) -------------------------------------------------------------


async def test_staff_check_in_by_patient_id_and_walk_ins():
    event = await make_event()
    helped, walk_in = await new_member(), await new_member()
    await going(helped, event.id)
    assert (await by_patient(CLINIC, event.id, helped)).points == 30
    walked = await by_patient(MARKETER, event.id, walk_in)  # no registration: admitted, takes a seat
    assert walked.points == 30 and walked.rsvp.status == "going"
    concurrent = await asyncio.gather(*[by_patient(CLINIC, event.id, helped) for _ in range(5)])
    assert all(r.already for r in concurrent)
    with pytest.raises(loyalty_errors.PatientNotFound):
        await by_patient(CLINIC, event.id, uuid.uuid4())
    async with unit_of_work() as session:
        with pytest.raises(attendance.CheckInTargetRequired):
            await attendance.check_in(session, CLINIC, event.id)
        with pytest.raises(attendance.CheckInTargetRequired):
            await attendance.check_in(session, CLINIC, event.id, token="PCK1.x.y", patient_id=helped)
        with pytest.raises(events.EventNotFound):
            await attendance.check_in(session, CLINIC, uuid.uuid4(), patient_id=helped)
    async with unit_of_work() as session:
        event_now = await session.get(Event, event.id)
    assert event_now is not None and event_now.going_count == 2
    assert (await balances(helped))["available"] == 30 and (await balances(walk_in))["available"] == 30
    clock.clock.advance(timedelta(hours=5))
    with pytest.raises(attendance.CheckInClosed):
        await by_patient(CLINIC, event.id, await new_member())


# --- the attendee list ------------------------------------------------------------------------------


async def test_attendee_list_for_event_staff_only_with_names_masked_phones_and_check_in_times():
    event = await make_event(capacity=2)
    first, second, third = await new_member("13900001111"), await new_member(), await new_member()
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(first), patient_service.ProfileChanges(real_name="张三")
        )
    for p in (first, second, third):
        await going(p, event.id)  # third waits
    await scan(CLINIC, event.id, await token_of(first, event.id))

    async def page(actor: Actor, **kw: Any) -> Any:
        async with unit_of_work() as session:
            return await attendance.attendees_page(session, actor, event.id, **kw)

    listed = await page(CLINIC)
    assert [a.rsvp.patient_id for a in listed.items] == [first, second, third]  # order of registration
    head = listed.items[0]
    assert head.real_name == "张三" and head.masked_phone == "139****1111" and head.rsvp.checked_in_at is not None
    assert [a.rsvp.status for a in listed.items] == ["going", "going", "waitlisted"]
    assert listed.items[1].rsvp.checked_in_at is None
    seen_by_marketing = await page(MARKETER)
    assert seen_by_marketing.items[0].real_name is None  # real names are for the care team
    assert seen_by_marketing.items[0].masked_phone == "139****1111"
    waiting = await page(MODERATOR, status=RsvpStatus.WAITLISTED)
    assert [a.rsvp.patient_id for a in waiting.items] == [third]
    one = await page(CLINIC, first=1)
    rest = await page(CLINIC, first=5, after=one.cursors[-1])
    assert one.has_next_page and [a.rsvp.patient_id for a in rest.items] == [second, third]
    for actor in (as_patient(first), *NOT_EVENT_STAFF):
        with pytest.raises(PermissionDenied):
            await page(actor)
    with pytest.raises(NotAuthenticated):
        await page(ANONYMOUS)
    async with unit_of_work() as session:
        with pytest.raises(events.EventNotFound):
            await attendance.attendees_page(session, CLINIC, uuid.uuid4())


# --- priority booking (a tier benefit) on the waitlist ----------------------------------------------


async def set_tier(patient_id: uuid.UUID, code: str) -> None:
    now = clock.now()
    async with unit_of_work() as session:
        await session.merge(
            MemberTier(patient_id=patient_id, tier_code=code, qualifying_points=0, since=now, evaluated_at=now)
        )


async def test_priority_members_are_offered_a_freed_seat_first():
    event = await make_event(starts_in=timedelta(days=2), capacity=1)
    holder, early_standard, later_silver = await new_member(), await new_member(), await new_member()
    await set_tier(later_silver, "silver")  # 银卡: priority booking
    await going(holder, event.id)
    first_wait = await going(early_standard, event.id)
    second_wait = await going(later_silver, event.id)
    assert first_wait.status == second_wait.status == "waitlisted"
    assert not first_wait.priority and second_wait.priority
    async with unit_of_work() as session:
        assert [r.patient_id for r in await events.waitlist(session, event.id)] == [later_silver, early_standard]
        places = await events.waitlist_positions(session, [first_wait.id, second_wait.id])
    assert places == {second_wait.id: 1, first_wait.id: 2}
    await going(holder, event.id, "declined")
    async with unit_of_work() as session:
        rows = {
            r.patient_id: r.status
            for r in await session.scalars(select(EventRsvp).where(EventRsvp.event_id == event.id))
        }
    assert rows[later_silver] == "offered" and rows[early_standard] == "waitlisted"
