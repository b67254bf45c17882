"""On-call: the roster, paging whoever is on duty, acknowledgement, escalation, and the GraphQL desk.

Domain tests call the services with actors; the HTTP tests go through the real schema with signed-in
staff and patients, and the live inbox over a real graphql-transport-ws connection.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect

from api.relay import from_global_id, to_global_id
from care import complaints
from community import checkins
from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import ANONYMOUS, Actor, ActorKind, Role
from core.outbox import OutboxMessage
from oncall import jobs, service
from oncall.models import Fallback, Page, PageEvent, PageRecipient
from patients import service as patient_service
from patients.models import Staff
from tests import factories
from tests.factories import as_patient, make_group, member_of, new_member
from tests.live_server import in_loop_server
from tests.support import data, gql, patient_session, staff_session

ESCALATE = timedelta(minutes=5)  # the default PORTAL_PAGE_ESCALATE_AFTER_MINUTES
_n = 0


def _next() -> int:
    global _n
    _n += 1
    return _n


async def make_site(code: str) -> uuid.UUID:
    return await factories.make_site(code, f"{code}院区")


async def make_staff(
    *roles: Role, site: uuid.UUID | None = None, phone: str | None = None, active: bool = True
) -> uuid.UUID:
    n = _next()
    return await factories.make_staff(
        f"oncall{n}@example.cn", list(roles), site, name=f"值班{n}", phone=phone, active=active
    )


def as_staff(staff_id: uuid.UUID, *roles: Role) -> Actor:
    return Actor(kind=ActorKind.STAFF, id=staff_id, roles=frozenset(roles))


ADMIN = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))


async def put_on_duty(
    staff_id: uuid.UUID,
    role: Role,
    *,
    site: uuid.UUID | None = None,
    start: timedelta = -timedelta(hours=1),
    length: timedelta = timedelta(hours=8),
) -> uuid.UUID:
    now = clock.now()
    async with unit_of_work() as session:
        shift = await service.create_shift(
            session,
            ADMIN,
            staff_id=staff_id,
            site_id=site,
            role=role.value,
            starts_at=now + start,
            ends_at=now + start + length,
        )
    return shift.id


async def send_page(
    ref: str = "r1", *, site: uuid.UUID | None = None, role: Role = Role.DOCTOR, kind: str = "emergency_post"
) -> Page:
    async with unit_of_work() as session:
        return await service.page(
            session,
            kind=kind,
            ref=ref,
            site_id=site,
            role=role,
            subject="社区紧急求助提醒",
            body="社群「糖尿病友社群」中的一条帖子出现紧急情况关键词（自杀），患者「小王」",
        )


async def recipients(page_id: uuid.UUID) -> dict[uuid.UUID, int]:
    async with unit_of_work() as session:
        rows = await session.execute(
            select(PageRecipient.staff_id, PageRecipient.level).where(PageRecipient.page_id == page_id)
        )
        return {sid: level for sid, level in rows}


async def reload(page_id: uuid.UUID) -> Page:
    async with unit_of_work() as session:
        found = await session.get(Page, page_id)
        assert found is not None
        return found


async def page_sms() -> list[dict[str, Any]]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.payload["kind"].astext == service.SMS_KIND)
        )
        return [dict(m.payload, sensitive=m.sensitive) for m in rows]


async def event_kinds(page_id: uuid.UUID) -> list[str]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(PageEvent.kind).where(PageEvent.page_id == page_id).order_by(PageEvent.created_at, PageEvent.id)
        )
        return list(rows)


async def code_of(coro: Any) -> str:
    with pytest.raises(DomainError) as raised:
        await coro
    return raised.value.issues[0].code


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.clock.freeze(clock.now().replace(microsecond=0))


# --- the roster --------------------------------------------------------------------------------


async def test_on_duty_is_the_role_on_shift_now_at_the_site_or_for_all_sites():
    north, south = await make_site("N1"), await make_site("S1")
    at_north = await make_staff(Role.DOCTOR, site=north)
    at_south = await make_staff(Role.DOCTOR, site=south)
    everywhere = await make_staff(Role.DOCTOR)
    later = await make_staff(Role.DOCTOR, site=north)
    nurse = await make_staff(Role.HEALTH_MANAGER, site=north)
    await put_on_duty(at_north, Role.DOCTOR, site=north)
    await put_on_duty(at_south, Role.DOCTOR, site=south)
    await put_on_duty(everywhere, Role.DOCTOR)  # a shift for every site
    await put_on_duty(later, Role.DOCTOR, site=north, start=timedelta(hours=2))
    await put_on_duty(nurse, Role.HEALTH_MANAGER, site=north)
    async with unit_of_work() as session:
        assert set(await service.on_duty_ids(session, site_id=north, role=Role.DOCTOR)) == {at_north, everywhere}
        assert set(await service.on_duty_ids(session, site_id=None, role=Role.DOCTOR)) == {
            at_north,
            at_south,
            everywhere,
        }
        assert await service.on_duty_ids(session, site_id=north, role=Role.HEALTH_MANAGER) == [nurse]
        # a deactivated account is off duty at once
        staff = await session.get(Staff, at_north)
        assert staff is not None
        staff.active = False
        await session.flush()
        assert await service.on_duty_ids(session, site_id=north, role=Role.DOCTOR) == [everywhere]
    clock.clock.advance(timedelta(hours=7, minutes=1))  # the first shifts ended; `later` started
    async with unit_of_work() as session:
        assert await service.on_duty_ids(session, site_id=north, role=Role.DOCTOR) == [later]


async def test_shift_validation_and_who_may_create_shifts():
    site = await make_site("V1")
    doctor = await make_staff(Role.DOCTOR, site=site)
    gone = await make_staff(Role.DOCTOR, active=False)
    now = clock.now()

    async def create(
        actor: Actor, staff_id: uuid.UUID, *, role: str = "doctor", hours: float = 8, start: float = 0
    ) -> Any:
        async with unit_of_work() as session:
            return await service.create_shift(
                session,
                actor,
                staff_id=staff_id,
                site_id=site,
                role=role,
                starts_at=now + timedelta(hours=start),
                ends_at=now + timedelta(hours=start + hours),
            )

    assert await code_of(create(ADMIN, doctor, hours=-1)) == "DUTY_SHIFT_TIMES_INVALID"
    assert await code_of(create(ADMIN, doctor, hours=24 * 7 + 1)) == "DUTY_SHIFT_TOO_LONG"
    assert await code_of(create(ADMIN, doctor, start=-10, hours=2)) == "DUTY_SHIFT_ENDED"
    assert await code_of(create(ADMIN, doctor, role="clinic_staff")) == "DUTY_STAFF_LACKS_ROLE"
    assert await code_of(create(ADMIN, doctor, role="janitor")) == "DUTY_ROLE_INVALID"
    assert await code_of(create(ADMIN, gone)) == "DUTY_STAFF_INVALID"
    assert await code_of(create(ADMIN, uuid.uuid4())) == "DUTY_STAFF_INVALID"
    assert await code_of(create(as_staff(doctor, Role.DOCTOR), doctor)) == "PERMISSION_DENIED"
    assert await code_of(create(as_patient(await new_member()), doctor)) == "ONCALL_STAFF_ONLY"
    assert await code_of(create(ANONYMOUS, doctor)) == "NOT_AUTHENTICATED"
    # overlapping shifts are allowed (two doctors, or one doctor twice, at night)
    first, second = await create(ADMIN, doctor), await create(ADMIN, doctor, start=1)
    assert first.id != second.id


# --- paging ------------------------------------------------------------------------------------


async def test_page_reaches_the_doctor_on_duty_in_app_and_by_sms_once():
    site = await make_site("P1")
    on_duty = await make_staff(Role.DOCTOR, site=site, phone="13800000001")
    off_duty = await make_staff(Role.DOCTOR, site=site, phone="13800000002")
    await put_on_duty(on_duty, Role.DOCTOR, site=site)

    page = await send_page(site=site)
    assert page.fallback is None and page.level == 1
    assert await recipients(page.id) == {on_duty: 1}
    [sms] = await page_sms()
    assert sms["recipient"] == "13800000001" and sms["channel"] == "sms" and sms["sensitive"]
    # privacy: the text names the brand and the page number, never the patient, group or condition
    assert sms["body"] == f"【康宁医疗】{service.DEFAULT_SMS}（编号{service.page_number(page.id)}）"
    for private in ("自杀", "小王", "糖尿病", "紧急情况关键词", "社群"):
        assert private not in sms["body"]

    # the same (kind, ref) again: the existing page, nobody notified twice
    again = await send_page(site=site)
    assert again.id == page.id
    assert await recipients(page.id) == {on_duty: 1} and len(await page_sms()) == 1
    assert await event_kinds(page.id) == ["created", "notified"]
    assert off_duty not in await recipients(page.id)


async def test_nobody_on_duty_falls_back_to_the_site_then_anywhere_then_admins():
    site, other = await make_site("F1"), await make_site("F2")
    at_site = await make_staff(Role.HEALTH_MANAGER, site=site)
    elsewhere = await make_staff(Role.DOCTOR, site=other)
    admin = await make_staff(Role.ADMIN, site=other)

    first = await send_page("a", site=site, role=Role.HEALTH_MANAGER, kind="health_alert")
    assert (first.fallback, await recipients(first.id)) == (Fallback.SITE_ROLE, {at_site: 1})
    second = await send_page("b", site=site, role=Role.DOCTOR)
    assert (second.fallback, await recipients(second.id)) == (Fallback.ANY_ROLE, {elsewhere: 1})
    third = await send_page("c", site=site, role=Role.CLINIC_STAFF, kind="complaint_overdue")
    assert (third.fallback, await recipients(third.id)) == (Fallback.ADMINS, {admin: 1})
    async with unit_of_work() as session:
        created = await session.scalar(
            select(PageEvent).where(PageEvent.page_id == third.id, PageEvent.kind == "created")
        )
        assert created is not None and created.detail["fallback"] == "admins"


async def test_unacknowledged_page_escalates_level_by_level_and_a_second_run_changes_nothing():
    site, other = await make_site("E1"), await make_site("E2")
    on_duty = await make_staff(Role.DOCTOR, site=site, phone="13800000011")
    colleague = await make_staff(Role.DOCTOR, site=site, phone="13800000012")
    site_admin = await make_staff(Role.ADMIN, site=site, phone="13800000013")
    other_admin = await make_staff(Role.ADMIN, site=other)  # no phone: in-app only
    far_doctor = await make_staff(Role.DOCTOR, site=other)
    await put_on_duty(on_duty, Role.DOCTOR, site=site)
    page = await send_page(site=site)

    clock.clock.advance(ESCALATE - timedelta(seconds=1))
    assert await jobs.escalate_due() == 0
    clock.clock.advance(timedelta(seconds=1))
    assert await jobs.escalate_due() == 1
    assert await jobs.escalate_due() == 0  # run twice: the same result
    assert (await reload(page.id)).level == 2
    assert await recipients(page.id) == {on_duty: 1, colleague: 2, site_admin: 2}

    clock.clock.advance(ESCALATE)
    assert await jobs.escalate_due() == 1
    assert await recipients(page.id) == {on_duty: 1, colleague: 2, site_admin: 2, other_admin: 3}
    assert far_doctor not in await recipients(page.id)
    final = await reload(page.id)
    assert final.level == 3 and final.escalate_at is None  # the last level
    clock.clock.advance(ESCALATE * 10)
    assert await jobs.escalate_due() == 0

    # each recipient with a phone texted exactly once, whatever the number of runs
    assert sorted(s["recipient"] for s in await page_sms()) == ["13800000011", "13800000012", "13800000013"]
    kinds = await event_kinds(page.id)
    assert kinds.count("escalated") == 2 and kinds.count("notified") == 4


async def test_two_workers_escalating_at_once_notify_each_recipient_once():
    site = await make_site("C1")
    on_duty = await make_staff(Role.DOCTOR, site=site, phone="13800000021")
    await make_staff(Role.DOCTOR, site=site, phone="13800000022")
    await make_staff(Role.ADMIN, site=site, phone="13800000023")
    await put_on_duty(on_duty, Role.DOCTOR, site=site)
    pages = [await send_page(f"c{i}", site=site) for i in range(5)]
    clock.clock.advance(ESCALATE)
    done = await asyncio.gather(jobs.escalate_due(batch_size=2), jobs.escalate_due(batch_size=2))
    assert sum(done) == 5
    for page in pages:
        assert (await reload(page.id)).level == 2
        assert len(await recipients(page.id)) == 3
    assert len(await page_sms()) == 5 * 3


async def test_acknowledgement_is_recorded_once_and_stops_escalation():
    site = await make_site("A1")
    on_duty = await make_staff(Role.DOCTOR, site=site)
    bystander = await make_staff(Role.DOCTOR, site=site)
    await put_on_duty(on_duty, Role.DOCTOR, site=site)
    page = await send_page(site=site)

    async def ack(actor: Actor) -> Page:
        async with unit_of_work() as session:
            return await service.acknowledge(session, actor, page.id)

    assert await code_of(ack(as_staff(bystander, Role.DOCTOR))) == "NOT_PAGE_RECIPIENT"
    assert await code_of(ack(as_patient(await new_member()))) == "ONCALL_STAFF_ONLY"
    assert await code_of(ack(ANONYMOUS)) == "NOT_AUTHENTICATED"
    done = await ack(as_staff(on_duty, Role.DOCTOR))
    assert done.acknowledged_by == on_duty and done.acknowledged_at == clock.now() and done.escalate_at is None
    clock.clock.advance(timedelta(minutes=1))
    again = await ack(ADMIN)  # harmless: the first acknowledgement stands
    assert again.acknowledged_by == on_duty and again.acknowledged_at == done.acknowledged_at
    clock.clock.advance(ESCALATE * 3)
    assert await jobs.escalate_due() == 0
    assert await recipients(page.id) == {on_duty: 1}
    assert (await event_kinds(page.id)).count("acknowledged") == 1
    async with unit_of_work() as session:
        [event] = await session.scalars(
            select(PageEvent).where(PageEvent.page_id == page.id, PageEvent.kind == "acknowledged")
        )
        assert (event.actor_kind, event.actor_id) == ("staff", on_duty)


async def test_page_events_are_append_only():
    await make_staff(Role.ADMIN)
    page = await send_page()
    with pytest.raises(Exception, match="append-only"):
        async with unit_of_work() as session:
            event = await session.scalar(select(PageEvent).where(PageEvent.page_id == page.id).limit(1))
            assert event is not None
            event.level = 3


async def test_overdue_complaint_pages_the_clinic_desk_on_duty_once():
    site = await make_site("Q1")
    desk = await make_staff(Role.CLINIC_STAFF, site=site, phone="13800000031")
    await put_on_duty(desk, Role.CLINIC_STAFF, site=site, length=timedelta(days=2))
    patient = await new_member()
    async with unit_of_work() as session:
        complaint = await complaints.file(session, as_patient(patient), body="候诊时间太长，没人理", visit_id=None)
    clock.clock.advance(complaints.RESPONSE_CLOCK + timedelta(minutes=1))
    assert await complaints.escalate_due() == 1
    assert await complaints.escalate_due() == 0
    async with unit_of_work() as session:
        [page] = await session.scalars(select(Page).where(Page.kind == "complaint_overdue"))
    assert page.ref == str(complaint.id) and page.role == "clinic_staff"
    assert await recipients(page.id) == {desk: 1}
    [sms] = await page_sms()
    assert "投诉" in sms["body"] and "候诊" not in sms["body"]


async def test_out_of_range_check_in_pages_the_health_manager_on_duty_at_the_patients_site():
    site = await make_site("H1")
    manager = await make_staff(Role.HEALTH_MANAGER, site=site, phone="13800000051")
    await put_on_duty(manager, Role.HEALTH_MANAGER, site=site)
    patient = await new_member()
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient), patient_service.ProfileChanges(home_site_id=site)
        )
        result = await checkins.check_in(
            session, as_patient(patient), kind="glucose", value={"mmol": 16.8, "context": "fasting"}
        )
    assert result.alert is not None
    async with unit_of_work() as session:
        [page] = await session.scalars(select(Page).where(Page.kind == "health_alert"))
    assert page.site_id == site and page.role == "health_manager" and page.ref.startswith(str(result.alert.id))
    assert await recipients(page.id) == {manager: 1}
    [sms] = await page_sms()
    assert sms["recipient"] == "13800000051"
    for private in ("16.8", "血糖", "偏高"):
        assert private not in sms["body"]


# --- through the schema over HTTP ---------------------------------------------------------------

SHIFT_CREATE = """mutation($s: ID!, $r: StaffRole!, $a: DateTime!, $b: DateTime!) {
  dutyShiftCreate(input: {staffId: $s, role: $r, startsAt: $a, endsAt: $b}) {
    shift { id role roleLabel staff { id } site { id } } errors { field code message } } }"""
SHIFT_REMOVE = """mutation($id: ID!) { dutyShiftRemove(input: {shiftId: $id}) { removedShiftId errors { code } } }"""
ROSTER = """query($a: DateTime!, $b: DateTime!) { dutyRoster(from: $a, to: $b) { id staff { id } role } }"""
ON_DUTY = """query($r: StaffRole!) { onDutyNow(role: $r) { id name } }"""
MY_PAGES = """query($u: Boolean!) { myPages(first: 10, unacknowledgedOnly: $u) {
  nodes { id number kind subject body level fallback acknowledgedAt acknowledgedBy { id } }
  pageInfo { hasNextPage } } }"""
ACK = """mutation($p: ID!) { pageAcknowledge(input: {pageId: $p}) {
  page { id acknowledgedAt acknowledgedBy { id } } errors { code message } } }"""
EVENTS = """query($p: ID!) { pageEvents(pageId: $p) { kind level actorKind actor { id } recipient { id } detail } }"""
POST_CREATE = """mutation($g: ID!, $t: String!, $b: String!) {
  postCreate(input: {groupId: $g, kind: DISCUSSION, title: $t, body: $b}) { post { id status } errors { code } } }"""


def _raw(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


async def _set_phone(staff_global_id: str, phone: str) -> None:
    async with unit_of_work() as session:
        staff = await session.get(Staff, _raw(staff_global_id))
        assert staff is not None
        staff.phone = phone


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_emergency_post_pages_the_doctor_on_duty_who_acknowledges_over_http(client):
    admin = await staff_session(client, "admin-oncall@example.cn", ["admin"])
    doctor = await staff_session(client, "doctor-oncall@example.cn", ["doctor"])
    await _set_phone(doctor.id, "13800000041")
    now = clock.now()
    window = {"a": (now - timedelta(hours=1)).isoformat(), "b": (now + timedelta(hours=8)).isoformat()}

    created = data(await gql(client, SHIFT_CREATE, {"s": doctor.id, "r": "DOCTOR", **window}, token=admin.access))
    assert created["dutyShiftCreate"]["errors"] == []
    shift = created["dutyShiftCreate"]["shift"]
    assert shift["roleLabel"] == "医生" and shift["staff"]["id"] == doctor.id and shift["site"] is None
    spare = data(await gql(client, SHIFT_CREATE, {"s": doctor.id, "r": "DOCTOR", **window}, token=admin.access))
    refused = data(await gql(client, SHIFT_CREATE, {"s": doctor.id, "r": "DOCTOR", **window}, token=doctor.access))
    assert refused["dutyShiftCreate"] == {
        "shift": None,
        "errors": [{"field": None, "code": "PERMISSION_DENIED", "message": "您没有权限执行此操作"}],
    }
    wrong_role = data(
        await gql(client, SHIFT_CREATE, {"s": doctor.id, "r": "CLINIC_STAFF", **window}, token=admin.access)
    )
    assert [e["code"] for e in wrong_role["dutyShiftCreate"]["errors"]] == ["DUTY_STAFF_LACKS_ROLE"]
    removed = data(await gql(client, SHIFT_REMOVE, {"id": spare["dutyShiftCreate"]["shift"]["id"]}, token=admin.access))
    assert removed["dutyShiftRemove"]["errors"] == []

    roster = data(await gql(client, ROSTER, window, token=doctor.access))["dutyRoster"]
    assert [s["id"] for s in roster] == [shift["id"]]
    assert data(await gql(client, ON_DUTY, {"r": "DOCTOR"}, token=doctor.access))["onDutyNow"][0]["id"] == doctor.id

    # a patient writes about suicide in a group: the doctor on duty is paged
    patient = await patient_session(client, "13900007001")
    group = await make_group("oncall-http")
    await member_of(group, _raw(patient.id))
    posted = data(
        await gql(
            client,
            POST_CREATE,
            {"g": to_global_id("Group", group), "t": "撑不下去", "b": "我想自杀"},
            token=patient.access,
        )
    )["postCreate"]
    assert posted["errors"] == [] and posted["post"]["status"] == "AUTHOR_ONLY"

    inbox = data(await gql(client, MY_PAGES, {"u": True}, token=doctor.access))["myPages"]["nodes"]
    assert len(inbox) == 1
    page = inbox[0]
    assert page["kind"] == "EMERGENCY_POST" and page["level"] == 1 and page["fallback"] is None
    assert "紧急求助" in page["body"] and page["acknowledgedAt"] is None
    [sms] = await page_sms()
    assert sms["recipient"] == "13800000041" and page["number"] in sms["body"]
    assert "自杀" not in sms["body"] and "撑不下去" not in sms["body"]

    acked = data(await gql(client, ACK, {"p": page["id"]}, token=doctor.access))["pageAcknowledge"]
    assert acked["errors"] == [] and acked["page"]["acknowledgedBy"]["id"] == doctor.id
    again = data(await gql(client, ACK, {"p": page["id"]}, token=doctor.access))["pageAcknowledge"]
    assert again["errors"] == [] and again["page"]["acknowledgedAt"] == acked["page"]["acknowledgedAt"]
    assert data(await gql(client, MY_PAGES, {"u": True}, token=doctor.access))["myPages"]["nodes"] == []
    assert len(data(await gql(client, MY_PAGES, {"u": False}, token=doctor.access))["myPages"]["nodes"]) == 1

    events = data(await gql(client, EVENTS, {"p": page["id"]}, token=admin.access))["pageEvents"]
    assert [e["kind"] for e in events] == ["CREATED", "NOTIFIED", "ACKNOWLEDGED"]
    assert events[1]["recipient"]["id"] == doctor.id and json.loads(events[1]["detail"]) == {
        "in_app": True,
        "sms": True,
    }
    assert events[2]["actor"]["id"] == doctor.id and events[2]["actorKind"] == "staff"
    assert _codes(await gql(client, EVENTS, {"p": page["id"]}, token=doctor.access)) == ["PERMISSION_DENIED"]

    # patients and anonymous users are refused everything, with stable codes
    for token, code in ((patient.access, "ONCALL_STAFF_ONLY"), (None, "NOT_AUTHENTICATED")):
        assert _codes(await gql(client, MY_PAGES, {"u": False}, token=token)) == [code]
        assert _codes(await gql(client, ROSTER, window, token=token)) == [code]
        assert _codes(await gql(client, ON_DUTY, {"r": "DOCTOR"}, token=token)) == [code]
        assert _codes(await gql(client, EVENTS, {"p": page["id"]}, token=token)) == [code]
        refused_ack = data(await gql(client, ACK, {"p": page["id"]}, token=token))["pageAcknowledge"]
        assert [e["code"] for e in refused_ack["errors"]] == [code]
        refused_shift = data(await gql(client, SHIFT_CREATE, {"s": doctor.id, "r": "DOCTOR", **window}, token=token))
        assert [e["code"] for e in refused_shift["dutyShiftCreate"]["errors"]] == [code]


# --- the live inbox over graphql-transport-ws -------------------------------------------------------


async def _ws_next(ws: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message  # type: ignore[no-any-return]


@asynccontextmanager
async def _subscribe(url: str, token: str, query: str) -> AsyncIterator[Any]:
    async with connect(url, subprotocols=["graphql-transport-ws"], open_timeout=10) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert (await _ws_next(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))
        yield ws


async def test_my_pages_subscription_pushes_new_pages_to_the_staff_member_only(client):
    doctor = await staff_session(client, "live-doctor@example.cn", ["doctor"])
    patient = await patient_session(client, "13900007002")
    await put_on_duty(_raw(doctor.id), Role.DOCTOR)
    query = "subscription { myPages { id number kind subject level } }"
    async with in_loop_server() as url:
        async with _subscribe(url, patient.access, query) as refused:
            message = await _ws_next(refused)
            assert "值班功能仅限医院工作人员使用" in json.dumps(message, ensure_ascii=False), message
            assert "ONCALL_STAFF_ONLY" in json.dumps(message), message
        async with _subscribe(url, doctor.access, query) as ws:
            await asyncio.sleep(0.5)  # let the subscriber attach before anything is published
            await send_page("live-1")
            message = await _ws_next(ws)
            assert message["type"] == "next", message
            pushed = message["payload"]["data"]["myPages"]
            assert pushed["kind"] == "EMERGENCY_POST" and pushed["level"] == 1
            page = await reload(_raw(pushed["id"]))
            assert pushed["number"] == service.page_number(page.id)
            await ws.send(json.dumps({"id": "1", "type": "complete"}))
