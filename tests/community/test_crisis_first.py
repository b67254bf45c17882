"""Crisis first (issue 13.1): a patient's text with an emergency word gets the help reply and pages the
on-duty doctor before any mute, ban, new-member limit or lock decides, through the real schema over
HTTP with real signed-in patients. Where the text can be kept, it is kept visible to its author and
staff only; where it cannot (not a member), the refusal stands and help still comes."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from api.relay import to_global_id
from community import moderation
from community.models import Membership
from core import clock
from core.db import unit_of_work
from core.outbox import OutboxMessage
from oncall.models import Page
from tests.factories import make_group, member_of
from tests.support import data, gql, signed_in_patient

POST = """mutation($g: ID!, $title: String!, $body: String!) {
  postCreate(input: {groupId: $g, kind: DISCUSSION, title: $title, body: $body}) {
    post { id status } helpText errors { code message } } }"""
COMMENT = """mutation($p: ID!, $body: String!) {
  commentCreate(input: {postId: $p, body: $body}) { comment { id status } helpText errors { code } } }"""
CRISIS = "我想自杀，活不下去了"


async def _help_messages(patient_id: uuid.UUID) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.payload["recipient"].astext == str(patient_id),
                    OutboxMessage.payload["body"].astext == moderation.HELP_TEXT,
                )
            )
            or 0
        )


async def _pages() -> int:
    async with unit_of_work() as session:
        kinds = ["emergency_post", "crisis_text"]
        return int(await session.scalar(select(func.count()).select_from(Page).where(Page.kind.in_(kinds))) or 0)


async def _restrict(group_id: uuid.UUID, patient_id: uuid.UUID, **values: Any) -> None:
    async with unit_of_work() as session:
        m = await session.scalar(
            select(Membership).where(Membership.group_id == group_id, Membership.account_id == patient_id)
        )
        assert m is not None
        for key, value in values.items():
            setattr(m, key, value)


async def test_a_muted_member_in_crisis_gets_help_and_the_doctor_is_paged(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}")
    session, patient_id = await signed_in_patient(client)
    await member_of(group_id, patient_id)
    await _restrict(group_id, patient_id, muted_until=clock.now() + timedelta(days=3))
    gid = to_global_id("Group", group_id)

    calm = data(await gql(client, POST, {"g": gid, "title": "今天血糖", "body": "控制得还行"}, token=session.access))
    assert [e["code"] for e in calm["postCreate"]["errors"]] == ["MEMBER_MUTED"]  # the mute still holds

    pages_before = await _pages()
    answer = data(await gql(client, POST, {"g": gid, "title": "求助", "body": CRISIS}, token=session.access))
    payload = answer["postCreate"]
    assert payload["errors"] == []
    assert payload["post"]["status"] == "AUTHOR_ONLY"  # kept for the author and staff only
    assert payload["helpText"] == moderation.HELP_TEXT
    assert await _help_messages(patient_id) == 1
    assert await _pages() == pages_before + 1


async def test_a_new_member_over_the_daily_limit_in_crisis_is_not_turned_away(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}")
    session, patient_id = await signed_in_patient(client)
    await member_of(group_id, patient_id, veteran=False)
    gid = to_global_id("Group", group_id)
    for i in range(moderation.NEW_MEMBER_DAILY_LIMITS["post"]):
        ok = data(await gql(client, POST, {"g": gid, "title": f"第{i}篇", "body": "大家好"}, token=session.access))
        assert ok["postCreate"]["errors"] == []
    limited = data(await gql(client, POST, {"g": gid, "title": "再一篇", "body": "大家好"}, token=session.access))
    assert [e["code"] for e in limited["postCreate"]["errors"]] == ["NEW_MEMBER_LIMIT"]
    crisis = data(await gql(client, POST, {"g": gid, "title": "救救我", "body": CRISIS}, token=session.access))
    assert crisis["postCreate"]["errors"] == [] and crisis["postCreate"]["helpText"] == moderation.HELP_TEXT


async def test_a_crisis_comment_on_a_locked_post_by_a_banned_member_is_kept_and_answered(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}")
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    gid = to_global_id("Group", group_id)
    post = data(await gql(client, POST, {"g": gid, "title": "经验", "body": "分享"}, token=author.access))
    post_id = post["postCreate"]["post"]["id"]
    session, patient_id = await signed_in_patient(client)
    await member_of(group_id, patient_id)
    await _restrict(group_id, patient_id, state="banned", banned_until=None)
    refused = data(await gql(client, COMMENT, {"p": post_id, "body": "同意"}, token=session.access))
    assert [e["code"] for e in refused["commentCreate"]["errors"]] == ["MEMBER_BANNED"]
    answer = data(await gql(client, COMMENT, {"p": post_id, "body": CRISIS}, token=session.access))
    assert answer["commentCreate"]["errors"] == []
    assert answer["commentCreate"]["comment"]["status"] == "AUTHOR_ONLY"
    assert answer["commentCreate"]["helpText"] == moderation.HELP_TEXT
    assert await _help_messages(patient_id) == 1


async def test_a_non_member_in_crisis_is_refused_but_helped_and_the_doctor_is_paged(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}", visibility="private", join_policy="approval")
    session, patient_id = await signed_in_patient(client)
    pages_before = await _pages()
    answer = data(
        await gql(
            client, POST, {"g": to_global_id("Group", group_id), "title": "求助", "body": CRISIS}, token=session.access
        )
    )
    assert [e["code"] for e in answer["postCreate"]["errors"]] == ["NOT_A_MEMBER"]
    assert await _help_messages(patient_id) == 1  # committed with the refusal
    assert await _pages() == pages_before + 1


EDIT = """mutation($p: ID!, $title: String!, $body: String!) {
  postEdit(input: {postId: $p, title: $title, body: $body}) { post { status } helpText errors { code } } }"""
CHECK_IN = """mutation($note: String, $g: ID) {
  checkIn(input: {kind: WEIGHT, weightKg: 70.5, note: $note, groupId: $g}) { errors { code } } }"""
COMPLAINT = """mutation($body: String!) { complaintFile(input: {body: $body}) { errors { code } } }"""


async def test_editing_a_held_post_into_a_crisis_escalates_it_even_while_muted(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}")
    session, patient_id = await signed_in_patient(client)
    await member_of(group_id, patient_id)
    gid = to_global_id("Group", group_id)
    held = data(await gql(client, POST, {"g": gid, "title": "咨询", "body": "私信加我微信了解"}, token=session.access))
    assert held["postCreate"]["post"]["status"] == "HELD"
    await _restrict(group_id, patient_id, muted_until=clock.now() + timedelta(days=1))
    pages_before = await _pages()
    variables = {"p": held["postCreate"]["post"]["id"], "title": "咨询", "body": CRISIS}
    edited = data(await gql(client, EDIT, variables, token=session.access))
    assert edited["postEdit"]["errors"] == []
    assert edited["postEdit"]["post"]["status"] == "AUTHOR_ONLY"
    assert edited["postEdit"]["helpText"] == moderation.HELP_TEXT
    assert await _pages() == pages_before + 1


async def test_a_crisis_in_a_check_in_note_pages_the_doctor_once(client: Any) -> None:
    session, patient_id = await signed_in_patient(client)
    pages_before = await _pages()
    first = data(await gql(client, CHECK_IN, {"note": "胸痛得厉害，喘不上气"}, token=session.access))
    assert first["checkIn"]["errors"] == []
    assert await _help_messages(patient_id) == 1
    assert await _pages() == pages_before + 1
    again = data(await gql(client, CHECK_IN, {"note": "胸痛得厉害，喘不上气"}, token=session.access))
    assert again["checkIn"]["errors"] == []  # the same note replaces today's check-in: answered once
    assert await _pages() == pages_before + 1
    calm = data(await gql(client, CHECK_IN, {"note": "今天感觉不错"}, token=session.access))
    assert calm["checkIn"]["errors"] == [] and await _pages() == pages_before + 1


async def test_a_crisis_check_in_for_a_group_the_patient_is_not_in_is_refused_and_answered(client: Any) -> None:
    group_id = await make_group(f"crisis-{uuid.uuid4().hex[:8]}")
    session, patient_id = await signed_in_patient(client)
    variables = {"note": "我想自杀", "g": to_global_id("Group", group_id)}
    refused = data(await gql(client, CHECK_IN, variables, token=session.access))
    assert [e["code"] for e in refused["checkIn"]["errors"]] == ["NOT_A_MEMBER"]
    assert await _help_messages(patient_id) == 1


async def test_a_crisis_in_a_complaint_pages_the_doctor_even_when_the_complaint_is_refused(client: Any) -> None:
    session, patient_id = await signed_in_patient(client)
    pages_before = await _pages()
    filed = data(await gql(client, COMPLAINT, {"body": "医生态度差，我不想活了"}, token=session.access))
    assert filed["complaintFile"]["errors"] == []
    assert await _pages() == pages_before + 1
    too_short = data(await gql(client, COMPLAINT, {"body": "想自杀"}, token=session.access))
    assert [e["code"] for e in too_short["complaintFile"]["errors"]] == ["COMPLAINT_BODY_LENGTH"]
    assert await _help_messages(patient_id) == 2
    assert await _pages() == pages_before + 2
