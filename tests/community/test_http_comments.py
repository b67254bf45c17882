"""Comments after they are written (issue 14.10) through the real schema over HTTP, with real signed-in
patients and staff: the author edits (screened like a new comment, crisis first; old texts kept for
moderators only) and deletes (soft, the body cleared); moderators remove, with a reason the author is
told. Who may and who may not, bad inputs, and the post's comment count."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from api.relay import to_global_id
from community import groups, moderation
from community.models import AuditEntry, Membership, ModerationItem
from core import clock
from core.db import unit_of_work
from core.outbox import OutboxMessage
from oncall.models import Page
from tests.factories import MODERATOR, make_group, member_of
from tests.support import data, gql, signed_in_patient, staff_session

POST = """mutation($g: ID!) { postCreate(input: {groupId: $g, kind: QUESTION, title: "餐后血糖",
  body: "餐后两小时血糖9.0正常吗？"}) { post { id status } errors { code } } }"""
COMMENT = """mutation($p: ID!, $body: String!) {
  commentCreate(input: {postId: $p, body: $body}) { comment { id status } errors { code } } }"""
EDIT = """mutation($c: ID!, $body: String!) { commentEdit(input: {commentId: $c, body: $body}) {
  comment { id status bodyHtml editedAt groupAuthor { accountId } } helpText errors { field code message } } }"""
DELETE = """mutation($c: ID!) { commentDelete(input: {commentId: $c}) {
  comment { id status bodyHtml } errors { field code } } }"""
REMOVE = """mutation($c: ID!, $reason: String!) { commentRemove(input: {commentId: $c, reason: $reason}) {
  comment { id status bodyHtml } errors { field code } } }"""
THREAD = """query($p: ID!) { node(id: $p) { ... on Post { commentCount comments(first: 20) { edges { node {
  id status bodyHtml editedAt
  revisions { __typename ... on CommentRevisionList { items { body bodyHtml editedAt } }
    ... on AccessRefusal { code message } } } } } } } }"""
FLAGS = """mutation($p: ID!) { postSetFlags(input: {postId: $p, locked: true}) { post { locked } errors { code } } }"""
REPORT = """mutation($t: ID!) { report(input: {targetId: $t, reason: ABUSE}) { report { id } errors { code } } }"""
QUEUE = """query { moderationQueue(first: 20) { nodes { id targetId status decision } } }"""

CRISIS = "我想自杀，活不下去了"
BAD_ID = "not-a-global-id"


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


async def _thread(client: Any) -> tuple[uuid.UUID, str, Any, uuid.UUID, str]:
    """A group, a question in it and a member's published comment: (group, post, commenter, id, comment)."""
    group_id = await make_group(f"cm-{uuid.uuid4().hex[:10]}")
    asker, asker_id = await signed_in_patient(client)
    await member_of(group_id, asker_id)
    post = data(await gql(client, POST, {"g": to_global_id("Group", group_id)}, token=asker.access))["postCreate"]
    assert post["errors"] == []
    commenter, commenter_id = await signed_in_patient(client)
    await member_of(group_id, commenter_id)
    made = data(await gql(client, COMMENT, {"p": post["post"]["id"], "body": "餐后9.0略高"}, token=commenter.access))
    assert made["commentCreate"]["errors"] == [] and made["commentCreate"]["comment"]["status"] == "PUBLISHED"
    return group_id, post["post"]["id"], commenter, commenter_id, made["commentCreate"]["comment"]["id"]


async def _count(model: Any, *where: Any) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _help_messages(patient_id: uuid.UUID) -> int:
    return await _count(
        OutboxMessage,
        OutboxMessage.payload["recipient"].astext == str(patient_id),
        OutboxMessage.payload["body"].astext == moderation.HELP_TEXT,
    )


async def _group_moderator(client: Any, group_id: uuid.UUID) -> Any:
    session, patient_id = await signed_in_patient(client)
    async with unit_of_work() as db:
        await groups.set_role(db, MODERATOR, group_id, account_kind="patient", account_id=patient_id, role="moderator")
    return session


# --- commentEdit ----------------------------------------------------------------------------------


