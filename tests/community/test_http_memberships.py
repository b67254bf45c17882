"""The moderator API gaps of issue 14.9 through the real schema over HTTP, with real signed-in patients and
staff: myGroups, pending join requests with the answer to the group's question, deciding and restricting
by group + account with the membership returned, the notification level, one unreadable group never
nulling `groups`, the Apollo-shaped `Group.posts` / `pinnedPosts`, and per-group author badges."""

from __future__ import annotations

import json
import uuid
from typing import Any

from api.relay import from_global_id, to_global_id
from community import groups
from core.db import unit_of_work
from tests.factories import MODERATOR, as_patient, make_group, member_of, next_phone, verified_credential
from tests.support import data, gql, patient_session, signed_in_patient, staff_session

GROUP_CREATE = """mutation($slug: String!, $q: String) {
  groupCreate(input: {slug: $slug, name: "乳腺康复互助群", visibility: PRIVATE, joinPolicy: APPROVAL,
    joinQuestion: $q}) { group { id slug joinQuestion } errors { field code } } }"""
JOIN = """mutation($g: ID!, $a: String, $n: String) { groupJoin(input: {groupId: $g, answer: $a, note: $n}) {
  state membership { id state joinAnswer requestedAt } errors { field code } } }"""
REQUESTS = """query($slug: String!, $first: Int, $after: String) { group(slug: $slug) { joinQuestion
  joinRequests(first: $first, after: $after) {
    __typename
    ... on MembershipConnection { edges { cursor node { id state joinAnswer note requestedAt
      member { id displayName accountId role anonymous } } } pageInfo { hasNextPage endCursor } }
    ... on AccessRefusal { code message } } } }"""
DECIDE = """mutation($m: ID, $g: ID, $a: ID, $ok: Boolean!) {
  groupRequestDecide(input: {membershipId: $m, groupId: $g, accountId: $a, approve: $ok, reason: "已核对"}) {
    state role membership { id state role joinedAt member { displayName accountId } group { slug } }
    errors { field code } } }"""
RESTRICT = """mutation($m: ID, $g: ID, $a: ID, $mute: Int) {
  memberRestrict(input: {membershipId: $m, groupId: $g, accountId: $a, reason: "刷屏", muteDays: $mute}) {
    membershipId state mutedUntil membership { id state mutedUntil member { accountId } }
    errors { field code } } }"""
MY_GROUPS = """query($first: Int, $after: String, $state: MemberState) {
  myGroups(first: $first, after: $after, state: $state) {
    edges { cursor node { id role state joinedAt notificationLevel group { slug viewerMembership { state } } } }
    pageInfo { hasNextPage endCursor } } }"""
LEVEL = """mutation($g: ID!, $level: NotificationLevel!) {
  groupNotificationLevelSet(input: {groupId: $g, level: $level}) {
    membership { id notificationLevel group { slug viewerMembership { notificationLevel } } }
    errors { field code } } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Membership { id state notificationLevel } } }"""
POST = """mutation($g: ID!, $kind: PostKind!, $title: String!, $anon: Boolean) {
  postCreate(input: {groupId: $g, kind: $kind, title: $title, body: "正文内容", anonymous: $anon}) {
    post { id status groupAuthor { id accountId isExpert role anonymous displayName } author { id isExpert } }
    errors { code } } }"""
FLAGS = (
    """mutation($p: ID!) { postSetFlags(input: {postId: $p, pinned: true}) { post { id pinned } errors { code } } }"""
)
POSTS = """query($slug: String!, $first: Int, $after: String, $kind: PostKind) { group(slug: $slug) {
  posts(first: $first, after: $after, kind: $kind) { edges { cursor node { id title kind pinned } }
    pageInfo { hasNextPage hasPreviousPage endCursor } }
  pinnedPosts { id title pinned } readRefusal { code message } } }"""
GROUPS_FEED = """query { groups(first: 100) { edges { node { slug feed { posts { edges { node { id } } } } } } } }"""
GROUPS_POSTS = """query { groups(first: 100) { edges { node { slug readRefusal { code message }
  posts(first: 5) { edges { node { id } } } pinnedPosts { id }
  joinRequests { __typename ... on AccessRefusal { code } } } } } }"""

BAD_ID = "not-a-global-id"


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _slug() -> str:
    return f"mb-{uuid.uuid4().hex[:10]}"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def _uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


