"""The rules of comments after they are written and of naming a member, in the domain (no HTTP): a post's
comment count follows its published comments through edits, deletions, removals and queue decisions;
revisions come newest first; a member is named by one id or by group and account, never both."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from community import comments, groups, moderation, posts
from community.models import Comment, ModerationItem, Post
from core import clock
from core.db import unit_of_work
from core.errors import DomainError
from patients.models import Patient
from tests.factories import MODERATOR, as_patient, make_group, member_of


async def _post_and_member() -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    group_id = await make_group()
    author = await member_of(group_id)
    async with unit_of_work() as session:
        created = await posts.create_post(
            session, as_patient(author), group_id=group_id, kind="question", title="血压问题", body="早上血压偏高"
        )
    return group_id, created.item.id, await member_of(group_id)


async def _comment(post_id: uuid.UUID, member: uuid.UUID, body: str) -> uuid.UUID:
    async with unit_of_work() as session:
        created = await posts.create_comment(session, as_patient(member), post_id=post_id, body=body)
    return created.item.id


async def _count(post_id: uuid.UUID) -> int:
    async with unit_of_work() as session:
        post = await session.get(Post, post_id)
    assert post is not None
    return post.comment_count


async def test_the_comment_count_follows_published_comments_through_every_path() -> None:
    _, post_id, member = await _post_and_member()
    first = await _comment(post_id, member, "多喝水")
    held = await _comment(post_id, member, "加我微信详聊")  # held: not counted
    assert await _count(post_id) == 1

    async with unit_of_work() as session:  # a moderator releases the held one: counted now
        item = await session.scalar(select(ModerationItem).where(ModerationItem.target_id == held))
        assert item is not None
        await moderation.decide(session, MODERATOR, item.id, version=item.version, decision="keep", reason=None)
    assert await _count(post_id) == 2

    async with unit_of_work() as session:  # edited into held words: waits again, not counted
        await comments.edit_comment(session, as_patient(member), first, body="扫码进群看更多")
    assert await _count(post_id) == 1
    async with unit_of_work() as session:  # the author deletes the released one
        await comments.delete_comment(session, as_patient(member), held)
    assert await _count(post_id) == 0
    async with unit_of_work() as session:  # removing the held one changes nothing more
        await comments.remove_comment(session, MODERATOR, first, reason="引流")
    assert await _count(post_id) == 0


async def test_revisions_come_newest_first_and_a_removal_keeps_the_last_text() -> None:
    _, post_id, member = await _post_and_member()
    comment_id = await _comment(post_id, member, "第一版")
    for body in ("第二版", "第三版"):
        async with unit_of_work() as session:
            await comments.edit_comment(session, as_patient(member), comment_id, body=body)
    async with unit_of_work() as session:
        await comments.remove_comment(session, MODERATOR, comment_id, reason="重复内容")
    async with unit_of_work() as session:
        found = await comments.revisions_of(session, [comment_id, uuid.uuid4()])
        comment = await session.get(Comment, comment_id)
    assert [r.body_md for r in found[comment_id]] == ["第三版", "第二版", "第一版"]
    assert comment is not None and comment.status == "removed" and comment.body_md == "第三版"


async def test_revisions_are_refused_to_members_and_authors() -> None:
    group_id, _, member = await _post_and_member()
    async with unit_of_work() as session:
        mine = await groups.access.membership(session, group_id, as_patient(member))
    with pytest.raises(DomainError) as refused:
        comments.check_revisions_reader(as_patient(member), mine)
    assert refused.value.code == "PERMISSION_DENIED"
    comments.check_revisions_reader(MODERATOR, None)  # staff moderators read every group's


def test_a_member_is_named_by_one_id_or_by_group_and_account() -> None:
    some = uuid.uuid4()
    assert groups.MemberRef(membership_id=some).membership_id == some
    assert groups.MemberRef(group_id=some, account=("patient", some)).account == ("patient", some)
    account = ("patient", some)
    for bad in (
        lambda: groups.MemberRef(),
        lambda: groups.MemberRef(group_id=some),
        lambda: groups.MemberRef(account=account),
        lambda: groups.MemberRef(membership_id=some, group_id=some),
        lambda: groups.MemberRef(membership_id=some, account=account),
    ):
        with pytest.raises(DomainError) as refused:
            bad()
        assert refused.value.code == "MEMBER_TARGET_REQUIRED"


async def test_a_minor_may_delete_but_not_edit_their_comment() -> None:
    _, post_id, member = await _post_and_member()
    comment_id = await _comment(post_id, member, "写于成年前登记之前")
    async with unit_of_work() as session:  # the birth year recorded later says: a minor
        patient = await session.get(Patient, member)
        assert patient is not None
        patient.birth_year = clock.now().year - 12
    with pytest.raises(DomainError) as refused:
        async with unit_of_work() as session:
            await comments.edit_comment(session, as_patient(member), comment_id, body="改一下")
    assert refused.value.code == "MINOR_POSTING_DISABLED"
    async with unit_of_work() as session:
        await comments.delete_comment(session, as_patient(member), comment_id)
    assert await _count(post_id) == 0
