"""Care root fields over HTTP with signed-in actors: the desk's complaintAssign, complaintResolve and
complaintClose, the patient's myComplaints, and survey (owner, care desk, anyone else)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from api.relay import parse_uuid_id, to_global_id
from core import clock
from tests.care.support import start, surveyed_visit, visit
from tests.factories import STAFF_PASSWORD, make_site, make_staff, next_phone
from tests.support import STAFF_SIGN_IN, Session, data, gql, patient_session, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

FILE = """mutation($body: String!, $visit: ID) { complaintFile(input: {body: $body, visitId: $visit}) {
  complaint { id status } errors { field code message } } }"""
ASSIGN = """mutation($c: ID!, $s: ID!) { complaintAssign(input: {complaintId: $c, staffId: $s}) {
  complaint { id status assignee { id } history { action fromStatus toStatus } } errors { field code message } } }"""
RESOLVE = """mutation($c: ID!, $note: String) { complaintResolve(input: {complaintId: $c, note: $note}) {
  complaint { id status resolvedAt history { action toStatus note } } errors { field code message } } }"""
CLOSE = """mutation($c: ID!, $note: String) { complaintClose(input: {complaintId: $c, note: $note}) {
  complaint { id status closedAt history { action toStatus note } } errors { field code message } } }"""
MY = """query($first: Int, $after: String) { myComplaints(first: $first, after: $after) {
  edges { cursor node { id status body source } } pageInfo { hasNextPage endCursor } } }"""
SURVEY = """query($id: ID!) { survey(id: $id) { id status score site { id } } }"""


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _uuid(global_id: str, type_name: str):
    value = parse_uuid_id(global_id, type_name)
    assert value is not None
    return value


async def _site_staff(client: Any, email: str, roles: list[str], site) -> Session:
    """A staff member of a site, signed in through the API."""
    await make_staff(email, roles, site)
    payload = data(await gql(client, STAFF_SIGN_IN, {"email": email, "password": STAFF_PASSWORD}))["authStaffSignIn"]
    assert payload["errors"] == [], payload
    return Session(payload["tokens"]["accessToken"], payload["tokens"]["refreshToken"], payload["staff"]["id"])


async def _filed(
    client: Any, patient: Session, body: str = "候诊时间太长了，没人解释", visit_id: str | None = None
) -> str:
    filed = data(await gql(client, FILE, {"body": body, "visit": visit_id}, token=patient.access))["complaintFile"]
    assert filed["errors"] == [], filed
    return filed["complaint"]["id"]


async def test_complaint_assign_to_desk_staff_of_the_site(client, unique_phone):
    site = await make_site("S1")
    other_site = await make_site("S2")
    patient = await patient_session(client, unique_phone)
    visit_id = await visit(_uuid(patient.id, "Patient"), site, "V-ASSIGN")
    # Nobody at the site yet: the ticket stays open for the desk to pick up.
    cid = await _filed(client, patient, visit_id=to_global_id("Visit", visit_id))

    desk = await _site_staff(client, "desk@example.com", ["clinic_staff"], site)
    manager = await _site_staff(client, "hm@example.com", ["health_manager"], site)
    elsewhere = await _site_staff(client, "desk2@example.com", ["clinic_staff"], other_site)
    doctor = await _site_staff(client, "doc@example.com", ["doctor"], site)

    assigned = data(await gql(client, ASSIGN, {"c": cid, "s": manager.id}, token=desk.access))["complaintAssign"]
    assert assigned["errors"] == []
    assert assigned["complaint"]["status"] == "IN_PROGRESS" and assigned["complaint"]["assignee"] == {"id": manager.id}
    assert [h["action"] for h in assigned["complaint"]["history"]] == ["opened", "assigned"]
    assert assigned["complaint"]["history"][1]["fromStatus"] == "OPEN"

    # Not to a doctor, nor to the desk of another site.
    for target in (doctor, elsewhere):
        refused = data(await gql(client, ASSIGN, {"c": cid, "s": target.id}, token=desk.access))["complaintAssign"]
        assert refused["complaint"] is None
        assert refused["errors"] == [
            {"field": "staffId", "code": "COMPLAINT_ASSIGNEE_INVALID", "message": refused["errors"][0]["message"]}
        ]
    # Who may not assign at all: the patient, a doctor, a marketer.
    for who in (patient, doctor, await staff_session(client, "mkt@example.com", ["marketer"])):
        denied = data(await gql(client, ASSIGN, {"c": cid, "s": desk.id}, token=who.access))["complaintAssign"]
        assert denied["complaint"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, ASSIGN, {"c": cid, "s": desk.id}))["complaintAssign"]
    assert _codes(anonymous) == ["NOT_AUTHENTICATED"]

    malformed = data(await gql(client, ASSIGN, {"c": "nope", "s": desk.id}, token=desk.access))["complaintAssign"]
    assert malformed["errors"][0]["code"] == "ID_INVALID" and malformed["errors"][0]["field"] == "complaintId"
    malformed = data(await gql(client, ASSIGN, {"c": cid, "s": cid}, token=desk.access))["complaintAssign"]
    assert malformed["errors"][0]["code"] == "ID_INVALID" and malformed["errors"][0]["field"] == "staffId"
    unknown = to_global_id("Complaint", _uuid(manager.id, "Staff"))
    missing = data(await gql(client, ASSIGN, {"c": unknown, "s": desk.id}, token=desk.access))["complaintAssign"]
    assert _codes(missing) == ["COMPLAINT_NOT_FOUND"]

    # An admin anywhere may take it over.
    admin = await staff_session(client, "admin@example.com", ["admin"])
    taken = data(await gql(client, ASSIGN, {"c": cid, "s": admin.id}, token=admin.access))["complaintAssign"]
    assert taken["errors"] == [] and taken["complaint"]["assignee"] == {"id": admin.id}


async def test_complaint_resolve_then_close_by_the_desk(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    cid = await _filed(client, patient)
    desk = await staff_session(client, "desk@example.com", ["clinic_staff"])
    doctor = await staff_session(client, "doc@example.com", ["doctor"])

    for who in (patient, doctor):
        denied = data(await gql(client, RESOLVE, {"c": cid, "note": "已处理"}, token=who.access))["complaintResolve"]
        assert denied["complaint"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, RESOLVE, {"c": patient.id, "note": None}, token=desk.access))
    assert _codes(malformed["complaintResolve"]) == ["ID_INVALID"]

    resolved = data(await gql(client, RESOLVE, {"c": cid, "note": "  已致电道歉  "}, token=desk.access))[
        "complaintResolve"
    ]
    assert resolved["errors"] == [] and resolved["complaint"]["status"] == "RESOLVED"
    assert resolved["complaint"]["resolvedAt"] is not None
    assert resolved["complaint"]["history"][-1] == {"action": "resolved", "toStatus": "RESOLVED", "note": "已致电道歉"}
    twice = data(await gql(client, RESOLVE, {"c": cid}, token=desk.access))["complaintResolve"]
    assert twice["errors"][0]["code"] == "COMPLAINT_INVALID_TRANSITION"

    for who in (patient, doctor):
        denied = data(await gql(client, CLOSE, {"c": cid}, token=who.access))["complaintClose"]
        assert denied["complaint"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, CLOSE, {"c": "!!"}, token=desk.access))["complaintClose"]
    assert malformed["errors"][0] == {"field": "complaintId", "code": "ID_INVALID", "message": "编号无效"}

    manager = await staff_session(client, "hm@example.com", ["health_manager"])
    closed = data(await gql(client, CLOSE, {"c": cid, "note": "患者满意"}, token=manager.access))["complaintClose"]
    assert closed["errors"] == [] and closed["complaint"]["status"] == "CLOSED"
    assert closed["complaint"]["closedAt"] is not None
    assert [h["action"] for h in closed["complaint"]["history"]] == ["opened", "resolved", "closed"]

    # Closed is final: no step after it.
    for query, name in ((CLOSE, "complaintClose"), (RESOLVE, "complaintResolve")):
        final = data(await gql(client, query, {"c": cid}, token=desk.access))[name]
        assert _codes(final) == ["COMPLAINT_INVALID_TRANSITION"]
    final = data(await gql(client, ASSIGN, {"c": cid, "s": desk.id}, token=desk.access))["complaintAssign"]
    assert _codes(final) == ["COMPLAINT_INVALID_TRANSITION"]

    # Close is allowed straight from open too.
    other = await _filed(client, patient, "药房窗口排队太久")
    closed = data(await gql(client, CLOSE, {"c": other}, token=desk.access))["complaintClose"]
    assert closed["errors"] == [] and closed["complaint"]["status"] == "CLOSED"


async def test_my_complaints_only_my_own_and_only_for_patients(client, unique_phone):
    alice = await patient_session(client, unique_phone)
    bob = await patient_session(client, next_phone())
    first = await _filed(client, alice, "挂号排队太久了")
    clock.clock.advance(timedelta(minutes=1))
    second = await _filed(client, alice, "医生态度不好")
    await _filed(client, bob, "停车场太难找了")

    page = data(await gql(client, MY, {"first": 1}, token=alice.access))["myComplaints"]
    assert [e["node"]["id"] for e in page["edges"]] == [second] and page["pageInfo"]["hasNextPage"] is True
    rest = data(await gql(client, MY, {"first": 5, "after": page["pageInfo"]["endCursor"]}, token=alice.access))
    assert [e["node"]["id"] for e in rest["myComplaints"]["edges"]] == [first]
    assert rest["myComplaints"]["edges"][0]["node"] == {
        "id": first,
        "status": "OPEN",
        "body": "挂号排队太久了",
        "source": "PATIENT",
    }
    bobs = data(await gql(client, MY, {"first": 5}, token=bob.access))["myComplaints"]["edges"]
    assert [e["node"]["body"] for e in bobs] == ["停车场太难找了"]

    desk = await staff_session(client, "desk@example.com", ["clinic_staff"])
    denied = await gql(client, MY, {"first": 5}, token=desk.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED" and denied["data"] is None
    anonymous = await gql(client, MY, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_survey_visible_to_its_patient_and_the_care_desk_only(client, unique_phone):
    site = await make_site("S1")
    phone = unique_phone
    # Register and survey first (the survey cron runs a day after the visit), then sign in.
    owner_first = await patient_session(client, phone)
    survey = await surveyed_visit(_uuid(owner_first.id, "Patient"), site, "V-SURVEY")
    gid = to_global_id("Survey", survey.id)
    owner = await patient_session(client, phone)

    mine = data(await gql(client, SURVEY, {"id": gid}, token=owner.access))["survey"]
    assert mine == {"id": gid, "status": mine["status"], "score": None, "site": {"id": to_global_id("Site", site)}}
    assert mine["status"] in ("SENT", "UNSENT")
    desk = await staff_session(client, "desk@example.com", ["health_manager"])
    assert data(await gql(client, SURVEY, {"id": gid}, token=desk.access))["survey"]["id"] == gid

    # Anyone else sees nothing (null, not an error): another patient, a marketer, a doctor, nobody.
    mallory = await patient_session(client, next_phone())
    marketer = await staff_session(client, "mkt@example.com", ["marketer"])
    doctor = await staff_session(client, "doc@example.com", ["doctor"])
    for token in (mallory.access, marketer.access, doctor.access, None):
        assert data(await gql(client, SURVEY, {"id": gid}, token=token))["survey"] is None
    # A malformed id, or the id of something else, is no survey.
    for bad in ("garbage", to_global_id("Site", site)):
        assert data(await gql(client, SURVEY, {"id": bad}, token=owner.access))["survey"] is None