async def _appoint(group_id: uuid.UUID, patient_id: uuid.UUID, role: str = "moderator") -> None:
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, group_id, account_kind="patient", account_id=patient_id, role=role)


async def _question_group(client: Any, question: str | None = "确诊多久了？目前在哪里治疗？") -> tuple[uuid.UUID, str]:
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    slug = _slug()
    made = data(await gql(client, GROUP_CREATE, {"slug": slug, "q": question}, token=moderator.access))["groupCreate"]
    assert made["errors"] == [] and made["group"]["joinQuestion"] == question
    return _uuid(made["group"]["id"]), slug


# --- the join question, joinRequests, groupRequestDecide by member ------------------------------------


async def test_join_answers_the_groups_question_and_only_its_moderators_read_the_requests(client: Any) -> None:
    group_id, slug = await _question_group(client)
    gid = to_global_id("Group", group_id)
    phone = next_phone()
    applicant = await patient_session(client, phone)

    no_answer = data(await gql(client, JOIN, {"g": gid}, token=applicant.access))["groupJoin"]
    assert codes(no_answer) == ["JOIN_ANSWER_REQUIRED"] and no_answer["errors"][0]["field"] == "answer"
    blank = data(await gql(client, JOIN, {"g": gid, "a": "   "}, token=applicant.access))["groupJoin"]
    assert codes(blank) == ["JOIN_ANSWER_REQUIRED"]
    too_long = data(await gql(client, JOIN, {"g": gid, "a": "答" * 501}, token=applicant.access))["groupJoin"]
    assert codes(too_long) == ["JOIN_ANSWER_LENGTH"]
    nul = await gql(client, JOIN, {"g": gid, "a": "确诊\x00两年"}, token=applicant.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING" and nul["data"] is None
    joined = data(
        await gql(client, JOIN, {"g": gid, "a": " 确诊两年，在本院复查 ", "n": "想交流经验"}, token=applicant.access)
    )
    payload = joined["groupJoin"]
    assert payload["errors"] == [] and payload["state"] == "PENDING"
    assert payload["membership"]["joinAnswer"] == "确诊两年，在本院复查"  # the applicant sees their own answer
    assert payload["membership"]["requestedAt"] is not None

    # the group's moderator (a patient appointed by staff) reads the request with the answer
    moderator, moderator_id = await signed_in_patient(client)
    await _appoint(group_id, moderator_id)  # (joins them too)
    seen = data(await gql(client, REQUESTS, {"slug": slug}, token=moderator.access))["group"]
    assert seen["joinQuestion"] == "确诊多久了？目前在哪里治疗？"
    requests = seen["joinRequests"]
    assert requests["__typename"] == "MembershipConnection"
    [edge] = requests["edges"]
    node = edge["node"]
    assert node["state"] == "PENDING" and node["joinAnswer"] == "确诊两年，在本院复查" and node["note"] == "想交流经验"
    assert node["member"]["displayName"].startswith("康友") and node["member"]["anonymous"] is False
    assert node["member"]["accountId"] == applicant.id and node["member"]["role"] == "MEMBER"
    assert phone not in json.dumps(seen, ensure_ascii=False)  # the nickname, never the phone

    # everyone else gets a typed refusal, not a null list
    member, member_id = await signed_in_patient(client)
    await _appoint(group_id, member_id, "member")
    by_member = data(await gql(client, REQUESTS, {"slug": slug}, token=member.access))["group"]["joinRequests"]
    assert by_member["__typename"] == "AccessRefusal" and by_member["code"] == "PERMISSION_DENIED"
    assert by_member["message"]
    by_self = data(await gql(client, REQUESTS, {"slug": slug}, token=applicant.access))["group"]["joinRequests"]
    assert by_self == {"__typename": "AccessRefusal", "code": "PERMISSION_DENIED", "message": by_self["message"]}
    anonymous = data(await gql(client, REQUESTS, {"slug": slug}))["group"]["joinRequests"]
    assert anonymous["__typename"] == "AccessRefusal" and anonymous["code"] == "NOT_AUTHENTICATED"
    other_group = await make_group(_slug())
    elsewhere, elsewhere_id = await signed_in_patient(client)
    await member_of(other_group, elsewhere_id)
    await _appoint(other_group, elsewhere_id)  # a moderator of another group
    foreign = data(await gql(client, REQUESTS, {"slug": slug}, token=elsewhere.access))["group"]["joinRequests"]
    assert foreign["__typename"] == "AccessRefusal" and foreign["code"] == "PERMISSION_DENIED"
    doctor = await staff_session(client, _email("doc"), ["doctor"])  # approval group: not care staff's call
    by_doctor = data(await gql(client, REQUESTS, {"slug": slug}, token=doctor.access))["group"]["joinRequests"]
    assert by_doctor["__typename"] == "AccessRefusal"
    admin = await staff_session(client, _email("admin"), ["admin"])
    by_admin = data(await gql(client, REQUESTS, {"slug": slug}, token=admin.access))["group"]["joinRequests"]
    assert [e["node"]["id"] for e in by_admin["edges"]] == [node["id"]]
    bad_size = await gql(client, REQUESTS, {"slug": slug, "first": 0}, token=moderator.access)
    assert bad_size["errors"][0]["extensions"]["code"] == "PAGE_SIZE_INVALID"
    bad_cursor = await gql(client, REQUESTS, {"slug": slug, "after": "bm90LWEtY3Vyc29y"}, token=moderator.access)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "CURSOR_INVALID"

    # decided by group + account: who may not, then the moderator; the membership comes back
    by_group = {"g": gid, "a": applicant.id, "ok": True}
    refused = data(await gql(client, DECIDE, by_group, token=member.access))["groupRequestDecide"]
    assert codes(refused) == ["PERMISSION_DENIED"] and refused["membership"] is None
    refused = data(await gql(client, DECIDE, by_group, token=elsewhere.access))["groupRequestDecide"]
    assert codes(refused) == ["PERMISSION_DENIED"]
    refused = data(await gql(client, DECIDE, by_group))["groupRequestDecide"]
    assert codes(refused) == ["NOT_AUTHENTICATED"]
    # a non-moderator asking about someone who never applied learns nothing (no REQUEST_NOT_FOUND)
    stranger = {"g": gid, "a": to_global_id("Patient", uuid.uuid4()), "ok": True}
    assert codes(data(await gql(client, DECIDE, stranger, token=member.access))["groupRequestDecide"]) == [
        "PERMISSION_DENIED"
    ]
    assert codes(data(await gql(client, DECIDE, stranger, token=moderator.access))["groupRequestDecide"]) == [
        "REQUEST_NOT_FOUND"
    ]
    for bad, field, code in [
        ({"g": gid, "ok": True}, "membershipId", "MEMBER_TARGET_REQUIRED"),
        ({"a": applicant.id, "ok": True}, "membershipId", "MEMBER_TARGET_REQUIRED"),
        ({"ok": True}, "membershipId", "MEMBER_TARGET_REQUIRED"),
        ({"m": node["id"], "g": gid, "a": applicant.id, "ok": True}, "membershipId", "MEMBER_TARGET_REQUIRED"),
        ({"g": gid, "a": BAD_ID, "ok": True}, "accountId", "ID_INVALID"),
        ({"g": gid, "a": gid, "ok": True}, "accountId", "ID_INVALID"),
        ({"g": BAD_ID, "a": applicant.id, "ok": True}, "groupId", "ID_INVALID"),
    ]:
        result = data(await gql(client, DECIDE, bad, token=moderator.access))["groupRequestDecide"]
        assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)], bad
    approved = data(await gql(client, DECIDE, by_group, token=moderator.access))["groupRequestDecide"]
    assert approved["errors"] == [] and approved["state"] == "ACTIVE"
    membership = approved["membership"]
    assert membership["id"] == node["id"] and membership["state"] == "ACTIVE" and membership["joinedAt"]
    assert membership["member"]["accountId"] == applicant.id and membership["group"]["slug"] == slug
    again = data(await gql(client, DECIDE, by_group, token=moderator.access))["groupRequestDecide"]
    assert codes(again) == ["REQUEST_NOT_FOUND"]
    left = data(await gql(client, REQUESTS, {"slug": slug}, token=moderator.access))["group"]["joinRequests"]
    assert left["edges"] == []


