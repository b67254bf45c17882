"""Moderation against the real database: screening, the emergency flow, weighted reports, the queue
with optimistic versions, restrictions, the append-only audit log, new-member limits, GraphQL."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import strawberry
from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError

from community import access, errors, groups, moderation, wordlist
from community.models import (
    AnonymousAlias,
    AuditEntry,
    Comment,
    ContentStatus,
    Group,
    MemberRole,
    ModerationItem,
    Post,
    Report,
)
from core import clock
from core.channels import NOTIFY_TOPIC
from core.db import RequestDB, unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import Actor, Role
from core.ids import new_id
from core.outbox import OutboxMessage
from patients.models import Patient
from tests import factories
from tests.factories import as_patient, member_of, new_member, staff

MODERATOR = staff(Role.MODERATOR)
DOCTOR = staff(Role.DOCTOR)
ADMIN = staff(Role.ADMIN)


@pytest.fixture(autouse=True)
async def _words() -> None:
    async with unit_of_work() as session:
        await wordlist.ensure_default_words(session)


async def make_group(
    slug: str | None = None, *, allow_anonymous: bool = False, visibility: str = "public"
) -> uuid.UUID:
    slug = slug or f"g-{uuid.uuid4().hex[:10]}"
    return await factories.make_group(
        slug,
        name=f"糖友互助群{slug[-4:]}",
        visibility=visibility,
        condition_code=None,
        allow_anonymous=allow_anonymous,
        by=MODERATOR,
    )


async def group_moderator(group_id: uuid.UUID) -> uuid.UUID:
    patient_id = await member_of(group_id)
    async with unit_of_work() as session:
        await groups.set_role(
            session, MODERATOR, group_id, account_kind="patient", account_id=patient_id, role="moderator"
        )
    return patient_id


async def make_post(
    group_id: uuid.UUID,
    author_id: uuid.UUID,
    *,
    status: str = ContentStatus.PUBLISHED,
    anonymous: bool = False,
    body: str = "今天空腹血糖6.1，大家早上都吃什么？",
) -> uuid.UUID:
    now = clock.now()
    async with unit_of_work() as session:
        post = Post(
            id=new_id(),
            group_id=group_id,
            author_kind="patient",
            author_id=author_id,
            anonymous=anonymous,
            kind="discussion",
            title="控糖经验",
            body_md=body,
            body_html=f"<p>{body}</p>",
            image_urls=[],
            status=status,
            created_at=now,
            updated_at=now,
            last_activity_at=now,
        )
        session.add(post)
        if anonymous:
            session.add(AnonymousAlias(group_id=group_id, account_id=author_id, number=4821))
    return post.id


async def make_comment(post_id: uuid.UUID, author_id: uuid.UUID, *, status: str = ContentStatus.PUBLISHED) -> uuid.UUID:
    now = clock.now()
    async with unit_of_work() as session:
        comment = Comment(
            id=new_id(),
            post_id=post_id,
            author_kind="patient",
            author_id=author_id,
            anonymous=False,
            body_md="同意楼上",
            body_html="<p>同意楼上</p>",
            status=status,
            created_at=now,
            updated_at=now,
        )
        session.add(comment)
    return comment.id


async def report(actor: Actor, post_id: uuid.UUID, reason: str = "spam", kind: str = "post") -> Report:
    async with unit_of_work() as session:
        return await moderation.report(
            session, actor, target_kind=kind, target_id=post_id, reason=reason, detail="广告刷屏"
        )


async def status_of(post_id: uuid.UUID) -> str:
    async with unit_of_work() as session:
        post = await session.get(Post, post_id)
        assert post is not None
        return post.status


async def item_of(target_id: uuid.UUID) -> ModerationItem:
    async with unit_of_work() as session:
        item = await session.scalar(
            select(ModerationItem)
            .where(ModerationItem.target_id == target_id)
            .order_by(ModerationItem.created_at.desc())
        )
        assert item is not None
        return item


async def messages_to(recipient: str) -> list[dict[str, Any]]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic == NOTIFY_TOPIC, OutboxMessage.payload["recipient"].astext == recipient)
            .order_by(OutboxMessage.created_at)
        )
        return [r.payload for r in rows]


async def audit_actions(target_id: uuid.UUID) -> list[AuditEntry]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.target_id == target_id)
                .order_by(AuditEntry.created_at, AuditEntry.id)
            )
        )


async def decide(actor: Actor, item_id: uuid.UUID, version: int, decision: str, **kw: Any) -> ModerationItem:
    async with unit_of_work() as session:
        return await moderation.decide(
            session, actor, item_id, version=version, decision=decision, reason=kw.pop("reason", "违反社区规则"), **kw
        )


async def screen_and_create(
    group_id: uuid.UUID, author_id: uuid.UUID, text: str
) -> tuple[uuid.UUID, moderation.Screening]:
    """What the posts service does: screen, insert with the screened status, after_create."""
    actor = as_patient(author_id)
    async with unit_of_work() as session:
        screening = await moderation.screen(session, actor, group_id=group_id, text=text)
    post_id = await make_post(group_id, author_id, status=screening.status, body=text)
    async with unit_of_work() as session:
        await moderation.after_create(
            session, actor, group_id=group_id, target_kind="post", target_id=post_id, screening=screening
        )
    return post_id, screening


# --- screening ----------------------------------------------------------------------------------


async def test_block_hold_ad_and_trusted_staff():
    group_id = await make_group()
    author = await member_of(group_id)
    actor = as_patient(author)
    async with unit_of_work() as session:
        with pytest.raises(errors.ContentBlocked) as caught:
            await moderation.screen(session, actor, group_id=group_id, text="楼上是个傻 逼，还在卖肾")
        assert caught.value.code == "CONTENT_BLOCKED"
        assert "「傻逼」" in caught.value.message and "「卖肾」" in caught.value.message
        ok = await moderation.screen(session, actor, group_id=group_id, text="今天血糖控制得不错")
        assert ok.status == ContentStatus.PUBLISHED and ok.matches == [] and ok.help_text is None
        # a doctor's advice is not an emergency or an advert; block words still apply to staff
        advice = await moderation.screen(
            session, DOCTOR, group_id=group_id, text="出现胸痛请立即拨打120；糖尿病没有特效药，别信根治"
        )
        assert advice.status == ContentStatus.PUBLISHED
        with pytest.raises(errors.ContentBlocked):
            await moderation.screen(session, DOCTOR, group_id=group_id, text="脑残")

    held_id, held = await screen_and_create(group_id, author, "想进群交流的加我微信")
    ad_id, ad = await screen_and_create(group_id, author, "祖傳秘方，１００％有效")
    assert held.status == ad.status == ContentStatus.HELD
    assert (await item_of(held_id)).reason == "held_word"
    ad_item = await item_of(ad_id)
    assert (ad_item.reason, ad_item.priority, ad_item.status) == ("ad_claim", moderation.PRIORITY_HELD, "open")
    [entry] = await audit_actions(ad_id)
    assert (entry.action, entry.actor_kind, entry.actor_id) == ("auto_hold", "system", None)
    assert set(entry.detail["words"]) == {"祖传秘方", "100%有效"}
    # keep publishes held content and tells the author
    await decide(MODERATOR, ad_item.id, ad_item.version, "keep", reason=None)
    assert await status_of(ad_id) == ContentStatus.PUBLISHED
    assert any("已通过审核" in m["body"] for m in await messages_to(str(author)))


# --- the emergency flow -------------------------------------------------------------------------


async def test_emergency_flow_end_to_end():
    group_id = await make_group(allow_anonymous=True)
    author = await member_of(group_id)
    other = await member_of(group_id)
    group_mod = await group_moderator(group_id)

    post_id, screening = await screen_and_create(group_id, author, "最近真的 不 想 活 了，晚上胸口也疼")
    # the author sees it (and the help) at once; nobody else does
    assert screening.status == ContentStatus.AUTHOR_ONLY
    assert screening.help_text and "120" in screening.help_text and "12356" in screening.help_text
    assert "400-161-9995" in screening.help_text
    assert "不想活了" in {m.word for m in screening.matches}
    assert await status_of(post_id) == ContentStatus.AUTHOR_ONLY

    item = await item_of(post_id)
    assert (item.reason, item.priority, item.status) == ("emergency", moderation.PRIORITY_EMERGENCY, "open")
    # outbox: the help reply to the author, the alert to the care team, in the same transaction
    [help_message] = await messages_to(str(author))
    assert help_message["channel"] == "in_app" and help_message["body"] == moderation.HELP_TEXT
    [alert] = await messages_to(moderation.CARE_TEAM_RECIPIENT)
    assert "紧急求助" in alert["body"] and str(item.id) in alert["body"] and str(author) in alert["body"]
    [escalation] = await audit_actions(post_id)
    assert (escalation.action, escalation.actor_kind) == ("emergency_escalate", "system")
    assert escalation.detail["help_sent_to_author"] is True and escalation.detail["emergency"] is True

    # calling after_create again (an edit, a retry) neither duplicates the item nor the notices
    async with unit_of_work() as session:
        await moderation.after_create(
            session, as_patient(author), group_id=group_id, target_kind="post", target_id=post_id, screening=screening
        )
    assert len(await messages_to(str(author))) == 1 and len(await messages_to(moderation.CARE_TEAM_RECIPIENT)) == 1

    # members cannot even see it to report it; staff reports never auto-hide it
    with pytest.raises(errors.PostNotFound):
        await report(as_patient(other), post_id)
    await report(MODERATOR, post_id, "abuse")
    await report(staff(Role.HEALTH_MANAGER), post_id, "abuse")
    item = await item_of(post_id)
    assert item.score >= moderation.AUTO_HIDE_THRESHOLD
    assert await status_of(post_id) == ContentStatus.AUTHOR_ONLY

    # the queue: top of the care team's and staff moderators' queues, invisible to group moderators
    normal_post = await make_post(group_id, other)
    await report(staff(Role.CLINIC_STAFF), normal_post)
    async with unit_of_work() as session:
        page = await moderation.queue_page(session, DOCTOR)
        assert [e.item.target_id for e in page.items] == [post_id]
        page = await moderation.queue_page(session, MODERATOR)
        assert [e.item.target_id for e in page.items] == [post_id, normal_post]
        page = await moderation.queue_page(session, as_patient(group_mod), group_id=group_id)
        assert [e.item.target_id for e in page.items] == [normal_post]
        with pytest.raises(PermissionDenied):
            await moderation.decide(
                session, as_patient(group_mod), item.id, version=item.version, decision="keep", reason=None
            )

    # the audit trail of an emergency belongs to staff, not to the group's member moderators
    async with unit_of_work() as session:
        staff_view = await moderation.audit_page(session, MODERATOR, group_id=group_id)
        member_view = await moderation.audit_page(session, as_patient(group_mod), group_id=group_id)
    assert "emergency_escalate" in {e.action for e in staff_view.items}
    assert "emergency_escalate" not in {e.action for e in member_view.items}

    # a human looked: keep publishes it, the staff reports are rejected
    await decide(DOCTOR, item.id, item.version, "keep", reason="已电话联系，患者安全")
    assert await status_of(post_id) == ContentStatus.PUBLISHED
    async with unit_of_work() as session:
        statuses = (await session.scalars(select(Report.status).where(Report.target_id == post_id))).all()
    assert sorted(statuses) == ["rejected", "rejected"]


async def test_self_harm_report_escalates_and_never_auto_hides():
    group_id = await make_group()
    author = await member_of(group_id)
    post_id = await make_post(group_id, author, body="最近总是睡不着，觉得很累")
    await report(as_patient(await member_of(group_id)), post_id, "self_harm")
    for _ in range(3):
        await report(as_patient(await member_of(group_id)), post_id, "spam")
    item = await item_of(post_id)
    assert item.reason == "emergency" and item.priority == moderation.PRIORITY_EMERGENCY
    assert item.score >= moderation.AUTO_HIDE_THRESHOLD
    assert await status_of(post_id) == ContentStatus.PUBLISHED  # a human decides, not the score
    [alert] = await messages_to(moderation.CARE_TEAM_RECIPIENT)
    assert "自伤风险" in alert["body"]


# --- weighted reports ---------------------------------------------------------------------------


async def test_weighted_reports_auto_hide_at_the_threshold():
    group_id = await make_group()
    author = await member_of(group_id)
    post_id = await make_post(group_id, author)
    reporters = [as_patient(await member_of(group_id, days_ago=10)) for _ in range(3)]

    first = await report(reporters[0], post_id)
    assert first.weight == 1
    with pytest.raises(moderation.AlreadyReported):
        await report(reporters[0], post_id)
    with pytest.raises(moderation.CannotReportOwn):
        await report(as_patient(author), post_id)
    await report(reporters[1], post_id)
    assert await status_of(post_id) == ContentStatus.PUBLISHED
    await report(reporters[2], post_id)
    assert await status_of(post_id) == ContentStatus.HIDDEN

    item = await item_of(post_id)
    assert item.reason == "reports" and item.score == 3 and item.priority == moderation.PRIORITY_HIDDEN
    [hidden] = [e for e in await audit_actions(post_id) if e.action == "auto_hide"]
    assert hidden.actor_kind == "system" and hidden.detail["status"] == {"from": "published", "to": "hidden"}
    assert any("已暂时隐藏" in m["body"] for m in await messages_to(str(author)))
    # hidden content cannot be reported by members any more
    with pytest.raises(errors.PostNotFound):
        await report(as_patient(await member_of(group_id)), post_id)

    # a staff moderator's single report weighs enough on its own; so does it on a comment
    other_post = await make_post(group_id, author)
    comment_id = await make_comment(other_post, author)
    assert (await report(MODERATOR, comment_id, kind="comment")).weight == moderation.STAFF_WEIGHT
    async with unit_of_work() as session:
        comment = await session.get(Comment, comment_id)
        assert comment is not None and comment.status == ContentStatus.HIDDEN


async def test_reporters_with_rejected_reports_weigh_less_and_upheld_ones_more():
    group_id = await make_group()
    author = await member_of(group_id)
    crier = as_patient(await member_of(group_id))
    helper = as_patient(await member_of(group_id))

    # the crier's report is rejected (keep), the helper's upheld (hide)
    fine_post = await make_post(group_id, author)
    await report(crier, fine_post)
    item = await item_of(fine_post)
    await decide(MODERATOR, item.id, item.version, "keep", reason=None)
    bad_post = await make_post(group_id, author)
    await report(helper, bad_post)
    item = await item_of(bad_post)
    await decide(MODERATOR, item.id, item.version, "hide")

    # three plain reporters hide (3 x 1.0, see above); the crier counts half, the helper a quarter more
    post_id = await make_post(group_id, author)
    assert (await report(crier, post_id)).weight == Decimal("0.50")  # 1.0 * (0 + 1) / (0 + 1 + 1)
    assert (await report(helper, post_id)).weight == Decimal("1.25")  # (1.0 + 0.25) * 2 / 2
    await report(as_patient(await member_of(group_id)), post_id)
    assert (await item_of(post_id)).score == Decimal("2.75")
    assert await status_of(post_id) == ContentStatus.PUBLISHED
    await report(as_patient(await member_of(group_id)), post_id)
    assert (await item_of(post_id)).score == Decimal("3.75")
    assert await status_of(post_id) == ContentStatus.HIDDEN
    # standing also comes from seniority and group roles
    async with unit_of_work() as session:
        senior = as_patient(await member_of(group_id, days_ago=200))
        m = await access.membership(session, group_id, senior)
        assert await moderation.reporter_weight(session, senior, m) == Decimal("1.50")
        outsider = as_patient(await new_member())
        assert await moderation.reporter_weight(session, outsider, None) == Decimal("0.50")
        # a lapsed "expert" without a credential counts as the member they are
        lapsed = as_patient(await member_of(group_id))
        m = await access.membership(session, group_id, lapsed)
        assert m is not None
        m.role = MemberRole.EXPERT
        assert await moderation.reporter_weight(session, lapsed, m) == Decimal("1.00")


# --- the queue and decisions --------------------------------------------------------------------


async def _decide_or_error(actor: Actor, item_id: uuid.UUID, version: int, decision: str) -> Any:
    try:
        async with unit_of_work() as session:
            return await moderation.decide(session, actor, item_id, version=version, decision=decision, reason="处理")
    except DomainError as exc:
        return exc


async def test_two_moderators_deciding_one_item_one_wins_one_conflicts():
    group_id = await make_group()
    author = await member_of(group_id)
    post_id = await make_post(group_id, author)
    await report(staff(Role.CLINIC_STAFF), post_id)
    item = await item_of(post_id)
    first, second = staff(Role.MODERATOR), staff(Role.MODERATOR)

    results = await asyncio.gather(
        _decide_or_error(first, item.id, item.version, "remove"),
        _decide_or_error(second, item.id, item.version, "keep"),
    )
    won = [r for r in results if isinstance(r, ModerationItem)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], errors.VersionConflict) and lost[0].code == "VERSION_CONFLICT"
    decided = await item_of(post_id)
    assert decided.status == "decided" and decided.version == item.version + 1
    expected = ContentStatus.REMOVED if won[0].decision == "remove" else ContentStatus.PUBLISHED
    assert await status_of(post_id) == expected
    assert len([e for e in await audit_actions(post_id) if e.action.startswith("moderate_")]) == 1


async def test_claims_respect_versions_and_other_moderators():
    group_id = await make_group()
    post_id = await make_post(group_id, await member_of(group_id))
    await report(staff(Role.CLINIC_STAFF), post_id)
    item = await item_of(post_id)
    first, second = staff(Role.MODERATOR), staff(Role.MODERATOR)
    async with unit_of_work() as session:
        claimed = await moderation.claim(session, first, item.id, item.version)
    assert (claimed.status, claimed.claimed_by, claimed.version) == ("claimed", first.id, item.version + 1)
    async with unit_of_work() as session:
        with pytest.raises(errors.VersionConflict):
            await moderation.claim(session, first, item.id, item.version)  # stale version
        with pytest.raises(moderation.ItemClaimed):
            await moderation.decide(session, second, item.id, version=claimed.version, decision="hide", reason="x")
    clock.clock.advance(moderation.CLAIM_TTL + timedelta(minutes=1))
    async with unit_of_work() as session:  # an abandoned claim may be taken over
        await moderation.claim(session, second, item.id, claimed.version)
    assert [e.action for e in await audit_actions(post_id)][-2:] == ["moderation_claim", "moderation_claim"]


async def test_non_moderators_may_not_read_the_queue_or_decide():
    group_id = await make_group()
    author = await member_of(group_id)
    member = as_patient(await member_of(group_id))
    post_id = await make_post(group_id, author)
    await report(member, post_id)
    item = await item_of(post_id)
    outsiders = [member, staff(Role.MARKETER), staff(Role.CLINIC_STAFF)]
    async with unit_of_work() as session:
        for actor in outsiders:
            with pytest.raises(PermissionDenied):
                await moderation.queue_page(session, actor)
            with pytest.raises(PermissionDenied):
                await moderation.queue_page(session, actor, group_id=group_id)
            with pytest.raises(PermissionDenied):
                await moderation.decide(session, actor, item.id, version=item.version, decision="hide", reason="x")
            with pytest.raises(PermissionDenied):
                await moderation.claim(session, actor, item.id, item.version)
            with pytest.raises(PermissionDenied):
                await moderation.audit_page(session, actor, group_id=group_id)
        assert await moderation.items_by_ids(session, member, [item.id]) == [None]
    # a group moderator handles their own group only
    mod = as_patient(await group_moderator(group_id))
    other_group = await make_group()
    other_post = await make_post(other_group, await member_of(other_group))
    await report(MODERATOR, other_post)
    async with unit_of_work() as session:
        page = await moderation.queue_page(session, mod)
        assert [e.item.target_id for e in page.items] == [post_id]
        with pytest.raises(PermissionDenied):
            await moderation.queue_page(session, mod, group_id=other_group)
        other_item = await item_of(other_post)
        with pytest.raises(PermissionDenied):
            await moderation.decide(
                session, mod, other_item.id, version=other_item.version, decision="hide", reason="x"
            )
    await decide(mod, item.id, item.version, "warn")
    assert await status_of(post_id) == ContentStatus.HIDDEN
    assert any("这是一次警告" in m["body"] for m in await messages_to(str(author)))


async def test_queue_order_pages_and_anonymous_authors_stay_anonymous():
    group_id = await make_group(allow_anonymous=True)
    author = await member_of(group_id)
    async with unit_of_work() as session:
        patient = await session.get(Patient, author)
        assert patient is not None
        nickname = patient.nickname
    anonymous_post = await make_post(group_id, author, anonymous=True)
    named_post = await make_post(group_id, author)
    emergency_post, _ = await screen_and_create(group_id, await member_of(group_id), "我想自杀")
    await report(staff(Role.CLINIC_STAFF), anonymous_post, "privacy")
    await report(staff(Role.CLINIC_STAFF), named_post)

    async with unit_of_work() as session:
        page = await moderation.queue_page(session, MODERATOR, first=2)
        assert [e.item.target_id for e in page.items] == [emergency_post, anonymous_post] and page.has_next_page
        rest = await moderation.queue_page(session, MODERATOR, first=2, after=page.cursors[-1])
        assert [e.item.target_id for e in rest.items] == [named_post] and not rest.has_next_page
    anonymous, named = page.items[1], rest.items[0]
    assert anonymous.anonymous and anonymous.author_label == "糖友#4821"
    assert anonymous.author_id is None and anonymous.author_kind is None
    assert str(author) not in repr(anonymous)
    assert anonymous.report_reasons == {"privacy": 1} and anonymous.excerpt.startswith("今天空腹血糖")
    assert not named.anonymous and named.author_id == author and named.author_kind == "patient"
    assert named.author_label == nickname

    # muting the anonymous author through the queue works, and the audit view does not lead back
    item = anonymous.item
    await decide(MODERATOR, item.id, item.version, "mute", mute_days=3)
    async with unit_of_work() as session:
        audit = await moderation.audit_page(session, MODERATOR, group_id=group_id)
        entry = next(e for e in audit.items if e.action == "moderate_mute")
        assert "membership_id" in entry.detail  # the record is complete ...
        assert "membership_id" not in moderation.visible_detail(entry, MODERATOR)  # ... the view is not
        assert "membership_id" in moderation.visible_detail(entry, ADMIN)
        assert entry.detail["anonymous"] is True and entry.detail["mute_days"] == 3


# --- restrictions -------------------------------------------------------------------------------


async def test_mute_and_ban_decisions_refuse_the_author():
    group_id = await make_group()
    author = await member_of(group_id)
    post_id = await make_post(group_id, author)
    await report(MODERATOR, post_id)
    item = await item_of(post_id)
    with pytest.raises(DomainError) as caught:
        await decide(MODERATOR, item.id, item.version, "mute")  # days missing
    assert caught.value.issues[0].code == "MUTE_DAYS_INVALID"
    await decide(MODERATOR, item.id, item.version, "mute", mute_days=2)
    assert await status_of(post_id) == ContentStatus.HIDDEN
    async with unit_of_work() as session:
        with pytest.raises(errors.MemberMuted) as muted:
            await access.require_participant(session, as_patient(author), group_id)
    assert "禁言" in muted.value.message
    assert any("禁言至" in m["body"] for m in await messages_to(str(author)))
    clock.clock.advance(timedelta(days=2, minutes=1))
    async with unit_of_work() as session:
        await access.require_participant(session, as_patient(author), group_id)

    second = await make_post(group_id, author)
    await report(MODERATOR, second)
    item = await item_of(second)
    async with unit_of_work() as session:
        before = (await session.get(Group, group_id)).member_count  # type: ignore[union-attr]
    await decide(MODERATOR, item.id, item.version, "ban", ban_days=30)
    assert await status_of(second) == ContentStatus.REMOVED
    async with unit_of_work() as session:
        with pytest.raises(errors.MemberBanned):
            await access.require_participant(session, as_patient(author), group_id)
        assert (await session.get(Group, group_id)).member_count == before - 1  # type: ignore[union-attr]
        m = await access.membership(session, group_id, as_patient(author))
        assert m is not None and m.state == "banned"
    [entry] = [e for e in await audit_actions(second) if e.action == "moderate_ban"]
    assert entry.detail["reports"] == {"upheld": 1} and entry.detail["state"] == {"from": "active", "to": "banned"}

    # direct restriction outside the queue, and lifting it
    async with unit_of_work() as session:
        assert m is not None
        with pytest.raises(PermissionDenied):
            await moderation.restrict_member(
                session, as_patient(await member_of(group_id)), m.id, reason="x", lift=True
            )
    async with unit_of_work() as session:
        lifted = await moderation.restrict_member(session, MODERATOR, m.id, reason="申诉通过", lift=True)
        assert lifted.state == "left" and lifted.muted_until is None


# --- audit log ----------------------------------------------------------------------------------


async def test_the_audit_log_is_append_only():
    group_id = await make_group()
    async with unit_of_work() as session:
        entry_id = await session.scalar(select(AuditEntry.id).where(AuditEntry.group_id == group_id))
    assert entry_id is not None
    with pytest.raises(DBAPIError, match="append-only"):
        async with unit_of_work() as session:
            await session.execute(update(AuditEntry).where(AuditEntry.id == entry_id).values(reason="改写历史"))
    with pytest.raises(DBAPIError, match="append-only"):
        async with unit_of_work() as session:
            await session.execute(delete(AuditEntry).where(AuditEntry.id == entry_id))
    async with unit_of_work() as session:
        page = await moderation.audit_page(session, MODERATOR, group_id=group_id)
        assert [e.action for e in page.items] == ["group_create"]


# --- new members --------------------------------------------------------------------------------


async def test_new_members_are_limited_per_local_day():
    shanghai = ZoneInfo("Asia/Shanghai")
    clock.clock.freeze(datetime(2025, 3, 10, 10, 0, tzinfo=shanghai))
    group_id = await make_group()
    newcomer = await member_of(group_id, days_ago=0)
    veteran = await member_of(group_id, days_ago=5)

    async def check(patient_id: uuid.UUID, kind: str) -> None:
        async with unit_of_work() as session:
            m = await access.membership(session, group_id, as_patient(patient_id))
            assert m is not None
            await moderation.check_posting_limit(session, as_patient(patient_id), m, kind=kind)

    posts = []
    for _ in range(3):
        await check(newcomer, "post")
        posts.append(await make_post(group_id, newcomer))
    with pytest.raises(errors.NewMemberLimit) as caught:
        await check(newcomer, "post")
    assert "3篇帖子" in caught.value.message
    for _ in range(10):
        await check(newcomer, "comment")
        await make_comment(posts[0], newcomer)
    with pytest.raises(errors.NewMemberLimit):
        await check(newcomer, "comment")
    for _ in range(4):  # not new: no limit
        await make_post(group_id, veteran)
    await check(veteran, "post")

    clock.clock.freeze(datetime(2025, 3, 10, 23, 59, tzinfo=shanghai))
    with pytest.raises(errors.NewMemberLimit):
        await check(newcomer, "post")
    clock.clock.advance(timedelta(minutes=1))  # midnight in Shanghai: a new day
    await check(newcomer, "post")
    await check(newcomer, "comment")
    for _ in range(3):
        await make_post(group_id, newcomer)
    with pytest.raises(errors.NewMemberLimit):
        await check(newcomer, "post")
    clock.clock.advance(timedelta(days=3))
    for _ in range(3):
        await make_post(group_id, newcomer)
    await check(newcomer, "post")  # three days in: no longer new


async def test_muted_member_is_refused_by_require_participant():
    group_id = await make_group()
    member_id = await member_of(group_id)
    async with unit_of_work() as session:
        m = await access.membership(session, group_id, as_patient(member_id))
        assert m is not None
        await moderation.restrict_member(session, MODERATOR, m.id, reason="刷屏", mute_days=1)
    async with unit_of_work() as session:
        with pytest.raises(errors.MemberMuted):
            await access.require_participant(session, as_patient(member_id), group_id)
    [entry] = [e for e in await audit_actions(m.id)]
    assert entry.action == "member_mute" and entry.actor_id == MODERATOR.id


# --- GraphQL smoke ------------------------------------------------------------------------------


async def test_graphql_report_queue_and_moderate():
    from api.community.moderation import ModerationMutation, ModerationQuery
    from api.context import Context
    from api.relay import to_global_id

    @strawberry.type
    class Query(ModerationQuery):
        pass

    @strawberry.type
    class Mutation(ModerationMutation):
        pass

    schema = strawberry.Schema(query=Query, mutation=Mutation)

    async def run(actor: Actor, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        db = RequestDB()
        try:
            context = Context(request=None, response=None, actor=actor, db=db, request_id="test")  # type: ignore[arg-type]
            result = await schema.execute(query, variable_values=variables, context_value=context)
        finally:
            await db.close()
        assert result.errors is None, result.errors
        assert result.data is not None
        return result.data

    group_id = await make_group(allow_anonymous=True)
    author = await member_of(group_id)
    post_id = await make_post(group_id, author, anonymous=True)
    reporter = as_patient(await member_of(group_id))

    data = await run(
        reporter,
        """mutation($id: ID!) { report(input: {targetId: $id, reason: SPAM, detail: "广告"}) {
            report { id reason status } errors { code message } } }""",
        {"id": to_global_id("Post", post_id)},
    )
    assert data["report"]["errors"] == [] and data["report"]["report"]["status"] == "open"
    data = await run(
        reporter,
        """mutation($id: ID!) { report(input: {targetId: $id, reason: SPAM}) { errors { code message } } }""",
        {"id": to_global_id("Post", post_id)},
    )
    assert data["report"]["errors"][0]["code"] == "ALREADY_REPORTED"

    queue = """{ moderationQueue(first: 10) { edges { node { id version reason targetId anonymous authorLabel
                 authorId reportCount reportReasons { reason count } } } } }"""
    data = await run(MODERATOR, queue)
    [node] = [e["node"] for e in data["moderationQueue"]["edges"]]
    assert node["targetId"] == to_global_id("Post", post_id)
    assert node["anonymous"] and node["authorId"] is None and node["authorLabel"] == "糖友#4821"
    assert node["reportReasons"] == [{"reason": "SPAM", "count": 1}]

    moderate = """mutation($id: ID!, $v: Int!) { moderate(input: {itemId: $id, version: $v, decision: HIDE,
                  reason: "广告"}) { item { status decision version } errors { code message } } }"""
    denied = await run(reporter, moderate, {"id": node["id"], "v": node["version"]})
    assert denied["moderate"]["errors"][0]["code"] == "PERMISSION_DENIED"
    done = await run(MODERATOR, moderate, {"id": node["id"], "v": node["version"]})
    assert done["moderate"]["errors"] == []
    assert done["moderate"]["item"] == {"status": "DECIDED", "decision": "HIDE", "version": node["version"] + 1}
    again = await run(staff(Role.MODERATOR), moderate, {"id": node["id"], "v": node["version"]})
    assert again["moderate"]["errors"][0]["code"] == "VERSION_CONFLICT"
    assert await status_of(post_id) == ContentStatus.HIDDEN

    log = await run(
        MODERATOR,
        """query($g: ID) { auditLog(groupId: $g, first: 5) { edges { node { action actorKind targetId detail } } } }""",
        {"g": to_global_id("Group", group_id)},
    )
    actions = [e["node"]["action"] for e in log["auditLog"]["edges"]]
    assert actions[0] == "moderate_hide" and actions[-1] == "group_create"
    words = await run(ADMIN, """{ sensitiveWords(category: EMERGENCY, first: 100) { edges { node { word } } } }""")
    assert "想自杀" in {e["node"]["word"] for e in words["sensitiveWords"]["edges"]}
