"""Follows: whom one may follow, tags, limits, and two concurrent follows making one row."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core.db import unit_of_work
from core.errors import NotAuthenticated
from core.identity import ANONYMOUS, Role
from social import errors, follows, profiles, tags
from social.accounts import Account
from social.models import Follow, TagFollow
from tests.social.support import account_of, patient, staff_member


async def _follow(follower, followee) -> None:
    async with unit_of_work() as session:
        await follows.follow(session, follower, account_of(followee))


async def test_doctors_health_managers_and_patients_may_be_followed_other_staff_not():
    me = await patient()
    doctor = await staff_member(Role.DOCTOR)
    manager = await staff_member(Role.HEALTH_MANAGER)
    other = await patient()
    for target in (doctor, manager, other):
        await _follow(me, target)
    for role in (Role.MARKETER, Role.CLINIC_STAFF, Role.MODERATOR):
        not_clinical = await staff_member(role)
        async with unit_of_work() as session:
            with pytest.raises(errors.FollowNotAllowed):
                await follows.follow(session, me, account_of(not_clinical))
    # Staff follow too (a doctor follows a health manager).
    await _follow(doctor, manager)
    async with unit_of_work() as session:
        page = await follows.following_page(session, account_of(me), first=10, after=None)
        assert {Account(f.followee_kind, f.followee_id) for f in page.items} == {
            account_of(doctor),
            account_of(manager),
            account_of(other),
        }
        followers = await follows.followers_page(session, account_of(manager), first=10, after=None)
        assert [Account(f.follower_kind, f.follower_id) for f in followers.items] == [
            account_of(doctor),
            account_of(me),
        ]


async def test_a_person_who_does_not_allow_it_cannot_be_followed():
    me, shy = await patient(), await patient()
    async with unit_of_work() as session:
        await profiles.update(session, shy, profiles.ProfileUpdate(allow_follow=False))
    async with unit_of_work() as session:
        with pytest.raises(errors.FollowNotAllowed) as refused:
            await follows.follow(session, me, account_of(shy))
    assert refused.value.field == "accountId"
    doctor = await staff_member(Role.DOCTOR)
    async with unit_of_work() as session:
        await profiles.update(session, doctor, profiles.ProfileUpdate(allow_follow=False))
    async with unit_of_work() as session:
        with pytest.raises(errors.FollowNotAllowed):
            await follows.follow(session, me, account_of(doctor))


async def test_follow_inputs_and_idempotence():
    me = await patient()
    async with unit_of_work() as session:
        with pytest.raises(errors.FollowSelf):
            await follows.follow(session, me, account_of(me))
        with pytest.raises(errors.PersonNotFound):
            await follows.follow(session, me, Account("staff", me.id))
        with pytest.raises(NotAuthenticated):
            await follows.follow(session, ANONYMOUS, account_of(me))
    other = await patient()
    await _follow(me, other)
    await _follow(me, other)
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 1
        await follows.unfollow(session, me, account_of(other))
        await follows.unfollow(session, me, account_of(other))  # not following: the same answer
        assert await session.scalar(select(func.count()).select_from(Follow)) == 0


async def test_two_concurrent_follows_make_one_row():
    me, other = await patient(), await patient()
    await asyncio.gather(*(_follow(me, other) for _ in range(2)))
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Follow)) == 1


async def test_two_concurrent_tag_follows_make_one_row_and_tags_are_normalised():
    me = await patient()

    async def follow(raw: str) -> str:
        async with unit_of_work() as session:
            return await follows.follow_tag(session, me, raw)

    assert set(await asyncio.gather(follow("#控糖#"), follow("＃控糖"), follow(" 控糖 "))) == {"控糖"}
    assert await follow("Ｔ２糖尿病") == "t2糖尿病"
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(TagFollow)) == 2
        assert await follows.my_tags(session, me) == ["t2糖尿病", "控糖"]
    for bad in ("", "#", "控 糖", "a" * 21, "控糖\x00", "x" * 500, "控糖!"):
        async with unit_of_work() as session:
            with pytest.raises(errors.TagInvalid):
                await follows.follow_tag(session, me, bad)


async def test_follow_limits(monkeypatch):
    monkeypatch.setattr(follows, "MAX_FOLLOWS", 2)
    monkeypatch.setattr(follows, "MAX_TAGS", 1)
    me = await patient()
    first, second = await patient(), await patient()
    await _follow(me, first)
    await _follow(me, second)
    await _follow(me, first)  # following again is no new follow
    async with unit_of_work() as session:
        with pytest.raises(errors.FollowLimit):
            await follows.follow(session, me, account_of(await patient()))
    async with unit_of_work() as session:
        await follows.follow_tag(session, me, "控糖")
    async with unit_of_work() as session:
        with pytest.raises(errors.FollowLimit):
            await follows.follow_tag(session, me, "降压")


def test_tags_in_text():
    assert tags.extract("今天#控糖#打卡", "#运动 每天 #T2# 链接 https://a.cn/x#part &#123; ## 标题") == [
        "控糖",
        "运动",
        "t2",
    ]
    assert tags.extract("#" + "长" * 21) == []  # a cut-off word is no tag
    assert tags.extract(" ".join(f"#t{i}" for i in range(15))) == [f"t{i}" for i in range(10)]