async def test_a_group_without_a_question_takes_no_answer_and_join_requests_page_in_order(client: Any) -> None:
    group_id, slug = await _question_group(client, question=None)
    gid = to_global_id("Group", group_id)
    applicants = []
    for _ in range(3):
        session, _ = await signed_in_patient(client)
        joined = data(await gql(client, JOIN, {"g": gid, "a": "顺便说一句"}, token=session.access))["groupJoin"]
        assert joined["errors"] == [] and joined["membership"]["joinAnswer"] is None  # nothing was asked
        applicants.append(session.id)
    admin = await staff_session(client, _email("admin"), ["admin"])
    first = data(await gql(client, REQUESTS, {"slug": slug, "first": 2}, token=admin.access))["group"]
    page = first["joinRequests"]
    assert first["joinQuestion"] is None
    assert [e["node"]["member"]["accountId"] for e in page["edges"]] == applicants[:2]  # longest waiting first
    assert page["pageInfo"]["hasNextPage"] is True
    rest = data(
        await gql(
            client, REQUESTS, {"slug": slug, "first": 2, "after": page["pageInfo"]["endCursor"]}, token=admin.access
        )
    )["group"]["joinRequests"]
    assert [e["node"]["member"]["accountId"] for e in rest["edges"]] == applicants[2:]
    assert rest["pageInfo"]["hasNextPage"] is False


