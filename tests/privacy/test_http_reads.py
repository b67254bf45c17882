"""The PHI read audit through the real schema over HTTP, with signed-in staff and patients: each kind a
staff member reads is on record (who, whose, what, when, through which root field, the request id),
the patient's own reads are not, admins filter the record (phiReadLog) and nobody else reads it, a
patient sees who read their data (myHealthDataReads), and a list of 100 patients costs one insert."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, insert, select

from api.relay import from_global_id, to_global_id
from core import clock
from core.db import unit_of_work
from core.identity import SYSTEM
from patients import service as patient_service
from patients.models import PatientCondition
from privacy import reads
from privacy.models import PhiRead
from tests.care.support import start, surveyed_visit
from tests.factories import STAFF_PASSWORD, make_site, make_staff, next_phone
from tests.support import (
    STAFF_SIGN_IN,
    Session,
    count_statements,
    data,
    gql,
    patient_session,
    signed_in_patient,
    staff_session,
)

pytestmark = pytest.mark.usefixtures("ledger_invariants")

LOG = """query($patient: ID, $staff: ID, $kind: PhiKind, $since: DateTime, $until: DateTime, $first: Int,
  $after: String) {
  phiReadLog(patientId: $patient, staffId: $staff, kind: $kind, since: $since, until: $until, first: $first,
    after: $after) {
    edges { node { id kind kindLabel readAt through requestId staffId staffRoleLabels patientId
      staff { id name } patient { id } } }
    pageInfo { hasNextPage endCursor } } }"""
MINE = """query($first: Int, $after: String) { myHealthDataReads(first: $first, after: $after) {
  edges { node { readerName readerRoleLabels kind kindLabel readAt through } }
  pageInfo { hasNextPage endCursor } } }"""

PROFILE = """mutation($codes: [String!]) { profileUpdate(input: {conditionCodes: $codes}) { errors { code } } }"""
CHECK_IN = """mutation { checkIn(input: {kind: GLUCOSE, glucoseMmol: 25.0, glucoseContext: FASTING}) {
  checkIn { id } alert { id } errors { code } } }"""
FILE = """mutation($body: String!) { complaintFile(input: {body: $body}) { complaint { id } errors { code } } }"""
ANSWER = """mutation($id: ID!) { surveyAnswer(input: {surveyId: $id, score: 9, comment: "医生很耐心"}) {
  survey { id } errors { code } } }"""

OWN_READS = [
    "{ me { ... on Patient { conditions { code } } } }",
    "{ myCheckIns(days: 7) { id glucoseMmol } }",
    "{ myComplaints(first: 5) { nodes { id body } } }",
    "{ mySurveys(first: 5) { nodes { id score comment } } }",
    "{ pointsHistory(first: 5) { nodes { amount memo } } }",
]
NODE_CONDITIONS = """query($id: ID!) { node(id: $id) { ... on Patient { conditions { code } } } }"""
PATIENT_CHECK_INS = """query($p: ID!) { patientCheckIns(patientId: $p, days: 7) { id glucoseMmol } }"""
HEALTH_ALERTS = """{ healthAlerts(first: 10) { nodes { id reading checkIn { glucoseMmol } } } }"""
ACKNOWLEDGE = """mutation($id: ID!) { healthAlertAcknowledge(input: {alertId: $id}) {
  alert { acknowledgedAt } errors { code } } }"""
NODE_CHECK_IN = """query($id: ID!) { node(id: $id) { ... on CheckIn { glucoseMmol } } }"""
POINTS = """query($p: ID) { pointsHistory(patientId: $p, first: 10) { nodes { amount memo } } }"""
COMPLAINTS = """{ complaints(first: 10) { nodes { id body patient { id } } } }"""
NODE_COMPLAINT = """query($id: ID!) { node(id: $id) { ... on Complaint { body } } }"""
SURVEY = """query($id: ID!) { survey(id: $id) { id score comment } }"""


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def _named_staff(client: httpx.AsyncClient, email: str, roles: list[str], name: str) -> Session:
    await make_staff(email, roles, name=name)
    payload = data(await gql(client, STAFF_SIGN_IN, {"email": email, "password": STAFF_PASSWORD}))["authStaffSignIn"]
    assert payload["errors"] == [], payload
    return Session(payload["tokens"]["accessToken"], payload["tokens"]["refreshToken"], payload["staff"]["id"])


def _uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


async def _log(client: httpx.AsyncClient, admin: Session, **variables: Any) -> list[dict[str, Any]]:
    found = data(await gql(client, LOG, {"first": 100, **variables}, token=admin.access))["phiReadLog"]
    return [e["node"] for e in found["edges"]]


async def _record_count() -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(PhiRead)) or 0)


class Health:
    """A signed-in patient with health data of every kind: a condition, an out-of-range check-in (an
    alert), a completed visit, a complaint and an answered survey."""

    patient: Session
    pid: uuid.UUID
    check_in: str
    alert: str
    complaint: str
    survey: str


async def _patient_with_health_data(client: httpx.AsyncClient) -> Health:
    h = Health()
    phone = next_phone()
    h.pid = _uuid((await patient_session(client, phone)).id)
    site = await make_site("S1")
    survey = await surveyed_visit(h.pid, site, "V-PHI-1")  # a completed visit, and its survey a day later
    h.survey = to_global_id("Survey", survey.id)
    h.patient = await patient_session(client, phone)  # signed in again: the clock moved a day
    token = h.patient.access
    assert data(await gql(client, PROFILE, {"codes": ["diabetes"]}, token=token))["profileUpdate"]["errors"] == []
    checked = data(await gql(client, CHECK_IN, token=token))["checkIn"]
    assert checked["errors"] == [] and checked["alert"] is not None
    h.check_in, h.alert = checked["checkIn"]["id"], checked["alert"]["id"]
    filed = data(await gql(client, FILE, {"body": "取药窗口排队太久，没人解释"}, token=token))["complaintFile"]
    assert filed["errors"] == []
    h.complaint = filed["complaint"]["id"]
    assert data(await gql(client, ANSWER, {"id": h.survey}, token=token))["surveyAnswer"]["errors"] == []
    return h


async def test_a_patients_own_reads_leave_no_record(client: httpx.AsyncClient) -> None:
    h = await _patient_with_health_data(client)
    for query in OWN_READS:
        data(await gql(client, query, token=h.patient.access))
    data(await gql(client, SURVEY, {"id": h.survey}, token=h.patient.access))
    data(await gql(client, NODE_CHECK_IN, {"id": h.check_in}, token=h.patient.access))
    assert await _record_count() == 0


async def test_each_kind_a_staff_member_reads_is_on_record(client: httpx.AsyncClient) -> None:
    h = await _patient_with_health_data(client)
    patient_gid = to_global_id("Patient", h.pid)
    doctor = await _named_staff(client, "doc-phi@example.cn", ["doctor"], "王医生")
    desk = await _named_staff(client, "desk-phi@example.cn", ["clinic_staff"], "李前台")
    admin = await staff_session(client, "admin-phi@example.cn", ["admin"])

    steps: list[tuple[Session, str, dict[str, Any], str, str]] = [
        (doctor, NODE_CONDITIONS, {"id": patient_gid}, "conditions", "graphql:node"),
        (doctor, PATIENT_CHECK_INS, {"p": patient_gid}, "checkins", "graphql:patientCheckIns"),
        (doctor, HEALTH_ALERTS, {}, "checkins", "graphql:healthAlerts"),
        (doctor, NODE_CHECK_IN, {"id": h.check_in}, "checkins", "graphql:node"),
        (doctor, ACKNOWLEDGE, {"id": h.alert}, "checkins", "graphql:healthAlertAcknowledge"),
        (desk, POINTS, {"p": patient_gid}, "visits", "graphql:pointsHistory"),
        (desk, COMPLAINTS, {}, "complaints", "graphql:complaints"),
        (desk, NODE_COMPLAINT, {"id": h.complaint}, "complaints", "graphql:node"),
        (desk, SURVEY, {"id": h.survey}, "survey_answers", "graphql:survey"),
    ]
    for number, (who, query, variables, kind, through) in enumerate(steps):
        clock.clock.advance(timedelta(minutes=1))
        request_id = f"req-phi-{number}"
        answer = data(await gql(client, query, variables, token=who.access, headers={"x-request-id": request_id}))
        assert answer, query
        newest = (await _log(client, admin, patient=patient_gid))[0]
        assert (newest["kind"], newest["through"], newest["requestId"]) == (kind.upper(), through, request_id)
        assert newest["staffId"] == who.id and newest["staff"]["id"] == who.id
        assert newest["patientId"] == patient_gid and newest["patient"] == {"id": patient_gid}
        assert newest["readAt"] == clock.now().isoformat()
    records = await _log(client, admin, patient=patient_gid)
    assert len(records) == len(steps)
    assert {r["kindLabel"] for r in records} == {"所患病种", "健康打卡", "就诊记录", "投诉", "满意度调查答卷"}
    assert {tuple(r["staffRoleLabels"]) for r in records} == {("医生",), ("门诊前台",)}


async def test_admins_filter_the_record_and_nobody_else_reads_it(client: httpx.AsyncClient) -> None:
    h = await _patient_with_health_data(client)
    other, other_id = await signed_in_patient(client)
    patient_gid = to_global_id("Patient", h.pid)
    doctor = await staff_session(client, "doc-filter@example.cn", ["doctor"])
    desk = await staff_session(client, "desk-filter@example.cn", ["clinic_staff"])
    admin = await staff_session(client, "admin-filter@example.cn", ["admin"])
    began = clock.now()
    data(await gql(client, PATIENT_CHECK_INS, {"p": patient_gid}, token=doctor.access))
    clock.clock.advance(timedelta(minutes=3))  # within the tokens' 15 minutes
    data(await gql(client, COMPLAINTS, token=desk.access))
    clock.clock.advance(timedelta(minutes=3))  # within the tokens' 15 minutes
    data(await gql(client, NODE_CONDITIONS, {"id": to_global_id("Patient", other_id)}, token=doctor.access))

    assert [r["kind"] for r in await _log(client, admin)] == ["CONDITIONS", "COMPLAINTS", "CHECKINS"]
    assert [r["kind"] for r in await _log(client, admin, patient=patient_gid)] == ["COMPLAINTS", "CHECKINS"]
    assert [r["kind"] for r in await _log(client, admin, staff=doctor.id)] == ["CONDITIONS", "CHECKINS"]
    assert [r["kind"] for r in await _log(client, admin, kind="COMPLAINTS")] == ["COMPLAINTS"]
    window = {
        "since": (began + timedelta(minutes=1)).isoformat(),
        "until": (began + timedelta(minutes=4)).isoformat(),
    }
    assert [r["kind"] for r in await _log(client, admin, **window)] == ["COMPLAINTS"]
    first = data(await gql(client, LOG, {"first": 2}, token=admin.access))["phiReadLog"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(await gql(client, LOG, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=admin.access))
    assert [e["node"]["kind"] for e in rest["phiReadLog"]["edges"]] == ["CHECKINS"]

    backwards = await gql(
        client, LOG, {"since": began.isoformat(), "until": (began - timedelta(days=1)).isoformat()}, token=admin.access
    )
    assert backwards["errors"][0]["extensions"]["code"] == "PHI_READ_RANGE_INVALID"
    for bad, code in (
        ({"patient": "not-an-id"}, "ID_INVALID"),
        ({"staff": patient_gid}, "ID_INVALID"),  # a patient's id where a staff member's belongs
        ({"patient": "A\x00"}, "INVALID_STRING"),
    ):
        refused = await gql(client, LOG, bad, token=admin.access)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == code
    oversized = await gql(client, LOG, {"first": 101}, token=admin.access)
    assert oversized["errors"][0]["extensions"]["code"] == "PAGE_SIZE_INVALID"

    for who in (doctor, desk, other, h.patient):
        refused = await gql(client, LOG, {}, token=who.access)
        assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, LOG, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_a_patient_sees_who_read_their_health_data_and_only_theirs(client: httpx.AsyncClient) -> None:
    h = await _patient_with_health_data(client)
    other, _ = await signed_in_patient(client)
    doctor = await _named_staff(client, "doc-mine@example.cn", ["doctor", "health_manager"], "王医生")
    data(await gql(client, PATIENT_CHECK_INS, {"p": to_global_id("Patient", h.pid)}, token=doctor.access))
    clock.clock.advance(timedelta(minutes=5))
    data(await gql(client, NODE_CONDITIONS, {"id": to_global_id("Patient", h.pid)}, token=doctor.access))

    mine = data(await gql(client, MINE, {"first": 10}, token=h.patient.access))["myHealthDataReads"]
    assert [e["node"] for e in mine["edges"]] == [
        {
            "readerName": "王医生",
            "readerRoleLabels": ["医生", "健康管理师"],
            "kind": "CONDITIONS",
            "kindLabel": "所患病种",
            "readAt": clock.now().isoformat(),
            "through": "graphql:node",
        },
        {
            "readerName": "王医生",
            "readerRoleLabels": ["医生", "健康管理师"],
            "kind": "CHECKINS",
            "kindLabel": "健康打卡",
            "readAt": (clock.now() - timedelta(minutes=5)).isoformat(),
            "through": "graphql:patientCheckIns",
        },
    ]
    paged = data(await gql(client, MINE, {"first": 1}, token=h.patient.access))["myHealthDataReads"]
    assert paged["pageInfo"]["hasNextPage"] is True and len(paged["edges"]) == 1
    assert data(await gql(client, MINE, {}, token=other.access))["myHealthDataReads"]["edges"] == []

    refused = await gql(client, MINE, {}, token=doctor.access)
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, MINE, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    malformed = await gql(client, MINE, {"after": "garbage"}, token=h.patient.access)
    assert malformed["errors"][0]["extensions"]["code"] == "CURSOR_INVALID"


LIST = """query($c: String) { patients(first: 100, conditionCode: $c) { nodes { id conditions { code } } } }"""


async def test_a_staff_list_of_one_hundred_patients_costs_one_insert(client: httpx.AsyncClient) -> None:
    async with unit_of_work() as session:
        for _ in range(100):
            patient, _ = await patient_service.register_patient(session, SYSTEM, phone=next_phone())
            await session.execute(insert(PatientCondition).values(patient_id=patient.id, condition_code="diabetes"))
    doctor = await staff_session(client, "doc-list@example.cn", ["doctor"])
    with count_statements() as counter:
        listed = data(await gql(client, LIST, {"c": "diabetes"}, token=doctor.access))["patients"]["nodes"]
    assert len(listed) == 100 and all(p["conditions"] == [{"code": "diabetes"}] for p in listed)
    inserts = [s for s in counter.statements if s.lstrip().upper().startswith("INSERT INTO PHI_READS")]
    assert len(inserts) == 1
    async with unit_of_work() as session:
        rows = list(await session.scalars(select(PhiRead)))
    assert len(rows) == 100  # the filter and the field read the same (staff, patient, kind): once each
    assert {(r.kind, r.through) for r in rows} == {("conditions", "graphql:patients")}

    # The same list without its health fields and without the filter reads no health data.
    with count_statements() as plain:
        data(await gql(client, "{ patients(first: 100) { nodes { id nickname } } }", token=doctor.access))
    assert not any(s.lstrip().upper().startswith("INSERT INTO PHI_READS") for s in plain.statements)
    assert await _record_count() == 100


async def test_no_health_data_leaves_when_its_record_cannot_be_written(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await _patient_with_health_data(client)
    doctor = await staff_session(client, "doc-fail@example.cn", ["doctor"])

    async def broken(session: Any, log: reads.ReadLog) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(reads, "flush", broken)
    answer = await gql(client, PATIENT_CHECK_INS, {"p": to_global_id("Patient", h.pid)}, token=doctor.access)
    assert answer["data"] is None
    assert answer["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert "disk full" not in str(answer)
    # Reads that touch no health data are unaffected.
    assert data(await gql(client, "{ me { ... on Staff { email } } }", token=doctor.access))["me"]


PREVIEW = """query($codes: [String!]!) { segmentPreview(criteria: {conditionCodes: $codes}) { count sample { id } } }"""


async def test_a_segment_chosen_by_condition_is_a_condition_read(client: httpx.AsyncClient) -> None:
    patient, pid = await signed_in_patient(client)
    assert data(await gql(client, PROFILE, {"codes": ["hypertension"]}, token=patient.access))["profileUpdate"]
    marketer = await staff_session(client, "mkt-phi@example.cn", ["marketer"])
    admin = await staff_session(client, "admin-seg@example.cn", ["admin"])
    everyone = data(await gql(client, PREVIEW, {"codes": []}, token=marketer.access))["segmentPreview"]
    assert {"id": to_global_id("Patient", pid)} in everyone["sample"]
    assert await _log(client, admin) == []
    chosen = data(await gql(client, PREVIEW, {"codes": ["hypertension"]}, token=marketer.access))["segmentPreview"]
    assert chosen["sample"] == [{"id": to_global_id("Patient", pid)}]
    [record] = await _log(client, admin)
    assert (record["kind"], record["through"]) == ("CONDITIONS", "graphql:segmentPreview")
    assert record["staffId"] == marketer.id
