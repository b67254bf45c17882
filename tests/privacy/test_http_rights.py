"""The copy of one's data and the erasure of one's account through the real schema over HTTP, with
signed-in patients and staff: a patient asks for a copy, is told in the inbox, downloads it with their
token (nobody else can: 404; expired: 410; JSON errors, never plain text); a patient asks for erasure and
may take it back; admins list requests with the overdue flag and run one at once; after it ran the old
token fails, the phone number signs up as a new account, the posts read as 已注销用户 and the ledger
holds."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from api.relay import from_global_id, to_global_id
from core import clock
from core.db import unit_of_work
from patients.models import Patient
from privacy import erasure, export
from tests.care.support import start
from tests.factories import check_ledger_invariants
from tests.privacy.support import rich_patient
from tests.support import REFRESH, Session, data, gql, patient_session, signed_in_patient, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

REQUEST_EXPORT = """mutation { dataExportRequest {
  export { id status requestedAt finishedAt expiresAt sizeBytes downloadPath } errors { field code message } } }"""
EXPORTS = """query($first: Int) { dataExports(first: $first) {
  nodes { id status requestedAt finishedAt expiresAt sizeBytes downloadPath } pageInfo { hasNextPage } } }"""
NODE_EXPORT = """query($id: ID!) { node(id: $id) { ... on DataExport { id status } } }"""
REQUEST_ERASURE = """mutation($posts: ErasurePostsChoice!) { erasureRequest(input: {posts: $posts}) {
  request { id status posts requestedAt executeAfter dueBy overdue runEarly steps { name } }
  errors { field code message } } }"""
CANCEL = """mutation($id: ID!) { erasureCancel(input: {requestId: $id}) {
  request { id status cancelledAt } errors { field code message } } }"""
RUN_NOW = """mutation($id: ID!) { erasureRunNow(input: {requestId: $id}) {
  request { id status executeAfter runEarly } errors { field code message } } }"""
MINE = """{ myErasureRequest { id status posts executeAfter dueBy } }"""
LIST = """query($status: ErasureStatus, $overdue: Boolean, $first: Int) {
  erasureRequests(status: $status, overdue: $overdue, first: $first) {
    nodes { id status posts overdue runEarly dueBy finishedAt patientId patient { id nickname }
      steps { name label finishedAt counts } }
    pageInfo { hasNextPage } } }"""
NODE_ERASURE = """query($id: ID!) { node(id: $id) { ... on ErasureRequest { id status } } }"""
ME = """{ me { ... on Patient { id nickname } } }"""
POST = """query($id: ID!) { node(id: $id) { ... on Post { id title author { displayName anonymous } } } }"""


@pytest.fixture(autouse=True)
def _frozen() -> None:
    clock.clock.freeze(start())


def _error_code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def _download(client: httpx.AsyncClient, path: str, token: str | None, **headers: str) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await client.get(path, headers=headers)


def _json_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["errors"][0]["extensions"]["code"] == code


async def _ready_copy(client: httpx.AsyncClient) -> tuple[Session, uuid.UUID, dict[str, Any]]:
    """A patient with data everywhere, their copy asked for over HTTP and made by the job."""
    patient, pid = await signed_in_patient(client)
    await rich_patient(pid)
    patient = await patient_session(client, await _phone(pid))  # signed in again: the clock moved a day
    asked = data(await gql(client, REQUEST_EXPORT, token=patient.access))["dataExportRequest"]
    assert asked["errors"] == [] and asked["export"]["status"] == "QUEUED"
    assert asked["export"]["downloadPath"] is None
    export_id = uuid.UUID(_raw(asked["export"]["id"]))
    assert await export.run_export(export_id) == "done"  # what the worker runs
    return patient, export_id, asked["export"]


def _raw(global_id: str) -> str:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return decoded[1]


async def _phone(pid: uuid.UUID) -> str:
    async with unit_of_work() as session:
        phone = await session.scalar(select(Patient.phone).where(Patient.id == pid))
    assert phone is not None
    return phone


async def test_a_patient_downloads_their_copy_and_nobody_else_can(client: httpx.AsyncClient) -> None:
    patient, export_id, asked = await _ready_copy(client)
    listed = data(await gql(client, EXPORTS, {"first": 5}, token=patient.access))["dataExports"]["nodes"]
    assert [(e["id"], e["status"]) for e in listed] == [(asked["id"], "DONE")]
    path = listed[0]["downloadPath"]
    assert path == f"/privacy/exports/{export_id}" and listed[0]["sizeBytes"] > 0
    found = data(await gql(client, NODE_EXPORT, {"id": asked["id"]}, token=patient.access))["node"]
    assert found == {"id": asked["id"], "status": "DONE"}

    # Asked for again at once: one in a day.
    again = data(await gql(client, REQUEST_EXPORT, token=patient.access))["dataExportRequest"]
    assert [e["code"] for e in again["errors"]] == ["DATA_EXPORT_TOO_FREQUENT"]

    got = await _download(client, path, patient.access)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("application/json")
    assert got.headers["content-disposition"].startswith('attachment; filename="personal-data-')
    assert got.headers["content-encoding"] == "gzip" and got.headers["cache-control"] == "no-store"
    document = got.json()  # inflated by the client, as a browser would
    sections = document["sections"]
    assert sections["profile"]["real_name"] == "张三"
    assert [p["title"] for p in sections["posts"]] == ["控糖经验分享", "匿名请教"]
    assert sections["health_data_reads"][0]["reader"] == "王医生"
    plain = await _download(client, path, patient.access, **{"accept-encoding": "identity"})
    assert plain.status_code == 200 and "content-encoding" not in plain.headers
    assert json.loads(plain.content) == document
    assert json.loads(gzip.decompress(await _raw_body(client, path, patient.access))) == document

    # Nobody else: another patient (not found, not forbidden), staff, no token, a bad token, bad ids.
    other, _ = await signed_in_patient(client)
    _json_error(await _download(client, path, other.access), 404, "DATA_EXPORT_NOT_FOUND")
    assert data(await gql(client, NODE_EXPORT, {"id": asked["id"]}, token=other.access))["node"] is None
    admin = await staff_session(client, "admin-export@example.cn", ["admin"])
    _json_error(await _download(client, path, admin.access), 403, "PERMISSION_DENIED")
    _json_error(await _download(client, path, None), 401, "NOT_AUTHENTICATED")
    _json_error(await _download(client, path, "not-a-token"), 401, "ACCESS_TOKEN_INVALID")
    _json_error(await _download(client, "/privacy/exports/not-a-uuid", patient.access), 404, "DATA_EXPORT_NOT_FOUND")
    _json_error(await _download(client, "/privacy/exports/%00", patient.access), 404, "DATA_EXPORT_NOT_FOUND")
    _json_error(
        await _download(client, f"/privacy/exports/{uuid.uuid4()}", patient.access), 404, "DATA_EXPORT_NOT_FOUND"
    )
    _json_error(await _download(client, "/privacy/exports/" + "9" * 5000, patient.access), 404, "DATA_EXPORT_NOT_FOUND")
    posted = await client.post(path, headers={"authorization": f"Bearer {patient.access}"})
    _json_error(posted, 405, "METHOD_NOT_ALLOWED")

    # A week later it is gone: 410, and the list no longer offers it.
    clock.clock.advance(timedelta(days=7))
    patient = await patient_session(client, await _phone(uuid.UUID(_raw(patient.id))))
    _json_error(await _download(client, path, patient.access), 410, "DATA_EXPORT_EXPIRED")
    listed = data(await gql(client, EXPORTS, {"first": 5}, token=patient.access))["dataExports"]["nodes"]
    assert listed[0]["downloadPath"] is None


async def _raw_body(client: httpx.AsyncClient, path: str, token: str) -> bytes:
    """The bytes as sent (still gzip-compressed), without the client inflating them."""
    async with client.stream(
        "GET", path, headers={"authorization": f"Bearer {token}", "accept-encoding": "gzip"}
    ) as response:
        return b"".join([chunk async for chunk in response.aiter_raw()])


async def test_a_copy_in_the_making_is_not_ready_and_only_one_is_made_at_a_time(client: httpx.AsyncClient) -> None:
    patient, _ = await signed_in_patient(client)
    asked = data(await gql(client, REQUEST_EXPORT, token=patient.access))["dataExportRequest"]
    again = data(await gql(client, REQUEST_EXPORT, token=patient.access))["dataExportRequest"]
    assert again["export"] is None and [e["code"] for e in again["errors"]] == ["DATA_EXPORT_RUNNING"]
    path = f"/privacy/exports/{_raw(asked['export']['id'])}"
    _json_error(await _download(client, path, patient.access), 409, "DATA_EXPORT_NOT_READY")


async def test_only_patients_ask_for_and_list_copies(client: httpx.AsyncClient) -> None:
    doctor = await staff_session(client, "doc-export@example.cn", ["doctor"])
    asked = data(await gql(client, REQUEST_EXPORT, token=doctor.access))["dataExportRequest"]
    assert [e["code"] for e in asked["errors"]] == ["PERMISSION_DENIED"]
    assert _error_code(await gql(client, EXPORTS, {"first": 5}, token=doctor.access)) == "PERMISSION_DENIED"
    anonymous = data(await gql(client, REQUEST_EXPORT))["dataExportRequest"]
    assert [e["code"] for e in anonymous["errors"]] == ["NOT_AUTHENTICATED"]
    assert _error_code(await gql(client, EXPORTS, {"first": 5})) == "NOT_AUTHENTICATED"
    patient, _ = await signed_in_patient(client)
    assert _error_code(await gql(client, EXPORTS, {"first": 1000}, token=patient.access)) == "PAGE_SIZE_INVALID"


async def test_a_patient_asks_for_erasure_and_may_take_it_back(client: httpx.AsyncClient) -> None:
    patient, _ = await signed_in_patient(client)
    asked = data(await gql(client, REQUEST_ERASURE, {"posts": "DELETE"}, token=patient.access))["erasureRequest"]
    assert asked["errors"] == []
    request = asked["request"]
    assert (request["status"], request["posts"], request["overdue"], request["runEarly"], request["steps"]) == (
        "SCHEDULED",
        "DELETE",
        False,
        False,
        [],
    )
    again = data(await gql(client, REQUEST_ERASURE, {"posts": "ANONYMISE"}, token=patient.access))["erasureRequest"]
    assert [e["code"] for e in again["errors"]] == ["ERASURE_ALREADY_REQUESTED"]
    mine = data(await gql(client, MINE, token=patient.access))["myErasureRequest"]
    assert (mine["id"], mine["status"]) == (request["id"], "SCHEDULED")

    # Another patient cannot see or take it back; bad ids are typed errors.
    other, _ = await signed_in_patient(client)
    refused = data(await gql(client, CANCEL, {"id": request["id"]}, token=other.access))["erasureCancel"]
    assert [e["code"] for e in refused["errors"]] == ["ERASURE_NOT_FOUND"]
    assert data(await gql(client, NODE_ERASURE, {"id": request["id"]}, token=other.access))["node"] is None
    assert data(await gql(client, MINE, token=other.access))["myErasureRequest"] is None
    for bad in ("nonsense", to_global_id("Post", uuid.uuid4()), "A" * 5000):
        wrong = data(await gql(client, CANCEL, {"id": bad}, token=patient.access))["erasureCancel"]
        assert [e["code"] for e in wrong["errors"]] == ["ID_INVALID"]
    assert _error_code(await gql(client, CANCEL, {"id": "\x00\x00"}, token=patient.access)) == "INVALID_STRING"
    invalid = await gql(client, REQUEST_ERASURE, {"posts": "BURN"}, token=patient.access)
    assert invalid["errors"] and invalid.get("data") is None

    cancelled = data(await gql(client, CANCEL, {"id": request["id"]}, token=patient.access))["erasureCancel"]
    assert cancelled["errors"] == [] and cancelled["request"]["status"] == "CANCELLED"
    twice = data(await gql(client, CANCEL, {"id": request["id"]}, token=patient.access))["erasureCancel"]
    assert [e["code"] for e in twice["errors"]] == ["ERASURE_NOT_CANCELLABLE"]
    clock.clock.advance(timedelta(days=8))
    assert await erasure.enqueue_due() == 0
    patient = await patient_session(client, await _phone(uuid.UUID(_raw(patient.id))))  # still a member
    assert data(await gql(client, ME, token=patient.access))["me"]["nickname"] != "已注销用户"


async def test_staff_cannot_ask_for_erasure_and_only_admins_list_and_run_them(client: httpx.AsyncClient) -> None:
    patient, _ = await signed_in_patient(client)
    request = data(await gql(client, REQUEST_ERASURE, {"posts": "ANONYMISE"}, token=patient.access))["erasureRequest"][
        "request"
    ]
    doctor = await staff_session(client, "doc-erasure@example.cn", ["doctor"])
    asked = data(await gql(client, REQUEST_ERASURE, {"posts": "DELETE"}, token=doctor.access))["erasureRequest"]
    assert [e["code"] for e in asked["errors"]] == ["PERMISSION_DENIED"]
    for who in (doctor, patient):
        assert _error_code(await gql(client, LIST, {"first": 10}, token=who.access)) == "PERMISSION_DENIED"
        ran = data(await gql(client, RUN_NOW, {"id": request["id"]}, token=who.access))["erasureRunNow"]
        assert [e["code"] for e in ran["errors"]] == ["PERMISSION_DENIED"]
    assert _error_code(await gql(client, LIST, {"first": 10})) == "NOT_AUTHENTICATED"
    assert _error_code(await gql(client, MINE)) == "NOT_AUTHENTICATED"
    assert _error_code(await gql(client, MINE, token=doctor.access)) == "PERMISSION_DENIED"
    admin = await staff_session(client, "admin-erasure@example.cn", ["admin"])
    missing = data(await gql(client, RUN_NOW, {"id": to_global_id("ErasureRequest", uuid.uuid4())}, token=admin.access))
    assert [e["code"] for e in missing["erasureRunNow"]["errors"]] == ["ERASURE_NOT_FOUND"]


async def test_after_erasure_the_old_token_fails_the_phone_signs_up_anew_and_posts_read_as_erased(
    client: httpx.AsyncClient,
) -> None:
    patient, pid = await signed_in_patient(client)
    phone = await _phone(pid)
    rich = await rich_patient(pid)
    patient = await patient_session(client, phone)  # signed in again after the day rich_patient moved on
    request = data(await gql(client, REQUEST_ERASURE, {"posts": "ANONYMISE"}, token=patient.access))["erasureRequest"][
        "request"
    ]
    admin = await staff_session(client, "admin-run@example.cn", ["admin"])
    listed = data(await gql(client, LIST, {"status": "SCHEDULED", "first": 10}, token=admin.access))
    assert [r["id"] for r in listed["erasureRequests"]["nodes"]] == [request["id"]]

    ran = data(await gql(client, RUN_NOW, {"id": request["id"]}, token=admin.access))["erasureRunNow"]
    assert ran["errors"] == [] and ran["request"]["runEarly"] is True
    assert await erasure.run_erasure(uuid.UUID(_raw(request["id"]))) == "done"  # what the worker runs

    # The old tokens are dead; the phone number opens a new, empty account.
    refused = await gql(client, ME, token=patient.access, expect_status=401)
    assert _error_code(refused) == "ACCESS_TOKEN_REVOKED"
    refreshed = data(await gql(client, REFRESH, {"t": patient.refresh}))["authRefresh"]
    assert [e["code"] for e in refreshed["errors"]] == ["REFRESH_TOKEN_INVALID"]
    _json_error(
        await _download(client, "/privacy/exports/" + str(uuid.uuid4()), patient.access), 401, "ACCESS_TOKEN_REVOKED"
    )
    clock.clock.advance(timedelta(minutes=2))  # one sign-in code a minute per phone
    fresh = await patient_session(client, phone)
    assert fresh.id != patient.id
    me = data(await gql(client, ME, token=fresh.access))["me"]
    assert me["id"] == fresh.id and me["nickname"] != "已注销用户"

    # Their post stays, its author now reads as 已注销用户 (anonymised, as chosen).
    post = data(await gql(client, POST, {"id": to_global_id("Post", rich.post)}, token=fresh.access))["node"]
    assert post is not None and post["author"]["displayName"] == "已注销用户"

    # Admins read the audit: each step with its time and counts; the request is done within its limit.
    done = data(await gql(client, LIST, {"first": 10}, token=admin.access))["erasureRequests"]["nodes"]
    [row] = [r for r in done if r["id"] == request["id"]]
    assert (row["status"], row["overdue"], row["runEarly"]) == ("DONE", False, True)
    assert row["patient"]["nickname"] == "已注销用户" and row["patientId"] == to_global_id("Patient", pid)
    assert [s["name"] for s in row["steps"]] == [
        "account",
        "consents",
        "registrations",
        "memberships",
        "community",
        "health",
        "care",
        "messages",
        "points",
    ]
    counts = {s["name"]: s["counts"] for s in row["steps"]}
    assert counts["health"] == {"conditions": 1, "check_ins": 1}
    assert counts["points"]["vouchers"] == 1 and counts["points"]["available"] > 0
    assert data(await gql(client, NODE_ERASURE, {"id": request["id"]}, token=admin.access))["node"]["status"] == "DONE"
    overdue = data(await gql(client, LIST, {"overdue": True, "first": 10}, token=admin.access))
    assert overdue["erasureRequests"]["nodes"] == []
    again = data(await gql(client, RUN_NOW, {"id": request["id"]}, token=admin.access))["erasureRunNow"]
    assert [e["code"] for e in again["errors"]] == ["ERASURE_NOT_RUNNABLE"]
    await check_ledger_invariants()
