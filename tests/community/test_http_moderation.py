"""Moderation through the real schema over HTTP with real signed-in patients and staff: claiming queue
items, restricting members, the sensitive-word list and its exception phrases. Each for the actor who
may, and refused (with its typed code) for those who may not."""

from __future__ import annotations

import uuid
from typing import Any

from api.relay import to_global_id
from tests.factories import make_group, member_of
from tests.support import data, gql, membership_gid, signed_in_patient, staff_session

POST = """mutation($g: ID!) { postCreate(input: {groupId: $g, kind: DISCUSSION, title: "控糖心得",
  body: "每天走路一小时"}) { post { id status } errors { code } } }"""
REPORT = """mutation($t: ID!) { report(input: {targetId: $t, reason: SPAM, detail: "广告"}) {
  report { id } errors { code } } }"""
QUEUE = """query($g: ID) { moderationQueue(groupId: $g, first: 10) { nodes { id version status targetId
  claimedByMe } } }"""
CLAIM = """mutation($i: ID!, $v: Int!) { moderationClaim(input: {itemId: $i, version: $v}) {
  item { id status version claimedByMe } errors { field code } } }"""
RESTRICT = """mutation($m: ID!, $reason: String!, $mute: Int, $ban: Boolean, $lift: Boolean) {
  memberRestrict(input: {membershipId: $m, reason: $reason, muteDays: $mute, ban: $ban, lift: $lift}) {
    membershipId mutedUntil bannedUntil state errors { field code } } }"""
WORD_ADD = """mutation($w: String!) { sensitiveWordAdd(input: {word: $w, category: HOLD, note: "测试"}) {
  word { id word active } errors { field code } } }"""
WORD_REMOVE = """mutation($i: ID!) { sensitiveWordRemove(input: {wordId: $i}) {
  word { id word active } errors { field code } } }"""
WORDS = """query { sensitiveWords(includeInactive: true, first: 100) { nodes { id word active } } }"""
EXC_ADD = """mutation($p: String!) { sensitiveWordExceptionAdd(input: {phrase: $p}) {
  exception { id phrase } errors { field code } } }"""
EXC_REMOVE = """mutation($i: ID!) { sensitiveWordExceptionRemove(input: {exceptionId: $i}) {
  exception { id phrase } errors { field code } } }"""
EXCEPTIONS = "query { sensitiveWordExceptions { id phrase } }"

BAD_ID = "not-a-global-id"


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def _error_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


# --- moderationClaim ------------------------------------------------------------------------------