async def test_comment_edit_by_its_author_keeps_the_old_text_for_moderators_only(client: Any) -> None:
    group_id, post_id, commenter, _, comment_id = await _thread(client)
    edited = data(
        await gql(client, EDIT, {"c": comment_id, "body": "餐后两小时9.0略高，建议复查"}, token=commenter.access)
    )
    payload = edited["commentEdit"]
    assert payload["errors"] == [] and payload["comment"]["status"] == "PUBLISHED"
    assert "建议复查" in payload["comment"]["bodyHtml"] and payload["comment"]["editedAt"] is not None
    again = data(await gql(client, EDIT, {"c": comment_id, "body": "第三版"}, token=commenter.access))["commentEdit"]
    assert again["errors"] == []

    # who may not
    other, other_id = await signed_in_patient(client)
    await member_of(group_id, other_id)
    by_other = data(await gql(client, EDIT, {"c": comment_id, "body": "改别人的"}, token=other.access))["commentEdit"]
    assert codes(by_other) == ["COMMENT_NOT_FOUND"] and by_other["comment"] is None
    elsewhere, elsewhere_id = await signed_in_patient(client)
    await member_of(await make_group(f"cm-{uuid.uuid4().hex[:10]}"), elsewhere_id)
    by_outsider = data(await gql(client, EDIT, {"c": comment_id, "body": "改别人的"}, token=elsewhere.access))
    assert codes(by_outsider["commentEdit"]) == ["COMMENT_NOT_FOUND"]
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    by_moderator = data(await gql(client, EDIT, {"c": comment_id, "body": "版主改"}, token=moderator.access))
    assert codes(by_moderator["commentEdit"]) == ["COMMENT_NOT_FOUND"]  # moderators remove, never rewrite
    anonymous = data(await gql(client, EDIT, {"c": comment_id, "body": "匿名改"}))["commentEdit"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]

    # bad inputs
    for body, code in [("x" * 2001, "BODY_LENGTH"), ("   ", "BODY_LENGTH"), ("", "BODY_LENGTH")]:
        bad = data(await gql(client, EDIT, {"c": comment_id, "body": body}, token=commenter.access))["commentEdit"]
        assert [(e["field"], e["code"]) for e in bad["errors"]] == [("body", code)]
    nul = await gql(client, EDIT, {"c": comment_id, "body": "血糖\x00正常"}, token=commenter.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING" and nul["data"] is None
    for bad_id in (BAD_ID, post_id, to_global_id("Comment", "not-a-uuid")):
        bad = data(await gql(client, EDIT, {"c": bad_id, "body": "正文"}, token=commenter.access))["commentEdit"]
        assert [(e["field"], e["code"]) for e in bad["errors"]] == [("commentId", "ID_INVALID")], bad_id
    missing = to_global_id("Comment", uuid.uuid4())
    gone = data(await gql(client, EDIT, {"c": missing, "body": "正文"}, token=commenter.access))["commentEdit"]
    assert codes(gone) == ["COMMENT_NOT_FOUND"]

    # the word filter applies to the new text as on create
    blocked = data(await gql(client, EDIT, {"c": comment_id, "body": "你个傻逼"}, token=commenter.access))
    assert codes(blocked["commentEdit"]) == ["CONTENT_BLOCKED"]
    held = data(await gql(client, EDIT, {"c": comment_id, "body": "详细的加我微信聊"}, token=commenter.access))
    assert held["commentEdit"]["errors"] == [] and held["commentEdit"]["comment"]["status"] == "HELD"

    # revisions: the group's moderators (and staff moderators) read them, nobody else does
    group_moderator = await _group_moderator(client, group_id)
    for token in (group_moderator.access, moderator.access):
        thread = data(await gql(client, THREAD, {"p": post_id}, token=token))["node"]
        [edge] = thread["comments"]["edges"]
        revisions = edge["node"]["revisions"]
        assert revisions["__typename"] == "CommentRevisionList"
        assert [r["body"] for r in revisions["items"]] == ["第三版", "餐后两小时9.0略高，建议复查", "餐后9.0略高"]
        assert thread["commentCount"] == 0  # the held comment no longer counts
    own = data(await gql(client, THREAD, {"p": post_id}, token=commenter.access))["node"]["comments"]["edges"]
    assert own[0]["node"]["revisions"]["code"] == "PERMISSION_DENIED"  # the author never sees old texts either
    assert "餐后9.0略高" not in str(own)
    public = data(await gql(client, THREAD, {"p": post_id}))["node"]["comments"]["edges"]
    assert public == []  # held: not shown to readers at all


async def test_a_muted_member_or_a_locked_post_refuses_an_edit_unless_it_is_a_crisis(client: Any) -> None:
    group_id, post_id, commenter, commenter_id, comment_id = await _thread(client)
    async with unit_of_work() as session:
        m = await session.scalar(
            select(Membership).where(Membership.group_id == group_id, Membership.account_id == commenter_id)
        )
        assert m is not None
        m.muted_until = clock.now() + timedelta(days=3)
    calm = data(await gql(client, EDIT, {"c": comment_id, "body": "补充一下"}, token=commenter.access))
    assert codes(calm["commentEdit"]) == ["MEMBER_MUTED"]

    pages = await _count(Page, Page.kind.in_(["emergency_post", "crisis_text"]))
    crisis = data(await gql(client, EDIT, {"c": comment_id, "body": CRISIS}, token=commenter.access))["commentEdit"]
    assert crisis["errors"] == [] and crisis["comment"]["status"] == "AUTHOR_ONLY"  # kept for author and staff
    assert crisis["helpText"] == moderation.HELP_TEXT
    assert await _help_messages(commenter_id) == 1
    assert await _count(Page, Page.kind.in_(["emergency_post", "crisis_text"])) == pages + 1
    assert await _count(ModerationItem, ModerationItem.reason == "emergency") == 1

    # a locked post: refused, unless a crisis
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    assert data(await gql(client, FLAGS, {"p": post_id}, token=moderator.access))["postSetFlags"]["errors"] == []
    other, other_id = await signed_in_patient(client)
    await member_of(group_id, other_id)
    async with unit_of_work() as session:
        m = await session.scalar(
            select(Membership).where(Membership.group_id == group_id, Membership.account_id == commenter_id)
        )
        assert m is not None
        m.muted_until = None
    locked = data(await gql(client, EDIT, {"c": comment_id, "body": "平静的补充"}, token=commenter.access))
    assert codes(locked["commentEdit"]) == ["POST_LOCKED"]

    # crisis first: even an edit refused outright (not their comment) brings help and a page
    pages = await _count(Page, Page.kind.in_(["emergency_post", "crisis_text"]))
    refused = data(await gql(client, EDIT, {"c": comment_id, "body": CRISIS}, token=other.access))["commentEdit"]
    assert codes(refused) == ["COMMENT_NOT_FOUND"]
    assert await _help_messages(other_id) == 1
    assert await _count(Page, Page.kind.in_(["emergency_post", "crisis_text"])) == pages + 1


# --- commentDelete --------------------------------------------------------------------------------


async def test_comment_delete_by_its_author_clears_the_body_and_the_count(client: Any) -> None:
    group_id, post_id, commenter, _, comment_id = await _thread(client)
    other, other_id = await signed_in_patient(client)
    await member_of(group_id, other_id)
    refused = data(await gql(client, DELETE, {"c": comment_id}, token=other.access))["commentDelete"]
    assert codes(refused) == ["COMMENT_NOT_FOUND"]
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    assert codes(data(await gql(client, DELETE, {"c": comment_id}, token=moderator.access))["commentDelete"]) == [
        "COMMENT_NOT_FOUND"
    ]
    assert codes(data(await gql(client, DELETE, {"c": comment_id}))["commentDelete"]) == ["NOT_AUTHENTICATED"]
    bad = data(await gql(client, DELETE, {"c": BAD_ID}, token=commenter.access))["commentDelete"]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("commentId", "ID_INVALID")]
    assert data(await gql(client, THREAD, {"p": post_id}, token=other.access))["node"]["commentCount"] == 1

    deleted = data(await gql(client, DELETE, {"c": comment_id}, token=commenter.access))["commentDelete"]
    assert deleted["errors"] == [] and deleted["comment"] == {"id": comment_id, "status": "REMOVED", "bodyHtml": ""}
    twice = data(await gql(client, DELETE, {"c": comment_id}, token=commenter.access))["commentDelete"]
    assert codes(twice) == ["COMMENT_NOT_FOUND"]
    no_edit = data(await gql(client, EDIT, {"c": comment_id, "body": "复活"}, token=commenter.access))["commentEdit"]
    assert codes(no_edit) == ["COMMENT_NOT_FOUND"]

    seen = data(await gql(client, THREAD, {"p": post_id}, token=other.access))["node"]
    assert seen["commentCount"] == 0 and seen["comments"]["edges"] == []
    by_moderator = data(await gql(client, THREAD, {"p": post_id}, token=moderator.access))["node"]["comments"]
    [edge] = by_moderator["edges"]
    assert edge["node"]["status"] == "REMOVED" and edge["node"]["bodyHtml"] == ""  # cleared for everyone
    assert [r["body"] for r in edge["node"]["revisions"]["items"]] == ["餐后9.0略高"]  # kept for moderators


