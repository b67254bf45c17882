"""Bookmarks of posts, comments (answers) and articles through the real schema over HTTP with signed-in
patients and staff: adding twice keeps one, the list shows only what the person may still read (a
members-only group they left, a removed post), pages by cursor, and who may not."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from api.relay import to_global_id
from core import clock
from tests.content.support import article, publish
from tests.factories import make_group, member_of
from tests.support import data, gql, signed_in_patient, staff_session

ADD = """mutation($t: ID!) { bookmarkAdd(input: {targetId: $t}) {
  bookmark { kind bookmarkedAt post { id }
    target { __typename ... on Post { id } ... on Comment { id } ... on ContentItem { id } } }
  errors { field code } } }"""
REMOVE = """mutation($t: ID!) { bookmarkRemove(input: {targetId: $t}) { removed errors { field code } } }"""
MINE = """query($first: Int, $after: String) { myBookmarks(first: $first, after: $after) {
  edges { cursor node { kind bookmarkedAt post { id title }
    target { __typename ... on Post { id title } ... on Comment { id bodyHtml } ... on ContentItem { id title } } } }
  pageInfo { hasNextPage endCursor } } }"""
POST = """mutation($g: ID!, $title: String!, $body: String!) {
  postCreate(input: {groupId: $g, kind: QUESTION, title: $title, body: $body}) { post { id } errors { code } } }"""
COMMENT = """mutation($p: ID!, $body: String!) {
  commentCreate(input: {postId: $p, body: $body}) { comment { id } errors { code } } }"""
DELETE = """mutation($p: ID!) { postDelete(input: {postId: $p}) { post { id } errors { code } } }"""
LEAVE = """mutation($g: ID!) { groupLeave(input: {groupId: $g}) { state errors { code } } }"""
JOIN = """mutation($g: ID!) { groupJoin(input: {groupId: $g}) { state errors { code } } }"""


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def _post(client: Any, token: str, group: uuid.UUID, title: str) -> str:
    made = data(
        await gql(client, POST, {"g": to_global_id("Group", group), "title": title, "body": "请教"}, token=token)
    )
    assert made["postCreate"]["errors"] == [], made
    return str(made["postCreate"]["post"]["id"])


async def _mine(client: Any, token: str, first: int = 50, after: str | None = None) -> dict[str, Any]:
    return data(await gql(client, MINE, {"first": first, "after": after}, token=token))["myBookmarks"]


async def _targets(client: Any, token: str) -> list[str]:
    return [e["node"]["target"]["id"] for e in (await _mine(client, token))["edges"]]


async def test_bookmarks_of_posts_answers_and_articles(client: Any) -> None:
    public = await make_group(visibility="public")
    members = await make_group(visibility="members")
    author, author_id = await signed_in_patient(client)
    await member_of(public, author_id)
    await member_of(members, author_id)
    reader, reader_id = await signed_in_patient(client)
    await member_of(members, reader_id)

    private_post = await _post(client, author.access, members, "胰岛素怎么保存")
    public_post = await _post(client, author.access, public, "空腹血糖多少算正常")
    made = data(await gql(client, COMMENT, {"p": public_post, "body": "4.4到7.0之间"}, token=author.access))
    answer = made["commentCreate"]["comment"]["id"]
    article_id = to_global_id("ContentItem", await publish(article(title="控糖饮食指南", condition_codes=[])))

    first = data(await gql(client, ADD, {"t": private_post}, token=reader.access))["bookmarkAdd"]
    assert first["errors"] == [] and first["bookmark"]["kind"] == "POST"
    assert first["bookmark"]["target"] == {"__typename": "Post", "id": private_post}
    clock.clock.advance(timedelta(minutes=1))
    again = data(await gql(client, ADD, {"t": private_post}, token=reader.access))["bookmarkAdd"]
    assert again["errors"] == [] and again["bookmark"]["bookmarkedAt"] == first["bookmark"]["bookmarkedAt"]
    clock.clock.advance(timedelta(minutes=1))
    saved = data(await gql(client, ADD, {"t": answer}, token=reader.access))["bookmarkAdd"]["bookmark"]
    assert saved["kind"] == "COMMENT" and saved["post"] == {"id": public_post}
    clock.clock.advance(timedelta(minutes=1))
    saved = data(await gql(client, ADD, {"t": article_id}, token=reader.access))["bookmarkAdd"]["bookmark"]
    assert saved["kind"] == "ARTICLE" and saved["target"]["__typename"] == "ContentItem" and saved["post"] is None

    # Newest first, once each; pages by cursor without repeats.
    assert await _targets(client, reader.access) == [article_id, answer, private_post]
    listed = (await _mine(client, reader.access))["edges"]
    assert [e["node"]["kind"] for e in listed] == ["ARTICLE", "COMMENT", "POST"]
    assert listed[1]["node"]["post"]["title"] == "空腹血糖多少算正常"
    assert listed[0]["node"]["target"]["title"] == "控糖饮食指南"
    page = await _mine(client, reader.access, first=2)
    assert page["pageInfo"]["hasNextPage"] is True
    rest = await _mine(client, reader.access, first=2, after=page["pageInfo"]["endCursor"])
    assert [e["node"]["target"]["id"] for e in page["edges"] + rest["edges"]] == [article_id, answer, private_post]
    assert rest["pageInfo"]["hasNextPage"] is False

    # Leaving the members-only group hides its post (the bookmark stays); joining again brings it back.
    left = data(await gql(client, LEAVE, {"g": to_global_id("Group", members)}, token=reader.access))["groupLeave"]
    assert left["errors"] == []
    assert await _targets(client, reader.access) == [article_id, answer]
    assert "胰岛素" not in str(await _mine(client, reader.access))
    again_denied = data(await gql(client, ADD, {"t": private_post}, token=reader.access))["bookmarkAdd"]
    assert _codes(again_denied) == ["POST_NOT_FOUND"] and again_denied["bookmark"] is None
    joined = data(await gql(client, JOIN, {"g": to_global_id("Group", members)}, token=reader.access))["groupJoin"]
    assert joined["errors"] == []
    assert await _targets(client, reader.access) == [article_id, answer, private_post]

    # A removed post takes its answers with it.
    assert data(await gql(client, DELETE, {"p": public_post}, token=author.access))["postDelete"]["errors"] == []
    assert await _targets(client, reader.access) == [article_id, private_post]

    # Removing: true once, then false; the article's bookmark goes back to content.
    for target in (private_post, article_id):
        assert data(await gql(client, REMOVE, {"t": target}, token=reader.access))["bookmarkRemove"] == {
            "removed": True,
            "errors": [],
        }
        assert data(await gql(client, REMOVE, {"t": target}, token=reader.access))["bookmarkRemove"]["removed"] is False
    assert await _targets(client, reader.access) == []
    # Someone else's list is their own.
    assert await _targets(client, author.access) == []


async def test_who_may_not_and_bad_inputs(client: Any) -> None:
    members = await make_group(visibility="members")
    public = await make_group(visibility="public")
    author, author_id = await signed_in_patient(client)
    await member_of(members, author_id)
    await member_of(public, author_id)
    hidden = await _post(client, author.access, members, "只给群友看的帖子")
    visible = await _post(client, author.access, public, "公开的帖子")
    outsider, _ = await signed_in_patient(client)

    refused = data(await gql(client, ADD, {"t": hidden}, token=outsider.access))["bookmarkAdd"]
    assert _codes(refused) == ["POST_NOT_FOUND"] and refused["errors"][0]["field"] == "targetId"
    nobody = data(await gql(client, ADD, {"t": visible}))["bookmarkAdd"]
    assert _codes(nobody) == ["NOT_AUTHENTICATED"]
    assert _codes(data(await gql(client, REMOVE, {"t": visible}))["bookmarkRemove"]) == ["NOT_AUTHENTICATED"]
    listing = await gql(client, MINE, {"first": 5})
    assert listing["data"] is None and listing["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    for bad in ("not-an-id", to_global_id("Group", uuid.uuid4()), "", "\u2603" * 300):
        payload = data(await gql(client, ADD, {"t": bad}, token=outsider.access))["bookmarkAdd"]
        assert _codes(payload) == ["ID_INVALID"] and payload["errors"][0]["field"] == "targetId"
    assert _codes(
        data(await gql(client, ADD, {"t": to_global_id("Post", uuid.uuid4())}, token=outsider.access))["bookmarkAdd"]
    ) == ["POST_NOT_FOUND"]
    assert _codes(
        data(await gql(client, ADD, {"t": to_global_id("Comment", uuid.uuid4())}, token=outsider.access))["bookmarkAdd"]
    ) == ["COMMENT_NOT_FOUND"]
    nul = await gql(client, ADD, {"t": "UG9zdDo\x00"}, token=outsider.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING"
    bad_cursor = await gql(client, MINE, {"first": 5, "after": "bm90LWEtY3Vyc29y"}, token=outsider.access)
    assert bad_cursor["errors"][0]["extensions"]["code"] == "CURSOR_INVALID"

    # Staff bookmark posts too; article bookmarks are a patient's (content keeps them).
    doctor = await staff_session(client, f"doc-{uuid.uuid4().hex[:8]}@example.cn", ["doctor"])
    assert data(await gql(client, ADD, {"t": visible}, token=doctor.access))["bookmarkAdd"]["errors"] == []
    assert await _targets(client, doctor.access) == [visible]
    article_id = to_global_id("ContentItem", await publish(article(title="运动处方", condition_codes=[])))
    denied = data(await gql(client, ADD, {"t": article_id}, token=doctor.access))["bookmarkAdd"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