async def test_moderation_claim_by_a_staff_moderator_not_by_members_or_a_second_moderator(client: Any) -> None:
    group_id = await make_group(f"m-{uuid.uuid4().hex[:10]}")
    gid = to_global_id("Group", group_id)
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    post = data(await gql(client, POST, {"g": gid}, token=author.access))["postCreate"]
    assert post["errors"] == []
    reporter, reporter_id = await signed_in_patient(client)
    await member_of(group_id, reporter_id)
    reported = data(await gql(client, REPORT, {"t": post["post"]["id"]}, token=reporter.access))["report"]
    assert reported["errors"] == []

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    [item] = data(await gql(client, QUEUE, {"g": gid}, token=moderator.access))["moderationQueue"]["nodes"]
    assert item["targetId"] == post["post"]["id"] and item["claimedByMe"] is False
    variables = {"i": item["id"], "v": item["version"]}

    by_reporter = data(await gql(client, CLAIM, variables, token=reporter.access))["moderationClaim"]
    assert codes(by_reporter) == ["PERMISSION_DENIED"] and by_reporter["item"] is None
    doctor = await staff_session(client, _email("doc"), ["doctor"])  # care staff handle emergencies only
    by_doctor = data(await gql(client, CLAIM, variables, token=doctor.access))["moderationClaim"]
    assert codes(by_doctor) == ["PERMISSION_DENIED"]

    claimed = data(await gql(client, CLAIM, variables, token=moderator.access))["moderationClaim"]
    assert claimed["errors"] == []
    assert claimed["item"]["status"] == "CLAIMED" and claimed["item"]["claimedByMe"] is True
    assert claimed["item"]["version"] == item["version"] + 1

    second = await staff_session(client, _email("mod2"), ["moderator"])
    taken = data(await gql(client, CLAIM, {"i": item["id"], "v": claimed["item"]["version"]}, token=second.access))[
        "moderationClaim"
    ]
    assert codes(taken) == ["MODERATION_ITEM_CLAIMED"]
    stale = data(await gql(client, CLAIM, variables, token=moderator.access))["moderationClaim"]
    assert codes(stale) == ["VERSION_CONFLICT"]
    missing = to_global_id("ModerationItem", uuid.uuid4())
    gone = data(await gql(client, CLAIM, {"i": missing, "v": 1}, token=moderator.access))["moderationClaim"]
    assert codes(gone) == ["MODERATION_ITEM_NOT_FOUND"]
    bad = data(await gql(client, CLAIM, {"i": BAD_ID, "v": 1}, token=moderator.access))["moderationClaim"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "itemId"


# --- memberRestrict -------------------------------------------------------------------------------


async def test_member_restrict_mute_ban_and_lift_by_a_moderator_not_by_a_member(client: Any) -> None:
    group_id = await make_group(f"m-{uuid.uuid4().hex[:10]}")
    gid = to_global_id("Group", group_id)
    target, target_id = await signed_in_patient(client)
    await member_of(group_id, target_id)
    mid = await membership_gid(group_id, target_id)
    member, member_id = await signed_in_patient(client)
    await member_of(group_id, member_id)

    by_member = data(await gql(client, RESTRICT, {"m": mid, "reason": "刷屏", "mute": 3}, token=member.access))
    assert codes(by_member["memberRestrict"]) == ["PERMISSION_DENIED"]
    self_mid = await membership_gid(group_id, member_id)
    by_self = data(await gql(client, RESTRICT, {"m": self_mid, "reason": "试试", "lift": True}, token=member.access))
    assert codes(by_self["memberRestrict"]) == ["PERMISSION_DENIED"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    muted = data(await gql(client, RESTRICT, {"m": mid, "reason": "刷屏", "mute": 3}, token=moderator.access))
    assert muted["memberRestrict"]["errors"] == [] and muted["memberRestrict"]["mutedUntil"] is not None
    assert muted["memberRestrict"]["membershipId"] == mid
    refused = data(await gql(client, POST, {"g": gid}, token=target.access))["postCreate"]
    assert codes(refused) == ["MEMBER_MUTED"]

    banned = data(await gql(client, RESTRICT, {"m": mid, "reason": "广告", "ban": True}, token=moderator.access))
    assert banned["memberRestrict"]["errors"] == [] and banned["memberRestrict"]["state"] == "banned"
    assert banned["memberRestrict"]["bannedUntil"] is None  # no days: for good
    lifted = data(await gql(client, RESTRICT, {"m": mid, "reason": "申诉通过", "lift": True}, token=moderator.access))
    assert lifted["memberRestrict"]["errors"] == []
    assert lifted["memberRestrict"]["state"] == "left" and lifted["memberRestrict"]["mutedUntil"] is None


async def test_member_restrict_bad_inputs(client: Any) -> None:
    group_id = await make_group(f"m-{uuid.uuid4().hex[:10]}")
    _, target_id = await signed_in_patient(client)
    await member_of(group_id, target_id)
    mid = await membership_gid(group_id, target_id)
    moderator = await staff_session(client, _email("mod"), ["moderator"])

    both = data(
        await gql(client, RESTRICT, {"m": mid, "reason": " ", "mute": 400, "ban": True}, token=moderator.access)
    )["memberRestrict"]
    assert sorted(codes(both)) == sorted(["RESTRICTION_INVALID", "MUTE_DAYS_INVALID", "REASON_REQUIRED"])
    long_reason = data(
        await gql(client, RESTRICT, {"m": mid, "reason": "理" * 301, "mute": 1}, token=moderator.access)
    )["memberRestrict"]
    assert codes(long_reason) == ["REASON_REQUIRED"]
    missing = to_global_id("Membership", uuid.uuid4())
    gone = data(await gql(client, RESTRICT, {"m": missing, "reason": "刷屏", "mute": 1}, token=moderator.access))
    assert codes(gone["memberRestrict"]) == ["MEMBERSHIP_NOT_FOUND"]
    bad = data(await gql(client, RESTRICT, {"m": BAD_ID, "reason": "刷屏", "mute": 1}, token=moderator.access))
    assert codes(bad["memberRestrict"]) == ["ID_INVALID"]
    assert bad["memberRestrict"]["errors"][0]["field"] == "membershipId"


# --- sensitiveWordRemove --------------------------------------------------------------------------


async def test_sensitive_word_remove_by_an_admin_only(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    word = f"测试词{uuid.uuid4().hex[:6]}"
    added = data(await gql(client, WORD_ADD, {"w": word}, token=admin.access))["sensitiveWordAdd"]
    assert added["errors"] == [] and added["word"]["active"] is True
    word_id = added["word"]["id"]

    moderator = await staff_session(client, _email("mod"), ["moderator"])
    by_moderator = data(await gql(client, WORD_REMOVE, {"i": word_id}, token=moderator.access))
    assert codes(by_moderator["sensitiveWordRemove"]) == ["PERMISSION_DENIED"]
    patient, _ = await signed_in_patient(client)
    by_patient = data(await gql(client, WORD_REMOVE, {"i": word_id}, token=patient.access))
    assert codes(by_patient["sensitiveWordRemove"]) == ["PERMISSION_DENIED"]

    removed = data(await gql(client, WORD_REMOVE, {"i": word_id}, token=admin.access))["sensitiveWordRemove"]
    assert removed["errors"] == [] and removed["word"] == {"id": word_id, "word": word, "active": False}
    listed = data(await gql(client, WORDS, token=admin.access))["sensitiveWords"]["nodes"]
    assert {"id": word_id, "word": word, "active": False} in listed
    missing = to_global_id("SensitiveWord", uuid.uuid4())
    gone = data(await gql(client, WORD_REMOVE, {"i": missing}, token=admin.access))["sensitiveWordRemove"]
    assert codes(gone) == ["WORD_NOT_FOUND"]
    bad = data(await gql(client, WORD_REMOVE, {"i": BAD_ID}, token=admin.access))["sensitiveWordRemove"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "wordId"


# --- sensitiveWordExceptionAdd / Remove, sensitiveWordExceptions -----------------------------------


async def test_word_exceptions_added_listed_and_removed_by_an_admin_only(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    patient, _ = await signed_in_patient(client)
    phrase = f"乳腺癌改良根治术{uuid.uuid4().hex[:6]}"

    for token in (moderator.access, patient.access):
        refused = data(await gql(client, EXC_ADD, {"p": phrase}, token=token))["sensitiveWordExceptionAdd"]
        assert codes(refused) == ["PERMISSION_DENIED"] and refused["exception"] is None
    added = data(await gql(client, EXC_ADD, {"p": f"  {phrase} "}, token=admin.access))["sensitiveWordExceptionAdd"]
    assert added["errors"] == [] and added["exception"]["phrase"] == phrase
    exception_id = added["exception"]["id"]
    again = data(await gql(client, EXC_ADD, {"p": phrase}, token=admin.access))["sensitiveWordExceptionAdd"]
    assert again["errors"] == [] and again["exception"]["id"] == exception_id  # adding twice is harmless

    listed = data(await gql(client, EXCEPTIONS, token=admin.access))["sensitiveWordExceptions"]
    assert {"id": exception_id, "phrase": phrase} in listed
    for token in (moderator.access, patient.access):
        denied = await gql(client, EXCEPTIONS, token=token)
        assert denied["data"] is None and _error_codes(denied) == ["PERMISSION_DENIED"]
    anonymous = await gql(client, EXCEPTIONS)
    assert _error_codes(anonymous) == ["NOT_AUTHENTICATED"]

    by_moderator = data(await gql(client, EXC_REMOVE, {"i": exception_id}, token=moderator.access))
    assert codes(by_moderator["sensitiveWordExceptionRemove"]) == ["PERMISSION_DENIED"]
    removed = data(await gql(client, EXC_REMOVE, {"i": exception_id}, token=admin.access))
    assert removed["sensitiveWordExceptionRemove"]["errors"] == []
    assert removed["sensitiveWordExceptionRemove"]["exception"]["phrase"] == phrase
    listed = data(await gql(client, EXCEPTIONS, token=admin.access))["sensitiveWordExceptions"]
    assert exception_id not in [e["id"] for e in listed]
    twice = data(await gql(client, EXC_REMOVE, {"i": exception_id}, token=admin.access))
    assert codes(twice["sensitiveWordExceptionRemove"]) == ["WORD_NOT_FOUND"]
    bad = data(await gql(client, EXC_REMOVE, {"i": BAD_ID}, token=admin.access))["sensitiveWordExceptionRemove"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "exceptionId"


async def test_word_exception_add_bad_phrases(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    for phrase, code in (("癌", "PHRASE_LENGTH"), ("根" * 61, "PHRASE_LENGTH"), ("!!!", "PHRASE_EMPTY")):
        refused = data(await gql(client, EXC_ADD, {"p": phrase}, token=admin.access))["sensitiveWordExceptionAdd"]
        assert codes(refused) == [code], phrase
        assert refused["errors"][0]["field"] == "phrase"
