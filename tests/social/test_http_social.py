"""Follows, blocks, profiles, doctor profiles and the following feed through the real schema over HTTP,
with real signed-in patients and staff: who may do each thing, who may not (the typed code), privacy
settings for a stranger, a follower and oneself, bad inputs and two concurrent follows."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from sqlalchemy import func, select

from api.relay import from_global_id, to_global_id
from community import groups, posts
from community.models import CheckInStreak
from core.db import unit_of_work
from core.identity import Actor, ActorKind, Role
from social.models import Follow
from tests.factories import MODERATOR, as_patient, make_group, member_of, verified_credential
from tests.social.support import comment, expert_in, post, staff_member
from tests.social.support import join as social_join
from tests.support import Session, count_statements, data, gql, signed_in_patient, staff_session

FOLLOW = """mutation($a: ID, $t: String) { follow(input: {accountId: $a, tag: $t}) {
  following tag profile { displayName viewerFollows canFollow } errors { field code } } }"""
UNFOLLOW = """mutation($a: ID, $t: String) { unfollow(input: {accountId: $a, tag: $t}) {
  following tag errors { field code } } }"""
BLOCK = """mutation($a: ID!) { block(input: {accountId: $a}) {
  blocked profile { displayName viewerBlocked canFollow } errors { field code } } }"""
UNBLOCK = """mutation($a: ID!) { unblock(input: {accountId: $a}) { blocked errors { field code } } }"""
UPDATE = """mutation($bio: String, $avatar: String, $allow: Boolean, $g: ProfileAudience, $b: ProfileAudience,
  $f: ProfileAudience) {
  socialProfileUpdate(input: {bio: $bio, avatarKey: $avatar, allowFollow: $allow, groupsVisibleTo: $g,
    badgesVisibleTo: $b, followersVisibleTo: $f}) {
    profile { bio avatarKey settings { allowFollow groupsVisibleTo badgesVisibleTo followersVisibleTo } }
    errors { field code } } }"""
PROFILE = """query($a: ID!) { profile(accountId: $a) {
  accountId kind displayName bio avatarKey isSelf viewerFollows viewerBlocked canFollow followerCount followingCount
  badges { kind label days role group { name } } groups { role group { id name } }
  settings { allowFollow groupsVisibleTo }
  followers(first: 10) { nodes { accountId displayName since } } following(first: 10) { nodes { displayName } } } }"""
MY_PROFILE = """query { myProfile { displayName isSelf settings { allowFollow groupsVisibleTo badgesVisibleTo
  followersVisibleTo } } }"""
DOCTOR = """query($s: ID!) { doctorProfile(staffId: $s) { staffId name roleLabels specialty credentialVerified
  answerCount acceptedCount verifiedCount acceptedRate site { name } profile { displayName canFollow } } }"""
FEED = """query($first: Int, $after: String) { followingFeed(first: $first, after: $after) {
  edges { cursor node { kind viaTag createdAt post { id title author { displayName anonymous } }
    answer { id bodyHtml } } } pageInfo { hasNextPage endCursor } } }"""
MY_FOLLOWERS = """query { myFollowers(first: 10) { nodes { accountId displayName kind viewerFollows canFollow } } }"""
MY_FOLLOWING = """query { myFollowing(first: 10) { nodes { accountId displayName kind since } } }"""
MY_TAGS = """query { myFollowedTags }"""
MY_BLOCKS = """query { myBlocks(first: 10) { nodes { accountId displayName since } } }"""
GROUP_FEED = """query($slug: String!) { group(slug: $slug) { feed(first: 50) { posts { nodes { id } } } } }"""
COMMENTS = """query($id: ID!) { node(id: $id) { ... on Post { comments(first: 50) { nodes { id } } } } }"""
COMMENT = """mutation($p: ID!, $body: String!) { commentCreate(input: {postId: $p, body: $body}) {
  comment { id } errors { field code } } }"""


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def query_code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


def _uuid(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def _actor(session: Session) -> Actor:
    decoded = from_global_id(session.id)
    assert decoded is not None
    kind = ActorKind.STAFF if decoded[0] == "Staff" else ActorKind.PATIENT
    return Actor(kind=kind, id=uuid.UUID(decoded[1]))


# --- follow / unfollow / myFollowing / myFollowers / myFollowedTags -------------------------------------


async def test_follow_people_and_tags_and_who_may_not_be_followed(client: Any) -> None:
    me, _ = await signed_in_patient(client)
    other, _ = await signed_in_patient(client)
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    marketer = await staff_session(client, _email("mkt"), ["marketer"])

    for target in (other.id, doctor.id):
        done = data(await gql(client, FOLLOW, {"a": target}, token=me.access))["follow"]
        assert done["errors"] == [] and done["following"] is True
        assert done["profile"]["viewerFollows"] is True and done["profile"]["canFollow"] is True
    tag = data(await gql(client, FOLLOW, {"t": "＃控糖#"}, token=me.access))["follow"]
    assert tag == {"following": True, "tag": "控糖", "profile": None, "errors": []}
    following = data(await gql(client, MY_FOLLOWING, token=me.access))["myFollowing"]["nodes"]
    assert [(n["accountId"], n["kind"]) for n in following] == [(doctor.id, "STAFF"), (other.id, "PATIENT")]
    assert data(await gql(client, MY_TAGS, token=me.access))["myFollowedTags"] == ["控糖"]
    followers = data(await gql(client, MY_FOLLOWERS, token=doctor.access))["myFollowers"]["nodes"]
    assert [(n["accountId"], n["viewerFollows"], n["canFollow"]) for n in followers] == [(me.id, False, True)]

    refusals = [
        ({"a": marketer.id}, me, ["FOLLOW_NOT_ALLOWED"]),
        ({"a": me.id}, me, ["FOLLOW_SELF"]),
        ({"a": other.id, "t": "控糖"}, me, ["FOLLOW_TARGET_REQUIRED"]),
        ({}, me, ["FOLLOW_TARGET_REQUIRED"]),
        ({"a": "not-a-global-id"}, me, ["ID_INVALID"]),
        ({"a": to_global_id("Post", uuid.uuid4())}, me, ["ID_INVALID"]),
        ({"a": to_global_id("Patient", uuid.uuid4())}, me, ["PERSON_NOT_FOUND"]),
        ({"t": "控 糖"}, me, ["TAG_INVALID"]),
        ({"t": "话" * 200}, me, ["TAG_INVALID"]),
    ]
    for variables, who, expected in refusals:
        refused = data(await gql(client, FOLLOW, variables, token=who.access))["follow"]
        assert codes(refused) == expected, (variables, refused)
        assert refused["following"] is None
    anonymous = data(await gql(client, FOLLOW, {"a": other.id}))["follow"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]
    nul = await gql(client, FOLLOW, {"t": "控\x00糖"}, token=me.access)
    assert query_code(nul) == "INVALID_STRING"

    # A patient who switches following off cannot be followed (a follow made before stays).
    shy, _ = await signed_in_patient(client)
    off = data(await gql(client, UPDATE, {"allow": False}, token=shy.access))["socialProfileUpdate"]
    assert off["errors"] == [] and off["profile"]["settings"]["allowFollow"] is False
    assert codes(data(await gql(client, FOLLOW, {"a": shy.id}, token=me.access))["follow"]) == ["FOLLOW_NOT_ALLOWED"]

    undone = data(await gql(client, UNFOLLOW, {"a": other.id}, token=me.access))["unfollow"]
    assert undone == {"following": False, "tag": None, "errors": []}
    again = data(await gql(client, UNFOLLOW, {"a": other.id}, token=me.access))["unfollow"]
    assert again["errors"] == [] and again["following"] is False
    untagged = data(await gql(client, UNFOLLOW, {"t": "#控糖#"}, token=me.access))["unfollow"]
    assert untagged == {"following": False, "tag": "控糖", "errors": []}
    assert data(await gql(client, MY_TAGS, token=me.access))["myFollowedTags"] == []
    following = data(await gql(client, MY_FOLLOWING, token=me.access))["myFollowing"]["nodes"]
    assert [n["accountId"] for n in following] == [doctor.id]
    for query in (MY_FOLLOWING, MY_FOLLOWERS, MY_TAGS, MY_BLOCKS, MY_PROFILE):
        assert query_code(await gql(client, query)) == "NOT_AUTHENTICATED"


async def test_two_concurrent_follows_over_http_make_one_row(client: Any) -> None:
    me, _ = await signed_in_patient(client)
    other, other_id = await signed_in_patient(client)
    answers = await asyncio.gather(*(gql(client, FOLLOW, {"a": other.id}, token=me.access) for _ in range(4)))
    assert all(data(a)["follow"]["errors"] == [] for a in answers)
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Follow).where(Follow.followee_id == other_id)) == 1


# --- followingFeed ---------------------------------------------------------------------------------------


async def test_following_feed_shows_only_readable_named_posts_and_answers(client: Any) -> None:
    public = await make_group(allow_anonymous=True)
    secret = await make_group(visibility="secret", join_policy="invite", allow_anonymous=True)
    author, author_id = await signed_in_patient(client)
    reader, reader_id = await signed_in_patient(client)
    _, asker_id = await signed_in_patient(client)
    await member_of(public, author_id)
    await member_of(public, asker_id)
    await member_of(public, reader_id)
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, author_id)
    await member_of(secret, author_id)
    writer = as_patient(author_id)
    older = await post(writer, public, title="第一篇：散步")
    await post(writer, secret, title="私密群里的帖子")
    await post(writer, public, title="匿名的心事", anonymous=True)
    question = await post(as_patient(asker_id), public, kind="question", title="餐后血糖多少算正常？")
    answer = await comment(writer, question.id, "两小时内小于7.8")
    await comment(writer, question.id, "匿名补充", anonymous=True)
    newer = await post(writer, public, title="第二篇：#控糖#食谱")

    assert data(await gql(client, FOLLOW, {"a": author.id}, token=reader.access))["follow"]["errors"] == []
    first = data(await gql(client, FEED, {"first": 2}, token=reader.access))["followingFeed"]
    nodes = [e["node"] for e in first["edges"]]
    assert [(n["kind"], n["post"]["title"]) for n in nodes] == [
        ("POST", "第二篇：#控糖#食谱"),
        ("ANSWER", "餐后血糖多少算正常？"),
    ]
    assert nodes[0]["post"]["id"] == to_global_id("Post", newer.id)
    assert nodes[0]["post"]["author"] == {"displayName": nodes[0]["post"]["author"]["displayName"], "anonymous": False}
    assert nodes[1]["answer"]["id"] == to_global_id("Comment", answer.id) and nodes[1]["viaTag"] is None
    assert first["pageInfo"]["hasNextPage"] is True
    rest = data(await gql(client, FEED, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=reader.access))[
        "followingFeed"
    ]
    assert [e["node"]["post"]["id"] for e in rest["edges"]] == [to_global_id("Post", older.id)]
    assert rest["pageInfo"]["hasNextPage"] is False

    # By tag: a stranger's post with a followed tag, marked with the tag.
    _, tagger_id = await signed_in_patient(client)
    await member_of(public, tagger_id)
    tagged = await post(as_patient(tagger_id), public, title="我的 #控糖 日记")
    assert data(await gql(client, FOLLOW, {"t": "控糖"}, token=reader.access))["follow"]["errors"] == []
    top = data(await gql(client, FEED, {"first": 1}, token=reader.access))["followingFeed"]["edges"][0]["node"]
    assert top["post"]["id"] == to_global_id("Post", tagged.id) and top["viaTag"] == "控糖"

    assert query_code(await gql(client, FEED, {"first": 2})) == "NOT_AUTHENTICATED"
    assert query_code(await gql(client, FEED, {"after": "bad-cursor"}, token=reader.access)) == "CURSOR_INVALID"
    assert query_code(await gql(client, FEED, {"first": 1000}, token=reader.access)) == "PAGE_SIZE_INVALID"


# --- block / unblock / myBlocks ----------------------------------------------------------------------------


async def test_block_hides_posts_and_comments_and_refuses_follows_and_replies(client: Any) -> None:
    slug = f"b-{uuid.uuid4().hex[:10]}"
    group = await make_group(slug)
    alice, alice_id = await signed_in_patient(client)
    bob, bob_id = await signed_in_patient(client)
    for pid in (alice_id, bob_id):
        await member_of(group, pid)
    bobs = await post(as_patient(bob_id), group, title="鲍勃的帖子")
    alices = await post(as_patient(alice_id), group, title="爱丽丝的帖子")
    bobs_comment = await comment(as_patient(bob_id), alices.id, "鲍勃的评论")
    assert data(await gql(client, FOLLOW, {"a": alice.id}, token=bob.access))["follow"]["errors"] == []

    blocked = data(await gql(client, BLOCK, {"a": bob.id}, token=alice.access))["block"]
    assert blocked["errors"] == [] and blocked["blocked"] is True
    assert blocked["profile"] == {
        "displayName": blocked["profile"]["displayName"],
        "viewerBlocked": True,
        "canFollow": False,
    }

    def feed_ids(result: dict[str, Any]) -> list[str]:
        return [n["id"] for n in data(result)["group"]["feed"]["posts"]["nodes"]]

    assert to_global_id("Post", bobs.id) not in feed_ids(
        await gql(client, GROUP_FEED, {"slug": slug}, token=alice.access)
    )
    assert to_global_id("Post", bobs.id) in feed_ids(await gql(client, GROUP_FEED, {"slug": slug}, token=bob.access))
    post_gid = to_global_id("Post", alices.id)
    hidden = data(await gql(client, COMMENTS, {"id": post_gid}, token=alice.access))["node"]["comments"]["nodes"]
    assert hidden == []
    shown = data(await gql(client, COMMENTS, {"id": post_gid}, token=bob.access))["node"]["comments"]["nodes"]
    assert [n["id"] for n in shown] == [to_global_id("Comment", bobs_comment.id)]

    # Bob's follow is gone; neither may follow or reply to the other.
    assert data(await gql(client, MY_FOLLOWING, token=bob.access))["myFollowing"]["nodes"] == []
    for who, target in ((bob, alice), (alice, bob)):
        refused = data(await gql(client, FOLLOW, {"a": target.id}, token=who.access))["follow"]
        assert codes(refused) == ["BLOCKED"]
    reply = data(await gql(client, COMMENT, {"p": post_gid, "body": "我还想说"}, token=bob.access))["commentCreate"]
    assert codes(reply) == ["BLOCKED"] and reply["comment"] is None

    blocks = data(await gql(client, MY_BLOCKS, token=alice.access))["myBlocks"]["nodes"]
    assert [n["accountId"] for n in blocks] == [bob.id]
    assert data(await gql(client, MY_BLOCKS, token=bob.access))["myBlocks"]["nodes"] == []

    for variables, expected in (
        ({"a": alice.id}, ["BLOCK_SELF"]),
        ({"a": "garbage"}, ["ID_INVALID"]),
        ({"a": to_global_id("Staff", uuid.uuid4())}, ["PERSON_NOT_FOUND"]),
    ):
        assert codes(data(await gql(client, BLOCK, variables, token=alice.access))["block"]) == expected
    assert codes(data(await gql(client, BLOCK, {"a": bob.id}))["block"]) == ["NOT_AUTHENTICATED"]

    undone = data(await gql(client, UNBLOCK, {"a": bob.id}, token=alice.access))["unblock"]
    assert undone == {"blocked": False, "errors": []}
    assert to_global_id("Post", bobs.id) in feed_ids(await gql(client, GROUP_FEED, {"slug": slug}, token=alice.access))
    assert codes(data(await gql(client, UNBLOCK, {"a": "garbage"}, token=alice.access))["unblock"]) == ["ID_INVALID"]


async def test_blocking_a_moderator_or_doctor_never_stops_their_duty(client: Any) -> None:
    slug = f"d-{uuid.uuid4().hex[:10]}"
    group = await make_group(slug)
    patient, patient_id = await signed_in_patient(client)
    await member_of(group, patient_id)
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    doctor_id = _uuid(doctor.id)
    await verified_credential(doctor_id)
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, group, account_kind="staff", account_id=doctor_id, role="expert")
    doctors_post = await post(_actor(doctor), group, title="医生科普：低血糖的处理")
    question = await post(as_patient(patient_id), group, kind="question", title="低血糖时该吃什么？")
    assert data(await gql(client, BLOCK, {"a": doctor.id}, token=patient.access))["block"]["errors"] == []

    answered = data(
        await gql(client, COMMENT, {"p": to_global_id("Post", question.id), "body": "先吃15克糖"}, token=doctor.access)
    )["commentCreate"]
    assert answered["errors"] == []  # the doctor's reply goes through
    feed = data(await gql(client, GROUP_FEED, {"slug": slug}, token=patient.access))["group"]["feed"]["posts"]["nodes"]
    assert to_global_id("Post", doctors_post.id) not in [n["id"] for n in feed]  # the social post is hidden
    comments = data(await gql(client, COMMENTS, {"id": to_global_id("Post", question.id)}, token=patient.access))
    assert [n["id"] for n in comments["node"]["comments"]["nodes"]] == [answered["comment"]["id"]]  # the answer not


# --- profiles ------------------------------------------------------------------------------------------


async def test_profile_privacy_for_a_stranger_a_follower_and_oneself(client: Any) -> None:
    public = await make_group(name=f"控糖群{uuid.uuid4().hex[:4]}")
    owner, owner_id = await signed_in_patient(client)
    follower, _ = await signed_in_patient(client)
    stranger, _ = await signed_in_patient(client)
    await member_of(public, owner_id)
    async with unit_of_work() as session:
        session.add(CheckInStreak(patient_id=owner_id, current=8, longest=8, last_date=None))
    assert data(await gql(client, FOLLOW, {"a": owner.id}, token=follower.access))["follow"]["errors"] == []
    updated = data(
        await gql(client, UPDATE, {"bio": "控糖第五年", "avatar": "avatars/2026/me.png"}, token=owner.access)
    )["socialProfileUpdate"]
    assert updated["errors"] == [] and updated["profile"]["bio"] == "控糖第五年"
    assert updated["profile"]["settings"] == {
        "allowFollow": True,
        "groupsVisibleTo": "NOBODY",
        "badgesVisibleTo": "EVERYONE",
        "followersVisibleTo": "FOLLOWERS",
    }

    async def seen_by(viewer: Session) -> dict[str, Any]:
        return data(await gql(client, PROFILE, {"a": owner.id}, token=viewer.access))["profile"]

    as_stranger, as_follower, as_self = await seen_by(stranger), await seen_by(follower), await seen_by(owner)
    assert as_stranger["bio"] == "控糖第五年" and as_stranger["avatarKey"] == "avatars/2026/me.png"
    assert as_stranger["groups"] is None and as_stranger["settings"] is None
    assert as_stranger["followerCount"] is None and as_stranger["followers"] is None
    assert as_stranger["badges"] == [{"kind": "STREAK", "label": "连续打卡7天", "days": 7, "role": None, "group": None}]
    assert as_follower["followerCount"] == 1 and as_follower["viewerFollows"] is True
    assert [n["accountId"] for n in as_follower["followers"]["nodes"]] == [follower.id]
    assert as_follower["groups"] is None
    assert as_self["isSelf"] is True and as_self["settings"] == {"allowFollow": True, "groupsVisibleTo": "NOBODY"}
    assert [g["group"]["id"] for g in as_self["groups"]] == [to_global_id("Group", public)]

    changed = data(await gql(client, UPDATE, {"g": "FOLLOWERS", "b": "NOBODY", "f": "NOBODY"}, token=owner.access))[
        "socialProfileUpdate"
    ]
    assert changed["errors"] == [] and changed["profile"]["bio"] == "控糖第五年"  # untouched fields stay
    as_stranger, as_follower = await seen_by(stranger), await seen_by(follower)
    assert as_stranger["groups"] is None and [g["role"] for g in as_follower["groups"]] == ["MEMBER"]
    assert as_stranger["badges"] is None and as_follower["badges"] is None
    assert as_follower["followers"] is None and as_follower["following"] is None
    mine = data(await gql(client, MY_PROFILE, token=owner.access))["myProfile"]
    assert mine["isSelf"] and mine["settings"]["followersVisibleTo"] == "NOBODY"

    removed = data(await gql(client, UPDATE, {"avatar": None}, token=owner.access))["socialProfileUpdate"]
    assert removed["errors"] == [] and removed["profile"]["avatarKey"] is None

    assert data(await gql(client, PROFILE, {"a": to_global_id("Patient", uuid.uuid4())}, token=owner.access)) == {
        "profile": None
    }
    assert query_code(await gql(client, PROFILE, {"a": "bogus"}, token=owner.access)) == "ID_INVALID"
    assert query_code(await gql(client, PROFILE, {"a": owner.id})) == "NOT_AUTHENTICATED"


async def test_profile_update_bad_inputs(client: Any) -> None:
    me, _ = await signed_in_patient(client)
    for variables, expected in (
        ({"bio": "长" * 301}, ["BIO_LENGTH"]),
        ({"bio": "控制\x01字符"}, ["BIO_LENGTH"]),
        ({"bio": "加我微信详聊"}, ["BIO_CONTENT_BLOCKED"]),
        ({"avatar": "https://evil.example/a.jpg"}, ["AVATAR_KEY_INVALID"]),
        ({"bio": "x" * 400, "avatar": "../a.jpg"}, ["BIO_LENGTH", "AVATAR_KEY_INVALID"]),
    ):
        refused = data(await gql(client, UPDATE, variables, token=me.access))["socialProfileUpdate"]
        assert codes(refused) == expected and refused["profile"] is None
    assert query_code(await gql(client, UPDATE, {"bio": "空\x00字符"}, token=me.access)) == "INVALID_STRING"
    bad_audience = await gql(client, UPDATE, {"g": "FRIENDS"}, token=me.access)
    assert bad_audience["data"] is None and "ProfileAudience" in bad_audience["errors"][0]["message"]
    anonymous = data(await gql(client, UPDATE, {"bio": "你好"}))["socialProfileUpdate"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]


async def test_doctor_profile_for_anyone(client: Any) -> None:
    group = await make_group()
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    doctor_id = _uuid(doctor.id)
    await verified_credential(doctor_id)
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, group, account_kind="staff", account_id=doctor_id, role="expert")
    asker, asker_id = await signed_in_patient(client)
    await member_of(group, asker_id)
    questions = [
        await post(as_patient(asker_id), group, kind="question", title=f"问题{n}：怎么控糖？") for n in range(2)
    ]
    answers = []
    for q in questions:
        made = data(
            await gql(client, COMMENT, {"p": to_global_id("Post", q.id), "body": "少食多餐"}, token=doctor.access)
        )["commentCreate"]
        answers.append(made["comment"]["id"])
    accept = """mutation($p: ID!, $c: ID!) { answerAccept(input: {postId: $p, commentId: $c}) { errors { code } } }"""
    accepted = data(
        await gql(client, accept, {"p": to_global_id("Post", questions[0].id), "c": answers[0]}, token=asker.access)
    )["answerAccept"]
    assert accepted["errors"] == []

    card = data(await gql(client, DOCTOR, {"s": doctor.id}))["doctorProfile"]  # anonymous visitors too
    assert card["staffId"] == doctor.id and card["roleLabels"] == ["医生"]
    assert card["credentialVerified"] is True and card["specialty"] == "内分泌科"
    assert (card["answerCount"], card["acceptedCount"], card["verifiedCount"], card["acceptedRate"]) == (2, 1, 0, 0.5)
    assert card["profile"] is None  # the full profile needs a signed-in viewer
    signed_in = data(await gql(client, DOCTOR, {"s": doctor.id}, token=asker.access))["doctorProfile"]
    assert signed_in["profile"]["canFollow"] is True

    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    assert data(await gql(client, DOCTOR, {"s": marketer.id})) == {"doctorProfile": None}
    assert query_code(await gql(client, DOCTOR, {"s": asker.id})) == "ID_INVALID"  # a patient id is no staff id
    assert query_code(await gql(client, DOCTOR, {"s": "nonsense"})) == "ID_INVALID"


async def test_group_role_badges_over_http(client: Any) -> None:
    """Group role badges name the group and carry the role (a moderator member of a public group)."""
    public = await make_group(name=f"版主群{uuid.uuid4().hex[:4]}")
    owner, owner_id = await signed_in_patient(client)
    viewer, _ = await signed_in_patient(client)
    await member_of(public, owner_id)
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, public, account_kind="patient", account_id=owner_id, role="moderator")
    data(await gql(client, UPDATE, {"g": "EVERYONE"}, token=owner.access))
    seen = data(await gql(client, PROFILE, {"a": owner.id}, token=viewer.access))["profile"]
    assert [(b["kind"], b["role"]) for b in seen["badges"]] == [("GROUP_ROLE", "MODERATOR")]
    assert [g["role"] for g in seen["groups"]] == ["MODERATOR"]


async def test_following_feed_statements_do_not_grow_with_the_page(client: Any) -> None:
    group = await make_group()
    reader, reader_id = await signed_in_patient(client)
    await member_of(group, reader_id)
    authors = []
    for _ in range(3):
        session, author_id = await signed_in_patient(client)
        await member_of(group, author_id)
        authors.append(session)
        for n in range(4):
            await post(as_patient(author_id), group, title=f"帖子{n}：今日打卡")
    for author in authors:
        assert data(await gql(client, FOLLOW, {"a": author.id}, token=reader.access))["follow"]["errors"] == []
    counts = []
    for first in (2, 12):
        with count_statements() as counter:
            page = data(await gql(client, FEED, {"first": first}, token=reader.access))["followingFeed"]
        assert len(page["edges"]) == first
        counts.append(counter.count)
    assert counts[0] == counts[1], counts


CARD = """fragment Card on Post { id kind title bodyHtml imageUrls status pinned locked commentCount createdAt editedAt
  verifiedAnswerAt author { displayName anonymous isExpert isStaff id }
  groupAuthor { id displayName anonymous isExpert isStaff role accountId }
  reactionCounts { like helpful hug } viewerReactions }"""
FEED_CARDS = (
    """query { followingFeed(first: 10) { edges { node { kind viaTag post { ...Card }
  answer { id bodyHtml status parentId } } } } }"""
    + CARD
)
NODE_CARD = """query($id: ID!) { node(id: $id) { ...Card } }""" + CARD


async def test_following_feed_cards_are_the_posts_as_read_on_their_own(client: Any) -> None:
    """The feed's one statement of plain rows shows each post exactly as the post read by id does (author
    name, group role, the expert badge, the asker's alias, reaction counts, the viewer's reactions)."""
    group = await make_group(allow_anonymous=True)
    reader, reader_id = await signed_in_patient(client)
    await member_of(group, reader_id)
    doctor = await staff_member(Role.DOCTOR, credential=True)
    await social_join(group, doctor)
    await expert_in(group, doctor)
    followed_id = await member_of(group)
    asker_id = await member_of(group)
    doctors_post = await post(doctor, group, title="科普：低血糖的处理")
    question = await post(as_patient(asker_id), group, kind="question", title="夜里低血糖怎么办？", anonymous=True)
    answer = await comment(as_patient(followed_id), question.id, "睡前加一点点心")
    patients_post = await post(as_patient(followed_id), group, title="今天空腹5.8")
    async with unit_of_work() as session:
        await posts.react(session, as_patient(reader_id), target_kind="post", target_id=doctors_post.id, kind="helpful")
        await posts.react(session, as_patient(asker_id), target_kind="post", target_id=doctors_post.id, kind="like")
    for followee in (to_global_id("Staff", doctor.id), to_global_id("Patient", followed_id)):
        assert data(await gql(client, FOLLOW, {"a": followee}, token=reader.access))["follow"]["errors"] == []

    with count_statements() as counter:
        edges = data(await gql(client, FEED_CARDS, token=reader.access))["followingFeed"]["edges"]
    # The token check, the readable groups and the page: one statement reads the posts.
    assert len(counter.statements) <= 3 and sum("community_posts" in s for s in counter.statements) == 1
    nodes = [e["node"] for e in edges]
    assert [(n["kind"], n["post"]["id"]) for n in nodes] == [
        ("POST", to_global_id("Post", patients_post.id)),
        ("ANSWER", to_global_id("Post", question.id)),
        ("POST", to_global_id("Post", doctors_post.id)),
    ]
    assert nodes[1]["answer"] == {
        "id": to_global_id("Comment", answer.id),
        "bodyHtml": answer.body_html,
        "status": "PUBLISHED",
        "parentId": None,
    }
    for n in nodes:
        alone = data(await gql(client, NODE_CARD, {"id": n["post"]["id"]}, token=reader.access))["node"]
        assert n["post"] == alone
    doctor_card, asker_card = nodes[2]["post"], nodes[1]["post"]
    assert doctor_card["groupAuthor"]["isExpert"] is True and doctor_card["groupAuthor"]["role"] == "EXPERT"
    assert doctor_card["reactionCounts"] == {"like": 1, "helpful": 1, "hug": 0}
    assert doctor_card["viewerReactions"] == ["HELPFUL"]
    assert asker_card["groupAuthor"]["anonymous"] is True and asker_card["groupAuthor"]["accountId"] is None
    assert asker_card["author"]["id"] is None
