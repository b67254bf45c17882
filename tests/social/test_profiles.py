"""Profiles: privacy settings for a stranger, a follower and oneself; groups listed only where the
viewer may see members; badges; bio and avatar inputs; doctor profile numbers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from community import credentials, groups, posts
from community.models import CheckInStreak, StaffCredential
from core import clock
from core.db import unit_of_work
from core.errors import NotAuthenticated, ValidationFailed
from core.identity import ANONYMOUS, SYSTEM, Role
from core.outbox import OutboxMessage
from patients.models import Staff
from privacy.models import PhiRead
from social import errors, follows, profiles
from social.accounts import Account
from tests.factories import MODERATOR, make_group, make_site
from tests.social.support import (
    account_of,
    comment,
    expert_in,
    join,
    patient,
    post,
    staff_member,
)


async def _view(viewer, owner) -> profiles.ProfileView:
    async with unit_of_work() as session:
        found = await profiles.profile(session, viewer, account_of(owner))
    assert found is not None
    return found


async def _update(actor, **changes) -> None:
    async with unit_of_work() as session:
        await profiles.update(session, actor, profiles.ProfileUpdate(**changes))


async def test_privacy_settings_for_a_stranger_a_follower_and_oneself():
    public = await make_group(name="控糖互助群")
    owner, follower, stranger = await patient(), await patient(), await patient()
    await join(public, owner)
    async with unit_of_work() as session:
        await follows.follow(session, follower, account_of(owner))
        await session.merge(CheckInStreak(patient_id=owner.id, current=3, longest=31, last_date=None))
    await _update(owner, bio="二型糖尿病十年，一起控糖", avatar_key="avatars/2026/a1.jpg")

    # The defaults: groups to nobody, badges to everyone, followers to followers.
    for viewer in (stranger, follower):
        v = await _view(viewer, owner)
        assert v.bio == "二型糖尿病十年，一起控糖" and v.avatar_key == "avatars/2026/a1.jpg"
        assert v.groups is None and v.settings is None and not v.is_self
        assert [b.label for b in v.badges or []] == ["连续打卡30天"]
    assert (await _view(stranger, owner)).follower_count is None
    assert (await _view(follower, owner)).follower_count == 1
    assert (await _view(follower, owner)).viewer_follows and not (await _view(stranger, owner)).viewer_follows
    mine = await _view(owner, owner)
    assert mine.is_self and mine.settings == profiles.Settings() and mine.follower_count == 1
    assert [g.group.id for g in mine.groups or []] == [public] and not mine.can_follow

    await _update(owner, groups_visible_to="followers", badges_visible_to="nobody", followers_visible_to="everyone")
    as_stranger, as_follower = await _view(stranger, owner), await _view(follower, owner)
    assert as_stranger.groups is None and [g.group.id for g in as_follower.groups or []] == [public]
    assert as_stranger.badges is None and as_follower.badges is None
    assert [b.label for b in (await _view(owner, owner)).badges or []] == ["连续打卡30天"]
    assert as_stranger.follower_count == 1 and as_stranger.following_count == 0

    await _update(owner, groups_visible_to="everyone", badges_visible_to="everyone")
    assert [g.group.id for g in (await _view(stranger, owner)).groups or []] == [public]


async def test_shared_groups_list_only_groups_whose_members_the_viewer_may_see():
    """Membership of a disease group is health data: sharing one's groups never lists a members-only or
    secret group to someone who may not see its members, and group role badges follow the same rule."""
    public = await make_group(name="公开群")
    members = await make_group(name="会员群", visibility="members")
    owner, outsider, co_member = await patient(), await patient(), await patient()
    for g in (public, members):
        await join(g, owner)
    await join(members, co_member)
    async with unit_of_work() as session:
        await groups.set_role(
            session, MODERATOR, members, account_kind="patient", account_id=owner.id, role="moderator"
        )
    await _update(owner, groups_visible_to="everyone")
    seen_by_outsider = await _view(outsider, owner)
    assert [g.group.id for g in seen_by_outsider.groups or []] == [public]
    assert [b.kind for b in seen_by_outsider.badges or []] == []
    seen_by_member = await _view(co_member, owner)
    assert {g.group.id for g in seen_by_member.groups or []} == {public, members}
    assert [b.label for b in seen_by_member.badges or []] == ["会员群·版主"]
    # Badges shown but groups not: no group role badge either.
    await _update(owner, groups_visible_to="nobody")
    assert (await _view(co_member, owner)).badges == []


async def test_verified_clinician_badge_follows_the_credential_valid_now_and_staff_reads_are_recorded():
    doctor = await staff_member(Role.DOCTOR, credential=True)
    manager = await staff_member(Role.HEALTH_MANAGER)
    me = await patient()
    assert [b.label for b in (await _view(me, doctor)).badges or []] == ["认证医生"]
    assert (await _view(me, manager)).badges == []
    async with unit_of_work() as session:  # the credential lapses: the badge goes at once
        credential = await session.scalar(select(StaffCredential).where(StaffCredential.staff_id == doctor.id))
        assert credential is not None
        credential.expires_at = clock.now() - timedelta(minutes=1)
    assert (await _view(me, doctor)).badges == []

    # A doctor shown a patient's streak badge has read check-in data: recorded.
    async with unit_of_work() as session:
        await session.merge(CheckInStreak(patient_id=me.id, current=7, longest=7, last_date=None))
    assert [b.days for b in (await _view(doctor, me)).badges or []] == [7]
    async with unit_of_work() as session:
        recorded = (await session.scalars(select(PhiRead).where(PhiRead.patient_id == me.id))).all()
    assert [(r.staff_id, r.kind) for r in recorded] == [(doctor.id, "checkins")]


async def test_profiles_need_a_signed_in_viewer_and_unknown_accounts_are_none():
    me = await patient()
    async with unit_of_work() as session:
        with pytest.raises(NotAuthenticated):
            await profiles.profile(session, ANONYMOUS, account_of(me))
        assert await profiles.profile(session, me, Account("staff", me.id)) is None


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"bio": "长" * 301}, "BIO_LENGTH"),
        ({"bio": "x" * 5000}, "BIO_LENGTH"),
        ({"bio": "你好\x00"}, "BIO_LENGTH"),
        ({"avatar_key": "../etc/passwd.jpg"}, "AVATAR_KEY_INVALID"),
        ({"avatar_key": "https://evil.example/a.jpg"}, "AVATAR_KEY_INVALID"),
        ({"avatar_key": "avatars/a.exe"}, "AVATAR_KEY_INVALID"),
        ({"avatar_key": "a/" * 150 + "a.jpg"}, "AVATAR_KEY_INVALID"),
        ({"avatar_key": "avatars/a\x00.jpg"}, "AVATAR_KEY_INVALID"),
        ({"groups_visible_to": "friends"}, "INVALID_INPUT"),
    ],
)
async def test_bad_profile_inputs(changes, code):
    me = await patient()
    async with unit_of_work() as session:
        with pytest.raises(ValidationFailed) as refused:
            await profiles.update(session, me, profiles.ProfileUpdate(**changes))
    assert [i.code for i in refused.value.issues] == [code]


async def test_bio_passes_the_word_filter_and_a_crisis_brings_help():
    me = await patient()
    for bio in ("有需要加微信详谈", "包治糖尿病", "傻逼"):
        async with unit_of_work() as session:
            with pytest.raises(errors.BioContentBlocked):
                await profiles.update(session, me, profiles.ProfileUpdate(bio=bio))
    doctor = await staff_member(Role.DOCTOR)
    await _update(doctor, bio="内分泌科医生，糖尿病没有特效药，请遵医嘱")  # staff: only block words apply
    with pytest.raises(errors.BioContentBlocked):
        async with unit_of_work() as session:
            await profiles.update(session, me, profiles.ProfileUpdate(bio="我不想活了"))
    async with unit_of_work() as session:  # refused, but help was sent and kept
        sent = (await session.scalars(select(OutboxMessage))).all()
    assert any(m.payload.get("recipient") == str(me.id) for m in sent)
    await _update(me, bio="", avatar_key="")
    assert (await _view(me, me)).bio == ""


async def test_doctor_profile_numbers():
    site = await make_site(f"S{clock.now().microsecond}", "康宁医院东院区")
    doctor = await staff_member(Role.DOCTOR, credential=True)
    async with unit_of_work() as session:
        row = await session.get(Staff, doctor.id)
        assert row is not None
        row.site_id = site
    group = await make_group(allow_anonymous=True)
    secret = await make_group(visibility="secret", join_policy="invite")
    await expert_in(group, doctor)
    await expert_in(secret, doctor)
    asker = await patient()
    await join(group, asker)
    questions = [await post(asker, group, kind="question", title=f"问题{n}：血糖怎么控制？") for n in range(4)]
    answers = [await comment(doctor, q.id, f"回答{n}") for n, q in enumerate(questions)]
    await comment(doctor, questions[0].id, "匿名回答不算", anonymous=True)
    discussion = await post(asker, group, title="日常分享")
    await comment(doctor, discussion.id, "评论不是回答")
    secret_member = await patient()
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, secret_member.id)
    await join(secret, secret_member)
    secret_question = await post(secret_member, secret, kind="question", title="私密群的问题？")
    await comment(doctor, secret_question.id, "私密群的回答不计入")
    async with unit_of_work() as session:
        await posts.accept_answer(session, asker, post_id=questions[0].id, comment_id=answers[0].id)
        await posts.accept_answer(session, asker, post_id=questions[1].id, comment_id=answers[1].id)
        await posts.verify_answer(session, doctor, post_id=questions[1].id, comment_id=answers[1].id)
        await posts.verify_answer(session, doctor, post_id=questions[2].id, comment_id=answers[2].id)

    async with unit_of_work() as session:
        card = await profiles.doctor_profile(session, doctor.id)
    assert card is not None
    assert (card.answer_count, card.accepted_count, card.verified_count) == (4, 2, 2)
    assert card.accepted_rate == 0.75  # three of four answers accepted or verified
    assert card.credential_verified and card.specialty == "内分泌科"
    assert card.site is not None and card.site.name == "康宁医院东院区"

    async with unit_of_work() as session:  # revoked: no verified credential, no specialty claimed
        credential = await session.scalar(select(StaffCredential).where(StaffCredential.staff_id == doctor.id))
        assert credential is not None
        await credentials.revoke(session, SYSTEM, credential.id, reason="资质撤销测试")
    async with unit_of_work() as session:
        card = await profiles.doctor_profile(session, doctor.id)
        assert card is not None and not card.credential_verified and card.specialty is None
    marketer = await staff_member(Role.MARKETER)
    async with unit_of_work() as session:  # not a clinician, not a staff member: no doctor profile
        for other in (marketer, asker):
            assert other.id is not None and await profiles.doctor_profile(session, other.id) is None
