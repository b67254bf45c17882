"""Groups, posts, answers, reactions and waitlist offers through the real schema over HTTP, with real
signed-in patients and staff: who may do each thing, who may not (the typed code in the payload), and
malformed ids."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from api.relay import from_global_id, to_global_id
from community import events
from core import clock
from core.db import unit_of_work
from core.identity import Role
from tests.factories import as_patient, make_group, member_of, staff, verified_credential
from tests.support import data, gql, membership_gid, signed_in_patient, staff_session

GROUP_CREATE = """mutation($slug: String!, $name: String!, $v: GroupVisibility!, $j: JoinPolicy!, $cover: String) {
  groupCreate(input: {slug: $slug, name: $name, visibility: $v, joinPolicy: $j, coverUrl: $cover}) {
    group { id slug name visibility joinPolicy memberCount } errors { field code } } }"""
JOIN = """mutation($g: ID!) { groupJoin(input: {groupId: $g}) { state role errors { code } } }"""
LEAVE = """mutation($g: ID!) { groupLeave(input: {groupId: $g}) { state role errors { field code } } }"""
DECIDE = """mutation($m: ID!, $ok: Boolean!) {
  groupRequestDecide(input: {membershipId: $m, approve: $ok, reason: "核对通过"}) {
    state role errors { field code } } }"""
INVITE = """mutation($g: ID!, $p: ID!) { groupInvite(input: {groupId: $g, patientId: $p}) {
  state role errors { field code } } }"""
SET_ROLE = """mutation($g: ID!, $a: ID!, $r: MemberRole!) {
  groupSetRole(input: {groupId: $g, accountId: $a, role: $r}) { state role errors { field code } } }"""
POST = """mutation($g: ID!, $kind: PostKind!, $title: String!, $body: String!) {
  postCreate(input: {groupId: $g, kind: $kind, title: $title, body: $body}) {
    post { id status } errors { code } } }"""
COMMENT = """mutation($p: ID!, $body: String!) {
  commentCreate(input: {postId: $p, body: $body}) { comment { id status } errors { code } } }"""
DELETE = """mutation($p: ID!) { postDelete(input: {postId: $p}) { post { id status } errors { field code } } }"""
FLAGS = """mutation($p: ID!, $pinned: Boolean, $locked: Boolean) {
  postSetFlags(input: {postId: $p, pinned: $pinned, locked: $locked, reason: "精华"}) {
    post { id pinned locked } errors { field code } } }"""
REACT = """mutation($t: ID!, $k: ReactionKind!, $on: Boolean!) {
  react(input: {targetId: $t, kind: $k, on: $on}) { ok errors { field code } } }"""
POST_NODE = """query($id: ID!) { node(id: $id) { ... on Post { id reactionCounts { like helpful hug }
  viewerReactions verifiedAnswer { id } acceptedAnswer { id } } } }"""
VERIFY = """mutation($p: ID!, $c: ID!) { answerVerify(input: {postId: $p, commentId: $c}) {
  post { id verifiedAnswer { id } } errors { field code } } }"""
ACCEPT = """mutation($p: ID!, $c: ID!) { answerAccept(input: {postId: $p, commentId: $c}) {
  post { id acceptedAnswer { id } } errors { field code } } }"""
OFFER_ACCEPT = """mutation($e: ID!) { eventOfferAccept(input: {eventId: $e}) {
  rsvp { status } errors { field code } } }"""

BAD_ID = "not-a-global-id"


def _uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _slug() -> str:
    return f"h-{uuid.uuid4().hex[:10]}"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def _staff_uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None and decoded[0] == "Staff"
    return uuid.UUID(decoded[1])


async def _post(client: Any, token: str, group_id: uuid.UUID, kind: str = "DISCUSSION") -> str:
    created = data(
        await gql(
            client,
            POST,
            {"g": to_global_id("Group", group_id), "kind": kind, "title": "空腹血糖", "body": "早餐吃什么好？"},
            token=token,
        )
    )["postCreate"]
    assert created["errors"] == [] and created["post"]["status"] == "PUBLISHED", created
    return str(created["post"]["id"])


async def _comment(client: Any, token: str, post_id: str, body: str = "燕麦加鸡蛋，血糖平稳。") -> str:
    created = data(await gql(client, COMMENT, {"p": post_id, "body": body}, token=token))["commentCreate"]
    assert created["errors"] == [] and created["comment"]["status"] == "PUBLISHED", created
    return str(created["comment"]["id"])


# --- groupCreate ----------------------------------------------------------------------------------


async def test_group_create_by_a_moderator_and_not_by_a_patient_or_a_doctor(client: Any) -> None:
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    slug = _slug()
    variables = {"slug": slug, "name": "控糖互助群", "v": "PUBLIC", "j": "OPEN"}
    made = data(await gql(client, GROUP_CREATE, variables, token=moderator.access))["groupCreate"]
    assert made["errors"] == []
    assert made["group"]["slug"] == slug and made["group"]["visibility"] == "PUBLIC"
    assert made["group"]["joinPolicy"] == "OPEN" and made["group"]["memberCount"] == 0

    again = data(await gql(client, GROUP_CREATE, variables, token=moderator.access))["groupCreate"]
    assert codes(again) == ["GROUP_SLUG_TAKEN"] and again["group"] is None

    patient, _ = await signed_in_patient(client)
    other = {**variables, "slug": _slug()}
    by_patient = data(await gql(client, GROUP_CREATE, other, token=patient.access))["groupCreate"]
    assert codes(by_patient) == ["PERMISSION_DENIED"] and by_patient["group"] is None
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    by_doctor = data(await gql(client, GROUP_CREATE, other, token=doctor.access))["groupCreate"]
    assert codes(by_doctor) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, GROUP_CREATE, other))["groupCreate"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]


async def test_group_create_reports_every_bad_field_at_once(client: Any) -> None:
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    bad = {"slug": "A!", "name": "x" * 61, "v": "SECRET", "j": "OPEN", "cover": "http://img.example.cn/a.png"}
    refused = data(await gql(client, GROUP_CREATE, bad, token=marketer.access))["groupCreate"]
    assert refused["group"] is None
    assert sorted(codes(refused)) == sorted(["SLUG_INVALID", "NAME_LENGTH", "SECRET_NEEDS_INVITE", "URL_INVALID"])
    assert {e["field"] for e in refused["errors"]} == {"slug", "name", "joinPolicy", "coverUrl"}


# --- groupLeave -----------------------------------------------------------------------------------


async def test_group_leave_by_a_member_and_not_by_an_outsider(client: Any) -> None:
    group_id = await make_group(_slug())
    gid = to_global_id("Group", group_id)
    session, patient_id = await signed_in_patient(client)
    await member_of(group_id, patient_id)
    left = data(await gql(client, LEAVE, {"g": gid}, token=session.access))["groupLeave"]
    assert left["errors"] == [] and left["state"] == "LEFT"
    twice = data(await gql(client, LEAVE, {"g": gid}, token=session.access))["groupLeave"]
    assert codes(twice) == ["NOT_A_MEMBER"]

    outsider, _ = await signed_in_patient(client)
    refused = data(await gql(client, LEAVE, {"g": gid}, token=outsider.access))["groupLeave"]
    assert codes(refused) == ["NOT_A_MEMBER"]
    bad = data(await gql(client, LEAVE, {"g": BAD_ID}, token=session.access))["groupLeave"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "groupId"
    wrong_type = data(await gql(client, LEAVE, {"g": to_global_id("Post", group_id)}, token=session.access))
    assert codes(wrong_type["groupLeave"]) == ["ID_INVALID"]


# --- groupRequestDecide ---------------------------------------------------------------------------


async def test_group_request_decide_by_a_moderator_not_by_a_member(client: Any) -> None:
    group_id = await make_group(_slug(), join_policy="approval")
    gid = to_global_id("Group", group_id)
    applicant, applicant_id = await signed_in_patient(client)
    joined = data(await gql(client, JOIN, {"g": gid}, token=applicant.access))["groupJoin"]
    assert joined["errors"] == [] and joined["state"] == "PENDING"
    request_id = await membership_gid(group_id, applicant_id)

    member, member_id = await signed_in_patient(client)
    await member_of(group_id, member_id)
    by_member = data(await gql(client, DECIDE, {"m": request_id, "ok": True}, token=member.access))
    assert codes(by_member["groupRequestDecide"]) == ["PERMISSION_DENIED"]
    by_self = data(await gql(client, DECIDE, {"m": request_id, "ok": True}, token=applicant.access))
    assert codes(by_self["groupRequestDecide"]) == ["PERMISSION_DENIED"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    approved = data(await gql(client, DECIDE, {"m": request_id, "ok": True}, token=moderator.access))
    assert approved["groupRequestDecide"]["errors"] == [] and approved["groupRequestDecide"]["state"] == "ACTIVE"
    decided = data(await gql(client, DECIDE, {"m": request_id, "ok": False}, token=moderator.access))
    assert codes(decided["groupRequestDecide"]) == ["REQUEST_NOT_FOUND"]
    bad = data(await gql(client, DECIDE, {"m": BAD_ID, "ok": True}, token=moderator.access))
    assert codes(bad["groupRequestDecide"]) == ["ID_INVALID"]


async def test_a_verified_diagnosis_group_is_decided_by_care_staff_not_by_a_moderator(client: Any) -> None:
    group_id = await make_group(_slug(), join_policy="verified")
    applicant, applicant_id = await signed_in_patient(client)
    joined = data(await gql(client, JOIN, {"g": to_global_id("Group", group_id)}, token=applicant.access))
    assert joined["groupJoin"]["state"] == "PENDING"
    request_id = await membership_gid(group_id, applicant_id)
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    refused = data(await gql(client, DECIDE, {"m": request_id, "ok": True}, token=moderator.access))
    assert codes(refused["groupRequestDecide"]) == ["PERMISSION_DENIED"]
    clinic = await staff_session(client, _email("clinic"), ["clinic_staff"])
    rejected = data(await gql(client, DECIDE, {"m": request_id, "ok": False}, token=clinic.access))
    assert rejected["groupRequestDecide"]["errors"] == [] and rejected["groupRequestDecide"]["state"] == "REJECTED"


# --- groupInvite ----------------------------------------------------------------------------------


async def test_group_invite_by_a_moderator_lets_the_patient_join_an_invite_only_group(client: Any) -> None:
    group_id = await make_group(_slug(), visibility="private", join_policy="invite")
    gid = to_global_id("Group", group_id)
    guest, guest_id = await signed_in_patient(client)
    not_yet = data(await gql(client, JOIN, {"g": gid}, token=guest.access))["groupJoin"]
    assert codes(not_yet) == ["JOIN_NOT_ALLOWED"]

    outsider, _ = await signed_in_patient(client)
    pid = to_global_id("Patient", guest_id)
    by_outsider = data(await gql(client, INVITE, {"g": gid, "p": pid}, token=outsider.access))["groupInvite"]
    assert codes(by_outsider) == ["PERMISSION_DENIED"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    invited = data(await gql(client, INVITE, {"g": gid, "p": pid}, token=moderator.access))["groupInvite"]
    assert invited["errors"] == [] and invited["state"] == "INVITED" and invited["role"] == "MEMBER"
    now_in = data(await gql(client, JOIN, {"g": gid}, token=guest.access))["groupJoin"]
    assert now_in["errors"] == [] and now_in["state"] == "ACTIVE"

    bad = data(await gql(client, INVITE, {"g": gid, "p": BAD_ID}, token=moderator.access))["groupInvite"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "patientId"


# --- groupSetRole ---------------------------------------------------------------------------------


async def test_group_set_role_by_a_staff_moderator_and_then_by_the_owner_not_by_a_member(client: Any) -> None:
    group_id = await make_group(_slug())
    gid = to_global_id("Group", group_id)
    owner, owner_id = await signed_in_patient(client)
    await member_of(group_id, owner_id)
    member, member_id = await signed_in_patient(client)
    await member_of(group_id, member_id)

    by_member = data(
        await gql(
            client, SET_ROLE, {"g": gid, "a": to_global_id("Patient", owner_id), "r": "MODERATOR"}, token=member.access
        )
    )["groupSetRole"]
    assert codes(by_member) == ["PERMISSION_DENIED"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    made_owner = data(
        await gql(
            client, SET_ROLE, {"g": gid, "a": to_global_id("Patient", owner_id), "r": "OWNER"}, token=moderator.access
        )
    )["groupSetRole"]
    assert made_owner["errors"] == [] and made_owner["role"] == "OWNER"
    by_owner = data(
        await gql(
            client, SET_ROLE, {"g": gid, "a": to_global_id("Patient", member_id), "r": "MODERATOR"}, token=owner.access
        )
    )["groupSetRole"]
    assert by_owner["errors"] == [] and by_owner["role"] == "MODERATOR" and by_owner["state"] == "ACTIVE"

    bad = data(await gql(client, SET_ROLE, {"g": gid, "a": gid, "r": "EXPERT"}, token=owner.access))["groupSetRole"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "accountId"


# --- postDelete -----------------------------------------------------------------------------------


async def test_post_delete_by_its_author_only(client: Any) -> None:
    group_id = await make_group(_slug())
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    post_id = await _post(client, author.access, group_id)

    other, other_id = await signed_in_patient(client)
    await member_of(group_id, other_id)
    refused = data(await gql(client, DELETE, {"p": post_id}, token=other.access))["postDelete"]
    assert codes(refused) == ["POST_NOT_FOUND"] and refused["post"] is None
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    by_moderator = data(await gql(client, DELETE, {"p": post_id}, token=moderator.access))["postDelete"]
    assert codes(by_moderator) == ["POST_NOT_FOUND"]  # moderators remove through the queue, not here

    deleted = data(await gql(client, DELETE, {"p": post_id}, token=author.access))["postDelete"]
    assert deleted["errors"] == [] and deleted["post"]["status"] == "REMOVED"
    bad = data(await gql(client, DELETE, {"p": BAD_ID}, token=author.access))["postDelete"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "postId"


# --- postSetFlags ---------------------------------------------------------------------------------


async def test_post_set_flags_by_a_moderator_and_not_by_the_author(client: Any) -> None:
    group_id = await make_group(_slug())
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    post_id = await _post(client, author.access, group_id)

    by_author = data(await gql(client, FLAGS, {"p": post_id, "pinned": True}, token=author.access))["postSetFlags"]
    assert codes(by_author) == ["PERMISSION_DENIED"]
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    by_marketer = data(await gql(client, FLAGS, {"p": post_id, "locked": True}, token=marketer.access))
    assert codes(by_marketer["postSetFlags"]) == ["PERMISSION_DENIED"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    flagged = data(await gql(client, FLAGS, {"p": post_id, "pinned": True, "locked": True}, token=moderator.access))[
        "postSetFlags"
    ]
    assert flagged["errors"] == [] and flagged["post"]["pinned"] is True and flagged["post"]["locked"] is True
    locked_out = data(await gql(client, COMMENT, {"p": post_id, "body": "同意"}, token=author.access))
    assert codes(locked_out["commentCreate"]) == ["POST_LOCKED"]
    missing = to_global_id("Post", uuid.uuid4())
    gone = data(await gql(client, FLAGS, {"p": missing, "pinned": False}, token=moderator.access))["postSetFlags"]
    assert codes(gone) == ["POST_NOT_FOUND"]


# --- react ----------------------------------------------------------------------------------------


async def test_react_on_and_off_by_a_member_not_by_an_outsider(client: Any) -> None:
    group_id = await make_group(_slug())
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    post_id = await _post(client, author.access, group_id)
    fan, fan_id = await signed_in_patient(client)
    await member_of(group_id, fan_id)

    for _ in range(2):  # reacting twice is harmless
        liked = data(await gql(client, REACT, {"t": post_id, "k": "LIKE", "on": True}, token=fan.access))["react"]
        assert liked == {"ok": True, "errors": []}
    seen = data(await gql(client, POST_NODE, {"id": post_id}, token=fan.access))["node"]
    assert seen["reactionCounts"]["like"] == 1 and seen["viewerReactions"] == ["LIKE"]
    off = data(await gql(client, REACT, {"t": post_id, "k": "LIKE", "on": False}, token=fan.access))["react"]
    assert off == {"ok": True, "errors": []}
    seen = data(await gql(client, POST_NODE, {"id": post_id}, token=fan.access))["node"]
    assert seen["reactionCounts"]["like"] == 0 and seen["viewerReactions"] == []

    outsider, _ = await signed_in_patient(client)  # a public group: may read, may not take part
    refused = data(await gql(client, REACT, {"t": post_id, "k": "HUG", "on": True}, token=outsider.access))
    assert codes(refused["react"]) == ["NOT_A_MEMBER"] and refused["react"]["ok"] is False
    bad = data(
        await gql(client, REACT, {"t": to_global_id("Group", group_id), "k": "HUG", "on": True}, token=fan.access)
    )
    assert codes(bad["react"]) == ["ID_INVALID"] and bad["react"]["errors"][0]["field"] == "targetId"


# --- answerVerify / answerAccept ------------------------------------------------------------------


async def test_answer_accept_by_the_asker_only(client: Any) -> None:
    group_id = await make_group(_slug())
    asker, asker_id = await signed_in_patient(client)
    await member_of(group_id, asker_id)
    helper, helper_id = await signed_in_patient(client)
    await member_of(group_id, helper_id)
    question = await _post(client, asker.access, group_id, kind="QUESTION")
    answer = await _comment(client, helper.access, question)

    by_helper = data(await gql(client, ACCEPT, {"p": question, "c": answer}, token=helper.access))["answerAccept"]
    assert codes(by_helper) == ["PERMISSION_DENIED"]
    accepted = data(await gql(client, ACCEPT, {"p": question, "c": answer}, token=asker.access))["answerAccept"]
    assert accepted["errors"] == [] and accepted["post"]["acceptedAnswer"]["id"] == answer

    discussion = await _post(client, asker.access, group_id)
    reply = await _comment(client, helper.access, discussion)
    not_question = data(await gql(client, ACCEPT, {"p": discussion, "c": reply}, token=asker.access))
    assert codes(not_question["answerAccept"]) == ["POST_NOT_FOUND"]
    elsewhere = data(await gql(client, ACCEPT, {"p": question, "c": reply}, token=asker.access))["answerAccept"]
    assert codes(elsewhere) == ["COMMENT_NOT_FOUND"] and elsewhere["errors"][0]["field"] == "commentId"
    bad = data(await gql(client, ACCEPT, {"p": question, "c": question}, token=asker.access))["answerAccept"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "commentId"

    # A moderator hides the accepted answer: it is no longer shown in its place (not even its id),
    # except to its own author while it waits for review.
    from sqlalchemy import update as sa_update

    from community.models import Comment

    async with unit_of_work() as session:
        await session.execute(sa_update(Comment).where(Comment.id == _uuid(answer)).values(status="hidden"))
    seen = data(await gql(client, POST_NODE, {"id": question}, token=asker.access))["node"]
    assert seen["acceptedAnswer"] is None
    async with unit_of_work() as session:
        await session.execute(sa_update(Comment).where(Comment.id == _uuid(answer)).values(status="held"))
    own = data(await gql(client, POST_NODE, {"id": question}, token=helper.access))["node"]
    assert own["acceptedAnswer"]["id"] == answer
    assert data(await gql(client, POST_NODE, {"id": question}, token=asker.access))["node"]["acceptedAnswer"] is None


async def test_answer_verify_by_a_doctor_who_is_the_group_expert_only(client: Any) -> None:
    group_id = await make_group(_slug())
    gid = to_global_id("Group", group_id)
    asker, asker_id = await signed_in_patient(client)
    await member_of(group_id, asker_id)
    question = await _post(client, asker.access, group_id, kind="QUESTION")
    doctor = await staff_session(client, _email("doc"), ["doctor"])

    # a doctor who is not the group's expert may not verify
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    as_member = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "MEMBER"}, token=moderator.access))
    assert as_member["groupSetRole"]["errors"] == []
    answer = await _comment(client, doctor.access, question, "空腹血糖6.1偏高，建议复查糖化血红蛋白。")
    not_expert = data(await gql(client, VERIFY, {"p": question, "c": answer}, token=doctor.access))["answerVerify"]
    assert codes(not_expert) == ["PERMISSION_DENIED"]
    by_asker = data(await gql(client, VERIFY, {"p": question, "c": answer}, token=asker.access))["answerVerify"]
    assert codes(by_asker) == ["PERMISSION_DENIED"]
    by_moderator = data(await gql(client, VERIFY, {"p": question, "c": answer}, token=moderator.access))
    assert codes(by_moderator["answerVerify"]) == ["PERMISSION_DENIED"]

    await verified_credential(_staff_uuid(doctor.id))  # an expert needs a verified practising credential
    expert = data(await gql(client, SET_ROLE, {"g": gid, "a": doctor.id, "r": "EXPERT"}, token=moderator.access))
    assert expert["groupSetRole"]["errors"] == [] and expert["groupSetRole"]["role"] == "EXPERT"
    verified = data(await gql(client, VERIFY, {"p": question, "c": answer}, token=doctor.access))["answerVerify"]
    assert verified["errors"] == [] and verified["post"]["verifiedAnswer"]["id"] == answer
    bad = data(await gql(client, VERIFY, {"p": BAD_ID, "c": answer}, token=doctor.access))["answerVerify"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "postId"


# --- eventOfferAccept -----------------------------------------------------------------------------


async def test_event_offer_accept_by_the_offered_patient_only(client: Any) -> None:
    now = clock.now()
    async with unit_of_work() as session:
        created = await events.create_event(
            session,
            staff(Role.MARKETER),
            events.EventInput(
                kind="offline",
                title="糖尿病饮食讲座",
                starts_at=now + timedelta(days=3),
                ends_at=now + timedelta(days=3, hours=2),
                location="门诊楼三层报告厅",
                capacity=1,
            ),
        )
    event_id = created[0].id
    eid = to_global_id("Event", event_id)
    _, first_id = await signed_in_patient(client)
    waiting, waiting_id = await signed_in_patient(client)
    bystander, bystander_id = await signed_in_patient(client)
    async with unit_of_work() as session:
        assert (await events.rsvp(session, as_patient(first_id), event_id, "going")).status == "going"
    async with unit_of_work() as session:
        assert (await events.rsvp(session, as_patient(waiting_id), event_id, "going")).status == "waitlisted"
    async with unit_of_work() as session:
        await events.rsvp(session, as_patient(bystander_id), event_id, "going")

    early = data(await gql(client, OFFER_ACCEPT, {"e": eid}, token=waiting.access))["eventOfferAccept"]
    assert codes(early) == ["OFFER_NOT_FOUND"]  # nothing offered yet
    async with unit_of_work() as session:
        await events.rsvp(session, as_patient(first_id), event_id, "declined")  # frees the seat: offered on

    by_bystander = data(await gql(client, OFFER_ACCEPT, {"e": eid}, token=bystander.access))["eventOfferAccept"]
    assert codes(by_bystander) == ["OFFER_NOT_FOUND"]
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    by_staff = data(await gql(client, OFFER_ACCEPT, {"e": eid}, token=marketer.access))["eventOfferAccept"]
    assert codes(by_staff) == ["PERMISSION_DENIED"]
    accepted = data(await gql(client, OFFER_ACCEPT, {"e": eid}, token=waiting.access))["eventOfferAccept"]
    assert accepted["errors"] == [] and accepted["rsvp"]["status"] == "GOING"
    bad = data(await gql(client, OFFER_ACCEPT, {"e": BAD_ID}, token=waiting.access))["eventOfferAccept"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "eventId"
