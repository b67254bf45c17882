"""Check-in with per-attendee QR tokens and the attendee list through the real schema over HTTP, with
real signed-in patients and staff: the attendee reads their own token, staff who run events scan it
(once, even when many scans race), nobody checks themself or others in remotely, the codes of bad
input, and who may read the list."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from api.relay import to_global_id
from community import events
from core import clock
from core.db import unit_of_work
from core.identity import Role
from loyalty.models import MemberTier
from patients import service as patient_service
from tests.factories import as_patient, staff
from tests.support import data, gql, signed_in_patient, staff_session

RSVP = """mutation($e: ID!) { eventRsvp(input: {eventId: $e, response: GOING}) {
  rsvp { status priority checkInQr } errors { field code } } }"""
MY_QR = """query($e: ID!) { event(id: $e) { viewerRsvp { status checkInQr checkedInAt } } }"""
CHECK_IN = """mutation($e: ID!, $t: String, $p: ID) { eventCheckIn(input: {eventId: $e, token: $t, patientId: $p}) {
  pointsAwarded alreadyCheckedIn rsvp { status checkedInAt checkInQr } errors { field code message } } }"""
ATTENDEES = """query($e: ID!, $first: Int, $after: String, $status: EventRsvpStatus) {
  eventAttendees(eventId: $e, first: $first, after: $after, status: $status) {
    edges { node { registrationId patientId nickname realName maskedPhone status priority registeredAt checkedInAt } }
    pageInfo { hasNextPage endCursor } } }"""
ME_TIER = "{ me { ... on Patient { tier { name priorityBooking benefits } } } }"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def make_event(**overrides: Any) -> str:
    now = clock.now()
    values: dict[str, Any] = {
        "kind": "offline",
        "title": "糖尿病饮食讲座",
        "starts_at": now + timedelta(minutes=30),
        "ends_at": now + timedelta(hours=2, minutes=30),
        "location": "门诊楼三层报告厅",
        "capacity": 30,
    }
    values.update(overrides)
    async with unit_of_work() as session:
        created = await events.create_event(session, staff(Role.MARKETER), events.EventInput(**values))
    return to_global_id("Event", created[0].id)


async def test_attendee_shows_their_qr_and_only_event_staff_scan_it_once(client: Any) -> None:
    event = await make_event()
    other_event = await make_event(title="高血压讲座")
    (attendee, attendee_id), (other, _) = await signed_in_patient(client), await signed_in_patient(client)
    clinic = await staff_session(client, _email("door"), ["clinic_staff"])
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    doctor = await staff_session(client, _email("doc"), ["doctor"])

    joined = data(await gql(client, RSVP, {"e": event}, token=attendee.access))["eventRsvp"]
    assert joined["errors"] == [] and joined["rsvp"]["status"] == "GOING" and not joined["rsvp"]["priority"]
    token = joined["rsvp"]["checkInQr"]
    assert token.startswith("PCK1.")
    assert (
        data(await gql(client, MY_QR, {"e": event}, token=attendee.access))["event"]["viewerRsvp"]["checkInQr"] == token
    )
    data(await gql(client, RSVP, {"e": event}, token=other.access))

    # Nobody checks in remotely: not the attendee, not another patient who got the code, not a doctor.
    for who in (attendee, other, doctor):
        refused = data(await gql(client, CHECK_IN, {"e": event, "t": token}, token=who.access))["eventCheckIn"]
        assert codes(refused) == ["PERMISSION_DENIED"] and refused["pointsAwarded"] == 0
        by_id = {"e": event, "p": to_global_id("Patient", attendee_id)}
        assert codes(data(await gql(client, CHECK_IN, by_id, token=who.access))["eventCheckIn"]) == [
            "PERMISSION_DENIED"
        ]
    anonymous = data(await gql(client, CHECK_IN, {"e": event, "t": token}))["eventCheckIn"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]

    # Bad input: each with its code, nothing checked in.
    prefix, body, signature = token.split(".")
    forged = f"{prefix}.{body[:-2]}{'AB' if body[-2:] != 'AB' else 'CD'}.{signature}"
    for bad, code in (
        (forged, "CHECKIN_TOKEN_INVALID"),
        ("PCK1." + "A" * 70 + "." + "f" * 32, "CHECKIN_TOKEN_INVALID"),
        ("签到" * 5000, "CHECKIN_TOKEN_INVALID"),
        ("", "CHECKIN_TOKEN_INVALID"),
    ):
        answer = data(await gql(client, CHECK_IN, {"e": event, "t": bad}, token=clinic.access))["eventCheckIn"]
        assert codes(answer) == [code], (bad[:20], answer)
    wrong = data(await gql(client, CHECK_IN, {"e": other_event, "t": token}, token=clinic.access))["eventCheckIn"]
    assert codes(wrong) == ["CHECKIN_TOKEN_WRONG_EVENT"]
    both = {"e": event, "t": token, "p": to_global_id("Patient", attendee_id)}
    assert codes(data(await gql(client, CHECK_IN, both, token=clinic.access))["eventCheckIn"]) == [
        "CHECKIN_TARGET_REQUIRED"
    ]
    neither = data(await gql(client, CHECK_IN, {"e": event}, token=clinic.access))["eventCheckIn"]
    assert codes(neither) == ["CHECKIN_TARGET_REQUIRED"]
    bad_event = data(await gql(client, CHECK_IN, {"e": "nonsense", "t": token}, token=clinic.access))["eventCheckIn"]
    assert codes(bad_event) == ["ID_INVALID"]
    nul = await gql(client, CHECK_IN, {"e": event, "t": token[:10] + "\x00" + token[10:]}, token=clinic.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING"

    # Twenty scans of the same code at the same moment, by two staff members: one check-in, one award.
    scans = await asyncio.gather(
        *[
            gql(client, CHECK_IN, {"e": event, "t": token}, token=(clinic if i % 2 else marketer).access)
            for i in range(20)
        ]
    )
    answers = [data(s)["eventCheckIn"] for s in scans]
    admitted = [a for a in answers if a["errors"] == []]
    assert len(admitted) == 1 and admitted[0]["pointsAwarded"] == 30 and admitted[0]["rsvp"]["checkInQr"] is None
    assert sorted({c for a in answers for c in codes(a)}) == ["CHECKIN_TOKEN_USED"]
    mine = data(await gql(client, MY_QR, {"e": event}, token=attendee.access))["event"]["viewerRsvp"]
    assert mine["checkInQr"] is None and mine["checkedInAt"] is not None
    balance = data(await gql(client, "{ me { ... on Patient { points { available } } } }", token=attendee.access))
    assert balance["me"]["points"]["available"] == 30


async def test_attendee_list_is_for_event_staff_with_masked_phones(client: Any) -> None:
    event = await make_event(capacity=1)
    (first, first_id), (second, second_id) = await signed_in_patient(client), await signed_in_patient(client)
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(first_id), patient_service.ProfileChanges(real_name="李四")
        )
    token = data(await gql(client, RSVP, {"e": event}, token=first.access))["eventRsvp"]["rsvp"]["checkInQr"]
    assert (
        data(await gql(client, RSVP, {"e": event}, token=second.access))["eventRsvp"]["rsvp"]["status"] == "WAITLISTED"
    )
    clinic = await staff_session(client, _email("door"), ["clinic_staff"])
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    assert (
        data(await gql(client, CHECK_IN, {"e": event, "t": token}, token=clinic.access))["eventCheckIn"]["errors"] == []
    )

    listed = data(await gql(client, ATTENDEES, {"e": event}, token=clinic.access))["eventAttendees"]
    nodes = [e["node"] for e in listed["edges"]]
    assert [n["patientId"] for n in nodes] == [to_global_id("Patient", first_id), to_global_id("Patient", second_id)]
    assert [n["status"] for n in nodes] == ["GOING", "WAITLISTED"]
    assert nodes[0]["realName"] == "李四" and nodes[0]["checkedInAt"] is not None and nodes[1]["checkedInAt"] is None
    assert all("****" in n["maskedPhone"] and len(n["maskedPhone"]) == 11 for n in nodes)
    assert all(n["registeredAt"] and n["nickname"] for n in nodes)
    by_moderator = data(await gql(client, ATTENDEES, {"e": event, "first": 1}, token=moderator.access))[
        "eventAttendees"
    ]
    assert by_moderator["pageInfo"]["hasNextPage"] and by_moderator["edges"][0]["node"]["realName"] is None
    rest = data(
        await gql(
            client,
            ATTENDEES,
            {"e": event, "first": 5, "after": by_moderator["pageInfo"]["endCursor"]},
            token=moderator.access,
        )
    )["eventAttendees"]
    assert [e["node"]["patientId"] for e in rest["edges"]] == [to_global_id("Patient", second_id)]
    waiting = data(await gql(client, ATTENDEES, {"e": event, "status": "WAITLISTED"}, token=clinic.access))
    assert len(waiting["eventAttendees"]["edges"]) == 1

    doctor = await staff_session(client, _email("doc"), ["doctor"])
    for who in (first, second, doctor):
        refused = await gql(client, ATTENDEES, {"e": event}, token=who.access)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, ATTENDEES, {"e": event})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    bad_id = await gql(client, ATTENDEES, {"e": "nonsense"}, token=clinic.access)
    assert bad_id["errors"][0]["extensions"]["code"] == "ID_INVALID"
    unknown = await gql(client, ATTENDEES, {"e": to_global_id("Event", uuid.uuid4())}, token=clinic.access)
    assert unknown["errors"][0]["extensions"]["code"] == "EVENT_NOT_FOUND"


async def test_a_silver_member_waits_ahead_and_earns_double_on_their_birthday(client: Any) -> None:
    clock.clock.freeze(datetime(2026, 5, 20, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    full = await make_event(
        capacity=1, starts_at=clock.now() + timedelta(days=1), ends_at=clock.now() + timedelta(days=1, hours=2)
    )
    today = await make_event()
    (holder, _), (standard, _) = await signed_in_patient(client), await signed_in_patient(client)
    silver, silver_id = await signed_in_patient(client)
    now = clock.now()
    async with unit_of_work() as session:
        session.add(
            MemberTier(patient_id=silver_id, tier_code="silver", qualifying_points=1000, since=now, evaluated_at=now)
        )
        await patient_service.update_profile(
            session, as_patient(silver_id), patient_service.ProfileChanges(birth_date=date(1970, 5, 20))
        )
    tier = data(await gql(client, ME_TIER, token=silver.access))["me"]["tier"]
    assert tier["name"] == "银卡" and tier["priorityBooking"] and "生日双倍积分" in tier["benefits"]
    assert not data(await gql(client, ME_TIER, token=standard.access))["me"]["tier"]["priorityBooking"]

    data(await gql(client, RSVP, {"e": full}, token=holder.access))
    waits = [
        data(await gql(client, RSVP, {"e": full}, token=p.access))["eventRsvp"]["rsvp"] for p in (standard, silver)
    ]
    assert [(w["status"], w["priority"]) for w in waits] == [("WAITLISTED", False), ("WAITLISTED", True)]
    place = """query($e: ID!) { event(id: $e) { viewerRsvp { waitlistPosition } } }"""
    assert (
        data(await gql(client, place, {"e": full}, token=silver.access))["event"]["viewerRsvp"]["waitlistPosition"] == 1
    )
    assert (
        data(await gql(client, place, {"e": full}, token=standard.access))["event"]["viewerRsvp"]["waitlistPosition"]
        == 2
    )

    token = data(await gql(client, RSVP, {"e": today}, token=silver.access))["eventRsvp"]["rsvp"]["checkInQr"]
    clinic = await staff_session(client, _email("door"), ["clinic_staff"])
    done = data(await gql(client, CHECK_IN, {"e": today, "t": token}, token=clinic.access))["eventCheckIn"]
    assert done["errors"] == [] and done["pointsAwarded"] == 60  # 生日双倍积分
