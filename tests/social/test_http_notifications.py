"""The notification centre and @mention autocomplete through the real schema over HTTP, with real
signed-in patients and staff: posts, comments, reactions and follows made through the API reach the
centre (fanned out as the worker does), grouped reactions, mark read and all read, the unread count,
preferences per kind and channel (SMS refused), group levels, who may not (the typed code) and bad
inputs (malformed ids, too many, oversized and null-byte prefixes)."""

from __future__ import annotations

import uuid
from typing import Any

from api.relay import from_global_id, to_global_id
from core.identity import Actor, ActorKind
from tests.factories import make_group
from tests.social.notify_support import drain, nickname
from tests.social.support import join
from tests.support import Session, data, gql, signed_in_patient, staff_session

POST = """mutation($g: ID!, $title: String!, $body: String!, $anon: Boolean) {
  postCreate(input: {groupId: $g, kind: DISCUSSION, title: $title, body: $body, anonymous: $anon}) {
    post { id } errors { field code } } }"""
COMMENT = """mutation($p: ID!, $body: String!) { commentCreate(input: {postId: $p, body: $body}) {
  comment { id } errors { field code } } }"""
REACT = """mutation($t: ID!) { react(input: {targetId: $t, kind: HELPFUL}) { ok errors { code } } }"""
FOLLOW = """mutation($a: ID) { follow(input: {accountId: $a}) { following errors { code } } }"""
LEVEL = """mutation($g: ID!, $level: NotificationLevel!) {
  groupNotificationLevelSet(input: {groupId: $g, level: $level}) { errors { code } } }"""
LIST = """query($first: Int, $after: String, $unread: Boolean) {
  notifications(first: $first, after: $after, unreadOnly: $unread) {
    edges { cursor node { id kind title body actorCount isRead readAt targetKind targetId postId groupId
      actors { displayName accountId } } }
    pageInfo { hasNextPage endCursor } } }"""
COUNT = "query { notificationUnreadCount }"
MARK = """mutation($ids: [ID!]!) { notificationMarkRead(input: {ids: $ids}) {
  notifications { id isRead } unreadCount errors { field code } } }"""
MARK_ALL = "mutation { notificationMarkAllRead { marked unreadCount errors { code } } }"
PREFS = "query { notificationPreferences { kind channel enabled locked } }"
PREFS_UPDATE = """mutation($p: [NotificationPreferenceInput!]!) {
  notificationPreferencesUpdate(input: {preferences: $p}) {
    preferences { kind channel enabled } errors { field code } } }"""
CANDIDATES = """query($g: ID!, $prefix: String!, $first: Int) {
  mentionCandidates(groupId: $g, prefix: $prefix, first: $first) { accountId kind displayName role } }"""
NODE = """query($id: ID!) { node(id: $id) { ... on Notification { id title } } }"""


def _actor(session: Session) -> Actor:
    decoded = from_global_id(session.id)
    assert decoded is not None
    kind = ActorKind.STAFF if decoded[0] == "Staff" else ActorKind.PATIENT
    return Actor(kind=kind, id=uuid.UUID(decoded[1]))


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _query_code(result: dict[str, Any]) -> str:
    return str(result["errors"][0]["extensions"]["code"])


async def _members(client: Any, group: uuid.UUID, n: int) -> list[Session]:
    out = []
    for _ in range(n):
        session, _ = await signed_in_patient(client)
        await join(group, _actor(session))
        out.append(session)
    return out


async def _post(client: Any, who: Session, group: uuid.UUID, body: str = "每天走路一小时") -> str:
    payload = data(
        await gql(
            client, POST, {"g": to_global_id("Group", group), "title": "控糖经验", "body": body}, token=who.access
        )
    )["postCreate"]
    assert payload["errors"] == [], payload
    return str(payload["post"]["id"])


async def _list(client: Any, who: Session, **variables: Any) -> list[dict[str, Any]]:
    result = data(await gql(client, LIST, {"first": 20, **variables}, token=who.access))["notifications"]
    return [e["node"] for e in result["edges"]]


async def _count(client: Any, who: Session) -> int:
    return int(data(await gql(client, COUNT, token=who.access))["notificationUnreadCount"])


