"""Care-team conversations in the domain: routing to the patient's own clinician or their site's team,
who may read and write (never another patient, never staff of another site), crisis first, the reply
clock in working hours with one escalation per clock, the PHI read record, and what the patient's
notification says (nothing but NOTICE_TEXT)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from care import careteam, conversations, errors
from care.models import ConversationMessage, ConversationStatus
from care.workhours import CareClockSettings, add_working_time, reply_due
from community import moderation
from core import clock
from core.db import unit_of_work
from core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from core.identity import ANONYMOUS, SYSTEM, Role
from tests.care.conversation_support import (
    CRISIS,
    count_sent,
    pages,
    phi_reads,
    sent_to,
    set_home_site,
    staff_member,
)
from tests.care.support import start
from tests.factories import as_patient, make_site, new_member

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def _start(patient: uuid.UUID, subject: str = "血糖控制", body: str = "最近空腹血糖偏高，需要调药吗？"):
    async with unit_of_work() as session:
        return await conversations.start(session, as_patient(patient), subject=subject, body=body)


async def _reply(actor, conversation_id: uuid.UUID, body: str):
    async with unit_of_work() as session:
        return await conversations.reply(session, actor, conversation_id, body)


async def _get(actor, conversation_id: uuid.UUID):
    async with unit_of_work() as session:
        return await conversations.get(session, actor, conversation_id)


async def _assign_clinician(patient: uuid.UUID, staff_id: uuid.UUID, role: str) -> None:
    async with unit_of_work() as session:
        await careteam.set_assignment(session, SYSTEM, patient_id=patient, staff_id=staff_id, role=role)


# --- working hours --------------------------------------------------------------------------------


def _sh(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_the_reply_clock_counts_working_hours_only():
    s = CareClockSettings(reply_hours=4, work_start_hour=8, work_end_hour=18, work_days=frozenset({1, 2, 3, 4, 5}))
    # 2026-03-02 is a Monday.
    assert reply_due(_sh(2026, 3, 2, 9, 0), s) == _sh(2026, 3, 2, 13, 0)
    assert reply_due(_sh(2026, 3, 2, 6, 30), s) == _sh(2026, 3, 2, 12, 0)  # before opening: from 08:00
    assert reply_due(_sh(2026, 3, 2, 16, 0), s) == _sh(2026, 3, 3, 10, 0)  # 2 h today, 2 h tomorrow
    assert reply_due(_sh(2026, 3, 2, 23, 0), s) == _sh(2026, 3, 3, 12, 0)
    assert reply_due(_sh(2026, 3, 6, 17, 0), s) == _sh(2026, 3, 9, 11, 0)  # Friday evening -> Monday
    assert reply_due(_sh(2026, 3, 7, 10, 0), s) == _sh(2026, 3, 9, 12, 0)  # a Saturday message
    assert reply_due(_sh(2026, 3, 2, 14, 0), s) == _sh(2026, 3, 2, 18, 0)  # exactly at closing
    # Shorter clocks, Saturday clinics and 24-hour teams are settings.
    weekend = CareClockSettings(reply_hours=1, work_days=frozenset({1, 2, 3, 4, 5, 6}))
    assert reply_due(_sh(2026, 3, 6, 17, 30), weekend) == _sh(2026, 3, 7, 8, 30)
    always = CareClockSettings(work_start_hour=0, work_end_hour=24, work_days=frozenset(range(1, 8)))
    assert add_working_time(_sh(2026, 3, 7, 22, 0), timedelta(hours=4), always) == _sh(2026, 3, 8, 2, 0)
    with pytest.raises(ValueError):
        CareClockSettings(work_start_hour=18, work_end_hour=8)
    with pytest.raises(ValueError):
        CareClockSettings(work_days=frozenset({0}))


# --- routing and who reads ----------------------------------------------------------------------


async def test_routed_to_the_assigned_health_manager_else_doctor_else_the_site_team():
    site = await make_site("S1")
    patient = await new_member()
    await set_home_site(patient, site)
    doctor = await staff_member("doc@example.com", [Role.DOCTOR], site)
    manager = await staff_member("hm@example.com", [Role.HEALTH_MANAGER], site)

    team_only = await _start(patient, "第一次咨询")
    assert team_only.conversation.assignee_id is None and team_only.conversation.site_id == site
    assert team_only.conversation.status == ConversationStatus.OPEN

    assert doctor.id is not None and manager.id is not None
    await _assign_clinician(patient, doctor.id, "doctor")
    to_doctor = await _start(patient, "第二次咨询")
    assert to_doctor.conversation.assignee_id == doctor.id

    await _assign_clinician(patient, manager.id, "health_manager")
    to_manager = await _start(patient, "第三次咨询")
    assert to_manager.conversation.assignee_id == manager.id  # the health manager triages first

    # An assignment replaced: the new clinician gets the next conversation; earlier ones stay.
    other_manager = await staff_member("hm2@example.com", [Role.HEALTH_MANAGER], site)
    assert other_manager.id is not None
    await _assign_clinician(patient, other_manager.id, "health_manager")
    assert (await _start(patient, "第四次咨询")).conversation.assignee_id == other_manager.id
    assert (await _get(manager, to_manager.conversation.id)).assignee_id == manager.id


async def test_the_care_team_reads_and_nobody_else():
    site, elsewhere = await make_site("S1"), await make_site("S2")
    patient, mallory = await new_member(), await new_member()
    await set_home_site(patient, site)
    own_doctor = await staff_member("own@example.com", [Role.DOCTOR], None)  # named; works group-wide
    assert own_doctor.id is not None
    await _assign_clinician(patient, own_doctor.id, "doctor")
    posted = await _start(patient)
    cid = posted.conversation.id
    assert posted.conversation.site_id == site and posted.conversation.assignee_id == own_doctor.id

    site_doctor = await staff_member("doc@example.com", [Role.DOCTOR], site)
    site_manager = await staff_member("hm@example.com", [Role.HEALTH_MANAGER], site)
    admin = await staff_member("admin@example.com", [Role.ADMIN], None)
    for reader in (as_patient(patient), own_doctor, site_doctor, site_manager, admin):
        assert (await _get(reader, cid)).id == cid

    other_site_doctor = await staff_member("doc2@example.com", [Role.DOCTOR], elsewhere)
    groupwide_doctor = await staff_member("doc3@example.com", [Role.DOCTOR], None)  # team of unsited patients
    desk = await staff_member("desk@example.com", [Role.CLINIC_STAFF], site)
    moderator = await staff_member("mod@example.com", [Role.MODERATOR], site)
    for outsider in (as_patient(mallory), other_site_doctor, groupwide_doctor, desk, moderator):
        with pytest.raises(errors.ConversationNotFound):
            await _get(outsider, cid)
        with pytest.raises(errors.ConversationNotFound):
            await _reply(outsider, cid, "我也有同样的问题")
    with pytest.raises(NotAuthenticated):
        await _get(ANONYMOUS, cid)

    # The inbox: the site team and the named clinician see it; another site's doctor does not.
    async def inbox(actor):
        async with unit_of_work() as session:
            page = await conversations.inbox_page(session, actor, status=None, overdue_only=False, first=20, after=None)
            return [c.id for c in page.items]

    assert await inbox(site_doctor) == [cid]
    assert await inbox(own_doctor) == [cid]
    assert await inbox(admin) == [cid]
    assert await inbox(other_site_doctor) == []
    for refused in (desk, moderator, as_patient(patient)):
        with pytest.raises(PermissionDenied):
            await inbox(refused)

    # A patient without a home site: the group-wide team (staff without a site) is theirs.
    unsited = await new_member()
    theirs = await _start(unsited)
    assert theirs.conversation.site_id is None
    assert (await _get(groupwide_doctor, theirs.conversation.id)).id == theirs.conversation.id
    with pytest.raises(errors.ConversationNotFound):
        await _get(site_doctor, theirs.conversation.id)


async def test_no_patient_to_patient_messages():
    alice, bob = await new_member(), await new_member()
    alices = await _start(alice)
    # Bob can neither read nor write into Alice's conversation, nor close or move it.
    with pytest.raises(errors.ConversationNotFound):
        await _reply(as_patient(bob), alices.conversation.id, "加我微信，我有特效药")
    async with unit_of_work() as session:
        with pytest.raises(errors.ConversationNotFound):
            await conversations.close(session, as_patient(bob), alices.conversation.id)
        with pytest.raises(PermissionDenied):
            await conversations.assign(session, as_patient(bob), alices.conversation.id, alice)
    # Only patients open conversations, and only with their own care team: staff cannot open one as a
    # patient, and a conversation has no recipient to choose.
    doctor = await staff_member("doc@example.com", [Role.DOCTOR], None)
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await conversations.start(session, doctor, subject="随访", body="请按时复查")
    async with unit_of_work() as session:
        authors = set(await session.scalars(select(ConversationMessage.author_id)))
    assert authors == {alice}


async def test_bad_inputs_are_typed_errors():
    patient = await new_member()
    cases = [
        ({"subject": "糖", "body": "好"}, ["CONVERSATION_SUBJECT_LENGTH"]),
        ({"subject": "血" * 61, "body": "好"}, ["CONVERSATION_SUBJECT_LENGTH"]),
        ({"subject": "血糖", "body": "   "}, ["CONVERSATION_BODY_LENGTH"]),
        ({"subject": "血糖", "body": "长" * (conversations.BODY_MAX + 1)}, ["CONVERSATION_BODY_LENGTH"]),
        ({"subject": "血\x00糖", "body": "好"}, ["CONVERSATION_TEXT_INVALID"]),
        ({"subject": "血糖", "body": "空\x00字符"}, ["CONVERSATION_TEXT_INVALID"]),
        ({"subject": "血糖", "body": "响铃\x07"}, ["CONVERSATION_TEXT_INVALID"]),
    ]
    for given, codes in cases:
        async with unit_of_work() as session:
            with pytest.raises(ValidationFailed) as refused:
                await conversations.start(session, as_patient(patient), **given)
        assert [i.code for i in refused.value.issues] == codes, given
    # Newlines and tabs are text; the subject's whitespace is collapsed.
    ok = await _start(patient, "  血糖\n控制  ", "第一行\r\n第二行\t缩进")
    assert ok.conversation.subject == "血糖 控制" and ok.message.body == "第一行\n第二行\t缩进"
    with pytest.raises(ValidationFailed):
        await _reply(as_patient(patient), ok.conversation.id, "长" * (conversations.BODY_MAX + 1))
    with pytest.raises(errors.ConversationNotFound):
        await _reply(as_patient(patient), uuid.uuid4(), "你好")

    # At most OPEN_LIMIT unclosed conversations: more questions go into the ones already open.
    for n in range(conversations.OPEN_LIMIT - 1):
        await _start(patient, f"咨询{n}")
    with pytest.raises(errors.ConversationOpenLimit):
        await _start(patient, "再来一个")
    async with unit_of_work() as session:
        await conversations.close(session, as_patient(patient), ok.conversation.id)
    await _start(patient, "关掉一个后可以")


# --- crisis first ----------------------------------------------------------------------------------


async def test_a_crisis_message_pages_on_duty_staff_and_is_still_delivered():
    site = await make_site("S1")
    patient = await new_member()
    await set_home_site(patient, site)
    doctor = await staff_member("doc@example.com", [Role.DOCTOR], site)

    opened = await _start(patient, "最近很难受", CRISIS)
    assert opened.message.crisis is True and opened.message.body == CRISIS  # delivered to the team
    assert len(await pages("crisis_text")) == 1
    assert await count_sent(str(patient), moderation.HELP_TEXT) == 1

    # In a reply too; the team's reply with the same words is advice, not a crisis.
    again = await _reply(as_patient(patient), opened.conversation.id, "还是" + CRISIS)
    assert again.message.crisis is True and len(await pages("crisis_text")) == 2
    advice = await _reply(doctor, opened.conversation.id, "如有想自杀的念头请立即拨打热线")
    assert advice.message.crisis is False and len(await pages("crisis_text")) == 2

    # Refused (too long, another patient's conversation): help and a page all the same.
    async with unit_of_work() as session:
        with pytest.raises(ValidationFailed):
            await conversations.start(session, as_patient(patient), subject="求助", body=CRISIS * 300)
    assert len(await pages("crisis_text")) == 3
    stranger = await new_member()
    with pytest.raises(errors.ConversationNotFound):
        await _reply(as_patient(stranger), opened.conversation.id, CRISIS)
    assert len(await pages("crisis_text")) == 4
    assert await count_sent(str(stranger), moderation.HELP_TEXT) == 1


# --- the clock ----------------------------------------------------------------------------------


async def test_an_unanswered_conversation_escalates_once_per_clock():
    site = await make_site("S1")
    patient = await new_member()
    await set_home_site(patient, site)
    manager = await staff_member("hm@example.com", [Role.HEALTH_MANAGER], site)
    opened = await _start(patient)
    cid = opened.conversation.id
    due = opened.conversation.due_at
    assert due is not None and due == reply_due(clock.now())

    # A second patient message keeps the running clock: the first question waits longest.
    clock.clock.advance(timedelta(minutes=5))
    follow_up = await _reply(as_patient(patient), cid, "补充一下：餐后也偏高")
    assert follow_up.conversation.due_at == due

    clock.clock.freeze(due - timedelta(minutes=1))
    assert await conversations.escalate_due() == 0
    clock.clock.freeze(due + timedelta(minutes=1))
    assert await conversations.escalate_due() == 1
    assert await conversations.escalate_due() == 0  # the cron twice: once
    overdue_pages = await pages("conversation_overdue")
    assert len(overdue_pages) == 1 and overdue_pages[0].site_id == site
    assert overdue_pages[0].role == "health_manager"
    assert "糖" not in overdue_pages[0].body and "糖" not in overdue_pages[0].sms_text  # no health data

    # The team answers: the clock stops; the patient's next message starts a new one, escalated once.
    answered = await _reply(manager, cid, "请把近一周的血糖记录发给我")
    assert answered.conversation.status == ConversationStatus.WAITING_ON_PATIENT
    assert answered.conversation.due_at is None and answered.conversation.escalated_at is None
    assert answered.conversation.assignee_id == manager.id  # an unassigned conversation is taken
    assert answered.conversation.first_response_at == clock.now()
    clock.clock.advance(timedelta(days=10))
    assert await conversations.escalate_due() == 0  # waiting on the patient: no clock
    again = await _reply(as_patient(patient), cid, "好的，记录如下")
    assert again.conversation.status == ConversationStatus.OPEN and again.conversation.due_at is not None
    clock.clock.advance(timedelta(days=7))
    assert await conversations.escalate_due() == 1
    assert await conversations.escalate_due() == 0
    assert len(await pages("conversation_overdue")) == 2

    # Closed: no clock, no escalation, no more messages.
    async with unit_of_work() as session:
        closed = await conversations.close(session, manager, cid)
    assert closed.status == ConversationStatus.CLOSED and closed.due_at is None
    with pytest.raises(errors.ConversationClosed):
        await _reply(as_patient(patient), cid, "还有一个问题")
    async with unit_of_work() as session:
        with pytest.raises(errors.ConversationClosed):
            await conversations.close(session, as_patient(patient), cid)


async def test_the_inbox_lists_overdue_first():
    site = await make_site("S1")
    manager = await staff_member("hm@example.com", [Role.HEALTH_MANAGER], site)
    patients = [await new_member() for _ in range(3)]
    for p in patients:
        await set_home_site(p, site)
    first = await _start(patients[0], "最早的咨询")
    clock.clock.advance(timedelta(days=3))
    second = await _start(patients[1], "后来的咨询")
    answered = await _start(patients[2], "已回复的咨询")
    await _reply(manager, answered.conversation.id, "已收到")
    clock.clock.advance(timedelta(minutes=1))
    assert first.conversation.due_at is not None and first.conversation.due_at <= clock.now()

    async def inbox(**kw):
        async with unit_of_work() as session:
            args = {"status": None, "overdue_only": False, "first": 20, "after": None} | kw
            page = await conversations.inbox_page(session, manager, **args)
            return [c.id for c in page.items], page

    ids, _ = await inbox()
    assert ids == [first.conversation.id, second.conversation.id, answered.conversation.id]
    assert (await inbox(overdue_only=True))[0] == [first.conversation.id]
    assert (await inbox(status=ConversationStatus.WAITING_ON_PATIENT))[0] == [answered.conversation.id]
    one, page = await inbox(first=1)
    rest, _ = await inbox(first=5, after=page.cursors[-1])
    assert one + rest == ids


# --- the PHI read record and the notification ---------------------------------------------------------


async def test_staff_reads_are_recorded_the_patients_own_are_not():
    site = await make_site("S1")
    patient = await new_member()
    await set_home_site(patient, site)
    doctor = await staff_member("doc@example.com", [Role.DOCTOR], site)
    opened = await _start(patient)
    await _get(as_patient(patient), opened.conversation.id)
    async with unit_of_work() as session:
        await conversations.messages_page(session, as_patient(patient), opened.conversation, first=10, after=None)
    assert await phi_reads(patient) == []

    await _get(doctor, opened.conversation.id)
    async with unit_of_work() as session:
        page = await conversations.messages_page(session, doctor, opened.conversation, first=10, after=None)
    assert [m.body for m in page.items] == ["最近空腹血糖偏高，需要调药吗？"]
    recorded = await phi_reads(patient)
    assert recorded and {r.staff_id for r in recorded} == {doctor.id}
    assert all(r.kind == "conversations" and r.staff_roles == ["doctor"] for r in recorded)


async def test_the_patients_notification_says_only_that_a_message_came():
    site = await make_site("S1")
    patient = await new_member()
    await set_home_site(patient, site)
    doctor = await staff_member("doc@example.com", [Role.DOCTOR], site)
    opened = await _start(patient, "乳腺癌术后复查", "术后三个月，复查需要做哪些项目？")
    reply = await _reply(doctor, opened.conversation.id, "乳腺癌术后三个月建议做乳腺超声和血常规")

    sent = [m.payload for m in await sent_to(str(patient))]
    assert [(p["subject"], p["body"]) for p in sent] == [(conversations.NOTICE_SUBJECT, conversations.NOTICE_TEXT)]
    assert conversations.NOTICE_TEXT == "您有一条来自护理团队的新消息"
    for payload in sent:
        assert "乳腺" not in str(payload) and "复查" not in str(payload)
    # The patient's own messages notify nobody outside the app.
    assert reply.message.author_id == doctor.id
    assert len(await sent_to(str(patient))) == 1
