"""Templates, the lock-screen privacy rule, deliver exactly once per source_ref, real SMTP e-mail,
tracking routes and the older in-app notices landing in the inbox."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from core import clock, outbox
from core.channels import ChannelName, DevMessage, Message, send_later
from core.db import unit_of_work
from core.errors import ValidationFailed
from core.outbox import OutboxMessage
from core.settings import reset_settings
from loyalty import jobs as loyalty_jobs
from messaging import engagement, templates
from messaging.delivery import DeliveryResult, Outgoing, deliver
from messaging.models import InboxMessage, MessageDelivery
from patients import service as patient_service
from tests.factories import as_patient, new_member
from tests.loyalty.support import give_points
from workers.settings import build_worker

# --- helpers --------------------------------------------------------------------------------------


async def send(outgoing: Outgoing) -> DeliveryResult:
    async with unit_of_work() as session:
        return await deliver(session, outgoing)


def outgoing(patient_id: uuid.UUID, channel: ChannelName, body: str, **kw: Any) -> Outgoing:
    values: dict[str, Any] = {"subject": None, "link": None, "source_ref": f"test:{uuid.uuid4()}"}
    values.update(kw)
    return Outgoing(channel=channel, patient_id=patient_id, body=body, **values)


async def count(model: Any, *where: Any) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def set_email(patient_id: uuid.UUID, email: str) -> None:
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient_id), patient_service.ProfileChanges(email=email)
        )


async def engaged_events() -> list[dict[str, Any]]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.topic == engagement.ENGAGED_TOPIC)
            .order_by(OutboxMessage.created_at)
        )
        return list(rows)


async def dispatch_pending() -> None:
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.status == "pending", OutboxMessage.topic == "notify.send")
            )
        )
    for message_id in ids:
        assert await outbox.dispatch(message_id) == "sent"


class _Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Collector]:
    """A real SMTP server (aiosmtpd, in its own thread) and settings pointing the e-mail channel at it."""
    collector = _Collector()
    port = _free_port()
    controller = Controller(collector, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("PORTAL_EMAIL_PROVIDER", "smtp")
    monkeypatch.setenv("PORTAL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
    monkeypatch.setenv("PORTAL_SMTP_SENDER", "notice@kangning.example")
    monkeypatch.setenv("PORTAL_PUBLIC_BASE_URL", "https://m.kangning.example")
    reset_settings()
    try:
        yield collector
    finally:
        controller.stop()
        monkeypatch.undo()
        reset_settings()


# --- templates ------------------------------------------------------------------------------------


def test_render_fills_variables_and_refuses_unknown_ones():
    text = "{nickname}您好，您有{points}积分，{{限时}}兑换：{link}"
    out = templates.render(text, {"nickname": "王阿姨", "points": "120", "link": "https://x.example/r"})
    assert out == "王阿姨您好，您有120积分，{限时}兑换：https://x.example/r"
    with pytest.raises(ValidationFailed) as unknown:
        templates.render("{nickname}您好，{diagnosis}", {"nickname": "王阿姨"})
    assert unknown.value.issues[0].code == "TEMPLATE_UNKNOWN_VARIABLE"
    assert "未知的模板变量「{diagnosis}」" in unknown.value.issues[0].message
    with pytest.raises(ValidationFailed) as missing:
        templates.render("{event_title}", {}, field="subject")
    assert [(i.code, i.field) for i in missing.value.issues] == [("TEMPLATE_MISSING_VARIABLE", "subject")]


async def test_condition_names_refused_in_sms_and_wechat_but_allowed_in_app_and_email():
    body = "{nickname}您好，乳腺癌术后康复讲座本周六开讲，高血压患者也欢迎。"
    async with unit_of_work() as session:
        for channel in (ChannelName.SMS, ChannelName.WECHAT):
            issues = await templates.check_template(session, channel, "糖尿病随访", body)
            found = [
                (i.field, i.code, body[i.start : i.end] if i.field == "body" else "糖尿病随访"[i.start : i.end])
                for i in issues
            ]
            assert found == [
                ("subject", "TEMPLATE_CONDITION_NAME", "糖尿病"),
                ("body", "TEMPLATE_CONDITION_NAME", "乳腺癌术后"),  # the longest match, not 乳腺癌 or 癌
                ("body", "TEMPLATE_CONDITION_NAME", "高血压"),
            ]
            assert "锁屏" in issues[0].message
        for channel in (ChannelName.IN_APP, ChannelName.EMAIL):
            assert await templates.check_template(session, channel, "糖尿病随访", body) == []
        unknown = await templates.check_template(session, ChannelName.IN_APP, None, "您好{foo}")
        assert [(i.code, i.start, i.end) for i in unknown] == [("TEMPLATE_UNKNOWN_VARIABLE", 2, 7)]
        assert await templates.check_template(session, ChannelName.SMS, None, "您有HIV检测结果") != []


async def test_deliver_refuses_condition_names_in_sms_and_wechat_as_last_line_of_defence():
    patient = await new_member()
    for channel in (ChannelName.SMS, ChannelName.WECHAT):
        result = await send(outgoing(patient, channel, "您的糖尿病复诊提醒", source_ref=f"refuse:{channel}"))
        assert result == DeliveryResult(status="failed", error="template_condition_name")
        again = await send(outgoing(patient, channel, "您的复诊提醒", source_ref=f"refuse:{channel}"))
        assert again.status == "failed"  # the recorded result stands for that source_ref
    assert await count(DevMessage) == 0
    ok = await send(outgoing(patient, ChannelName.IN_APP, "糖尿病饮食讲座报名开始了", subject="糖尿病讲座"))
    assert ok.status == "delivered"
    sms = await send(outgoing(patient, ChannelName.SMS, "您的复诊提醒：明天上午九点", source_ref="sms-ok"))
    assert sms.status == "recorded" and sms.provider_ref  # the development recorder reached nobody
    async with unit_of_work() as session:
        recorded = (await session.scalars(select(DevMessage))).all()
        patient_row = await patient_service.get_patient(session, as_patient(patient), patient)
    assert [(m.channel, m.recipient, m.body) for m in recorded] == [
        ("sms", patient_row.phone, "您的复诊提醒：明天上午九点")
    ]


async def test_preview_fills_the_patients_variables_and_reports_condition_names_brought_in():
    patient = await new_member()
    await give_points(patient, 300)
    async with unit_of_work() as session:
        rendered = await templates.preview(
            session,
            channel=ChannelName.SMS,
            subject=None,
            body="{nickname}您好，您有{points}积分。{event_title}邀您参加，详情{link}",
            patient_id=patient,
            extra={"event_title": "高血压沙龙"},
        )
    assert rendered.body.startswith("康友") and "您有300积分" in rendered.body and "高血压沙龙邀您参加" in rendered.body
    assert [(i.code, i.field, rendered.body[i.start : i.end]) for i in rendered.issues] == [
        ("TEMPLATE_CONDITION_NAME", "renderedBody", "高血压")
    ]


# --- deliver --------------------------------------------------------------------------------------


async def test_deliver_in_app_is_idempotent_per_source_ref():
    patient = await new_member()
    first = await send(
        outgoing(patient, ChannelName.IN_APP, "欢迎参加健康讲座", subject="活动通知", source_ref="camp:1")
    )
    second = await send(
        outgoing(patient, ChannelName.IN_APP, "欢迎参加健康讲座", subject="活动通知", source_ref="camp:1")
    )
    assert first.status == "delivered" and first == second
    assert await count(InboxMessage, InboxMessage.patient_id == patient) == 1
    assert await count(MessageDelivery) == 1
    async with unit_of_work() as session:  # twice in one transaction: still one
        await deliver(session, outgoing(patient, ChannelName.IN_APP, "同一事务", source_ref="camp:2"))
        await deliver(session, outgoing(patient, ChannelName.IN_APP, "同一事务", source_ref="camp:2"))
    assert await count(InboxMessage, InboxMessage.patient_id == patient) == 2
    missing = await send(outgoing(uuid.uuid4(), ChannelName.IN_APP, "无此人"))
    assert missing == DeliveryResult(status="failed", error="patient_not_found")


async def test_email_really_arrives_at_the_smtp_server_once(smtp_server):
    patient = await new_member()
    await set_email(patient, "wang.ayi@example.com")
    message = outgoing(
        patient,
        ChannelName.EMAIL,
        "王阿姨您好：\n糖尿病饮食讲座将于本周六上午九点开始，欢迎参加。",
        subject="康宁医疗｜讲座邀请",
        link="https://m.kangning.example/events/42",
        source_ref="campaign_delivery:email-1",
    )
    first = await send(message)
    second = await send(message)
    assert first.status == "sent" and first.provider_ref and first.provider_ref.startswith("<")
    assert second == first
    assert len(smtp_server.envelopes) == 1
    envelope = smtp_server.envelopes[0]
    assert envelope.rcpt_tos == ["wang.ayi@example.com"] and envelope.mail_from == "notice@kangning.example"
    mail: EmailMessage = message_from_bytes(envelope.original_content, policy=email_policy.default)  # type: ignore[assignment]
    assert mail["Subject"] == "康宁医疗｜讲座邀请"
    assert mail["Message-ID"] == first.provider_ref
    plain = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text = plain.get_content()  # type: ignore[attr-defined]
    assert "糖尿病饮食讲座将于本周六上午九点开始" in text
    assert "https://m.kangning.example/t/c/" in text  # the link is tracked, not the raw target
    assert "/t/o/" in html.get_content()  # type: ignore[attr-defined]


async def test_concurrent_delivers_of_one_source_ref_send_once(smtp_server):
    patient = await new_member()
    await set_email(patient, "race@example.com")
    email = outgoing(patient, ChannelName.EMAIL, "复诊提醒：请按时复诊", subject="复诊提醒", source_ref="race:email")
    results = await asyncio.gather(*(send(email) for _ in range(4)))
    assert {r.status for r in results} == {"sent"} and len({r.provider_ref for r in results}) == 1
    assert len(smtp_server.envelopes) == 1
    in_app = outgoing(patient, ChannelName.IN_APP, "复诊提醒：请按时复诊", source_ref="race:in-app")
    results = await asyncio.gather(*(send(in_app) for _ in range(6)))
    assert {r.status for r in results} == {"delivered"} and len({r.provider_ref for r in results}) == 1
    assert await count(InboxMessage, InboxMessage.patient_id == patient) == 1


async def test_email_without_address_or_with_a_dead_server_fails_cleanly(smtp_server, monkeypatch):
    patient = await new_member()
    result = await send(outgoing(patient, ChannelName.EMAIL, "您好", source_ref="no-address"))
    assert result == DeliveryResult(status="failed", error="no_address")
    await set_email(patient, "li@example.com")
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(_free_port()))  # nothing listens there
    reset_settings()
    dead = await send(outgoing(patient, ChannelName.EMAIL, "您好", source_ref="dead-server"))
    assert dead.status == "failed" and (dead.error or "").startswith("smtp_error")
    async with unit_of_work() as session:
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == "dead-server"))
    assert row is not None and row.status == "failed"
    assert smtp_server.envelopes == []


async def test_tracking_routes_record_open_and_click_once_and_emit_events(client, smtp_server):
    patient = await new_member()
    await set_email(patient, "zhao@example.com")
    result = await send(
        outgoing(patient, ChannelName.EMAIL, "讲座邀请", link="https://m.kangning.example/e/7", source_ref="trk:1")
    )
    assert result.status == "sent"
    async with unit_of_work() as session:
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == "trk:1"))
    assert row is not None
    token = engagement.token_for(row.id)
    pixel = await client.get(f"/t/o/{token}")
    assert pixel.status_code == 200 and pixel.headers["content-type"] == "image/gif"
    await client.get(f"/t/o/{token}")  # a second open changes nothing
    click = await client.get(f"/t/c/{token}")
    assert click.status_code == 302 and click.headers["location"] == "https://m.kangning.example/e/7"
    events = await engaged_events()
    assert [(e["source_ref"], e["kind"]) for e in events] == [("trk:1", "opened"), ("trk:1", "clicked")]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert (await client.get(f"/t/c/{forged}")).status_code == 404
    assert (await client.get(f"/t/o/{forged}")).status_code == 200  # a pixel all the same
    assert len(await engaged_events()) == 2


# --- the older in-app notices ---------------------------------------------------------------------


async def test_in_app_notices_from_send_later_land_in_the_inbox_once():
    patient = await new_member()
    async with unit_of_work() as session:
        await send_later(session, Message(ChannelName.IN_APP, str(patient), "您的预约已确认", subject="预约通知"))
        await send_later(session, Message(ChannelName.IN_APP, "care-team", "有新的紧急求助", subject="提醒"))
    worker = build_worker(burst=True, poll_delay=0.05, handle_signals=False)
    try:
        await worker.main()  # a real arq worker dispatches the outbox
    finally:
        await worker.close()
    async with unit_of_work() as session:
        inbox_rows = (await session.scalars(select(InboxMessage))).all()
        dev = (await session.scalars(select(DevMessage))).all()
        first = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.payload["recipient"].astext == str(patient))
        )
    assert [(m.patient_id, m.subject, m.body, m.tracked) for m in inbox_rows] == [
        (patient, "预约通知", "您的预约已确认", False)
    ]
    assert [d.recipient for d in dev] == ["care-team"]  # not a patient: still recorded
    assert first is not None
    async with unit_of_work() as session:  # a repeated dispatch of the same message adds nothing
        row = await session.get(OutboxMessage, first.id)
        assert row is not None
        row.status = "pending"
    assert await outbox.dispatch(first.id) == "sent"
    assert await count(InboxMessage) == 1


async def test_community_and_loyalty_notices_reach_the_patients_inbox():
    from community import events
    from core.identity import Role
    from tests.factories import staff

    marketer = staff(Role.MARKETER)
    going = await new_member()
    now = clock.now()
    async with unit_of_work() as session:
        event = (
            await events.create_event(
                session,
                marketer,
                events.EventInput(
                    kind="offline",
                    title="健康饮食讲座",
                    starts_at=now + timedelta(days=3),
                    ends_at=now + timedelta(days=3, hours=2),
                    location="门诊楼三层报告厅",
                    capacity=10,
                ),
            )
        )[0]
    async with unit_of_work() as session:
        await events.rsvp(session, as_patient(going), event.id, "going")
    async with unit_of_work() as session:
        await events.cancel_event(session, marketer, event.id, reason="场地检修")

    await give_points(going, 100)
    clock.clock.advance(timedelta(days=340))  # the points expire within the notice window
    async with unit_of_work() as session:
        assert await loyalty_jobs.notify_expiring(session) == 1
    await dispatch_pending()
    async with unit_of_work() as session:
        subjects = sorted(
            m.subject or "" for m in await session.scalars(select(InboxMessage).where(InboxMessage.patient_id == going))
        )
    assert subjects == ["活动取消通知", "积分即将到期提醒"]