async def test_replies_reactions_and_follows_made_over_http_reach_the_centre(client: Any) -> None:
    group = await make_group()
    author, fan, other = await _members(client, group, 3)
    await nickname(_actor(fan), "热心群友")
    post_id = await _post(client, author, group)
    answer = data(await gql(client, COMMENT, {"p": post_id, "body": "坚持就是胜利"}, token=fan.access))
    assert answer["commentCreate"]["errors"] == []
    for who in (fan, other):
        assert data(await gql(client, REACT, {"t": post_id}, token=who.access))["react"]["ok"]
    assert data(await gql(client, FOLLOW, {"a": author.id}, token=fan.access))["follow"]["following"]
    await drain()
    nodes = {n["kind"]: n for n in await _list(client, author)}
    assert set(nodes) == {"REPLY", "REACTION", "FOLLOW"}
    assert nodes["REPLY"]["title"] == "热心群友 评论了你的帖子" and nodes["REPLY"]["postId"] == post_id
    assert nodes["REPLY"]["actors"] == [{"displayName": "热心群友", "accountId": fan.id}]
    assert nodes["REPLY"]["targetKind"] == "COMMENT"
    assert nodes["REPLY"]["targetId"] == answer["commentCreate"]["comment"]["id"]
    assert nodes["REACTION"]["title"] == "2 人觉得有帮助" and nodes["REACTION"]["actors"] == []
    assert nodes["FOLLOW"]["targetKind"] == "PERSON" and nodes["FOLLOW"]["targetId"] == fan.id
    assert nodes["REACTION"]["groupId"] == to_global_id("Group", group)
    # The node lookup: the recipient only.
    reply_id = nodes["REPLY"]["id"]
    assert data(await gql(client, NODE, {"id": reply_id}, token=author.access))["node"]["title"]
    assert data(await gql(client, NODE, {"id": reply_id}, token=fan.access))["node"] is None


async def test_unread_count_mark_read_and_mark_all_read_over_http(client: Any) -> None:
    group = await make_group()
    author, fan = await _members(client, group, 2)
    post_id = await _post(client, author, group)
    for i in range(3):
        await gql(client, COMMENT, {"p": post_id, "body": f"第{i}条"}, token=fan.access)
    await drain()
    assert await _count(client, author) == 3
    first_page = data(await gql(client, LIST, {"first": 2}, token=author.access))["notifications"]
    assert first_page["pageInfo"]["hasNextPage"]
    rest = await _list(client, author, after=first_page["pageInfo"]["endCursor"])
    assert len(rest) == 1
    target = first_page["edges"][0]["node"]["id"]
    marked = data(await gql(client, MARK, {"ids": [target]}, token=author.access))["notificationMarkRead"]
    assert marked["errors"] == [] and marked["notifications"] == [{"id": target, "isRead": True}]
    assert marked["unreadCount"] == 2
    again = data(await gql(client, MARK, {"ids": [target]}, token=author.access))["notificationMarkRead"]
    assert again["unreadCount"] == 2  # marking twice changes nothing
    assert len(await _list(client, author, unread=True)) == 2
    # Another person's notification, a malformed id, none, too many: typed codes, nothing marked.
    refused = data(await gql(client, MARK, {"ids": [target]}, token=fan.access))["notificationMarkRead"]
    assert _codes(refused) == ["NOTIFICATION_NOT_FOUND"]
    for ids, code in (
        (["not-an-id"], "ID_INVALID"),
        ([to_global_id("Post", uuid.uuid4())], "ID_INVALID"),
        ([], "NOTIFICATION_NOT_FOUND"),
        ([to_global_id("Notification", uuid.uuid4()) for _ in range(101)], "TOO_MANY_IDS"),
    ):
        payload = data(await gql(client, MARK, {"ids": ids}, token=author.access))["notificationMarkRead"]
        assert _codes(payload) == [code], (ids[:1], payload)
    # A null byte never reaches the service: the input boundary refuses it.
    assert _query_code(await gql(client, MARK, {"ids": ["\x00"]}, token=author.access)) == "INVALID_STRING"
    assert await _count(client, author) == 2
    all_read = data(await gql(client, MARK_ALL, token=author.access))["notificationMarkAllRead"]
    assert (all_read["marked"], all_read["unreadCount"], all_read["errors"]) == (2, 0, [])
    assert await _count(client, author) == 0


