"""The notification centre in the domain (no HTTP): who is told of replies, mentions, reactions, answers,
follows, followed people's posts, events, moderation outcomes and content; grouping; levels and
preferences; the fan-out job run twice or killed midway; reading and marking read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from community import events, groups, posts
from content import service as content_service
from core import clock, outbox
from core.db import unit_of_work
from core.errors import DomainError
from core.identity import Role
from core.outbox import OutboxMessage
from messaging.config import reset_messaging_settings
from messaging.models import MessageDelivery, WechatBinding, WechatGrant
from patients import service as patient_service
from social import blocks, centre, fanout, follows, kinds, mentions, notifications
from social.models import Notification, NotifyRun
from tests.content import support as content_support
from tests.factories import make_group, staff
from tests.social.notify_support import (
    all_notes,
    drain,
    membership_state,
    nickname,
    notes_of,
    set_level,
    set_pref,
)
from tests.social.support import account_of, comment, expert_in, join, patient, post, staff_member


async def patients(n: int) -> list:
    return [await patient() for _ in range(n)]


async def _react(actor, target_kind: str, target_id: uuid.UUID, kind: str = "helpful", on: bool = True) -> None:
    async with unit_of_work() as session:
        await posts.react(session, actor, target_kind=target_kind, target_id=target_id, kind=kind, on=on)


async def _block(blocker, blocked) -> None:
    async with unit_of_work() as session:
        await blocks.block(session, blocker, account_of(blocked))


async def _follow(follower, followee) -> None:
    async with unit_of_work() as session:
        await follows.follow(session, follower, account_of(followee))


# --- replies ----------------------------------------------------------------------------------------


async def test_a_comment_tells_the_posts_author_and_a_reply_tells_the_comments_author() -> None:
    group = await make_group()
    author, first, second = await patient(), await patient(), await patient()
    for p in (author, first, second):
        await join(group, p)
    await nickname(first, "阿明")
    await nickname(second, "小红")
    p = await post(author, group, title="控糖经验分享")
    c = await comment(first, p.id, "我也是这样做的")
    await comment(second, p.id, "同感", parent_id=c.id)
    await drain()
    to_author = await notes_of(author, "reply")
    assert [n.title for n in to_author] == ["阿明 评论了你的帖子", "小红 评论了你的帖子"]
    assert to_author[0].body == "「控糖经验分享」：我也是这样做的" and to_author[0].post_id == p.id
    to_first = await notes_of(first, "reply")
    assert [n.title for n in to_first] == ["小红 回复了你的评论"]
    assert await notes_of(second) == []  # nobody is told of their own doing
    assert to_first[0].actors == [{"kind": "patient", "id": str(second.id), "name": "小红"}]


async def test_an_answer_to_a_question_says_so() -> None:
    group = await make_group()
    asker, doctor = await patient(), await staff_member(Role.DOCTOR)
    await join(group, asker)
    await join(group, doctor)
    question = await post(asker, group, title="空腹血糖偏高怎么办", kind="question")
    await comment(doctor, question.id, "建议先复查糖化血红蛋白")
    await drain()
    [n] = await notes_of(asker, "reply")
    assert n.title.endswith("回答了你的问题")


# --- mentions ---------------------------------------------------------------------------------------


async def test_mentions_notify_only_members_who_can_read_the_post() -> None:
    group = await make_group(visibility="members")
    author, reader, pending, outsider, left = await patients(5)
    for p in (author, reader, left):
        await join(group, p)
    await join(group, pending)
    await membership_state(group, pending, "pending")
    async with unit_of_work() as session:
        await groups.leave(session, left, group)
    for who, name in ((reader, "糖友小李"), (pending, "等待中的人"), (outsider, "群外的人"), (left, "已退群的人")):
        await nickname(who, name)
    await post(author, group, title="大家好", body="@糖友小李 @等待中的人 @群外的人 @已退群的人 一起打卡")
    await drain()
    [n] = await all_notes()
    assert n.recipient_id == reader.id and n.kind == "mention" and n.group_id == group


async def test_the_longest_nickname_wins_and_a_full_width_at_sign_counts() -> None:
    group = await make_group()
    author, short, long_ = await patient(), await patient(), await patient()
    for p in (author, short, long_):
        await join(group, p)
    await nickname(short, "康友12")
    await nickname(long_, "康友1234")
    await post(author, group, body="谢谢＠康友1234 的建议")
    await drain()
    assert [n.recipient_id for n in await all_notes()] == [long_.id]


async def test_blocked_people_cannot_mention_each_other_either_way() -> None:
    group = await make_group()
    author, blocker, blocked_by_author, fine = await patients(4)
    for p in (author, blocker, blocked_by_author, fine):
        await join(group, p)
    for who, name in ((blocker, "拉黑者"), (blocked_by_author, "被拉黑者"), (fine, "普通群友")):
        await nickname(who, name)
    await _block(blocker, author)
    await _block(author, blocked_by_author)
    await post(author, group, body="@拉黑者 @被拉黑者 @普通群友 你们好")
    await drain()
    assert [n.recipient_id for n in await notes_of(fine)] == [fine.id]
    assert await notes_of(blocker) == [] and await notes_of(blocked_by_author) == []
    # The autocomplete offers neither of them.
    async with unit_of_work() as session:
        offered = await mentions.candidates(session, author, group, "")
    assert {c.display_name for c in offered} == {"普通群友"}


async def test_an_anonymous_author_appears_as_their_alias_and_followers_hear_nothing() -> None:
    group = await make_group(allow_anonymous=True, alias_prefix="糖友")
    author, mentioned, follower = await patient(), await patient(), await patient()
    for p in (author, mentioned, follower):
        await join(group, p)
    await _follow(follower, author)
    await nickname(author, "真名小王")
    await nickname(mentioned, "被提到的人")
    p = await post(author, group, title="匿名求助", body="@被提到的人 你怎么看", anonymous=True)
    await drain()
    [n] = await notes_of(mentioned)
    assert "真名小王" not in n.title and n.title.startswith("糖友#")
    assert n.actors == [{"name": n.title.split(" ")[0]}]  # the alias only: no account in the row
    assert await notes_of(follower, "followed_post") == []
    # An anonymous comment on it reads the same.
    await comment(mentioned, p.id, "谢谢", anonymous=False)
    await comment(author, p.id, "@被提到的人 再问一句", anonymous=True)
    await drain()
    mention = (await notes_of(mentioned, "mention"))[-1]
    assert mention.title.startswith("糖友#") and "真名小王" not in mention.title


async def test_mentions_in_a_held_post_wait_for_the_moderator() -> None:
    group = await make_group()
    author, mentioned = await patient(), await patient()
    for p in (author, mentioned):
        await join(group, p)
    await nickname(mentioned, "等通知的人")
    held = await post(author, group, title="私信加我微信了解", body="@等通知的人")  # held by the word filter
    await drain()
    assert await notes_of(mentioned) == []
    from community import moderation
    from community.models import ModerationItem
    from tests.factories import MODERATOR

    async with unit_of_work() as session:
        item = await session.scalar(select(ModerationItem).where(ModerationItem.target_id == held.id))
        assert item is not None
        await moderation.decide(session, MODERATOR, item.id, version=item.version, decision="keep", reason=None)
    await drain()
    assert [n.kind for n in await notes_of(mentioned)] == ["mention"]
    assert [n.kind for n in await notes_of(author)] == ["moderation"]  # the outcome, in the centre too


async def test_a_mute_is_a_moderation_outcome_in_the_centre_whatever_the_groups_level() -> None:
    from community import moderation
    from community.models import Membership
    from tests.factories import MODERATOR

    group = await make_group()
    member = await patient()
    await join(group, member)
    await set_level(member, group, "none")
    async with unit_of_work() as session:
        m = await session.scalar(
            select(Membership).where(Membership.group_id == group, Membership.account_id == member.id)
        )
        assert m is not None
        await moderation.restrict_member(session, MODERATOR, m.id, reason="连续发布广告", mute_days=3)
    [n] = await notes_of(member)
    assert (n.kind, n.title, n.group_id) == ("moderation", "社区管理通知", None) and "连续发布广告" in n.body


# --- reactions --------------------------------------------------------------------------------------


async def test_reactions_are_one_notification_updated_in_place() -> None:
    group = await make_group()
    author, *others = await patients(5)
    for p in (author, *others):
        await join(group, p)
    p = await post(author, group, title="我的控糖食谱")
    for who in others[:3]:
        await _react(who, "post", p.id)
    await _react(author, "post", p.id)  # their own reaction counts for nobody
    await drain()
    [n] = await notes_of(author, "reaction")
    assert (n.title, n.body, n.actor_count, n.actors) == ("3 人觉得有帮助", "你的帖子「我的控糖食谱」", 3, [])
    async with unit_of_work() as session:
        await notifications.mark_read(session, author, [n.id])
    # Taken back and given again: nothing new.
    await _react(others[0], "post", p.id, on=False)
    await _react(others[0], "post", p.id)
    await drain()
    [same] = await notes_of(author, "reaction")
    assert same.read_at is not None and same.actor_count == 3
    # A fourth person: the same row, unread again, moved up.
    await _react(others[3], "post", p.id)
    await drain()
    [grown] = await notes_of(author, "reaction")
    assert grown.id == n.id and grown.title == "4 人觉得有帮助" and grown.read_at is None
    assert grown.updated_at > n.updated_at
    # Another kind is its own notification.
    await _react(others[0], "post", p.id, kind="hug")
    await drain()
    assert {x.title for x in await notes_of(author, "reaction")} == {"1 人给了你一个拥抱", "4 人觉得有帮助"}


async def test_a_reaction_on_a_comment_and_blocked_reactors_do_not_count() -> None:
    group = await make_group()
    author, commenter, fan, blocked = await patients(4)
    for p in (author, commenter, fan, blocked):
        await join(group, p)
    p = await post(author, group)
    c = await comment(commenter, p.id, "我每天散步半小时")
    await _block(commenter, blocked)
    await _react(fan, "comment", c.id, kind="like")
    await _react(blocked, "comment", c.id, kind="like")
    await drain()
    [n] = await notes_of(commenter, "reaction")
    assert n.title == "1 人赞了你" and n.body.startswith("你在「") and n.target_kind == "comment"


# --- answers, follows -------------------------------------------------------------------------------


async def test_accepted_and_verified_answers() -> None:
    group = await make_group()
    asker, answerer = await patient(), await patient()
    doctor = await staff_member(Role.DOCTOR, credential=True)
    for p in (asker, answerer, doctor):
        await join(group, p)
    await expert_in(group, doctor)
    await nickname(asker, "提问的人")
    question = await post(asker, group, title="运动后低血糖怎么办", kind="question")
    answer = await comment(answerer, question.id, "随身带糖果")
    async with unit_of_work() as session:
        await posts.accept_answer(session, asker, post_id=question.id, comment_id=answer.id)
    async with unit_of_work() as session:
        await posts.verify_answer(session, doctor, post_id=question.id, comment_id=answer.id)
    await drain()
    kinds = {n.kind: n for n in await notes_of(answerer)}
    assert kinds["answer_accepted"].body == "提问的人 采纳了你在「运动后低血糖怎么办」中的回答"
    assert kinds["answer_verified"].title == "你的回答通过了专家认证"
    assert [n.title for n in await notes_of(asker, "answer_verified")] == ["你的问题有了专家认证的回答"]


async def test_a_follow_and_the_followed_persons_new_posts() -> None:
    group = await make_group()
    private = await make_group(visibility="members")
    doctor = await staff_member(Role.DOCTOR)
    fan, outsider_fan = await patient(), await patient()
    await join(group, doctor)
    await join(private, doctor)
    await join(private, fan)
    await _follow(fan, doctor)
    await _follow(outsider_fan, doctor)
    await drain()
    assert sorted(n.kind for n in await notes_of(doctor)) == ["follow", "follow"]
    # Unfollowing and following again tells nobody twice.
    async with unit_of_work() as session:
        await follows.unfollow(session, fan, account_of(doctor))
    await _follow(fan, doctor)
    await drain()
    assert len(await notes_of(doctor, "follow")) == 2
    await post(doctor, group, title="糖尿病饮食要点")
    await post(doctor, private, title="群内答疑安排")
    await drain()
    assert {n.body for n in await notes_of(fan, "followed_post")} == {"「群内答疑安排」", "「糖尿病饮食要点」"}
    # The outsider follows too but cannot read the members-only group: told of the public post only.
    assert [n.body for n in await notes_of(outsider_fan, "followed_post")] == ["「糖尿病饮食要点」"]


# --- levels and preferences -------------------------------------------------------------------------


async def test_group_levels_are_honoured() -> None:
    group = await make_group()
    author, fan, other = await patient(), await patient(), await patient()
    for p in (author, fan, other):
        await join(group, p)
    await nickname(author, "发帖人")
    await set_level(author, group, "highlights")
    p = await post(author, group, body="看看")
    await _react(fan, "post", p.id)
    await comment(fan, p.id, "好")
    await drain()
    assert [n.kind for n in await notes_of(author)] == ["reply"]  # highlights: the reply, not the reaction
    await set_level(author, group, "none")
    await comment(other, p.id, "@发帖人 你好")
    await _react(other, "post", p.id)
    await drain()
    assert [n.kind for n in await notes_of(author)] == ["reply"]  # none: nothing more from this group


async def test_preferences_per_kind_and_channel() -> None:
    group = await make_group()
    author, fan = await patient(), await patient()
    for p in (author, fan):
        await join(group, p)
    await set_pref(author, "reply", "in_app", False)
    p = await post(author, group)
    await comment(fan, p.id, "好")
    await _react(fan, "post", p.id)
    await drain()
    assert [n.kind for n in await notes_of(author)] == ["reaction"]
    async with unit_of_work() as session:
        prefs = {(x.kind.value, x.channel.value): x for x in await notifications.preferences(session, author)}
    assert prefs[("reply", "in_app")].enabled is False and prefs[("reply", "wechat")].enabled is True
    assert prefs[("moderation", "in_app")].locked and len(prefs) == 20
    for change, code in (
        (notifications.Change("reply", "sms", True), "SMS_NOT_FOR_SOCIAL"),
        (notifications.Change("event", "sms", True), "SMS_NOT_FOR_SOCIAL"),
        (notifications.Change("moderation", "in_app", False), "NOTIFICATION_PREFERENCE_LOCKED"),
        (notifications.Change("nonsense", "in_app", False), "NOTIFICATION_PREFERENCES_INVALID"),
        (notifications.Change("reply", "email", True), "NOTIFICATION_PREFERENCES_INVALID"),
    ):
        with pytest.raises(DomainError) as refused:
            async with unit_of_work() as session:
                await notifications.update_preferences(session, author, [change])
        assert refused.value.code == code
    twice = [notifications.Change("reply", "in_app", True)] * 2
    with pytest.raises(DomainError) as refused:
        async with unit_of_work() as session:
            await notifications.update_preferences(session, author, twice)
    assert refused.value.code == "NOTIFICATION_PREFERENCES_INVALID"


# --- the fan-out job --------------------------------------------------------------------------------


async def _doctor_with_followers(n: int):
    group = await make_group()
    doctor = await staff_member(Role.DOCTOR)
    await join(group, doctor)
    fans = [await patient() for _ in range(n)]
    for fan in fans:
        await _follow(fan, doctor)
    await drain()  # the follow notifications
    return group, doctor, fans


async def _followed_post_count() -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Notification).where(Notification.kind == "followed_post")
            )
            or 0
        )


async def test_fan_out_run_twice_gives_exactly_one_notification_each() -> None:
    group, doctor, _ = await _doctor_with_followers(12)
    p = await post(doctor, group, title="复诊提醒")
    async with unit_of_work() as session:
        run_id = await session.scalar(select(NotifyRun.id).where(NotifyRun.key == f"post:{p.id}"))
    assert run_id is not None
    assert await fanout.run(run_id, batch=5) == 12
    # The run again (a retried job), and the run reset to its start (as if its commits were never seen).
    assert await fanout.run(run_id, batch=5) == 0
    async with unit_of_work() as session:
        await session.execute(
            update(NotifyRun)
            .where(NotifyRun.id == run_id)
            .values(status="queued", step=0, cursor_kind=None, cursor_id=None)
        )
    assert await fanout.run(run_id, batch=5) == 0
    assert await _followed_post_count() == 12


async def test_fan_out_killed_midway_and_rerun_notifies_each_follower_once(monkeypatch: pytest.MonkeyPatch) -> None:
    group, doctor, fans = await _doctor_with_followers(12)
    p = await post(doctor, group, title="停诊通知")
    async with unit_of_work() as session:
        run_id = await session.scalar(select(NotifyRun.id).where(NotifyRun.key == f"post:{p.id}"))
    assert run_id is not None
    original = centre.write
    calls = 0

    async def dies_in_the_third_batch(session, drafts):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        written = await original(session, drafts)
        if calls == 3:  # the mentions step, one batch of followers, then killed inside the next
            raise RuntimeError("worker killed")
        return written

    monkeypatch.setattr(centre, "write", dies_in_the_third_batch)
    with pytest.raises(RuntimeError):
        await fanout.run(run_id, batch=5)
    assert await _followed_post_count() == 5  # the first batch committed, the second rolled back
    monkeypatch.setattr(centre, "write", original)
    assert await fanout.run(run_id, batch=5) == 7
    assert await _followed_post_count() == 12
    recipients = [n.recipient_id for n in await all_notes() if n.kind == "followed_post"]
    assert sorted(recipients) == sorted(f.id for f in fans)


async def test_a_lost_job_is_picked_up_by_the_sweep(monkeypatch: pytest.MonkeyPatch) -> None:
    group, doctor, _ = await _doctor_with_followers(2)
    await post(doctor, group)
    enqueued: list[uuid.UUID] = []

    async def record(run_id: uuid.UUID) -> bool:
        enqueued.append(run_id)
        return True

    monkeypatch.setattr(fanout, "enqueue", record)
    assert await fanout.sweep() == 0  # too fresh: its own job may still be on the way
    clock.clock.advance(timedelta(minutes=2))
    assert await fanout.sweep() == 1 and len(enqueued) == 1
    await drain()
    assert await fanout.sweep() == 0  # done runs stay done


# --- reading ----------------------------------------------------------------------------------------


async def test_unread_count_mark_read_and_mark_all_read() -> None:
    group = await make_group()
    author, fan, stranger = await patient(), await patient(), await patient()
    for p in (author, fan):
        await join(group, p)
    p = await post(author, group)
    for i in range(3):
        await comment(fan, p.id, f"第{i}条评论")
    await drain()
    async with unit_of_work() as session:
        assert await notifications.unread_count(session, author) == 3
        page = await notifications.page(session, author, first=2, after=None)
        assert len(page.items) == 2 and page.has_next_page
        await notifications.mark_read(session, author, [page.items[0].id, page.items[0].id])
    async with unit_of_work() as session:
        assert await notifications.unread_count(session, author) == 2
        unread = await notifications.page(session, author, first=10, after=None, unread_only=True)
        assert len(unread.items) == 2
    with pytest.raises(DomainError) as refused:  # someone else's: not found, nothing marked
        async with unit_of_work() as session:
            await notifications.mark_read(session, stranger, [page.items[1].id])
    assert refused.value.code == "NOTIFICATION_NOT_FOUND"
    async with unit_of_work() as session:
        assert await notifications.mark_all_read(session, author) == 2
        assert await notifications.unread_count(session, author) == 0
        assert await notifications.mark_all_read(session, author) == 0


async def test_notifications_of_a_group_one_left_are_no_longer_listed() -> None:
    group = await make_group(visibility="members")
    author, fan = await patient(), await patient()
    for p in (author, fan):
        await join(group, p)
    p = await post(author, group)
    await comment(fan, p.id, "赞")
    await drain()
    async with unit_of_work() as session:
        assert await notifications.unread_count(session, author) == 1
        await groups.leave(session, author, group)
    async with unit_of_work() as session:
        assert await notifications.unread_count(session, author) == 0
        assert (await notifications.page(session, author, first=10, after=None)).items == []


# --- what leaves the app: WeChat through the outreach policy ------------------------------------------

TEMPLATES = {"notice": {"template_id": "TPL-NOTICE", "fields": {"thing1": "subject", "thing2": "body"}}}


@pytest.fixture
def wechat_templates(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PORTAL_WECHAT_TEMPLATES", json.dumps(TEMPLATES))
    reset_messaging_settings()
    yield
    monkeypatch.undo()
    reset_messaging_settings()


async def _wechat_ready(actor, *, grants: int = 1) -> None:
    """A patient who allowed service messages on WeChat, bound the mini program and granted `grants`."""
    async with unit_of_work() as session:
        await patient_service.update_consents(
            session, actor, [patient_service.ConsentChange("wechat", "service", True)], source="app"
        )
        session.add(WechatBinding(patient_id=actor.id, app="mini_program", app_id="wx-mini", openid=f"o-{actor.id}"))
        for _ in range(grants):
            session.add(WechatGrant(patient_id=actor.id, template_id="TPL-NOTICE"))


async def _wechat_outbox() -> list[OutboxMessage]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == centre.WECHAT_TOPIC)
                .order_by(OutboxMessage.created_at)
            )
        )


async def _wechat_sent() -> list[MessageDelivery]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(MessageDelivery).where(MessageDelivery.channel == "wechat")))


SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_wechat_follows_the_outreach_policy_and_needs_an_authorisation(wechat_templates: None) -> None:
    clock.clock.freeze(datetime(2026, 3, 10, 12, 0, tzinfo=SHANGHAI))
    group = await make_group()
    author, fan, unbound = await patients(3)
    for p in (author, fan, unbound):
        await join(group, p)
    await _wechat_ready(author)
    p = await post(author, group, title="控糖经验")
    learned = await comment(fan, p.id, "学到了")
    await drain()
    [queued] = await _wechat_outbox()  # the author's reply; nobody else allowed WeChat
    assert queued.available_at == clock.now()
    assert await outbox.dispatch(queued.id) == "sent"
    [sent] = await _wechat_sent()
    assert sent.patient_id == author.id and sent.status == "recorded"  # the development recorder
    assert sent.body == kinds.WECHAT_TEXT[kinds.NotificationKind.REPLY]  # no name, no group, no text
    # At 23:00 the card waits for the end of quiet hours (08:00 in the patient's zone); read in the app
    # meanwhile, it is not sent at all.
    clock.clock.freeze(datetime(2026, 3, 10, 23, 0, tzinfo=SHANGHAI))
    await comment(fan, p.id, "晚上好")
    await drain()
    deferred = (await _wechat_outbox())[-1]
    assert deferred.available_at == datetime(2026, 3, 11, 8, 0, tzinfo=SHANGHAI)
    [late] = [n for n in await notes_of(author, "reply") if n.read_at is None and "晚上好" in n.body]
    async with unit_of_work() as session:
        await notifications.mark_read(session, author, [late.id])
    clock.clock.freeze(datetime(2026, 3, 11, 8, 1, tzinfo=SHANGHAI))
    assert await outbox.dispatch(deferred.id) == "sent"
    assert len(await _wechat_sent()) == 1
    # The kind switched off on WeChat: in the app only.
    await set_pref(author, "reply", "wechat", False)
    await comment(fan, p.id, "再来一条")
    await drain()
    assert len(await _wechat_outbox()) == 2
    # Consent and binding but no authorisation left: queued by the policy, sent by nobody.
    await _wechat_ready(fan, grants=0)
    await comment(author, p.id, "谢谢支持", parent_id=learned.id)
    await drain()
    last = (await _wechat_outbox())[-1]
    assert len(await _wechat_outbox()) == 3
    assert await outbox.dispatch(last.id) == "sent" and len(await _wechat_sent()) == 1
    # Reactions are not on WeChat by default; no SMS ever.
    await _react(unbound, "post", p.id)
    await drain()
    assert len(await _wechat_outbox()) == 3 and len(await notes_of(author, "reaction")) == 1
    async with unit_of_work() as session:
        texts = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.payload["channel"].astext == "sms")
        )
    assert texts == 0


# --- events, content ------------------------------------------------------------------------------


async def test_event_reminders_and_cancellations_reach_the_centre() -> None:
    async with unit_of_work() as session:
        [event] = await events.create_event(
            session,
            staff(Role.MARKETER),
            events.EventInput(
                kind="offline",
                title="糖尿病饮食讲座",
                starts_at=clock.now() + timedelta(hours=23),
                ends_at=clock.now() + timedelta(hours=25),
                location="门诊楼三层报告厅",
                capacity=10,
            ),
        )
    going = await patient()
    async with unit_of_work() as session:
        await events.rsvp(session, going, event.id, "going")
    assert await events.send_reminders() == 1
    assert await events.send_reminders() == 0
    [reminder] = await notes_of(going, "event")
    assert reminder.title == "活动提醒" and reminder.target_kind == "event" and reminder.target_id == event.id
    async with unit_of_work() as session:
        await events.cancel_event(session, staff(Role.MARKETER), event.id, reason="讲者临时有事")
    assert [n.title for n in await notes_of(going, "event")] == ["活动提醒", "活动取消通知"]


async def test_content_for_my_conditions_through_the_content_access_check() -> None:
    diabetic, hypertensive, gated_out = await patients(3)
    for who, codes in ((diabetic, ["diabetes"]), (hypertensive, ["hypertension"]), (gated_out, ["diabetes"])):
        async with unit_of_work() as session:
            await patient_service.update_profile(session, who, patient_service.ProfileChanges(condition_codes=codes))
    everyone = await content_support.publish()  # for diabetes, public
    members_only_gold = await content_support.publish(
        content_support.article(title="高级会员专享：胰岛素泵使用", gate="tier", gate_min_tier_rank=3)
    )
    async with unit_of_work() as session:
        published = list(
            await session.scalars(
                select(OutboxMessage.id).where(OutboxMessage.topic == content_service.PUBLISHED_TOPIC)
            )
        )
    for message_id in published:
        assert await outbox.dispatch(message_id) == "sent"
    await drain()
    [n] = await notes_of(diabetic, "content")
    assert n.target_id == everyone and n.title == "为你推荐：糖尿病患者如何控制血糖"
    assert await notes_of(hypertensive) == []
    assert [x.target_id for x in await notes_of(gated_out, "content")] == [everyone]
    assert members_only_gold not in {x.target_id for x in await all_notes()}