async def test_a_verified_diagnosis_group_shows_requests_to_care_staff_who_decide_by_member(client: Any) -> None:
    group_id = await make_group(_slug(), join_policy="verified", visibility="members")
    async with unit_of_work() as session:
        slug = (await groups.groups_by_ids(session, [group_id]))[group_id].slug
    applicant, _ = await signed_in_patient(client)
    gid = to_global_id("Group", group_id)
    assert data(await gql(client, JOIN, {"g": gid}, token=applicant.access))["groupJoin"]["state"] == "PENDING"
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    seen = data(await gql(client, REQUESTS, {"slug": slug}, token=doctor.access))["group"]["joinRequests"]
    assert [e["node"]["member"]["accountId"] for e in seen["edges"]] == [applicant.id]
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    refused = data(await gql(client, DECIDE, {"g": gid, "a": applicant.id, "ok": True}, token=moderator.access))
    assert codes(refused["groupRequestDecide"]) == ["PERMISSION_DENIED"]  # a diagnosis is care staff's to confirm
    confirmed = data(await gql(client, DECIDE, {"g": gid, "a": applicant.id, "ok": True}, token=doctor.access))
    assert confirmed["groupRequestDecide"]["membership"]["state"] == "ACTIVE"


# --- memberRestrict by member ---------------------------------------------------------------------


async def test_member_restrict_by_group_and_account_taken_from_a_posts_group_author(client: Any) -> None:
    group_id = await make_group(_slug(), allow_anonymous=True)
    gid = to_global_id("Group", group_id)
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    post = data(await gql(client, POST, {"g": gid, "kind": "DISCUSSION", "title": "加我微信"}, token=author.access))
    account = post["postCreate"]["post"]["groupAuthor"]["accountId"]
    assert account == author.id
    anonymous = data(
        await gql(
            client, POST, {"g": gid, "kind": "DISCUSSION", "title": "匿名说说", "anon": True}, token=author.access
        )
    )["postCreate"]["post"]["groupAuthor"]
    assert anonymous["accountId"] is None and anonymous["anonymous"] is True and anonymous["role"] is None
    assert anonymous["id"] != post["postCreate"]["post"]["groupAuthor"]["id"]

    member, member_id = await signed_in_patient(client)
    await member_of(group_id, member_id)
    by_member = data(await gql(client, RESTRICT, {"g": gid, "a": account, "mute": 3}, token=member.access))
    assert codes(by_member["memberRestrict"]) == ["PERMISSION_DENIED"]
    stranger = {"g": gid, "a": to_global_id("Patient", uuid.uuid4()), "mute": 3}
    assert codes(data(await gql(client, RESTRICT, stranger, token=member.access))["memberRestrict"]) == [
        "PERMISSION_DENIED"
    ]
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    missing = data(await gql(client, RESTRICT, stranger, token=moderator.access))["memberRestrict"]
    assert codes(missing) == ["MEMBERSHIP_NOT_FOUND"]
    neither = data(await gql(client, RESTRICT, {"mute": 3}, token=moderator.access))["memberRestrict"]
    assert codes(neither) == ["MEMBER_TARGET_REQUIRED"]
    bad = data(await gql(client, RESTRICT, {"g": gid, "a": BAD_ID, "mute": 3}, token=moderator.access))
    assert codes(bad["memberRestrict"]) == ["ID_INVALID"]
    muted = data(await gql(client, RESTRICT, {"g": gid, "a": account, "mute": 3}, token=moderator.access))
    payload = muted["memberRestrict"]
    assert payload["errors"] == [] and payload["mutedUntil"] is not None
    assert payload["membership"]["id"] == payload["membershipId"] and payload["membership"]["state"] == "ACTIVE"
    assert payload["membership"]["mutedUntil"] == payload["mutedUntil"]
    assert payload["membership"]["member"]["accountId"] == author.id
    by_id = data(await gql(client, RESTRICT, {"m": payload["membershipId"], "mute": 1}, token=moderator.access))
    assert by_id["memberRestrict"]["errors"] == []  # the membership id keeps working


