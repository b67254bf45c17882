"""Practising credentials through the real schema over HTTP, with signed-in staff: an admin records,
another admin verifies (nobody their own), and only then may a moderator make the doctor a group
expert; the badge and answerVerify follow the credential's validity now (a moved clock takes both);
revocation drops the role; the lists are for admins and the doctor's own view; bad inputs get codes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from api.relay import to_global_id
from core import clock
from tests.factories import make_group, member_of
from tests.support import STAFF_PASSWORD, STAFF_SIGN_IN, Session, data, gql, signed_in_patient, staff_session

RECORD = """mutation($s: ID!, $n: String!, $i: String!, $sp: String!, $e: String!, $x: DateTime!) {
  staffCredentialRecord(input: {staffId: $s, certificateNumber: $n, institution: $i, specialty: $sp,
                                evidenceKey: $e, expiresAt: $x}) {
    credential { id certificateNumber institution specialty evidenceKey status validNow expiresAt
                 staff { id } verifiedBy { id } }
    errors { field code } } }"""
VERIFY = """mutation($c: ID!) { staffCredentialVerify(input: {credentialId: $c}) {
  credential { id status validNow verifiedAt verifiedBy { id } } errors { field code } } }"""
REVOKE = """mutation($c: ID!, $r: String!) { staffCredentialRevoke(input: {credentialId: $c, reason: $r}) {
  credential { id status revokedAt revocationReason } errors { field code } } }"""
LIST = """query($s: CredentialStatus, $d: Int, $staff: ID, $first: Int) {
  staffCredentials(status: $s, expiringWithinDays: $d, staffId: $staff, first: $first) {
    edges { node { id status staff { id } } } } }"""
MINE = "{ myCredentials { id status validNow institution expiresAt } }"
NODE = "query($id: ID!) { node(id: $id) { ... on StaffCredential { id certificateNumber } } }"
SET_ROLE = """mutation($g: ID!, $a: ID!, $r: MemberRole!) {
  groupSetRole(input: {groupId: $g, accountId: $a, role: $r}) { role errors { field code } } }"""
POST = """mutation($g: ID!, $kind: PostKind!, $title: String!, $body: String!) {
  postCreate(input: {groupId: $g, kind: $kind, title: $title, body: $body}) { post { id } errors { code } } }"""
COMMENT = """mutation($p: ID!, $body: String!) {
  commentCreate(input: {postId: $p, body: $body}) { comment { id author { isExpert } } errors { code } } }"""
ANSWER_VERIFY = """mutation($p: ID!, $c: ID!) { answerVerify(input: {postId: $p, commentId: $c}) {
  post { id verifiedAnswerAt verifiedAnswer { id author { isExpert } } } errors { field code } } }"""
POST_NODE = """query($id: ID!) { node(id: $id) { ... on Post { id verifiedAnswerAt author { isExpert isStaff }
  verifiedAnswer { id author { isExpert } } } } }"""
FEED = """query($slug: String!) { group(slug: $slug) { feed { posts { edges { node { id verifiedAnswerAt
  author { isExpert isStaff } } } } } } }"""
MEMBERS = """query($slug: String!) { group(slug: $slug) { members { edges { node { role } } } } }"""


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def _expiry(days: int) -> str:
    return (clock.now() + timedelta(days=days)).isoformat()


def _credential(staff_gid: str, days: int = 30, **changes: Any) -> dict[str, Any]:
    return {
        "s": staff_gid,
        "n": f"{uuid.uuid4().int % 10**15:015d}",
        "i": "康宁医院总院区",
        "sp": "内分泌科",
        "e": "credentials/2025/scan-01.pdf",
        "x": _expiry(days),
        **changes,
    }


async def _sign_in_again(client: Any, email: str) -> str:
    """A new access token (the old one lapsed when the clock moved on by days)."""
    signed = data(await gql(client, STAFF_SIGN_IN, {"email": email, "password": STAFF_PASSWORD}))["authStaffSignIn"]
    assert signed["errors"] == [], signed
    return str(signed["tokens"]["accessToken"])


async def _post(client: Any, token: str, gid: str, kind: str, title: str) -> str:
    created = data(await gql(client, POST, {"g": gid, "kind": kind, "title": title, "body": title}, token=token))
    assert created["postCreate"]["errors"] == [], created
    return str(created["postCreate"]["post"]["id"])


async def _recorded_and_verified(client: Any, admin: Session, checker: Session, staff_gid: str, days: int) -> str:
    recorded = data(await gql(client, RECORD, _credential(staff_gid, days), token=admin.access))
    credential_id = recorded["staffCredentialRecord"]["credential"]["id"]
    verified = data(await gql(client, VERIFY, {"c": credential_id}, token=checker.access))["staffCredentialVerify"]
    assert verified["errors"] == [] and verified["credential"]["status"] == "VERIFIED", verified
    return str(credential_id)


async def test_admin_records_another_admin_verifies_then_the_doctor_may_be_made_expert(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    checker = await staff_session(client, _email("checker"), ["admin"])
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    group_id = await make_group()
    gid = to_global_id("Group", group_id)

    without = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert codes(without["groupSetRole"]) == ["CREDENTIAL_REQUIRED"]
    assert without["groupSetRole"]["errors"][0]["field"] == "accountId"

    recorded = data(await gql(client, RECORD, _credential(doctor.id, n="110310000555555"), token=admin.access))
    payload = recorded["staffCredentialRecord"]
    assert payload["errors"] == [], payload
    credential = payload["credential"]
    assert credential["status"] == "PENDING" and credential["validNow"] is False
    assert credential["staff"]["id"] == doctor.id and credential["verifiedBy"] is None
    pending = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert codes(pending["groupSetRole"]) == ["CREDENTIAL_REQUIRED"]

    # The doctor, the moderator and a patient may not verify; the doctor sees their own, pending.
    patient, _ = await signed_in_patient(client)
    for not_admin in (doctor, moderator, patient):
        refused = data(await gql(client, VERIFY, {"c": credential["id"]}, token=not_admin.access))
        assert codes(refused["staffCredentialVerify"]) == ["PERMISSION_DENIED"]
    mine = data(await gql(client, MINE, token=doctor.access))["myCredentials"]
    assert [(c["id"], c["status"]) for c in mine] == [(credential["id"], "PENDING")]

    verified = data(await gql(client, VERIFY, {"c": credential["id"]}, token=checker.access))["staffCredentialVerify"]
    assert verified["errors"] == [] and verified["credential"]["status"] == "VERIFIED"
    assert verified["credential"]["validNow"] is True and verified["credential"]["verifiedBy"]["id"] == checker.id
    again = data(await gql(client, VERIFY, {"c": credential["id"]}, token=checker.access))["staffCredentialVerify"]
    assert codes(again) == ["CREDENTIAL_NOT_PENDING"]

    made = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert made["groupSetRole"] == {"role": "EXPERT", "errors": []}

    # Admins and the doctor read the credential by id; other staff do not.
    for reader in (admin, doctor):
        node = data(await gql(client, NODE, {"id": credential["id"]}, token=reader.access))["node"]
        assert node == {"id": credential["id"], "certificateNumber": "110310000555555"}
    assert data(await gql(client, NODE, {"id": credential["id"]}, token=moderator.access))["node"] is None


async def test_nobody_verifies_their_own_credential(client: Any) -> None:
    admin_doctor = await staff_session(client, _email("admin-doc"), ["admin", "doctor"])
    other_admin = await staff_session(client, _email("admin"), ["admin"])
    recorded = data(await gql(client, RECORD, _credential(admin_doctor.id), token=admin_doctor.access))
    credential_id = recorded["staffCredentialRecord"]["credential"]["id"]
    own = data(await gql(client, VERIFY, {"c": credential_id}, token=admin_doctor.access))["staffCredentialVerify"]
    assert codes(own) == ["CREDENTIAL_SELF_VERIFY"] and own["credential"] is None
    by_other = data(await gql(client, VERIFY, {"c": credential_id}, token=other_admin.access))
    assert by_other["staffCredentialVerify"]["credential"]["status"] == "VERIFIED"


async def test_expiry_takes_the_badge_and_answer_verification_but_keeps_the_dated_mark(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    checker = await staff_session(client, _email("checker"), ["admin"])
    moderator_email = _email("mod")
    moderator = await staff_session(client, moderator_email, ["moderator"])
    doctor_email = _email("doc")
    doctor = await staff_session(client, doctor_email, ["doctor"])
    slug = f"cred-{uuid.uuid4().hex[:8]}"
    group_id = await make_group(slug)
    gid = to_global_id("Group", group_id)
    await _recorded_and_verified(client, admin, checker, doctor.id, days=2)
    made = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert made["groupSetRole"]["errors"] == []

    asker, asker_id = await signed_in_patient(client)
    await member_of(group_id, asker_id)

    def answer(token: str, post_id: str) -> Any:
        return gql(client, COMMENT, {"p": post_id, "body": "建议复查糖化血红蛋白。"}, token=token)

    first = await _post(client, asker.access, gid, "QUESTION", "空腹血糖7.2要紧吗？")
    first_answer = data(await answer(doctor.access, first))["commentCreate"]["comment"]
    assert first_answer["author"] == {"isExpert": True}
    marked = data(await gql(client, ANSWER_VERIFY, {"p": first, "c": first_answer["id"]}, token=doctor.access))
    assert marked["answerVerify"]["errors"] == [] and marked["answerVerify"]["post"]["verifiedAnswerAt"]
    marked_at = marked["answerVerify"]["post"]["verifiedAnswerAt"]
    own_post = await _post(client, doctor.access, gid, "DISCUSSION", "控糖提醒：少吃多餐")
    feed = data(await gql(client, FEED, {"slug": slug}, token=asker.access))["group"]["feed"]["posts"]["edges"]
    by_id = {e["node"]["id"]: e["node"] for e in feed}
    assert by_id[own_post]["author"] == {"isExpert": True, "isStaff": True}
    assert by_id[first]["verifiedAnswerAt"] == marked_at

    clock.clock.advance(timedelta(days=3))  # the credential lapsed; no job has run
    token = await _sign_in_again(client, doctor_email)  # the old access tokens lapsed too
    reader, reader_id = await signed_in_patient(client)
    await member_of(group_id, reader_id)
    feed = data(await gql(client, FEED, {"slug": slug}, token=reader.access))["group"]["feed"]["posts"]["edges"]
    by_id = {e["node"]["id"]: e["node"] for e in feed}
    assert by_id[own_post]["author"] == {"isExpert": False, "isStaff": True}  # the badge went with the credential
    kept = data(await gql(client, POST_NODE, {"id": first}, token=reader.access))["node"]
    assert kept["verifiedAnswer"]["id"] == first_answer["id"] and kept["verifiedAnswerAt"] == marked_at
    assert kept["verifiedAnswer"]["author"] == {"isExpert": False}

    asked = await _post(client, reader.access, gid, "QUESTION", "餐后血糖9.0呢？")
    second_answer = data(await answer(token, asked))["commentCreate"]["comment"]
    assert second_answer["author"] == {"isExpert": False}
    refused = data(await gql(client, ANSWER_VERIFY, {"p": asked, "c": second_answer["id"]}, token=token))
    assert codes(refused["answerVerify"]) == ["CREDENTIAL_EXPIRED"] and refused["answerVerify"]["post"] is None
    moderator_token = await _sign_in_again(client, moderator_email)
    expired = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator_token))
    assert codes(expired["groupSetRole"]) == ["CREDENTIAL_EXPIRED"]
    mine = data(await gql(client, MINE, token=token))["myCredentials"]
    assert [(c["status"], c["validNow"]) for c in mine] == [("EXPIRED", False)]


async def test_revocation_drops_the_expert_role_at_once(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    checker = await staff_session(client, _email("checker"), ["admin"])
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    doctor = await staff_session(client, _email("doc"), ["health_manager"])
    slug = f"rev-{uuid.uuid4().hex[:8]}"
    gid = to_global_id("Group", await make_group(slug))
    credential_id = await _recorded_and_verified(client, admin, checker, doctor.id, days=365)
    made = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert made["groupSetRole"]["role"] == "EXPERT"

    for not_admin in (doctor, moderator):
        refused = data(await gql(client, REVOKE, {"c": credential_id, "r": "证书已注销"}, token=not_admin.access))
        assert codes(refused["staffCredentialRevoke"]) == ["PERMISSION_DENIED"]
    short = data(await gql(client, REVOKE, {"c": credential_id, "r": " 错 "}, token=admin.access))
    assert codes(short["staffCredentialRevoke"]) == ["REASON_REQUIRED"]
    revoked = data(await gql(client, REVOKE, {"c": credential_id, "r": "执业证书已注销"}, token=admin.access))
    payload = revoked["staffCredentialRevoke"]
    assert payload["errors"] == [] and payload["credential"]["status"] == "REVOKED"
    assert payload["credential"]["revocationReason"] == "执业证书已注销" and payload["credential"]["revokedAt"]
    roles = data(await gql(client, MEMBERS, {"slug": slug}, token=moderator.access))["group"]["members"]["edges"]
    assert [e["node"]["role"] for e in roles] == ["MEMBER"]
    twice = data(await gql(client, REVOKE, {"c": credential_id, "r": "执业证书已注销"}, token=admin.access))
    assert codes(twice["staffCredentialRevoke"]) == ["CREDENTIAL_NOT_REVOCABLE"]
    unknown = to_global_id("StaffCredential", uuid.uuid4())
    missing = data(await gql(client, REVOKE, {"c": unknown, "r": "执业证书已注销"}, token=admin.access))
    assert codes(missing["staffCredentialRevoke"]) == ["CREDENTIAL_NOT_FOUND"]
    bad = data(await gql(client, REVOKE, {"c": gid, "r": "执业证书已注销"}, token=admin.access))
    assert codes(bad["staffCredentialRevoke"]) == ["ID_INVALID"]


async def test_admins_list_credentials_by_status_and_expiry_and_others_may_not(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    checker = await staff_session(client, _email("checker"), ["admin"])
    soon = await staff_session(client, _email("soon"), ["doctor"])
    later = await staff_session(client, _email("later"), ["doctor"])
    waiting = await staff_session(client, _email("wait"), ["doctor"])
    await _recorded_and_verified(client, admin, checker, soon.id, days=10)
    await _recorded_and_verified(client, admin, checker, later.id, days=300)
    data(await gql(client, RECORD, _credential(waiting.id), token=admin.access))

    async def listed(**variables: Any) -> list[tuple[str, str]]:
        page = data(await gql(client, LIST, {"first": 50, **variables}, token=admin.access))["staffCredentials"]
        return [(e["node"]["staff"]["id"], e["node"]["status"]) for e in page["edges"]]

    assert await listed(d=30) == [(soon.id, "VERIFIED")]
    assert await listed(d=365) == [(soon.id, "VERIFIED"), (later.id, "VERIFIED")]
    assert await listed(s="PENDING") == [(waiting.id, "PENDING")]
    assert await listed(staff=later.id) == [(later.id, "VERIFIED")]
    assert len(await listed()) == 3

    for bad_days in (0, 3651, -1):
        refused = await gql(client, LIST, {"d": bad_days}, token=admin.access)
        assert refused["errors"][0]["extensions"]["code"] == "CREDENTIAL_DAYS_INVALID"
    for not_admin in (soon, await staff_session(client, _email("mod"), ["moderator"])):
        refused = await gql(client, LIST, {"first": 5}, token=not_admin.access)
        assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, LIST, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    patient, _ = await signed_in_patient(client)
    not_staff = await gql(client, MINE, token=patient.access)
    assert not_staff["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"


async def test_bad_inputs_get_typed_codes(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    nurse = await staff_session(client, _email("nurse"), ["clinic_staff"])

    async def record(**changes: Any) -> list[tuple[str | None, str]]:
        payload = data(await gql(client, RECORD, _credential(doctor.id, **changes), token=admin.access))
        return [(e["field"], e["code"]) for e in payload["staffCredentialRecord"]["errors"]]

    assert await record(n="ABC-123") == [("certificateNumber", "CREDENTIAL_NUMBER_INVALID")]
    assert await record(n="1" * 100_000) == [("certificateNumber", "CREDENTIAL_NUMBER_INVALID")]
    assert await record(i="康" * 5_000, sp="内") == [
        ("institution", "CREDENTIAL_INSTITUTION_LENGTH"),
        ("specialty", "CREDENTIAL_SPECIALTY_LENGTH"),
    ]
    assert await record(e="https://files.example.com/cert.pdf") == [("evidenceKey", "CREDENTIAL_EVIDENCE_INVALID")]
    assert await record(e="../secret/cert.pdf") == [("evidenceKey", "CREDENTIAL_EVIDENCE_INVALID")]
    assert await record(x=_expiry(-1)) == [("expiresAt", "CREDENTIAL_EXPIRY_INVALID")]
    assert await record(x=_expiry(4000)) == [("expiresAt", "CREDENTIAL_EXPIRY_INVALID")]
    assert await record(s=to_global_id("Group", uuid.uuid4())) == [("staffId", "ID_INVALID")]
    assert await record(s=to_global_id("Staff", uuid.uuid4())) == [("staffId", "NOT_FOUND")]
    assert await record(s=nurse.id) == [("staffId", "CREDENTIAL_ROLE_NOT_CLINICAL")]
    null_byte = await gql(client, RECORD, _credential(doctor.id, n="110310\x00000123"), token=admin.access)
    assert null_byte["errors"][0]["extensions"]["code"] == "INVALID_STRING"
    by_doctor = data(await gql(client, RECORD, _credential(doctor.id), token=doctor.access))
    assert codes(by_doctor["staffCredentialRecord"]) == ["PERMISSION_DENIED"]
    verify_bad = data(await gql(client, VERIFY, {"c": "not-a-global-id"}, token=admin.access))
    assert codes(verify_bad["staffCredentialVerify"]) == ["ID_INVALID"]
