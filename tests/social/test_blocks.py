"""Blocks: what a block hides (posts and comments, for the blocker only; never an anonymous author),
what it forbids (follows and replies both ways) and what it never touches (moderation and care duty)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from community import moderation, posts
from community.models import ContentStatus, ModerationItem, Post
from core.db import unit_of_work
from core.identity import Role
from social import blocks, errors, follows
from social.accounts import Account
from social.models import Follow
from tests.factories import make_group
from tests.social.support import (
    account_of,
    comment,
    comment_ids,
    expert_in,
    group_feed_ids,
    join,
    patient,
    post,
    staff_member,
)


async def _block(blocker, blocked) -> None:
    async with unit_of_work() as session:
        await blocks.block(session, blocker, account_of(blocked))


async def test_a_block_hides_posts_and_comments_for_the_blocker_only():
    group = await make_group(allow_anonymous=True)
    alice, bob, carol = await patient(), await patient(), await patient()
    for p in (alice, bob, carol):
        await join(group, p)
    bobs = await post(bob, group, title="鲍勃的帖子")
    alices = await post(alice, group, title="爱丽丝的帖子")
    bobs_comment = await comment(bob, alices.id, "鲍勃的评论")
    carols_comment = await comment(carol, alices.id, "卡罗尔的评论")

    await _block(alice, bob)

    assert bobs.id not in await group_feed_ids(alice, group)
    assert bobs.id in await group_feed_ids(carol, group)  # only for the blocker
    assert bobs.id in await group_feed_ids(bob, group)
    assert await comment_ids(alice, alices.id) == [carols_comment.id]
    assert await comment_ids(carol, alices.id) == [bobs_comment.id, carols_comment.id]
    async with unit_of_work() as session:  # the ORM feed obeys the same predicate
        orm = await posts.group_feed(session, alice, group, first=50, after=None)
    assert bobs.id not in [p.id for p in orm.page.items] and alices.id in [p.id for p in orm.page.items]

    async with unit_of_work() as session:
        await blocks.unblock(session, alice, account_of(bob))
    assert bobs.id in await group_feed_ids(alice, group)
    assert bobs_comment.id in await comment_ids(alice, alices.id)


async def test_anonymous_posts_and_comments_are_never_hidden_by_a_block():
    """Hiding them would unmask the alias: its posts vanishing right after blocking Bob say it is Bob."""
    group = await make_group(allow_anonymous=True)
    alice, bob = await patient(), await patient()
    await join(group, alice)
    await join(group, bob)
    anonymous = await post(bob, group, anonymous=True)
    named = await post(bob, group)
    anonymous_comment = await comment(bob, anonymous.id, "匿名评论", anonymous=True)
    await _block(alice, bob)
    ids = await group_feed_ids(alice, group)
    assert anonymous.id in ids and named.id not in ids
    assert await comment_ids(alice, anonymous.id) == [anonymous_comment.id]


async def test_replies_are_refused_both_ways_but_not_to_anonymous_posts():
    group = await make_group(allow_anonymous=True)
    alice, bob = await patient(), await patient()
    await join(group, alice)
    await join(group, bob)
    alices = await post(alice, group)
    bobs = await post(bob, group)
    alices_anonymous = await post(alice, group, anonymous=True)
    alices_comment = await comment(alice, bobs.id, "爱丽丝先说")
    await _block(alice, bob)

    for author, target, parent in ((bob, alices.id, None), (alice, bobs.id, None), (bob, bobs.id, alices_comment.id)):
        async with unit_of_work() as session:
            with pytest.raises(errors.Blocked) as refused:
                await posts.create_comment(session, author, post_id=target, body="回复", parent_id=parent)
        assert refused.value.field == ("parentId" if parent else "postId")
    # Refusing a reply to an anonymous post would tell Bob who wrote it.
    await comment(bob, alices_anonymous.id, "回复匿名帖")


async def test_a_block_removes_follows_both_ways_and_refuses_new_ones():
    alice, bob = await patient(), await patient()
    async with unit_of_work() as session:
        await follows.follow(session, alice, account_of(bob))
        await follows.follow(session, bob, account_of(alice))
    await _block(bob, alice)
    async with unit_of_work() as session:
        assert (await session.scalars(select(Follow))).all() == []
        assert await blocks.blocked_between(session, account_of(alice), account_of(bob))
        assert await blocks.blocked_between(session, account_of(bob), account_of(alice))
    for follower, followee in ((alice, bob), (bob, alice)):
        async with unit_of_work() as session:
            with pytest.raises(errors.Blocked):
                await follows.follow(session, follower, account_of(followee))


async def test_block_inputs():
    alice = await patient()
    async with unit_of_work() as session:
        with pytest.raises(errors.BlockSelf):
            await blocks.block(session, alice, account_of(alice))
        with pytest.raises(errors.PersonNotFound):
            await blocks.block(session, alice, Account("staff", alice.id))  # a patient's id as a staff id
    bob = await patient()
    await _block(alice, bob)
    await _block(alice, bob)  # twice is once
    async with unit_of_work() as session:
        page = await blocks.my_blocks(session, alice, first=10, after=None)
        assert [b.blocked_id for b in page.items] == [bob.id]
        assert (await blocks.my_blocks(session, bob, first=10, after=None)).items == []


async def test_block_limit(monkeypatch):
    monkeypatch.setattr(blocks, "MAX_BLOCKS", 2)
    alice = await patient()
    for _ in range(2):
        await _block(alice, await patient())
    async with unit_of_work() as session:
        with pytest.raises(errors.BlockLimit):
            await blocks.block(session, alice, account_of(await patient()))


async def test_staff_on_duty_are_never_blocked_from_moderation_or_care():
    """Blocking a moderator or a doctor hides their social posts, nothing else: their comments (answers)
    stay visible, their replies go through, and the moderator's decision on the blocker's post holds."""
    group = await make_group()
    alice = await patient()
    await join(group, alice)
    doctor = await staff_member(Role.DOCTOR, credential=True)
    await expert_in(group, doctor)
    moderator = await staff_member(Role.MODERATOR)
    await join(group, moderator)
    doctors_post = await post(doctor, group, title="医生科普：如何测血糖")
    question = await post(alice, group, kind="question", title="空腹血糖偏高怎么办？")
    await _block(alice, doctor)
    await _block(alice, moderator)

    answer = await comment(doctor, question.id, "建议先复查糖化血红蛋白")  # the reply goes through
    assert doctors_post.id not in await group_feed_ids(alice, group)  # the social post is hidden
    assert answer.id in await comment_ids(alice, question.id)  # the answer is not
    reply = await comment(alice, question.id, "谢谢医生", parent_id=answer.id)  # nor is her reply refused
    async with unit_of_work() as session:
        await posts.verify_answer(session, doctor, post_id=question.id, comment_id=answer.id)

    # A moderation decision on the blocker's content goes through the queue whatever she blocked.
    reporter = await patient()
    await join(group, reporter)
    async with unit_of_work() as session:
        await moderation.report(session, reporter, target_kind="post", target_id=question.id, reason="spam")
    async with unit_of_work() as session:
        item = await session.scalar(select(ModerationItem).where(ModerationItem.target_id == question.id))
        assert item is not None
        await moderation.decide(session, moderator, item.id, decision="hide", reason="重复发帖", version=item.version)
    async with unit_of_work() as session:
        hidden = await session.get(Post, question.id)
        assert hidden is not None and hidden.status == ContentStatus.HIDDEN
    assert reply.id


async def test_a_block_also_hides_their_posts_in_post_search_and_in_my_bookmarks():
    from community import bookmarks, search

    group = await make_group()
    alice, bob = await patient(), await patient()
    for p in (alice, bob):
        await join(group, p)
    bobs = await post(bob, group, title="胰岛素注射经验", body="胰岛素笔的针头每次更换")

    async def searched() -> list:
        async with unit_of_work() as session:
            page = await search.search_posts(session, alice, "胰岛素", first=10, after=None)
        return [h.post_id for h in page.items]

    async def saved() -> list:
        async with unit_of_work() as session:
            page = await bookmarks.page(session, alice, first=10, after=None)
        return [s.target_id for s in page.items]

    async with unit_of_work() as session:
        await bookmarks.add(session, alice, kind="post", target_id=bobs.id)
    assert await searched() == [bobs.id] and await saved() == [bobs.id]
    await _block(alice, bob)
    assert await searched() == [] and await saved() == []
    async with unit_of_work() as session:
        await blocks.unblock(session, alice, account_of(bob))
    assert await searched() == [bobs.id] and await saved() == [bobs.id]