# --- commentRemove --------------------------------------------------------------------------------


async def test_comment_remove_by_the_groups_moderators_with_a_reason(client: Any) -> None:
    group_id, post_id, commenter, commenter_id, comment_id = await _thread(client)
    reporter, reporter_id = await signed_in_patient(client)
    await member_of(group_id, reporter_id)
    assert data(await gql(client, REPORT, {"t": comment_id}, token=reporter.access))["report"]["errors"] == []

    by_member = data(await gql(client, REMOVE, {"c": comment_id, "reason": "辱骂"}, token=reporter.access))
    assert codes(by_member["commentRemove"]) == ["PERMISSION_DENIED"]
    by_author = data(await gql(client, REMOVE, {"c": comment_id, "reason": "辱骂"}, token=commenter.access))
    assert codes(by_author["commentRemove"]) == ["PERMISSION_DENIED"]
    other_group = await make_group(f"cm-{uuid.uuid4().hex[:10]}")
    foreign = await _group_moderator(client, other_group)
    by_foreign = data(await gql(client, REMOVE, {"c": comment_id, "reason": "辱骂"}, token=foreign.access))
    assert codes(by_foreign["commentRemove"]) == ["PERMISSION_DENIED"]
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    by_marketer = data(await gql(client, REMOVE, {"c": comment_id, "reason": "辱骂"}, token=marketer.access))
    assert codes(by_marketer["commentRemove"]) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, REMOVE, {"c": comment_id, "reason": "辱骂"}))["commentRemove"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]

    group_moderator = await _group_moderator(client, group_id)
    for reason in ("", "   ", "理" * 301):
        bad = data(await gql(client, REMOVE, {"c": comment_id, "reason": reason}, token=group_moderator.access))
        assert [(e["field"], e["code"]) for e in bad["commentRemove"]["errors"]] == [("reason", "REASON_REQUIRED")]
    bad_id = data(await gql(client, REMOVE, {"c": post_id, "reason": "辱骂"}, token=group_moderator.access))
    assert codes(bad_id["commentRemove"]) == ["ID_INVALID"]
    missing = to_global_id("Comment", uuid.uuid4())
    gone = data(await gql(client, REMOVE, {"c": missing, "reason": "辱骂"}, token=group_moderator.access))
    assert codes(gone["commentRemove"]) == ["COMMENT_NOT_FOUND"]

    notices = await _count(OutboxMessage, OutboxMessage.payload["recipient"].astext == str(commenter_id))
    removed = data(await gql(client, REMOVE, {"c": comment_id, "reason": "人身攻击"}, token=group_moderator.access))
    assert removed["commentRemove"]["errors"] == []
    assert removed["commentRemove"]["comment"] == {"id": comment_id, "status": "REMOVED", "bodyHtml": ""}
    assert await _count(OutboxMessage, OutboxMessage.payload["recipient"].astext == str(commenter_id)) == notices + 1
    assert await _count(AuditEntry, AuditEntry.action == "comment_remove") == 1
    async with unit_of_work() as session:
        item = await session.scalar(select(ModerationItem).where(ModerationItem.target_kind == "comment"))
    assert item is not None and item.status == "decided" and item.decision == "remove"  # the queue item too
    again = data(await gql(client, REMOVE, {"c": comment_id, "reason": "人身攻击"}, token=group_moderator.access))
    assert again["commentRemove"]["errors"] == []
    assert await _count(AuditEntry, AuditEntry.action == "comment_remove") == 1  # nothing happened twice
    thread = data(await gql(client, THREAD, {"p": post_id}, token=reporter.access))["node"]
    assert thread["commentCount"] == 0 and thread["comments"]["edges"] == []
    edit_after = data(await gql(client, EDIT, {"c": comment_id, "body": "改回来"}, token=commenter.access))
    assert codes(edit_after["commentEdit"]) == ["COMMENT_NOT_FOUND"]


async def test_an_emergency_comment_is_removed_by_staff_not_by_a_group_moderator(client: Any) -> None:
    group_id, post_id, commenter, _, _ = await _thread(client)
    made = data(await gql(client, COMMENT, {"p": post_id, "body": CRISIS}, token=commenter.access))["commentCreate"]
    assert made["comment"]["status"] == "AUTHOR_ONLY"
    crisis_id = made["comment"]["id"]
    group_moderator = await _group_moderator(client, group_id)
    refused = data(await gql(client, REMOVE, {"c": crisis_id, "reason": "清理"}, token=group_moderator.access))
    assert codes(refused["commentRemove"]) == ["PERMISSION_DENIED"]
    staff_moderator = await staff_session(client, _email("mod"), ["moderator"])
    removed = data(
        await gql(client, REMOVE, {"c": crisis_id, "reason": "已电话联系本人"}, token=staff_moderator.access)
    )
    assert removed["commentRemove"]["errors"] == [] and removed["commentRemove"]["comment"]["status"] == "REMOVED"
    queue = data(await gql(client, QUEUE, token=staff_moderator.access))["moderationQueue"]["nodes"]
    assert [n["status"] for n in queue if n["targetId"] == crisis_id] == []  # decided: off the open queue
