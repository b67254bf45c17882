"""Complaints: the 24-hour clock and escalation once (moved clock), a response before the deadline
stops it, assignment rules, the desk's steps with their history, patients filing and reading."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from care import complaints, errors, surveys
from care.models import Complaint, ComplaintAction, ComplaintStatus
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.identity import Role
from core.outbox import OutboxMessage
from messaging.models import InboxMessage
from tests.care.support import start, surveyed_visit, visit
from tests.factories import as_patient, make_site, make_staff, new_member, staff_actor
from tests.support import data, gql, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def complaint_from_survey(site, *, score: int = 3, comment: str | None = "等太久") -> Complaint:
    patient = await new_member()
    survey = await surveyed_visit(patient, site, f"V-{patient}")
    async with unit_of_work() as session:
        answer = await surveys.answer(session, as_patient(patient), survey.id, score, comment)
    assert answer.complaint is not None
    return answer.complaint


async def alerts() -> list[OutboxMessage]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.payload["recipient"].astext == complaints.ON_DUTY_RECIPIENT)
        )
        return list(rows)


async def actions(complaint_id) -> list[str]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(ComplaintAction.action)
            .where(ComplaintAction.complaint_id == complaint_id)
            .order_by(ComplaintAction.created_at, ComplaintAction.id)
        )
        return list(rows)


async def reload(complaint_id) -> Complaint:
    async with unit_of_work() as session:
        found = await session.get(Complaint, complaint_id)
        assert found is not None
        return found


async def test_unanswered_complaint_escalates_once_after_24_hours_and_alerts():
    site = await make_site("S1")
    complaint = await complaint_from_survey(site)
    assert complaint.status == ComplaintStatus.OPEN and complaint.assignee_id is None  # nobody at the site

    clock.clock.advance(timedelta(hours=23, minutes=59))
    assert await complaints.escalate_due() == 0
    clock.clock.advance(timedelta(minutes=2))
    assert await complaints.escalate_due() == 1
    assert await complaints.escalate_due() == 0  # once
    clock.clock.advance(timedelta(hours=5))
    assert await complaints.escalate_due() == 0

    escalated = await reload(complaint.id)
    assert escalated.escalated_at is not None and escalated.first_response_at is None
    sent = await alerts()
    assert len(sent) == 1 and "超过24小时未回复" in sent[0].payload["body"]
    assert await actions(complaint.id) == ["opened", "escalated"]


async def test_response_before_deadline_prevents_escalation_and_reaches_the_patient():
    site = await make_site("S1")
    desk_id = await make_staff("desk@example.cn", ["clinic_staff"], site)
    complaint = await complaint_from_survey(site, score=2)
    assert complaint.assignee_id == desk_id and complaint.status == ComplaintStatus.IN_PROGRESS  # auto-assigned

    clock.clock.advance(timedelta(hours=3))
    desk = staff_actor(Role.CLINIC_STAFF, staff_id=desk_id)
    async with unit_of_work() as session:
        await complaints.respond(session, desk, complaint.id, "非常抱歉让您久等，我们已调整排班。")
    clock.clock.advance(timedelta(hours=30))
    assert await complaints.escalate_due() == 0
    assert await alerts() == []

    responded = await reload(complaint.id)
    assert responded.status == ComplaintStatus.RESPONDED
    assert responded.first_response_at == complaint.created_at + timedelta(hours=3)
    async with unit_of_work() as session:
        inbox = list(await session.scalars(select(InboxMessage).where(InboxMessage.patient_id == complaint.patient_id)))
    assert any(m.body == "非常抱歉让您久等，我们已调整排班。" for m in inbox)

    async with unit_of_work() as session:
        await complaints.resolve(session, desk, complaint.id, "已电话回访")
    async with unit_of_work() as session:
        await complaints.close(session, desk, complaint.id, None)
    with pytest.raises(errors.ComplaintInvalidTransition):
        async with unit_of_work() as session:
            await complaints.respond(session, desk, complaint.id, "再次回复")
    assert await actions(complaint.id) == ["opened", "responded", "resolved", "closed"]


async def test_assignment_rules_and_who_may_act():
    site, other_site = await make_site("S1"), await make_site("S2")
    complaint = await complaint_from_survey(site)
    manager_id = await make_staff("hm@example.cn", ["health_manager"], site)
    far_desk_id = await make_staff("far@example.cn", ["clinic_staff"], other_site)
    doctor_id = await make_staff("doc@example.cn", ["doctor"], site)
    admin_id = await make_staff("admin@example.cn", ["admin"], other_site)
    desk = staff_actor(Role.CLINIC_STAFF)

    for staff_id in (far_desk_id, doctor_id):
        with pytest.raises(errors.AssigneeInvalid):
            async with unit_of_work() as session:
                await complaints.assign(session, desk, complaint.id, staff_id)
    for actor in (as_patient(complaint.patient_id), staff_actor(Role.DOCTOR), staff_actor(Role.MARKETER)):
        with pytest.raises(PermissionDenied):
            async with unit_of_work() as session:
                await complaints.assign(session, actor, complaint.id, manager_id)
    async with unit_of_work() as session:
        assigned = await complaints.assign(session, desk, complaint.id, manager_id)
        assert (assigned.assignee_id, assigned.status) == (manager_id, ComplaintStatus.IN_PROGRESS)
    async with unit_of_work() as session:
        assigned = await complaints.assign(session, desk, complaint.id, admin_id)  # admins from any site
        assert assigned.assignee_id == admin_id
    assert await actions(complaint.id) == ["opened", "assigned", "assigned"]


async def test_patient_files_directly_and_reads_only_own():
    site = await make_site("S1")
    alice, bob = await new_member(), await new_member()
    alice_visit = await visit(alice, site, "V-A")
    bob_visit = await visit(bob, site, "V-B")
    with pytest.raises(ValidationFailed) as caught:  # not her visit
        async with unit_of_work() as session:
            await complaints.file(session, as_patient(alice), body="收费处态度很差，多收了钱", visit_id=bob_visit)
    assert caught.value.issues[0].code == "VISIT_NOT_FOUND"
    async with unit_of_work() as session:
        filed = await complaints.file(session, as_patient(alice), body="收费处态度很差，多收了钱", visit_id=alice_visit)
    assert (filed.source, filed.site_id, filed.reasons) == ("patient", site, ["filed"])
    assert filed.due_at == filed.created_at + timedelta(hours=24)
    async with unit_of_work() as session:
        assert complaints.can_read(as_patient(alice), filed)
        assert not complaints.can_read(as_patient(bob), filed)
        assert (await complaints.my_complaints(session, as_patient(bob), first=10, after=None)).items == []
        mine = await complaints.my_complaints(session, as_patient(alice), first=10, after=None)
        assert [c.id for c in mine.items] == [filed.id]
        with pytest.raises(PermissionDenied):
            await complaints.staff_page(
                session, as_patient(alice), status=None, mine=False, overdue=False, first=10, after=None
            )
        count = await session.scalar(select(func.count()).select_from(Complaint))
    assert count == 1


QUEUE = """{ complaints(overdue: true) { nodes { id status dueAt escalatedAt reasons
  history { action toStatus note actor { email } } } } }"""
RESPOND = """mutation($id: ID!) { complaintRespond(input: {complaintId: $id, message: "已为您核实并退还多收费用"}) {
  complaint { status firstResponseSeconds } errors { code } } }"""


async def test_graphql_desk_queue_and_respond(client):
    from api.relay import to_global_id

    site = await make_site("S1")
    complaint = await complaint_from_survey(site, score=8, comment="乱收费")
    clock.clock.advance(timedelta(hours=25))
    await complaints.escalate_due()
    desk = await staff_session(client, "desk2@example.cn", ["clinic_staff"])
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])

    refused = await gql(client, QUEUE, token=marketer.access)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    queue = data(await gql(client, QUEUE, token=desk.access))["complaints"]["nodes"]
    assert len(queue) == 1 and queue[0]["reasons"] == ["word:乱收费"] and queue[0]["escalatedAt"]
    assert [h["action"] for h in queue[0]["history"]] == ["opened", "escalated"]

    gid = to_global_id("Complaint", complaint.id)
    done = data(await gql(client, RESPOND, {"id": gid}, token=desk.access))["complaintRespond"]
    assert done["errors"] == [] and done["complaint"]["status"] == "RESPONDED"
    assert done["complaint"]["firstResponseSeconds"] == 25 * 3600


LIST = """query($n: Int!) { complaints(first: $n) { nodes { id status site { name } assignee { name }
  patient { nickname } history { action actor { name } } } } }"""


async def test_queue_statement_count_does_not_grow_with_page_size(client):
    from tests.support import count_statements

    site = await make_site("S1")
    await make_staff("desk-a@example.cn", ["clinic_staff"], site)
    for _ in range(4):
        await complaint_from_survey(site)
    desk = await staff_session(client, "desk3@example.cn", ["clinic_staff"])
    with count_statements() as one:
        assert len(data(await gql(client, LIST, {"n": 1}, token=desk.access))["complaints"]["nodes"]) == 1
    with count_statements() as four:
        assert len(data(await gql(client, LIST, {"n": 4}, token=desk.access))["complaints"]["nodes"]) == 4
    assert four.count == one.count


FILE = """mutation($body: String!) { complaintFile(input: {body: $body}) {
  complaint { id status source reasons assignee { name } history { action actor { name } } } errors { code } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Complaint { id body } } }"""


async def test_graphql_patient_files_and_only_they_see_it(client):
    from tests.support import patient_session

    alice = await patient_session(client, "13900000011")
    bob = await patient_session(client, "13900000012")
    filed = data(await gql(client, FILE, {"body": "挂号窗口工作人员不耐烦"}, token=alice.access))["complaintFile"]
    assert filed["errors"] == []
    complaint = filed["complaint"]
    assert (complaint["status"], complaint["source"], complaint["reasons"]) == ("OPEN", "PATIENT", [])
    assert complaint["assignee"] is None and complaint["history"] == [{"action": "opened", "actor": None}]
    short = data(await gql(client, FILE, {"body": "差"}, token=alice.access))["complaintFile"]
    assert [e["code"] for e in short["errors"]] == ["COMPLAINT_BODY_LENGTH"]
    assert data(await gql(client, NODE, {"id": complaint["id"]}, token=bob.access))["node"] is None
    mine = data(await gql(client, NODE, {"id": complaint["id"]}, token=alice.access))["node"]
    assert mine["body"] == "挂号窗口工作人员不耐烦"