# --- myGroups, notification level, node(id) --------------------------------------------------------


async def test_my_groups_lists_the_accounts_memberships_and_nobody_elses(client: Any) -> None:
    me, me_id = await signed_in_patient(client)
    open_group = await make_group(_slug())
    approval = await make_group(_slug(), join_policy="approval", visibility="private")
    secret = await make_group(_slug(), visibility="secret", join_policy="invite")
    left_secret = await make_group(_slug(), visibility="secret", join_policy="invite")
    await member_of(open_group, me_id)
    assert (
        data(await gql(client, JOIN, {"g": to_global_id("Group", approval)}, token=me.access))["groupJoin"]["state"]
        == "PENDING"
    )
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, me_id)
        await groups.invite(session, MODERATOR, left_secret, me_id)
    async with unit_of_work() as session:
        await groups.leave(session, as_patient(me_id), left_secret)
    other, other_id = await signed_in_patient(client)
    await member_of(await make_group(_slug()), other_id)  # someone else's group never shows

    mine = data(await gql(client, MY_GROUPS, {}, token=me.access))["myGroups"]
    by_state = {e["node"]["state"]: e["node"] for e in mine["edges"]}
    assert sorted(by_state) == ["ACTIVE", "INVITED", "PENDING"]  # the left secret group is gone
    assert by_state["ACTIVE"]["role"] == "MEMBER" and by_state["ACTIVE"]["joinedAt"] is not None
    assert by_state["ACTIVE"]["notificationLevel"] == "ALL"
    assert by_state["ACTIVE"]["group"]["viewerMembership"]["state"] == "ACTIVE"
    assert by_state["PENDING"]["joinedAt"] is None
    left = data(await gql(client, MY_GROUPS, {"state": "LEFT"}, token=me.access))["myGroups"]
    assert left["edges"] == []  # a secret group once left stays invisible
    first = data(await gql(client, MY_GROUPS, {"first": 2}, token=me.access))["myGroups"]
    assert len(first["edges"]) == 2 and first["pageInfo"]["hasNextPage"] is True
    rest = data(await gql(client, MY_GROUPS, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=me.access))
    ids = [e["node"]["id"] for e in first["edges"] + rest["myGroups"]["edges"]]
    assert sorted(ids) == sorted(n["id"] for n in by_state.values())

    anonymous = await gql(client, MY_GROUPS, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    too_big = await gql(client, MY_GROUPS, {"first": 1000}, token=me.access)
    assert too_big["errors"][0]["extensions"]["code"] == "PAGE_SIZE_INVALID"
    bad_cursor = await gql(client, MY_GROUPS, {"after": "x\u00e9"}, token=me.access)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "CURSOR_INVALID"

    # a staff account's memberships too (an appointed expert)
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    await verified_credential(_uuid(doctor.id))
    async with unit_of_work() as session:
        await groups.set_role(
            session, MODERATOR, open_group, account_kind="staff", account_id=_uuid(doctor.id), role="expert"
        )
    staff_groups = data(await gql(client, MY_GROUPS, {}, token=doctor.access))["myGroups"]["edges"]
    assert [(e["node"]["role"], e["node"]["state"]) for e in staff_groups] == [("EXPERT", "ACTIVE")]

    # node(id): one's own membership, never someone else's
    own_id = by_state["ACTIVE"]["id"]
    assert data(await gql(client, NODE, {"id": own_id}, token=me.access))["node"]["state"] == "ACTIVE"
    assert data(await gql(client, NODE, {"id": own_id}, token=other.access))["node"] is None
    assert data(await gql(client, NODE, {"id": own_id}))["node"] is None
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    seen = data(await gql(client, NODE, {"id": own_id}, token=moderator.access))["node"]
    assert seen["state"] == "ACTIVE" and seen["notificationLevel"] is None  # the level is the member's own


async def test_group_notification_level_set_by_a_member_only(client: Any) -> None:
    group_id = await make_group(_slug())
    gid = to_global_id("Group", group_id)
    member, member_id = await signed_in_patient(client)
    await member_of(group_id, member_id)
    made = data(await gql(client, LEVEL, {"g": gid, "level": "HIGHLIGHTS"}, token=member.access))
    payload = made["groupNotificationLevelSet"]
    assert payload["errors"] == [] and payload["membership"]["notificationLevel"] == "HIGHLIGHTS"
    assert payload["membership"]["group"]["viewerMembership"]["notificationLevel"] == "highlights"
    none = data(await gql(client, LEVEL, {"g": gid, "level": "NONE"}, token=member.access))
    assert none["groupNotificationLevelSet"]["membership"]["notificationLevel"] == "NONE"

    outsider, _ = await signed_in_patient(client)
    refused = data(await gql(client, LEVEL, {"g": gid, "level": "ALL"}, token=outsider.access))
    assert codes(refused["groupNotificationLevelSet"]) == ["NOT_A_MEMBER"]
    anonymous = data(await gql(client, LEVEL, {"g": gid, "level": "ALL"}))["groupNotificationLevelSet"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]
    secret = to_global_id("Group", await make_group(_slug(), visibility="secret", join_policy="invite"))
    hidden = data(await gql(client, LEVEL, {"g": secret, "level": "ALL"}, token=outsider.access))
    assert codes(hidden["groupNotificationLevelSet"]) == ["GROUP_NOT_FOUND"]
    bad = data(await gql(client, LEVEL, {"g": BAD_ID, "level": "ALL"}, token=member.access))
    assert codes(bad["groupNotificationLevelSet"]) == ["ID_INVALID"]
    not_a_level = await gql(client, LEVEL, {"g": gid, "level": "LOUD"}, token=member.access)
    assert not_a_level["errors"] and not_a_level["data"] is None


# --- one unreadable group never nulls the list; the Apollo-shaped connection ---------------------


async def test_one_unreadable_group_no_longer_nulls_the_groups_list(client: Any) -> None:
    public = await make_group(_slug())
    closed = await make_group(_slug(), visibility="members")
    writer, writer_id = await signed_in_patient(client)
    await member_of(public, writer_id)
    await member_of(closed, writer_id)
    for group_id in (public, closed):
        title = "公开群帖子" if group_id == public else "成员群帖子"
        made = data(
            await gql(
                client,
                POST,
                {"g": to_global_id("Group", group_id), "kind": "DISCUSSION", "title": title},
                token=writer.access,
            )
        )
        assert made["postCreate"]["errors"] == []
    reader, _ = await signed_in_patient(client)

    old_shape = await gql(client, GROUPS_FEED, token=reader.access)
    assert old_shape["data"] is not None and old_shape["data"]["groups"] is not None
    feeds = {e["node"]["slug"]: e["node"]["feed"] for e in old_shape["data"]["groups"]["edges"]}
    assert len(feeds) == 2
    readable = [f for f in feeds.values() if f is not None]
    assert len(readable) == 1 and len(readable[0]["posts"]["edges"]) == 1
    [error] = old_shape["errors"]  # the reason, at the one unreadable group's feed
    assert error["extensions"]["code"] == "NOT_A_MEMBER" and error["path"][-1] == "feed"

    new_shape = await gql(client, GROUPS_POSTS, token=reader.access)
    assert "errors" not in new_shape  # nothing fails: the reason is a field
    nodes = [e["node"] for e in new_shape["data"]["groups"]["edges"]]
    refused = [n for n in nodes if n["readRefusal"] is not None]
    open_ = [n for n in nodes if n["readRefusal"] is None]
    assert len(refused) == 1 and refused[0]["readRefusal"]["code"] == "NOT_A_MEMBER"
    assert refused[0]["readRefusal"]["message"] and refused[0]["posts"] is None and refused[0]["pinnedPosts"] is None
    assert len(open_) == 1 and len(open_[0]["posts"]["edges"]) == 1 and open_[0]["pinnedPosts"] == []
    assert {n["joinRequests"]["code"] for n in nodes} == {"PERMISSION_DENIED"}
    anonymous = await gql(client, GROUPS_POSTS)
    assert "errors" not in anonymous and len(anonymous["data"]["groups"]["edges"]) == 2


async def test_group_posts_is_a_plain_connection_with_pinned_posts_apart(client: Any) -> None:
    group_id = await make_group(_slug())
    async with unit_of_work() as session:
        slug = (await groups.groups_by_ids(session, [group_id]))[group_id].slug
    gid = to_global_id("Group", group_id)
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    made = []
    for n, kind in enumerate(["DISCUSSION", "QUESTION", "DISCUSSION", "QUESTION", "EXPERIENCE", "DISCUSSION"]):
        created = data(await gql(client, POST, {"g": gid, "kind": kind, "title": f"第{n}帖"}, token=author.access))
        assert created["postCreate"]["errors"] == []
        made.append(created["postCreate"]["post"]["id"])
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    pinned = made[1]
    assert data(await gql(client, FLAGS, {"p": pinned}, token=moderator.access))["postSetFlags"]["errors"] == []

    reader, _ = await signed_in_patient(client)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        page = data(await gql(client, POSTS, {"slug": slug, "first": 2, "after": after}, token=reader.access))["group"]
        assert page["pinnedPosts"] == [{"id": pinned, "title": "第1帖", "pinned": True}]  # on every page, apart
        assert page["readRefusal"] is None
        seen += [e["node"]["id"] for e in page["posts"]["edges"]]
        assert page["posts"]["pageInfo"]["hasPreviousPage"] is (after is not None)
        pages += 1
        if not page["posts"]["pageInfo"]["hasNextPage"]:
            break
        after = page["posts"]["pageInfo"]["endCursor"]
    assert pages == 3
    assert seen == [p for p in reversed(made) if p != pinned]  # newest first, each once, the pinned one apart

    questions = data(await gql(client, POSTS, {"slug": slug, "kind": "QUESTION"}, token=reader.access))["group"]
    assert [e["node"]["id"] for e in questions["posts"]["edges"]] == [made[3]]  # the pinned question is apart
    first = data(await gql(client, POSTS, {"slug": slug, "first": 1, "kind": "DISCUSSION"}, token=reader.access))
    cursor = first["group"]["posts"]["pageInfo"]["endCursor"]
    second = data(
        await gql(client, POSTS, {"slug": slug, "first": 1, "after": cursor, "kind": "DISCUSSION"}, token=reader.access)
    )
    assert [e["node"]["id"] for e in second["group"]["posts"]["edges"]] == [made[2]]

    for bad, code in [
        ({"first": 0}, "PAGE_SIZE_INVALID"),
        ({"first": 101}, "PAGE_SIZE_INVALID"),
        ({"after": "!!"}, "CURSOR_INVALID"),
    ]:
        result = await gql(client, POSTS, {"slug": slug, **bad}, token=reader.access)
        assert result["errors"][0]["extensions"]["code"] == code, bad


async def test_group_author_badges_belong_to_the_group(client: Any) -> None:
    expert_group = await make_group(_slug())
    plain_group = await make_group(_slug())
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    doctor_id = _uuid(doctor.id)
    await verified_credential(doctor_id)
    async with unit_of_work() as session:
        await groups.set_role(
            session, MODERATOR, expert_group, account_kind="staff", account_id=doctor_id, role="expert"
        )
        await groups.set_role(
            session, MODERATOR, plain_group, account_kind="staff", account_id=doctor_id, role="member"
        )
    authors = []
    for group_id in (expert_group, plain_group):
        made = data(
            await gql(
                client,
                POST,
                {"g": to_global_id("Group", group_id), "kind": "DISCUSSION", "title": "饮食建议"},
                token=doctor.access,
            )
        )["postCreate"]
        assert made["errors"] == []
        authors.append(made["post"])
    expert, plain = authors
    assert expert["groupAuthor"]["isExpert"] is True and expert["groupAuthor"]["role"] == "EXPERT"
    assert plain["groupAuthor"]["isExpert"] is False and plain["groupAuthor"]["role"] == "MEMBER"
    assert expert["groupAuthor"]["id"] != plain["groupAuthor"]["id"]  # a client cache keeps them apart
    assert expert["groupAuthor"]["accountId"] == plain["groupAuthor"]["accountId"] == doctor.id
    assert expert["author"]["id"] == plain["author"]["id"] == doctor.id  # the old, deprecated shape
