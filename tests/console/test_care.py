"""The care team's pages: a complaint answered within its 24-hour clock (and the clock shown running
out), health alerts acknowledged, on-call pages acknowledged."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from care.models import Complaint
from community import posts
from core import clock
from core.db import unit_of_work
from oncall.models import Page
from tests.console.support import console_post, console_sign_in
from tests.factories import as_patient, make_group, make_staff, member_of, next_phone
from tests.support import data, gql, patient_session

MANAGER = "hm@console.test"
DOCTOR = "doc@console.test"
FILE = """mutation($body: String!) { complaintFile(input: {body: $body}) { complaint { id dueAt } errors { code } } }"""
CHECK_IN = """mutation { checkIn(input: {kind: GLUCOSE, glucoseMmol: 2.1, glucoseContext: FASTING}) {
  alert { id } errors { code message } } }"""


async def test_a_complaint_is_answered_before_its_clock_runs_out(client) -> None:
    await make_staff(MANAGER, ["health_manager"], name="周健管")
    patient = await patient_session(client, next_phone())
    filed = data(await gql(client, FILE, {"body": "候诊等了两个小时，没人解释"}, token=patient.access))["complaintFile"]
    assert filed["errors"] == []
    clock.clock.advance(timedelta(hours=20))  # four hours left on the clock
    token = await console_sign_in(client, MANAGER)
    page = (await client.get("/console/care/complaints")).text
    assert "候诊等了两个小时" in page
    due = re.search(r'class="clock" data-due="([^"]+)"', page)
    assert due and due.group(1) == filed["complaint"]["dueAt"]
    complaint_id = re.search(r'name="complaintId" value="([^"]+)"', page)
    assert complaint_id
    await console_post(client, "/console/care/complaints/take", token, complaintId=complaint_id.group(1))
    page = (await client.get("/console/care/complaints?mine=1")).text
    assert "已由我负责" in page and "负责人：周健管" in page
    answered = await console_post(
        client,
        "/console/care/complaints/respond",
        token,
        complaintId=complaint_id.group(1),
        message="非常抱歉让您久等，我们已安排专人改进候诊提醒。",
    )
    assert answered.status_code == 303
    page = (await client.get("/console/care/complaints")).text
    assert "已回复患者" in page and "首次回复" in page and 'class="clock"' not in page
    async with unit_of_work() as session:
        complaint = await session.scalar(select(Complaint))
    assert complaint is not None and complaint.first_response_at is not None
    assert complaint.first_response_at < complaint.due_at  # answered before the clock ran out
    complaint_gid = complaint_id.group(1)
    await console_post(client, "/console/care/complaints/resolve", token, complaintId=complaint_gid, note="已改进")
    await console_post(client, "/console/care/complaints/close", token, complaintId=complaint_gid)
    page = (await client.get("/console/care/complaints?status=CLOSED")).text
    assert "已关闭" in page and "已改进" in page


async def test_an_empty_reply_shows_the_api_error_and_other_roles_are_refused(client) -> None:
    await make_staff(MANAGER, ["health_manager"])
    await make_staff(DOCTOR, ["doctor"])
    patient = await patient_session(client, next_phone())
    filed = data(await gql(client, FILE, {"body": "护士态度不好，问话也不理"}, token=patient.access))["complaintFile"]
    assert filed["errors"] == [], filed
    token = await console_sign_in(client, MANAGER)
    page = (await client.get("/console/care/complaints")).text
    complaint_id = re.search(r'name="complaintId" value="([^"]+)"', page)
    assert complaint_id
    await console_post(client, "/console/care/complaints/respond", token, complaintId=complaint_id.group(1), message="")
    assert "flash error" in (await client.get("/console/care/complaints")).text
    client.cookies.clear()
    doctor_token = await console_sign_in(client, DOCTOR)
    assert (await client.get("/console/care/complaints")).status_code == 403
    respond = "/console/care/complaints/respond"
    refused = await console_post(client, respond, doctor_token, complaintId=complaint_id.group(1), message="好")
    assert refused.status_code == 403


async def test_a_health_alert_and_an_on_call_page_are_acknowledged(client) -> None:
    await make_staff(DOCTOR, ["doctor"], name="陈医生")
    patient = await patient_session(client, next_phone())
    alert = data(await gql(client, CHECK_IN, token=patient.access))["checkIn"]
    assert alert["errors"] == [] and alert["alert"] is not None
    group = await make_group()
    author = await member_of(group)
    async with unit_of_work() as session:  # an emergency post pages the doctors (nobody on duty: all of them)
        await posts.create_post(
            session, as_patient(author), group_id=group, kind="discussion", title="求助", body="胸口剧痛喘不上气"
        )
    token = await console_sign_in(client, DOCTOR)
    page = (await client.get("/console/care/alerts")).text
    assert "2.1" in page and "待确认的值班提醒" in page
    alert_id = re.search(r'name="alertId" value="([^"]+)"', page)
    page_id = re.search(r'name="pageId" value="([^"]+)"', page)
    assert alert_id and page_id
    await console_post(client, "/console/care/alerts/ack", token, alertId=alert_id.group(1))
    page = (await client.get("/console/care/alerts")).text
    assert "已确认预警" in page
    back = await console_post(client, "/console/pages/ack", token, pageId=page_id.group(1), back="/console/care/alerts")
    assert back.headers["location"] == "/console/care/alerts"
    page = (await client.get("/console/care/alerts")).text
    assert "已确认值班提醒" in page and "待确认的值班提醒" not in page
    async with unit_of_work() as session:
        acknowledged = await session.scalar(select(Page.acknowledged_at).where(Page.kind == "emergency_post"))
    assert acknowledged is not None
    # An outside address as `back` is not followed.
    outside = await console_post(client, "/console/pages/ack", token, pageId=page_id.group(1), back="//evil.example/")
    assert outside.headers["location"] == "/console/"
