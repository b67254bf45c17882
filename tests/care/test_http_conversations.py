"""Care-team conversations through the real schema over HTTP, with signed-in patients and staff:
conversationStart / Reply / Assign / Close, careAssignmentSet / Remove, myConversations, careInbox,
conversation and careTeam, the live conversationMessages subscription; who may not, bad inputs, the
crisis page, the overdue escalation and the PHI read record."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api.context import Context
from api.errors import format_error
from api.relay import parse_uuid_id, to_global_id
from api.schema import schema
from care import conversations
from community import moderation
from core import clock
from core.db import RequestDB, unit_of_work
from core.identity import Actor, ActorKind, Role
from oncall import service as oncall
from oncall.models import PageRecipient
from tests.care.conversation_support import CRISIS, count_sent, pages, phi_reads, sent_to, set_home_site
from tests.care.support import start
from tests.factories import STAFF_PASSWORD, make_site, make_staff, next_phone
from tests.support import STAFF_SIGN_IN, Session, data, gql, patient_session

START = """mutation($s: String!, $b: String!) { conversationStart(input: {subject: $s, body: $b}) {
  conversation { id status subject assigneeName assignee { id } site { id } replyDueAt overdue messageCount }
  message { id body authorKind mine crisis } helpText errors { field code message } } }"""
REPLY = """mutation($c: ID!, $b: String!) { conversationReply(input: {conversationId: $c, body: $b}) {
  conversation { id status replyDueAt firstResponseAt assignee { id } }
  message { id body authorKind authorName mine crisis } helpText errors { field code message } } }"""
ASSIGN = """mutation($c: ID!, $s: ID!) { conversationAssign(input: {conversationId: $c, staffId: $s}) {
  conversation { id assignee { id } assigneeName } errors { field code message } } }"""
CLOSE = """mutation($c: ID!) { conversationClose(input: {conversationId: $c}) {
  conversation { id status closedAt replyDueAt } errors { field code message } } }"""
SET_TEAM = """mutation($p: ID!, $s: ID!, $r: CareTeamRole!) {
  careAssignmentSet(input: {patientId: $p, staffId: $s, role: $r}) {
    member { role name staff { id } } errors { field code message } } }"""
REMOVE_TEAM = """mutation($p: ID!, $r: CareTeamRole!) { careAssignmentRemove(input: {patientId: $p, role: $r}) {
  member { role name } errors { field code message } } }"""
CARE_TEAM = """query($p: ID) { careTeam(patientId: $p) { role name staff { id } } }"""
MY = """query($first: Int, $after: String) { myConversations(first: $first, after: $after) {
  edges { cursor node { id subject status overdue replyDueAt assignee { id } patient { id } } }
  pageInfo { hasNextPage endCursor } } }"""
INBOX = """query($status: CareConversationStatus, $overdue: Boolean, $first: Int, $after: String) {
  careInbox(status: $status, overdueOnly: $overdue, first: $first, after: $after) {
    edges { cursor node { id subject status overdue escalatedAt replyDueAt patient { id } lastMessage { body } } }
    pageInfo { hasNextPage endCursor } } }"""
ONE = """query($id: ID!, $n: Int, $a: String) { conversation(id: $id) { id subject status
  messages(first: $n, after: $a) { edges { cursor node { body authorKind authorName mine crisis } }
    pageInfo { hasNextPage endCursor } } } }"""
NODE = """query($id: ID!) { node(id: $id) { id ... on CareConversation { subject } } }"""


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


def _uuid(global_id: str, type_name: str) -> uuid.UUID:
    value = parse_uuid_id(global_id, type_name)
    assert value is not None
    return value


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _error_code(result: dict[str, Any]) -> str:
    assert result.get("errors"), result
    return str(result["errors"][0]["extensions"]["code"])


async def _staff(client: Any, email: str, roles: list[str], site: uuid.UUID | None, name: str = "测试员工") -> Session:
    """A staff member of a site, signed in through the API."""
    await make_staff(email, roles, site, name=name)
    payload = data(await gql(client, STAFF_SIGN_IN, {"email": email, "password": STAFF_PASSWORD}))["authStaffSignIn"]
    assert payload["errors"] == [], payload
    return Session(payload["tokens"]["accessToken"], payload["tokens"]["refreshToken"], payload["staff"]["id"])


async def _patient(client: Any, site: uuid.UUID | None) -> Session:
    phone = next_phone()
    session = await patient_session(client, phone)
    session.extra["phone"] = phone
    await set_home_site(_uuid(session.id, "Patient"), site)
    return session


async def _start(client: Any, patient: Session, subject: str = "血糖控制", body: str = "空腹血糖偏高怎么办？") -> str:
    started = data(await gql(client, START, {"s": subject, "b": body}, token=patient.access))["conversationStart"]
    assert started["errors"] == [], started
    return str(started["conversation"]["id"])


async def test_routing_to_the_assigned_clinician_or_the_site_team(client):
    site, elsewhere = await make_site("S1"), await make_site("S2")
    patient = await _patient(client, site)
    desk = await _staff(client, "desk@example.com", ["clinic_staff"], site)
    other_desk = await _staff(client, "desk2@example.com", ["clinic_staff"], elsewhere)
    manager = await _staff(client, "hm@example.com", ["health_manager"], site, name="李健康")
    doctor = await _staff(client, "doc@example.com", ["doctor"], site, name="王医生")
    far_manager = await _staff(client, "hm2@example.com", ["health_manager"], elsewhere)

    assign = {"p": patient.id, "s": manager.id, "r": "HEALTH_MANAGER"}
    named = data(await gql(client, SET_TEAM, assign, token=desk.access))["careAssignmentSet"]
    assert named == {
        "member": {"role": "HEALTH_MANAGER", "name": "李健康", "staff": {"id": manager.id}},
        "errors": [],
    }
    # Who may not: the desk of another site, a doctor, the patient, nobody.
    for who, code in ((other_desk, "PERMISSION_DENIED"), (doctor, "PERMISSION_DENIED"), (patient, "PERMISSION_DENIED")):
        refused = data(await gql(client, SET_TEAM, assign, token=who.access))["careAssignmentSet"]
        assert refused["member"] is None and _codes(refused) == [code]
    assert _codes(data(await gql(client, SET_TEAM, assign))["careAssignmentSet"]) == ["NOT_AUTHENTICATED"]
    # Whom not: a doctor as health manager, a health manager of another site; malformed ids.
    for bad in ({**assign, "s": doctor.id}, {**assign, "s": far_manager.id}):
        refused = data(await gql(client, SET_TEAM, bad, token=desk.access))["careAssignmentSet"]
        assert refused["errors"][0]["code"] == "CARE_ASSIGNEE_INVALID" and refused["errors"][0]["field"] == "staffId"
    for bad, field in (({**assign, "p": manager.id}, "patientId"), ({**assign, "s": "nope"}, "staffId")):
        refused = data(await gql(client, SET_TEAM, bad, token=desk.access))["careAssignmentSet"]
        assert refused["errors"][0] == {"field": field, "code": "ID_INVALID", "message": "编号无效"}
    unknown = to_global_id("Patient", uuid.uuid4())
    refused = data(await gql(client, SET_TEAM, {**assign, "p": unknown}, token=desk.access))["careAssignmentSet"]
    assert _codes(refused) == ["PATIENT_NOT_FOUND"]
    data(await gql(client, SET_TEAM, {**assign, "s": doctor.id, "r": "DOCTOR"}, token=desk.access))

    # The patient sees their team by name only; staff see the accounts.
    mine = data(await gql(client, CARE_TEAM, {}, token=patient.access))["careTeam"]
    assert mine == [
        {"role": "DOCTOR", "name": "王医生", "staff": None},
        {"role": "HEALTH_MANAGER", "name": "李健康", "staff": None},
    ]
    theirs = data(await gql(client, CARE_TEAM, {"p": patient.id}, token=desk.access))["careTeam"]
    assert [m["staff"]["id"] for m in theirs] == [doctor.id, manager.id]
    stranger = await _patient(client, site)
    assert _error_code(await gql(client, CARE_TEAM, {"p": patient.id}, token=stranger.access)) == "PERMISSION_DENIED"
    assert _error_code(await gql(client, CARE_TEAM, {"p": "garbage"}, token=desk.access)) == "ID_INVALID"

    # A new conversation goes to the health manager (the patient sees the name, not the account).
    started = data(await gql(client, START, {"s": "血糖", "b": "空腹血糖8.2"}, token=patient.access))
    conversation = started["conversationStart"]["conversation"]
    assert conversation["assigneeName"] == "李健康" and conversation["assignee"] is None
    assert conversation["site"] == {"id": to_global_id("Site", site)} and conversation["status"] == "OPEN"
    assert conversation["replyDueAt"] is None and conversation["overdue"] is False  # the clock is the team's
    assert started["conversationStart"]["message"]["authorKind"] == "PATIENT"
    assert started["conversationStart"]["message"]["mine"] is True
    inbox = data(await gql(client, INBOX, {}, token=manager.access))["careInbox"]["edges"]
    assert [e["node"]["id"] for e in inbox] == [conversation["id"]] and inbox[0]["node"]["replyDueAt"] is not None

    # Without named clinicians: the team of the home site (any doctor or health manager there).
    for role in ("HEALTH_MANAGER", "DOCTOR"):
        removed = data(await gql(client, REMOVE_TEAM, {"p": patient.id, "r": role}, token=desk.access))
        assert removed["careAssignmentRemove"]["errors"] == []
    again = data(await gql(client, REMOVE_TEAM, {"p": patient.id, "r": "DOCTOR"}, token=desk.access))
    assert _codes(again["careAssignmentRemove"]) == ["CARE_ASSIGNMENT_NOT_FOUND"]
    denied = data(await gql(client, REMOVE_TEAM, {"p": patient.id, "r": "DOCTOR"}, token=patient.access))
    assert _codes(denied["careAssignmentRemove"]) == ["PERMISSION_DENIED"]
    team_one = data(await gql(client, START, {"s": "饮食", "b": "可以吃水果吗"}, token=patient.access))
    assert team_one["conversationStart"]["conversation"]["assigneeName"] is None
    assert data(await gql(client, CARE_TEAM, {}, token=patient.access))["careTeam"] == []
    ids = [e["node"]["id"] for e in data(await gql(client, INBOX, {}, token=doctor.access))["careInbox"]["edges"]]
    assert team_one["conversationStart"]["conversation"]["id"] in ids
    far = data(await gql(client, INBOX, {}, token=far_manager.access))["careInbox"]["edges"]
    assert far == []


async def test_another_patient_and_staff_of_another_site_are_refused(client):
    site, elsewhere = await make_site("S1"), await make_site("S2")
    alice = await _patient(client, site)
    bob = await _patient(client, site)
    cid = await _start(client, alice)
    site_doctor = await _staff(client, "doc@example.com", ["doctor"], site)
    far_doctor = await _staff(client, "doc2@example.com", ["doctor"], elsewhere)
    desk = await _staff(client, "desk@example.com", ["clinic_staff"], site)
    marketer = await _staff(client, "mkt@example.com", ["marketer"], site)

    own = data(await gql(client, ONE, {"id": cid, "n": 10}, token=alice.access))["conversation"]
    assert own["messages"]["edges"][0]["node"]["body"] == "空腹血糖偏高怎么办？"
    team = data(await gql(client, ONE, {"id": cid, "n": 10}, token=site_doctor.access))["conversation"]
    assert team["id"] == cid and team["messages"]["edges"][0]["node"]["mine"] is False

    # Another patient, staff of another site, desk staff and marketers: "not found", never the thread.
    for outsider in (bob, far_doctor, desk, marketer):
        result = await gql(client, ONE, {"id": cid}, token=outsider.access)
        assert _error_code(result) == "CONVERSATION_NOT_FOUND" and result["data"] == {"conversation": None}
        assert data(await gql(client, NODE, {"id": cid}, token=outsider.access))["node"] is None
        written = data(await gql(client, REPLY, {"c": cid, "b": "加我微信，有特效药"}, token=outsider.access))
        assert written["conversationReply"]["message"] is None
        assert _codes(written["conversationReply"]) == ["CONVERSATION_NOT_FOUND"]
        closed = data(await gql(client, CLOSE, {"c": cid}, token=outsider.access))["conversationClose"]
        assert _codes(closed) == ["CONVERSATION_NOT_FOUND"]
    assert _error_code(await gql(client, ONE, {"id": cid})) == "NOT_AUTHENTICATED"
    # A refused thread never takes the request's other fields down with it.
    both = await gql(
        client, "query($id: ID!) { conversation(id: $id) { id } conditions { code } }", {"id": cid}, token=bob.access
    )
    assert both["data"]["conversation"] is None and both["data"]["conditions"]
    assert data(await gql(client, NODE, {"id": cid}, token=site_doctor.access))["node"]["id"] == cid

    # There is no way to address another patient: no recipient argument exists.
    addressed = await gql(
        client,
        """mutation($p: ID!) { conversationStart(input: {subject: "私信", body: "你好", recipientId: $p}) {
          errors { code } } }""",
        {"p": alice.id},
        token=bob.access,
    )
    assert addressed["errors"] and addressed.get("data") is None
    assert data(await gql(client, MY, {}, token=bob.access))["myConversations"]["edges"] == []
    # Staff cannot open a conversation as a patient; a patient has no inbox.
    as_staff = data(await gql(client, START, {"s": "随访", "b": "请复查"}, token=site_doctor.access))
    assert _codes(as_staff["conversationStart"]) == ["PERMISSION_DENIED"]
    assert _error_code(await gql(client, INBOX, {}, token=alice.access)) == "PERMISSION_DENIED"
    assert _error_code(await gql(client, INBOX, {}, token=desk.access)) == "PERMISSION_DENIED"
    assert _error_code(await gql(client, MY, {}, token=site_doctor.access)) == "PERMISSION_DENIED"


async def test_bad_inputs(client):
    patient = await _patient(client, None)
    cid = await _start(client, patient)
    cases = [
        ({"s": "糖", "b": "好"}, "CONVERSATION_SUBJECT_LENGTH", "subject"),
        ({"s": "血糖", "b": "长" * 2001}, "CONVERSATION_BODY_LENGTH", "body"),
        ({"s": "血糖", "b": " \n "}, "CONVERSATION_BODY_LENGTH", "body"),
        ({"s": "血糖", "b": "响铃\x07"}, "CONVERSATION_TEXT_INVALID", "body"),
    ]
    for variables, code, field in cases:
        refused = data(await gql(client, START, variables, token=patient.access))["conversationStart"]
        assert refused["conversation"] is None and refused["errors"][0]["code"] == code
        assert refused["errors"][0]["field"] == field
    for variables in ({"s": "血\x00糖", "b": "好"}, {"s": "血糖", "b": "空\x00字符"}):
        nul = await gql(client, START, variables, token=patient.access)
        assert _error_code(nul) == "INVALID_STRING" and nul["data"] is None
    for bad in ("nope", patient.id, to_global_id("CareConversation", "not-a-uuid")):
        refused = data(await gql(client, REPLY, {"c": bad, "b": "你好"}, token=patient.access))["conversationReply"]
        assert refused["errors"] == [{"field": "conversationId", "code": "ID_INVALID", "message": "编号无效"}]
        assert _error_code(await gql(client, ONE, {"id": bad}, token=patient.access)) == "ID_INVALID"
    unknown = to_global_id("CareConversation", uuid.uuid4())
    assert _error_code(await gql(client, ONE, {"id": unknown}, token=patient.access)) == "CONVERSATION_NOT_FOUND"
    too_long = data(await gql(client, REPLY, {"c": cid, "b": "长" * 2001}, token=patient.access))
    assert _codes(too_long["conversationReply"]) == ["CONVERSATION_BODY_LENGTH"]
    # Paging arguments.
    assert _error_code(await gql(client, MY, {"first": 0}, token=patient.access)) == "PAGE_SIZE_INVALID"
    assert _error_code(await gql(client, MY, {"after": "!!"}, token=patient.access)) == "CURSOR_INVALID"
    assert _error_code(await gql(client, ONE, {"id": cid, "a": "bad"}, token=patient.access)) == "CURSOR_INVALID"
    admin = await _staff(client, "admin@example.com", ["admin"], None)
    assert _error_code(await gql(client, INBOX, {"first": 101}, token=admin.access)) == "PAGE_SIZE_INVALID"
    my_cursor = data(await gql(client, MY, {"first": 1}, token=patient.access))["myConversations"]["edges"][0]["cursor"]
    assert _error_code(await gql(client, INBOX, {"after": my_cursor}, token=admin.access)) == "CURSOR_INVALID"


async def test_a_crisis_message_pages_the_doctor_on_duty_and_is_delivered(client):
    site = await make_site("S1")
    patient = await _patient(client, site)
    on_duty = await _staff(client, "duty@example.com", ["doctor"], site)
    site_doctor = await _staff(client, "doc@example.com", ["doctor"], site)
    async with unit_of_work() as session:
        await oncall.create_shift(
            session,
            Actor(kind=ActorKind.SYSTEM, roles=frozenset({Role.ADMIN})),
            staff_id=_uuid(on_duty.id, "Staff"),
            site_id=None,
            role="doctor",
            starts_at=clock.now() - timedelta(hours=1),
            ends_at=clock.now() + timedelta(hours=8),
        )

    started = data(await gql(client, START, {"s": "很难受", "b": CRISIS}, token=patient.access))["conversationStart"]
    assert started["errors"] == [] and started["helpText"] == moderation.HELP_TEXT
    assert started["message"]["body"] == CRISIS and started["message"]["crisis"] is None  # the flag is the team's
    crisis_pages = await pages("crisis_text")
    assert len(crisis_pages) == 1
    async with unit_of_work() as session:
        recipients = set(
            await session.scalars(select(PageRecipient.staff_id).where(PageRecipient.page_id == crisis_pages[0].id))
        )
    assert recipients == {_uuid(on_duty.id, "Staff")}
    assert await count_sent(str(_uuid(patient.id, "Patient")), moderation.HELP_TEXT) == 1

    # Delivered: the team reads it, flagged.
    cid = started["conversation"]["id"]
    seen = data(await gql(client, ONE, {"id": cid, "n": 5}, token=site_doctor.access))["conversation"]
    assert seen["messages"]["edges"][0]["node"] == {
        "body": CRISIS,
        "authorKind": "PATIENT",
        "authorName": None,
        "mine": False,
        "crisis": True,
    }
    calm = data(await gql(client, REPLY, {"c": cid, "b": "谢谢，好多了"}, token=patient.access))["conversationReply"]
    assert calm["helpText"] is None and len(await pages("crisis_text")) == 1
    # Refused for its length, a crisis text still brings help and a page.
    refused = data(await gql(client, REPLY, {"c": cid, "b": CRISIS * 300}, token=patient.access))["conversationReply"]
    assert _codes(refused) == ["CONVERSATION_BODY_LENGTH"] and len(await pages("crisis_text")) == 2


async def test_overdue_first_escalated_once_and_phi_reads(client):
    site = await make_site("S1")
    first_patient = await _patient(client, site)
    first = await _start(client, first_patient, "最早的咨询")
    clock.clock.advance(timedelta(days=4))  # access tokens expire: everyone signs in afterwards
    first_patient = await patient_session(client, first_patient.extra["phone"])
    second_patient = await _patient(client, site)
    second = await _start(client, second_patient, "后来的咨询")
    manager = await _staff(client, "hm@example.com", ["health_manager"], site)
    clock.clock.advance(timedelta(minutes=1))

    page = data(await gql(client, INBOX, {"first": 1}, token=manager.access))["careInbox"]
    assert [e["node"]["id"] for e in page["edges"]] == [first] and page["pageInfo"]["hasNextPage"] is True
    assert page["edges"][0]["node"]["overdue"] is True and page["edges"][0]["node"]["escalatedAt"] is None
    assert page["edges"][0]["node"]["lastMessage"] == {"body": "空腹血糖偏高怎么办？"}
    rest = data(await gql(client, INBOX, {"after": page["pageInfo"]["endCursor"]}, token=manager.access))
    assert [e["node"]["id"] for e in rest["careInbox"]["edges"]] == [second]
    assert rest["careInbox"]["edges"][0]["node"]["overdue"] is False
    overdue = data(await gql(client, INBOX, {"overdue": True}, token=manager.access))["careInbox"]["edges"]
    assert [e["node"]["id"] for e in overdue] == [first]

    # The cron, twice: one escalation, one page.
    assert await conversations.escalate_due() == 1
    assert await conversations.escalate_due() == 0
    assert len(await pages("conversation_overdue")) == 1
    escalated = data(await gql(client, INBOX, {"overdue": True}, token=manager.access))["careInbox"]["edges"]
    assert escalated[0]["node"]["escalatedAt"] is not None

    # Every staff read is on the PHI record (through the inbox query); the patients' own reads are not.
    first_id = _uuid(first_patient.id, "Patient")
    recorded = await phi_reads(first_id)
    assert {r.staff_id for r in recorded} == {_uuid(manager.id, "Staff")}
    assert any(r.through == "graphql:careInbox" for r in recorded)
    data(await gql(client, ONE, {"id": first, "n": 5}, token=manager.access))
    assert (await phi_reads(first_id))[-1].through == "graphql:conversation"
    mine_before = len(await phi_reads(first_id))
    data(await gql(client, MY, {}, token=first_patient.access))
    data(await gql(client, ONE, {"id": first, "n": 5}, token=first_patient.access))
    assert len(await phi_reads(first_id)) == mine_before


async def test_reply_assign_close_and_the_patients_notification(client):
    site, elsewhere = await make_site("S1"), await make_site("S2")
    patient = await _patient(client, site)
    cid = await _start(client, patient, "乳腺癌术后复查", "术后三个月要查什么？")
    doctor = await _staff(client, "doc@example.com", ["doctor"], site, name="王医生")
    manager = await _staff(client, "hm@example.com", ["health_manager"], site)
    far_doctor = await _staff(client, "doc2@example.com", ["doctor"], elsewhere)
    desk = await _staff(client, "desk@example.com", ["clinic_staff"], site)

    answered = data(await gql(client, REPLY, {"c": cid, "b": "建议做乳腺超声"}, token=doctor.access))
    payload = answered["conversationReply"]
    assert payload["errors"] == [] and payload["conversation"]["status"] == "WAITING_ON_PATIENT"
    assert payload["conversation"]["replyDueAt"] is None and payload["conversation"]["firstResponseAt"] is not None
    assert payload["conversation"]["assignee"] == {"id": doctor.id}  # an unassigned conversation is taken
    assert payload["message"]["authorName"] == "王医生" and payload["message"]["mine"] is True
    # The notification names nothing: not the condition, not the reply.
    notices = [m.payload for m in await sent_to(str(_uuid(patient.id, "Patient")))]
    assert [(n["subject"], n["body"]) for n in notices] == [("护理团队消息", "您有一条来自护理团队的新消息")]
    mine = data(await gql(client, ONE, {"id": cid, "n": 1}, token=patient.access))["conversation"]
    assert mine["status"] == "WAITING_ON_PATIENT"
    assert mine["messages"]["edges"][0]["node"]["authorName"] == "王医生"
    older = data(
        await gql(
            client, ONE, {"id": cid, "n": 1, "a": mine["messages"]["pageInfo"]["endCursor"]}, token=patient.access
        )
    )
    assert older["conversation"]["messages"]["edges"][0]["node"]["body"] == "术后三个月要查什么？"
    assert older["conversation"]["messages"]["pageInfo"]["hasNextPage"] is False

    # Reassign: to the site's health manager; not to another site's doctor, not by the desk or patient.
    moved = data(await gql(client, ASSIGN, {"c": cid, "s": manager.id}, token=doctor.access))["conversationAssign"]
    assert moved["errors"] == [] and moved["conversation"]["assignee"] == {"id": manager.id}
    refused = data(await gql(client, ASSIGN, {"c": cid, "s": far_doctor.id}, token=manager.access))
    assert _codes(refused["conversationAssign"]) == ["CONVERSATION_ASSIGNEE_INVALID"]
    refused = data(await gql(client, ASSIGN, {"c": cid, "s": desk.id}, token=manager.access))
    assert _codes(refused["conversationAssign"]) == ["CONVERSATION_ASSIGNEE_INVALID"]
    for who in (desk, patient):
        denied = data(await gql(client, ASSIGN, {"c": cid, "s": manager.id}, token=who.access))["conversationAssign"]
        assert _codes(denied) == ["PERMISSION_DENIED"]
    denied = data(await gql(client, ASSIGN, {"c": cid, "s": manager.id}, token=far_doctor.access))
    assert _codes(denied["conversationAssign"]) == ["CONVERSATION_NOT_FOUND"]
    malformed = data(await gql(client, ASSIGN, {"c": cid, "s": cid}, token=manager.access))["conversationAssign"]
    assert malformed["errors"][0]["field"] == "staffId" and malformed["errors"][0]["code"] == "ID_INVALID"

    # The patient writes back (a new clock), then closes; closed is final.
    back = data(await gql(client, REPLY, {"c": cid, "b": "好的，谢谢"}, token=patient.access))["conversationReply"]
    assert back["conversation"]["status"] == "OPEN" and back["conversation"]["replyDueAt"] is None
    assert len(await sent_to(str(_uuid(patient.id, "Patient")))) == 1  # the patient's own message notifies nobody
    closed = data(await gql(client, CLOSE, {"c": cid}, token=patient.access))["conversationClose"]
    assert closed["errors"] == [] and closed["conversation"]["status"] == "CLOSED"
    assert closed["conversation"]["closedAt"] is not None
    after = data(await gql(client, REPLY, {"c": cid, "b": "还有问题"}, token=patient.access))["conversationReply"]
    assert _codes(after) == ["CONVERSATION_CLOSED"]
    for query, name in ((CLOSE, "conversationClose"),):
        assert _codes(data(await gql(client, query, {"c": cid}, token=manager.access))[name]) == ["CONVERSATION_CLOSED"]
    closed_list = data(await gql(client, INBOX, {"status": "CLOSED"}, token=manager.access))["careInbox"]["edges"]
    assert [e["node"]["id"] for e in closed_list] == [cid]
    assert data(await gql(client, INBOX, {}, token=manager.access))["careInbox"]["edges"] == []
    listed = data(await gql(client, MY, {}, token=patient.access))["myConversations"]["edges"]
    assert [(e["node"]["id"], e["node"]["status"], e["node"]["patient"]) for e in listed] == [(cid, "CLOSED", None)]


# --- live -------------------------------------------------------------------------------------


def _context(actor: Actor) -> Any:
    request: Any = None  # subscribed in process, as tests/community/test_live.py does
    return Context(request=request, response=None, actor=actor, db=RequestDB(release_after_read=True), request_id="t")


SUBSCRIBE = "subscription($c: ID!) { conversationMessages(conversationId: $c) { body authorKind authorName mine } }"


async def _subscribe(conversation_id: str, actor: Actor) -> Any:
    stream: Any = await schema.subscribe(
        SUBSCRIBE, variable_values={"c": conversation_id}, context_value=_context(actor)
    )
    return stream


async def test_new_messages_live_for_the_patient_and_the_team_only(client):
    site = await make_site("S1")
    patient = await _patient(client, site)
    cid = await _start(client, patient)
    doctor = await _staff(client, "doc@example.com", ["doctor"], site, name="王医生")
    patient_id = _uuid(patient.id, "Patient")
    patient_actor = Actor(kind=ActorKind.PATIENT, id=patient_id)
    doctor_actor = Actor(kind=ActorKind.STAFF, id=_uuid(doctor.id, "Staff"), roles=frozenset({Role.DOCTOR}))

    patient_stream = await _subscribe(cid, patient_actor)
    doctor_stream = await _subscribe(cid, doctor_actor)
    for_patient = asyncio.ensure_future(patient_stream.__anext__())
    for_doctor = asyncio.ensure_future(doctor_stream.__anext__())
    await asyncio.sleep(0.3)  # let the subscribers attach before anything is published
    reads_before = len(await phi_reads(patient_id))
    data(await gql(client, REPLY, {"c": cid, "b": "请按时测血糖"}, token=doctor.access))
    got = await asyncio.wait_for(for_patient, timeout=5)
    assert got.errors is None and got.data["conversationMessages"] == {
        "body": "请按时测血糖",
        "authorKind": "STAFF",
        "authorName": "王医生",
        "mine": False,
    }
    seen = await asyncio.wait_for(for_doctor, timeout=5)
    assert seen.data["conversationMessages"]["mine"] is True
    assert len(await phi_reads(patient_id)) > reads_before  # the team's live read is recorded
    await patient_stream.aclose()
    await doctor_stream.aclose()

    # Anyone else is refused at once, with the code (as the WebSocket formats it: api/ws.py).
    stranger = Actor(kind=ActorKind.PATIENT, id=uuid.uuid4())
    refused = await asyncio.wait_for((await _subscribe(cid, stranger)).__anext__(), timeout=5)
    assert refused.errors and format_error(refused.errors[0], None, None).extensions["code"] == "CONVERSATION_NOT_FOUND"
    result = await asyncio.wait_for((await _subscribe("bad", stranger)).__anext__(), timeout=5)
    assert result.errors and format_error(result.errors[0], None, None).extensions["code"] == "ID_INVALID"
