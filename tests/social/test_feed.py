"""The following feed: only what the viewer may read, never an anonymous post or answer, tags, answers,
blocks and keyset pages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from community import groups
from core import clock
from core.db import unit_of_work
from core.identity import Role
from core.pagination import InvalidCursor
from patients.models import Patient
from social import blocks, follows
from tests.factories import MODERATOR, make_group
from tests.social.support import (
    account_of,
    comment,
    following,
    following_ids,
    join,
    patient,
    post,
    staff_member,
)


async def _follow(follower, followee) -> None:
    async with unit_of_work() as session:
        await follows.follow(session, follower, account_of(followee))


async def test_posts_of_followed_people_only_in_groups_the_viewer_may_read():
    public = await make_group()
    members = await make_group(visibility="members")
    secret = await make_group(visibility="secret", join_policy="invite")
    author, reader = await patient(), await patient()
    await join(public, author)
    await join(members, author)
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, author.id)
    await join(secret, author)
    in_public = await post(author, public, title="公开群的帖子")
    in_members = await post(author, members, title="会员群的帖子")
    in_secret = await post(author, secret, title="私密群的帖子")
    await _follow(reader, author)

    assert await following_ids(reader) == [("post", in_public.id)]  # a secret group's post never leaks
    await join(members, reader)
    assert await following_ids(reader) == [("post", in_members.id), ("post", in_public.id)]
    # A staff moderator reads every group: the one access check says so for the feed too.
    moderator = await staff_member(Role.MODERATOR)
    await _follow(moderator, author)
    assert [i for _, i in await following_ids(moderator)] == [in_secret.id, in_members.id, in_public.id]


async def test_anonymous_posts_and_answers_never_reach_followers():
    group = await make_group(allow_anonymous=True)
    author, reader, asker = await patient(), await patient(), await patient()
    for p in (author, reader, asker):
        await join(group, p)
    await post(author, group, anonymous=True, title="匿名的帖子 #控糖#")
    question = await post(asker, group, kind="question", title="餐后血糖多少算正常？")
    await comment(author, question.id, "匿名回答", anonymous=True)
    named_answer = await comment(author, question.id, "实名回答")
    await _follow(reader, author)
    async with unit_of_work() as session:
        await follows.follow_tag(session, reader, "控糖")
    assert await following_ids(reader) == [("answer", named_answer.id)]


async def test_answers_tags_blocks_and_held_posts():
    group = await make_group()
    doctor = await staff_member(Role.DOCTOR)
    reader, asker, stranger = await patient(), await patient(), await patient()
    for actor in (doctor, reader, asker, stranger):
        await join(group, actor)
    question = await post(asker, group, kind="question", title="空腹血糖偏高怎么办？")
    discussion = await post(asker, group, title="今天散步一小时")
    answer = await comment(doctor, question.id, "建议先复查糖化血红蛋白")
    await comment(doctor, discussion.id, "坚持就好")  # a comment on a discussion is no answer
    doctors_post = await post(doctor, group, title="科普：#控糖# 的三个误区")
    tagged = await post(stranger, group, title="我的#控糖#日记")
    await post(stranger, group, title="联系我加微信 #控糖#")  # held for review: not published
    await _follow(reader, doctor)
    async with unit_of_work() as session:
        await follows.follow_tag(session, reader, "控糖")

    page = await following(reader)
    assert [(i.kind, i.answer.id if i.answer else i.post_id, i.via_tag) for i in page.items] == [
        ("post", tagged.id, "控糖"),
        ("post", doctors_post.id, None),  # by a followed person: listed once, not again for its tag
        ("answer", answer.id, None),
    ]
    assert page.items[2].post_id == question.id

    async with unit_of_work() as session:
        await blocks.block(session, reader, account_of(stranger))
    assert [i for _, i in await following_ids(reader)] == [doctors_post.id, answer.id]


async def test_keyset_pages_newest_first(monkeypatch):
    group = await make_group()
    author, reader = await patient(), await patient()
    await join(group, author)
    await join(group, reader)
    start = clock.now()
    made = []
    for n in range(5):
        monkeypatch.setattr(clock, "now", lambda n=n: start + timedelta(minutes=n))
        made.append((await post(author, group, title=f"第{n}篇帖子")).id)
    monkeypatch.undo()
    await _follow(reader, author)
    seen, after = [], None
    while True:
        page = await following(reader, first=2, after=after)
        seen += [i.post_id for i in page.items]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert seen == list(reversed(made))
    with pytest.raises(InvalidCursor):
        await following(reader, after="not-a-cursor")


async def test_answers_to_questions_of_people_the_viewer_blocked_are_left_out():
    group = await make_group()
    followed, reader, asker = await patient(), await patient(), await patient()
    for actor in (followed, reader, asker):
        await join(group, actor)
    question = await post(asker, group, kind="question", title="二甲双胍饭前还是饭后吃？")
    answer = await comment(followed, question.id, "饭后吃，胃会舒服一些")
    await _follow(reader, followed)
    assert await following_ids(reader) == [("answer", answer.id)]

    # The question would show the asker the reader blocked: the whole item goes, as in the group feed.
    async with unit_of_work() as session:
        await blocks.block(session, reader, account_of(asker))
    assert await following_ids(reader) == []
    async with unit_of_work() as session:
        await blocks.unblock(session, reader, account_of(asker))
    assert await following_ids(reader) == [("answer", answer.id)]


async def test_an_answer_arrives_whole_with_its_question_as_a_card():
    group = await make_group(allow_anonymous=True)
    followed, reader, asker = await patient(), await patient(), await patient()
    for actor in (followed, reader, asker):
        await join(group, actor)
    question = await post(asker, group, kind="question", title="打胰岛素会上瘾吗？", anonymous=True)
    answer = await comment(followed, question.id, "不会，按医嘱用就好")
    await _follow(reader, followed)

    [item] = (await following(reader)).items
    assert (item.kind, item.post_id, item.via_tag) == ("answer", question.id, None)
    assert item.answer is not None
    for column in ("id", "post_id", "author_kind", "author_id", "anonymous", "body_md", "body_html", "status"):
        assert getattr(item.answer, column) == getattr(answer, column), column
    # The asker stays their group alias; the card never carries their account's name.
    card = item.post
    assert card["anonymous"] is True and card["alias_number"] is not None and card["alias_prefix"]
    assert card["author_name"] != (await _nickname(asker))


async def _nickname(actor) -> str:
    async with unit_of_work() as session:
        found = await session.get(Patient, actor.id)
    assert found is not None
    return found.nickname
