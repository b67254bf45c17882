"""Event invitations keep the one outreach policy that campaigns keep (messaging/outreach.py):
suppression, consent per purpose and channel, quiet hours in the patient's own zone, the marketing
frequency cap shared with campaigns; and they can target a campaign segment, frozen at the start."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api.relay import to_global_id
from campaigns import errors as campaign_errors
from campaigns import segments
from campaigns.segments import SegmentCriteria
from community import events, invitations
from community.models import Event, EventInvitation, InvitationRun
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied
from core.identity import Role
from core.outbox import OutboxMessage
from messaging.models import OutreachSend
from tests.campaigns.support import approved_campaign, deliveries, make_patient, run, segment
from tests.factories import make_group, make_staff, next_phone, staff
from tests.support import data, gql, signed_in_patient, staff_session

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai, 00:00 in New York (EDT)
MARKETER = staff(Role.MARKETER)
MODERATOR = staff(Role.MODERATOR)
MARKETING = [("in_app", "marketing"), ("sms", "marketing")]


async def _event(title: str = "高血压管理讲座") -> Event:
    now = clock.now()
    data_ = events.EventInput(
        kind="offline",
        title=title,
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=2),
        location="门诊楼三层报告厅",
        capacity=None,
    )
    async with unit_of_work() as session:
        return (await events.create_event(session, MARKETER, data_))[0]


async def _invite(event_id: uuid.UUID, **audience: Any) -> InvitationRun:
    async with unit_of_work() as session:
        started = await invitations.start_invitation(session, MARKETER, event_id, **audience)
    await invitations.run_invitation(started.id, batch_size=2)
    async with unit_of_work() as session:
        done = await session.get(InvitationRun, started.id)
    assert done is not None and done.status == "done"
    return done


async def _invitations(event_id: uuid.UUID) -> dict[uuid.UUID, EventInvitation]:
    async with unit_of_work() as session:
        rows = await session.scalars(select(EventInvitation).where(EventInvitation.event_id == event_id))
        return {r.patient_id: r for r in rows}


async def _outbox(recipient: str) -> list[OutboxMessage]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.payload["recipient"].astext == recipient))
        )


async def test_invitations_keep_suppression_consent_quiet_hours_and_the_shared_cap() -> None:
    clock.clock.freeze(NOON)
    both = await make_patient(consents=MARKETING, conditions=["hypertension"])
    app_only = await make_patient(consents=[("in_app", "marketing")])
    no_consent = await make_patient()
    new_york = await make_patient(consents=[("in_app", "marketing")], timezone="America/New_York")
    deceased = await make_patient(consents=MARKETING, deceased=True)
    admitted = await make_patient(consents=MARKETING, admitted=True)
    opted_out = await make_patient(consents=MARKETING, marketing_opt_out=True)
    colleague_phone = next_phone()
    colleague = await make_patient(consents=MARKETING, phone=colleague_phone)
    await make_staff(f"n{uuid.uuid4().hex[:8]}@kangning.cn", [Role.DOCTOR], phone=colleague_phone)
    capped = await make_patient(consents=[("in_app", "marketing")], conditions=["diabetes"])
    for _ in range(2):  # two marketing campaigns this week: the cap (2 per 7 days) is reached
        cid = await approved_campaign(SegmentCriteria(conditions=["diabetes"]), channels=["in_app"])
        await run(cid)
        assert (await deliveries(cid))[capped].status == "delivered"
        clock.clock.advance(timedelta(hours=1))

    event = await _event()
    everyone = [both, app_only, no_consent, new_york, deceased, admitted, opted_out, colleague, capped]
    done = await _invite(event.id, patient_ids=everyone)

    rows = await _invitations(event.id)
    assert set(rows) == {both, app_only, no_consent, new_york, capped}  # the suppressed are not invited
    assert done.suppressed == 4 and done.invited == 5
    assert (rows[both].channels, rows[both].skipped) == (["in_app", "sms"], {})
    assert (rows[app_only].channels, rows[app_only].skipped) == (["in_app"], {"sms": "no_consent"})
    assert rows[no_consent].skipped == {"in_app": "no_consent", "sms": "no_consent"}
    assert rows[capped].skipped == {"in_app": "frequency_cap", "sms": "no_consent"}
    assert (await _outbox(str(capped))) == [] or all(
        m.payload.get("subject") != "活动邀请" for m in await _outbox(str(capped))
    )
    # Midnight in New York: queued now, delivered at 08:00 there, never dropped.
    (deferred,) = [m for m in await _outbox(str(new_york)) if m.payload.get("subject") == "活动邀请"]
    assert deferred.available_at == datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
    for pid in (deceased, admitted, opted_out, colleague):
        assert all(m.payload.get("subject") != "活动邀请" for m in await _outbox(str(pid)))

    # One invitation is one marketing message for the cap, on however many channels: `both` has
    # room for one more campaign this week, not two.
    async with unit_of_work() as session:
        counted = list(await session.scalars(select(OutreachSend.source_ref).where(OutreachSend.patient_id == both)))
    assert counted == [f"invitation:{event.id}:{both}"]
    first = await approved_campaign(SegmentCriteria(conditions=["hypertension"]), channels=["in_app"])
    await run(first)
    second = await approved_campaign(SegmentCriteria(conditions=["hypertension"]), channels=["in_app"])
    await run(second)
    assert (await deliveries(first))[both].status == "delivered"
    assert (await deliveries(second))[both].skip_reason == "frequency_cap"

    # A run again (a retry) invites and counts nobody twice.
    async with unit_of_work() as session:
        again = await invitations.start_invitation(session, MARKETER, event.id, patient_ids=[both])
    assert await invitations.run_invitation(again.id) == 0
    async with unit_of_work() as session:
        assert len(list(await session.scalars(select(OutreachSend).where(OutreachSend.patient_id == both)))) == 2


async def test_invitations_target_a_segment_frozen_at_the_start_and_merged_with_groups() -> None:
    clock.clock.freeze(NOON)
    diabetic = [await make_patient(consents=MARKETING, conditions=["diabetes"]) for _ in range(5)]
    other = await make_patient(consents=MARKETING, conditions=["hypertension"])
    suppressed = await make_patient(consents=MARKETING, conditions=["diabetes"], deceased=True)
    group = await make_group(f"inv-{uuid.uuid4().hex[:6]}")
    from tests.factories import join

    for pid in (diabetic[0], other):
        await join(group, pid)
    seg = await segment(SegmentCriteria(conditions=["diabetes"]))
    event = await _event("糖尿病饮食讲座")

    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):  # segments are marketing's
            await invitations.start_invitation(session, MODERATOR, event.id, segment_id=seg)
        with pytest.raises(campaign_errors.SegmentNotFound):
            await invitations.start_invitation(session, MARKETER, event.id, segment_id=uuid.uuid4())
        started = await invitations.start_invitation(session, MARKETER, event.id, group_ids=[group], segment_id=seg)
    # Edited after the start: this run still reaches the audience it was started with.
    async with unit_of_work() as session:
        await segments.update_segment(session, MARKETER, seg, criteria=SegmentCriteria(conditions=["hypertension"]))
    await invitations.run_invitation(started.id, batch_size=2)  # pages merge the group and the segment
    rows = await _invitations(event.id)
    assert set(rows) == {*diabetic, other}
    async with unit_of_work() as session:
        done = await session.get(InvitationRun, started.id)
    assert done is not None and done.invited == 6 and done.suppressed == 1
    assert done.audience["segment"]["criteria"] == {"conditions": ["diabetes"]}
    assert suppressed not in rows


INVITE = """mutation($e: ID!, $s: ID, $g: [ID!]) { eventInvite(input: {eventId: $e, segmentId: $s, groupIds: $g}) {
  run { id status invited suppressed } errors { field code } } }"""


async def test_event_invite_with_a_segment_over_http(client: Any) -> None:
    marketer = await staff_session(client, f"m{uuid.uuid4().hex[:8]}@kangning.cn", ["marketer"])
    moderator = await staff_session(client, f"d{uuid.uuid4().hex[:8]}@kangning.cn", ["moderator"])
    patient, _ = await signed_in_patient(client)
    await make_patient(consents=MARKETING, conditions=["diabetes"])
    seg = to_global_id("Segment", await segment(SegmentCriteria(conditions=["diabetes"])))
    event = to_global_id("Event", (await _event()).id)

    ok = data(await gql(client, INVITE, {"e": event, "s": seg}, token=marketer.access))["eventInvite"]
    assert ok["errors"] == [] and ok["run"]["status"] == "queued" and ok["run"]["suppressed"] == 0
    refused = data(await gql(client, INVITE, {"e": event, "s": seg}, token=moderator.access))["eventInvite"]
    assert [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"] and refused["run"] is None
    by_patient = data(await gql(client, INVITE, {"e": event, "s": seg}, token=patient.access))["eventInvite"]
    assert [e["code"] for e in by_patient["errors"]] == ["PERMISSION_DENIED"]
    for bad in ("not-a-global-id", to_global_id("Event", uuid.uuid4()), "x" * 5000):
        wrong = data(await gql(client, INVITE, {"e": event, "s": bad}, token=marketer.access))["eventInvite"]
        assert wrong["run"] is None and [e["field"] for e in wrong["errors"]] == ["segmentId"], wrong
    nul = await gql(client, INVITE, {"e": event, "s": "U2VnbWVudDp\x00"}, token=marketer.access)
    assert nul["data"] is None and nul["errors"][0]["extensions"]["code"] == "INVALID_STRING"
    missing = to_global_id("Segment", uuid.uuid4())
    gone = data(await gql(client, INVITE, {"e": event, "s": missing}, token=marketer.access))["eventInvite"]
    assert [(e["field"], e["code"]) for e in gone["errors"]] == [("segmentId", "SEGMENT_NOT_FOUND")]
    nothing = data(await gql(client, INVITE, {"e": event, "s": None, "g": []}, token=marketer.access))["eventInvite"]
    assert [e["code"] for e in nothing["errors"]] == ["AUDIENCE_EMPTY"]
