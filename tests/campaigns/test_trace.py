"""Why did this patient get this message: one patient's campaign deliveries (sent, fallen back to another
channel, deferred past quiet hours, skipped at the frequency cap) and the other messages the outreach
policy let out to them (a points notice; a care-team reply stays out of marketing's sight), newest first
and paged across both; marketers and admins only; a condition-chosen campaign's delivery is a recorded
read of the patient's conditions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from campaigns import trace
from campaigns.segments import SegmentCriteria
from core import clock
from core.channels import ChannelName, Message
from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import Role
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from privacy.models import PhiRead
from tests.campaigns.support import MARKETER, approved_campaign, deliveries, make_patient, run, send_all
from tests.factories import as_patient, staff

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
LATE = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai


async def _notice(patient: uuid.UUID, ref: str) -> None:
    message = Message(ChannelName.IN_APP, str(patient), "您有积分即将过期", subject="积分提醒")
    async with unit_of_work() as session:
        assert await outreach.notify(session, MessageClass.NOTICE, [Notice(patient, message, ref)]) == 1


async def _trace(actor, patient: uuid.UUID, first: int = 20, after: str | None = None):
    async with unit_of_work() as session:
        return await trace.patient_trace(session, actor, patient, first=first, after=after)


async def test_every_message_of_one_patient_with_why_newest_first_and_paged():
    clock.clock.freeze(NOON)
    patient = await make_patient(consents=[("in_app", "marketing")], conditions=["diabetes"])
    other = await make_patient(consents=[("in_app", "marketing")])
    fallback = await approved_campaign(channels=["sms", "in_app"])  # no SMS consent: in-app instead
    await run(fallback)
    clock.clock.advance(timedelta(days=1))
    by_condition = await approved_campaign(SegmentCriteria(conditions=["diabetes"]))
    await run(by_condition)
    clock.clock.advance(timedelta(hours=1))
    await _notice(patient, "points_expiring:trace-1")
    await _notice(patient, "care_reply:trace-1")  # a care conversation: not marketing's to read
    clock.clock.freeze(LATE)
    capped = await approved_campaign()  # at 22:30: deferred to 08:00, then the third in 7 days: capped
    await run(capped)
    assert (await deliveries(capped))[patient].not_before == datetime(2026, 6, 18, 0, 0, tzinfo=UTC)
    clock.clock.freeze(datetime(2026, 6, 18, 0, 1, tzinfo=UTC))
    await send_all("in_app")

    found = await _trace(MARKETER, patient)
    kinds = [("delivery" if e.delivery else "sent") for e in found.items]
    assert kinds == ["delivery", "sent", "delivery", "delivery"]
    assert [e.at for e in found.items] == sorted((e.at for e in found.items), reverse=True)
    newest, notice, second, first = found.items
    assert newest.delivery is not None and newest.delivery.campaign_id == capped
    assert newest.delivery.skip_reason == "frequency_cap"
    assert notice.sent is not None and notice.sent.source == "积分即将过期提醒"
    assert "凭站内信渠道的服务授权发送" in notice.sent.explanation
    assert "站内通知不受免打扰时段限制" in notice.sent.explanation
    assert second.delivery is not None and second.delivery.campaign_id == by_condition
    assert first.delivery is not None and first.delivery.channel == "in_app"
    assert first.delivery.reason["tried"] == [{"channel": "sms", "missing": "consent"}]
    assert all(e.delivery is None or e.delivery.patient_id == patient for e in found.items)
    assert (await _trace(MARKETER, other)).items[0].delivery is not None  # the other patient's own

    one = await _trace(MARKETER, patient, first=1)
    two = await _trace(MARKETER, patient, first=2, after=one.cursors[-1])
    rest = await _trace(MARKETER, patient, first=2, after=two.cursors[-1])
    assert [e.id for e in one.items + two.items + rest.items] == [e.id for e in found.items]
    assert one.has_next_page and two.has_next_page and not rest.has_next_page

    async with unit_of_work() as session:
        read = await session.scalars(
            select(PhiRead.kind).where(PhiRead.patient_id == patient, PhiRead.staff_id == MARKETER.id)
        )
        assert set(read) == {"conditions"}  # the condition-chosen campaign's delivery was listed


async def test_quiet_hours_deferral_is_in_the_delivery():
    clock.clock.freeze(LATE)
    patient = await make_patient(consents=[("in_app", "marketing")])
    cid = await approved_campaign()
    await run(cid)
    row = (await deliveries(cid))[patient]
    assert row.status == "queued" and row.not_before == datetime(2026, 6, 18, 0, 0, tzinfo=UTC)
    (entry,) = (await _trace(staff(Role.ADMIN), patient)).items
    assert entry.delivery is not None and entry.delivery.not_before > entry.delivery.created_at


async def test_only_marketing_reads_the_trace_and_unknown_patients_are_refused():
    clock.clock.freeze(NOON)
    patient = await make_patient()
    for outsider in (staff(Role.REVIEWER), staff(Role.CLINIC_STAFF), staff(Role.DOCTOR), as_patient(patient)):
        with pytest.raises(PermissionDenied):
            await _trace(outsider, patient)
    with pytest.raises(DomainError) as caught:
        await _trace(MARKETER, uuid.uuid4())
    assert caught.value.code == "PATIENT_NOT_FOUND"
    for bad_cursor in ("nope", "W10", "WyJ4IiwieSJd"):
        with pytest.raises(DomainError) as caught:
            await _trace(MARKETER, patient, after=bad_cursor)
        assert caught.value.code == "CURSOR_INVALID"
