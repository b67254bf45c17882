"""The one outreach policy (messaging/outreach.py) as every sender meets it: suppression per message
class, consent per purpose and channel, caps per class shared across senders, quiet hours in the
patient's zone; notices (event reminders, cancellations, expiring points) pass through it too."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from community import events
from core import clock
from core.channels import ChannelName, Message
from core.db import unit_of_work
from core.identity import Role
from core.outbox import OutboxMessage
from messaging import outreach
from messaging.outreach import MessageClass, Notice, SkipReason, Verdict
from patients.models import Patient
from tests.campaigns.support import make_patient
from tests.factories import as_patient, staff

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
MIDNIGHT = datetime(2026, 6, 15, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
MARKETER = staff(Role.MARKETER)


async def _facts(pid: uuid.UUID) -> outreach.Recipient:
    async with unit_of_work() as session:
        return (await outreach.recipients(session, [pid], clock.now()))[pid]


async def test_suppression_differs_by_class_and_consent_comes_before_the_cap() -> None:
    clock.clock.freeze(NOON)
    admitted = await make_patient(consents=[("sms", "marketing"), ("sms", "service")], admitted=True)
    deceased = await make_patient(consents=[("sms", "service")], deceased=True)
    r = await _facts(admitted)
    assert outreach.decide(r, MessageClass.MARKETING, "sms", NOON).reason == SkipReason.SUPPRESSED
    assert outreach.decide(r, MessageClass.CARE, "sms", NOON).reason == SkipReason.SUPPRESSED
    assert outreach.decide(r, MessageClass.NOTICE, "sms", NOON).verdict == Verdict.SEND  # their own event
    d = await _facts(deceased)
    assert all(outreach.decide(d, c, "in_app", NOON).reason == SkipReason.SUPPRESSED for c in MessageClass)
    plain = await _facts(await make_patient())  # in-app service consent only (given at sign-up)
    plain.recent[MessageClass.MARKETING] = 99
    assert outreach.decide(plain, MessageClass.MARKETING, "in_app", NOON).reason == SkipReason.NO_CONSENT
    assert outreach.decide(plain, MessageClass.NOTICE, "sms", NOON).reason == SkipReason.NO_CONSENT
    plain.recent[MessageClass.CARE] = 4
    assert outreach.decide(plain, MessageClass.CARE, "in_app", NOON).reason == SkipReason.FREQUENCY_CAP


async def test_notices_skip_the_deceased_and_wait_for_quiet_hours_only_where_they_interrupt() -> None:
    clock.clock.freeze(MIDNIGHT)
    alive = await make_patient(consents=[("sms", "service")])
    gone = await make_patient(consents=[("sms", "service")], deceased=True)
    async with unit_of_work() as session:
        phone = await session.scalar(select(Patient.phone).where(Patient.id == alive))
        assert phone is not None
        queued = await outreach.notify(
            session,
            MessageClass.NOTICE,
            [
                Notice(alive, Message(ChannelName.IN_APP, str(alive), "提醒", subject="活动提醒"), "t:1"),
                Notice(alive, Message(ChannelName.SMS, phone, "提醒"), "t:2"),
                Notice(gone, Message(ChannelName.IN_APP, str(gone), "提醒", subject="活动提醒"), "t:3"),
            ],
        )
    assert queued == 2
    async with unit_of_work() as session:
        rows = {m.payload["channel"]: m for m in await session.scalars(select(OutboxMessage))}
    assert set(rows) == {"in_app", "sms"} and rows["in_app"].payload["recipient"] == str(alive)
    assert rows["in_app"].available_at == MIDNIGHT  # the inbox does not ring
    assert rows["sms"].available_at == datetime(2026, 6, 16, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


async def test_event_reminders_and_cancellations_skip_a_patient_who_died_meanwhile() -> None:
    now = clock.now()
    data = events.EventInput(
        kind="offline",
        title="糖尿病饮食讲座",
        starts_at=now + timedelta(hours=23),
        ends_at=now + timedelta(hours=25),
        location="门诊楼三层报告厅",
        capacity=None,
    )
    async with unit_of_work() as session:
        event = (await events.create_event(session, MARKETER, data))[0]
    alive, gone = await make_patient(), await make_patient()
    for pid in (alive, gone):
        async with unit_of_work() as session:
            await events.rsvp(session, as_patient(pid), event.id, "going")
    async with unit_of_work() as session:
        await session.execute(update(Patient).where(Patient.id == gone).values(deceased=True))
    assert await events.send_reminders() == 1
    async with unit_of_work() as session:
        await events.cancel_event(session, MARKETER, event.id, reason="场地检修")
    async with unit_of_work() as session:
        sent = [m.payload for m in await session.scalars(select(OutboxMessage))]
    expected = [("活动取消通知", str(alive)), ("活动提醒", str(alive))]
    assert sorted((m["subject"], m["recipient"]) for m in sent) == expected