async def test_signed_out_callers_get_not_authenticated(client: Any) -> None:
    for query in (LIST, COUNT, PREFS):
        assert _query_code(await gql(client, query, {})) == "NOT_AUTHENTICATED"
    group = to_global_id("Group", await make_group())
    assert _query_code(await gql(client, CANDIDATES, {"g": group, "prefix": "康"})) == "NOT_AUTHENTICATED"
    payload = data(await gql(client, MARK_ALL))["notificationMarkAllRead"]
    assert _codes(payload) == ["NOT_AUTHENTICATED"]
    change = [{"kind": "REPLY", "channel": "IN_APP", "enabled": False}]
    payload = data(await gql(client, PREFS_UPDATE, {"p": change}))["notificationPreferencesUpdate"]
    assert _codes(payload) == ["NOT_AUTHENTICATED"]


async def test_preferences_per_kind_and_channel_over_http(client: Any) -> None:
    group = await make_group()
    author, fan = await _members(client, group, 2)
    prefs = data(await gql(client, PREFS, token=author.access))["notificationPreferences"]
    assert len(prefs) == 20 and {p["channel"] for p in prefs} == {"IN_APP", "WECHAT"}
    by = {(p["kind"], p["channel"]): p for p in prefs}
    assert by[("REPLY", "WECHAT")]["enabled"] and not by[("REACTION", "WECHAT")]["enabled"]
    assert by[("MODERATION", "IN_APP")]["locked"]
    change = [
        {"kind": "REPLY", "channel": "IN_APP", "enabled": False},
        {"kind": "REACTION", "channel": "WECHAT", "enabled": True},
    ]
    updated = data(await gql(client, PREFS_UPDATE, {"p": change}, token=author.access))["notificationPreferencesUpdate"]
    assert updated["errors"] == []
    now = {(p["kind"], p["channel"]): p["enabled"] for p in updated["preferences"]}
    assert now[("REPLY", "IN_APP")] is False and now[("REACTION", "WECHAT")] is True
    post_id = await _post(client, author, group)
    await gql(client, COMMENT, {"p": post_id, "body": "不会通知作者"}, token=fan.access)
    await drain()
    assert await _list(client, author) == []  # replies switched off in the app
    for changes, code, field in (
        ([{"kind": "REPLY", "channel": "SMS", "enabled": True}], "SMS_NOT_FOR_SOCIAL", "preferences.0.channel"),
        (
            [{"kind": "MODERATION", "channel": "IN_APP", "enabled": False}],
            "NOTIFICATION_PREFERENCE_LOCKED",
            "preferences.0",
        ),
        ([], "NOTIFICATION_PREFERENCES_INVALID", "preferences"),
        (
            [{"kind": "REPLY", "channel": "IN_APP", "enabled": True}] * 2,
            "NOTIFICATION_PREFERENCES_INVALID",
            "preferences",
        ),
        (
            [{"kind": "REPLY", "channel": "IN_APP", "enabled": True}] * 41,
            "NOTIFICATION_PREFERENCES_INVALID",
            "preferences",
        ),
    ):
        payload = data(await gql(client, PREFS_UPDATE, {"p": changes}, token=author.access))
        errors = payload["notificationPreferencesUpdate"]["errors"]
        assert [(e["code"], e["field"]) for e in errors] == [(code, field)]
    # An unknown kind is refused by the schema itself.
    bad = await gql(
        client, PREFS_UPDATE, {"p": [{"kind": "SPAM", "channel": "IN_APP", "enabled": True}]}, token=author.access
    )
    assert bad["errors"] and bad.get("data") is None


async def test_the_group_level_set_over_http_is_honoured(client: Any) -> None:
    group = await make_group()
    author, fan = await _members(client, group, 2)
    for level, expected in (("HIGHLIGHTS", {"REPLY"}), ("NONE", set())):
        variables = {"g": to_global_id("Group", group), "level": level}
        result = data(await gql(client, LEVEL, variables, token=author.access))
        assert result["groupNotificationLevelSet"]["errors"] == []
        post_id = await _post(client, author, group)
        await gql(client, COMMENT, {"p": post_id, "body": "路过"}, token=fan.access)
        await gql(client, REACT, {"t": post_id}, token=fan.access)
        await drain()
        new = {n["kind"] for n in await _list(client, author, unread=True)}
        assert new == expected, level
        await gql(client, MARK_ALL, token=author.access)


async def test_mention_candidates_over_http(client: Any) -> None:
    group = await make_group(visibility="members")
    me, kang, kangfu, blocked, passer = await _members(client, group, 5)
    doctor = await staff_session(client, f"doc-{uuid.uuid4().hex[:6]}@example.cn", ["doctor"])
    await join(group, _actor(doctor))
    for who, name in ((me, "我自己康"), (kang, "康康"), (kangfu, "康复中"), (blocked, "康师傅"), (passer, "路人")):
        await nickname(_actor(who), name)
    await gql(
        client, "mutation($a: ID!) { block(input: {accountId: $a}) { blocked } }", {"a": blocked.id}, token=me.access
    )
    g = to_global_id("Group", group)
    found = data(await gql(client, CANDIDATES, {"g": g, "prefix": "@康"}, token=me.access))["mentionCandidates"]
    assert sorted(c["displayName"] for c in found) == sorted(["康复中", "康康"])
    assert {c["accountId"] for c in found} == {kang.id, kangfu.id} and {c["role"] for c in found} == {"MEMBER"}
    one = data(await gql(client, CANDIDATES, {"g": g, "prefix": "", "first": 1}, token=me.access))["mentionCandidates"]
    assert len(one) == 1
    # The doctor is offered by name, as a staff member; a prefix of % is a character, not a wildcard.
    [doc] = data(await gql(client, CANDIDATES, {"g": g, "prefix": "测试员"}, token=me.access))["mentionCandidates"]
    assert (doc["accountId"], doc["kind"]) == (doctor.id, "STAFF")
    assert data(await gql(client, CANDIDATES, {"g": g, "prefix": "%"}, token=me.access))["mentionCandidates"] == []
    # An outsider of the members-only group may not list its members; a secret group does not exist for them.
    outsider, _ = await signed_in_patient(client)
    assert _query_code(await gql(client, CANDIDATES, {"g": g, "prefix": "康"}, token=outsider.access)) == "NOT_A_MEMBER"
    secret = to_global_id("Group", await make_group(visibility="secret", join_policy="invite"))
    code = _query_code(await gql(client, CANDIDATES, {"g": secret, "prefix": "康"}, token=outsider.access))
    assert code == "GROUP_NOT_FOUND"
    for variables, expected in (
        ({"g": g, "prefix": "康" * 21}, "MENTION_PREFIX_INVALID"),
        ({"g": g, "prefix": "康\x00"}, "INVALID_STRING"),
        ({"g": g, "prefix": "康\x07"}, "MENTION_PREFIX_INVALID"),
        ({"g": g, "prefix": "康", "first": 21}, "PAGE_SIZE_INVALID"),
        ({"g": g, "prefix": "康", "first": 0}, "PAGE_SIZE_INVALID"),
        ({"g": "garbage", "prefix": "康"}, "ID_INVALID"),
    ):
        assert _query_code(await gql(client, CANDIDATES, variables, token=me.access)) == expected, variables


async def test_a_mention_made_over_http_tells_only_a_reader(client: Any) -> None:
    group = await make_group(visibility="members")
    author, reader = await _members(client, group, 2)
    outsider, _ = await signed_in_patient(client)
    await nickname(_actor(reader), "读者甲")
    await nickname(_actor(outsider), "外人乙")
    await _post(client, author, group, body="@读者甲 @外人乙 看这里")
    await drain()
    [n] = await _list(client, reader)
    assert n["kind"] == "MENTION" and n["title"].endswith("在帖子中提到了你")
    assert await _list(client, outsider) == []
    assert await _count(client, outsider) == 0


async def test_staff_have_a_centre_too(client: Any) -> None:
    group = await make_group()
    doctor = await staff_session(client, f"doc-{uuid.uuid4().hex[:6]}@example.cn", ["doctor"])
    await join(group, _actor(doctor))
    [fan] = await _members(client, group, 1)
    assert data(await gql(client, FOLLOW, {"a": doctor.id}, token=fan.access))["follow"]["following"]
    await drain()
    [n] = await _list(client, doctor)
    assert n["kind"] == "FOLLOW" and await _count(client, doctor) == 1
