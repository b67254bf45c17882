"""The steps of an erasure, in order. Each runs in its own transaction with the request row locked and
returns what it changed (counts, kept in the request's `steps` as the audit); each is safe to run again
(it acts only on what is still there), though the job runs each exactly once (privacy/erasure.py).

What is kept, and why: the patient row, pseudonymised (the ledger, visits and the hospital's quality
records keep a subject that is no longer a person); consent answers and their history (the evidence
of what was consented to, PIPL art. 47 ends processing, not this record: every consent is withdrawn);
the PHI read record (it protects the patient); complaint and survey rows without their texts (quality
statistics); visits (medical and accounting records the hospital must keep).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from care.models import (
    QUEUE_TIER,
    CareAssignment,
    Complaint,
    Conversation,
    ConversationMessage,
    ConversationStatus,
    Survey,
)
from community import events, groups
from community.models import (
    Bookmark,
    CheckIn,
    CheckInStreak,
    Comment,
    CommentRevision,
    ContentStatus,
    Event,
    EventRsvp,
    EventStatus,
    Membership,
    MemberState,
    Post,
    PostRevision,
    Reaction,
    Report,
    RsvpResponse,
    RsvpStatus,
    ShareLink,
)
from content.models import EngagementEvent, StoryConsent
from content.models import Reaction as ContentReaction
from core import clock
from core.errors import DomainError
from core.identity import SYSTEM, Actor, ActorKind
from loyalty import ledger, rewards
from loyalty.models import (
    AccountKind,
    EntryKind,
    Lot,
    LotStatus,
    MemberTier,
    Redemption,
    RedemptionStatus,
    ReferralCode,
    SettleQueue,
)
from media import service as media_service
from messaging.models import InboxMessage, MessageDelivery, WechatBinding, WechatGrant
from patients import guardians
from patients import service as patient_service
from patients.guardian_models import Guardianship, GuardianshipStatus
from patients.models import (
    AuthSession,
    Consent,
    ConsentSource,
    Gender,
    Patient,
    PatientCondition,
    SubjectKind,
)
from privacy.models import OPEN_EXPORT, DataExport, ErasureRequest, ExportStatus, PostsChoice
from social.models import Block, Follow, Notification, NotificationPreference, Profile, TagFollow

ERASED_NICKNAME = "已注销用户"
PATIENT = "patient"  # account_kind / author_kind of patients in community tables
Counts = dict[str, int]


def tombstone_phone(patient_id: uuid.UUID) -> str:
    """A unique value in the phone column that no sign-in can ever match (not a phone number): the
    number itself is free again, a new sign-in with it opens a new account. From the id's random tail,
    so a rerun writes the same value."""
    return f"erased-{patient_id.hex[-13:]}"


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0)


async def account(session: AsyncSession, request: ErasureRequest) -> Counts:
    """The profile pseudonymised and marked erased (every sender's suppression stops here at once), every
    session revoked (old access and refresh tokens fail), WeChat bindings and their grants removed, every
    delegation the patient gave or held revoked (the record of what was done under it stays)."""
    pid, now = request.patient_id, clock.now()
    await session.execute(
        update(Patient)
        .where(Patient.id == pid)
        .values(
            phone=tombstone_phone(pid),
            nickname=ERASED_NICKNAME,
            real_name=None,
            email=None,
            birth_year=None,
            birth_date=None,
            gender=Gender.UNDISCLOSED.value,
            home_site_id=None,
            marketing_opt_out=True,
            erased_at=func.coalesce(Patient.erased_at, now),
            updated_at=now,
        )
    )
    sessions = await session.execute(
        update(AuthSession)
        .where(
            AuthSession.subject_kind == SubjectKind.PATIENT.value,
            AuthSession.subject_id == pid,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoked_reason="erased")
    )
    grants = await session.execute(delete(WechatGrant).where(WechatGrant.patient_id == pid))
    bindings = await session.execute(delete(WechatBinding).where(WechatBinding.patient_id == pid))
    live = list(
        await session.scalars(
            select(Guardianship.id)
            .where(
                or_(Guardianship.guardian_id == pid, Guardianship.dependent_id == pid),
                Guardianship.status.in_([GuardianshipStatus.PENDING, GuardianshipStatus.ACTIVE]),
            )
            .order_by(Guardianship.id)
        )
    )
    patient = Actor(kind=ActorKind.PATIENT, id=pid)
    for guardianship_id in live:  # as the patient would, one of the two parties
        await guardians.revoke(session, patient, guardianship_id, reason="账号注销")
    return {
        "sessions": _rowcount(sessions),
        "wechat_bindings": _rowcount(bindings),
        "wechat_grants": _rowcount(grants),
        "guardianships": len(live),
    }


async def consents(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Every consent still given is withdrawn, recorded as evidence like any withdrawal (the answers and
    their history stay); consents to publish the patient's story are withdrawn (the story comes down)."""
    pid, now = request.patient_id, clock.now()
    given = (
        await session.execute(
            select(Consent.channel, Consent.purpose).where(Consent.patient_id == pid, Consent.granted.is_(True))
        )
    ).all()
    if given:
        await patient_service.update_consents(
            session,
            Actor(kind=ActorKind.PATIENT, id=pid),
            [patient_service.ConsentChange(channel=c, purpose=p, granted=False) for c, p in given],
            source=ConsentSource.APP.value,
            note=f"注销账号（申请 {request.id}）",
        )
    stories = await session.execute(
        update(StoryConsent)
        .where(StoryConsent.patient_id == pid, StoryConsent.withdrawn_at.is_(None))
        .values(withdrawn_at=now)
    )
    return {"withdrawn": len(given), "story_consents": _rowcount(stories)}


async def registrations(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Registrations for events yet to start are declined as the patient would (the seat goes to the
    next on the waitlist); past ones stay as attendance records."""
    pid, now = request.patient_id, clock.now()
    event_ids = list(
        await session.scalars(
            select(EventRsvp.event_id)
            .join(Event, Event.id == EventRsvp.event_id)
            .where(
                EventRsvp.patient_id == pid,
                EventRsvp.status.in_([RsvpStatus.GOING, RsvpStatus.WAITLISTED, RsvpStatus.OFFERED]),
                Event.status == EventStatus.SCHEDULED,
                Event.starts_at > now,
            )
            .order_by(EventRsvp.event_id)
        )
    )
    patient = Actor(kind=ActorKind.PATIENT, id=pid)
    declined = 0
    for event_id in event_ids:
        try:
            async with session.begin_nested():
                await events.rsvp(session, patient, event_id, RsvpResponse.DECLINED.value)
            declined += 1
        except DomainError:
            # Not visible to them any more, or closed meanwhile: withdraw the registration directly.
            await session.execute(
                update(EventRsvp)
                .where(EventRsvp.event_id == event_id, EventRsvp.patient_id == pid)
                .values(status=RsvpStatus.CANCELLED, waitlisted_at=None, offer_expires_at=None, updated_at=now)
            )
            declined += 1
    return {"registrations": declined}


async def memberships(session: AsyncSession, request: ErasureRequest) -> Counts:
    """The patient leaves every group (member counts follow), pending requests and invitations too."""
    pid = request.patient_id
    group_ids = list(
        await session.scalars(
            select(Membership.group_id)
            .where(
                Membership.account_kind == PATIENT,
                Membership.account_id == pid,
                Membership.state.in_([MemberState.ACTIVE, MemberState.PENDING, MemberState.INVITED]),
            )
            .order_by(Membership.group_id)
        )
    )
    patient = Actor(kind=ActorKind.PATIENT, id=pid)
    for group_id in group_ids:
        await groups.leave(session, patient, group_id)
    return {"groups": len(group_ids)}


async def community(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Posts and comments as the patient chose: ANONYMISE keeps them (the author reads 已注销用户 from the
    pseudonymised profile), DELETE removes them and clears their texts, edit history and search words.
    Every image they uploaded goes, avatar and post images alike (a photo can identify a person, so a
    post kept anonymous keeps none). The profile (bio, avatar), follows both ways, followed tags and the
    blocks they made go, as do reactions, bookmarks and share links (they carry the referral code);
    reports they filed stay for the moderators without their free text."""
    pid, now = request.patient_id, clock.now()
    counts: Counts = {}
    mine_posts = (Post.author_kind == PATIENT) & (Post.author_id == pid)
    mine_comments = (Comment.author_kind == PATIENT) & (Comment.author_id == pid)
    if request.posts == PostsChoice.DELETE:
        post_ids = select(Post.id).where(mine_posts).scalar_subquery()
        counts["post_revisions_deleted"] = _rowcount(
            await session.execute(delete(PostRevision).where(PostRevision.post_id.in_(post_ids)))
        )
        counts["posts_deleted"] = _rowcount(
            await session.execute(
                update(Post)
                .where(mine_posts)
                .values(
                    status=ContentStatus.REMOVED,
                    title="",
                    body_md="",
                    body_html="",
                    image_urls=[],
                    tags=[],  # the topics taken from the text, and its words in search, go with it
                    search_vector=None,
                    updated_at=now,
                )
            )
        )
        comment_ids = select(Comment.id).where(mine_comments).scalar_subquery()
        counts["comment_revisions_deleted"] = _rowcount(
            await session.execute(delete(CommentRevision).where(CommentRevision.comment_id.in_(comment_ids)))
        )
        counts["comments_deleted"] = _rowcount(
            await session.execute(
                update(Comment)
                .where(mine_comments)
                .values(status=ContentStatus.REMOVED, body_md="", body_html="", updated_at=now)
            )
        )
    else:
        counts["posts_anonymised"] = int(
            await session.scalar(select(func.count()).select_from(Post).where(mine_posts)) or 0
        )
        counts["comments_anonymised"] = int(
            await session.scalar(select(func.count()).select_from(Comment).where(mine_comments)) or 0
        )
    counts["images"] = await media_service.erase_images_of(session, PATIENT, pid)  # files go after commit
    # The people layer: the profile (bio, avatar), follows both ways, followed tags, blocks they made
    # (others' blocks of them stay: those are the others' choice, about content that may stay).
    counts["profile"] = _rowcount(
        await session.execute(delete(Profile).where(Profile.account_kind == PATIENT, Profile.account_id == pid))
    )
    counts["follows"] = _rowcount(
        await session.execute(
            delete(Follow).where(
                or_(
                    (Follow.follower_kind == PATIENT) & (Follow.follower_id == pid),
                    (Follow.followee_kind == PATIENT) & (Follow.followee_id == pid),
                )
            )
        )
    )
    counts["tag_follows"] = _rowcount(
        await session.execute(delete(TagFollow).where(TagFollow.follower_kind == PATIENT, TagFollow.follower_id == pid))
    )
    counts["blocks"] = _rowcount(
        await session.execute(delete(Block).where(Block.blocker_kind == PATIENT, Block.blocker_id == pid))
    )
    counts["bookmarks"] = _rowcount(
        await session.execute(delete(Bookmark).where(Bookmark.account_kind == PATIENT, Bookmark.account_id == pid))
    )
    counts["share_links"] = _rowcount(
        await session.execute(delete(ShareLink).where(ShareLink.sharer_kind == PATIENT, ShareLink.sharer_id == pid))
    )
    counts["reactions"] = _rowcount(
        await session.execute(delete(Reaction).where(Reaction.account_kind == PATIENT, Reaction.account_id == pid))
    )
    counts["content_reactions"] = _rowcount(
        await session.execute(delete(ContentReaction).where(ContentReaction.patient_id == pid))
    )
    counts["reports"] = _rowcount(
        await session.execute(
            update(Report)
            .where(Report.reporter_kind == PATIENT, Report.reporter_id == pid, Report.detail.is_not(None))
            .values(detail=None)
        )
    )
    # Reading statistics stay, no longer tied to anyone.
    await session.execute(update(EngagementEvent).where(EngagementEvent.patient_id == pid).values(patient_id=None))
    return counts


async def health(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Conditions, check-ins with their notes (and the alerts they raised), the streak: deleted."""
    pid = request.patient_id
    conditions = await session.execute(delete(PatientCondition).where(PatientCondition.patient_id == pid))
    check_ins = await session.execute(delete(CheckIn).where(CheckIn.patient_id == pid))  # alerts cascade
    await session.execute(delete(CheckInStreak).where(CheckInStreak.patient_id == pid))
    return {"conditions": _rowcount(conditions), "check_ins": _rowcount(check_ins)}


async def care(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Complaint and survey free texts cleared; care-team conversations closed and every message text in
    them cleared (the team's replies are about the patient too); the rows stay for the hospital's quality
    records (scores, times, response clocks, handling), about nobody. The patient's own doctor and health
    manager assignments go."""
    pid, now = request.patient_id, clock.now()
    complaints = await session.execute(
        update(Complaint).where(Complaint.patient_id == pid, Complaint.body != "").values(body="")
    )
    surveys = await session.execute(
        update(Survey).where(Survey.patient_id == pid, Survey.comment.is_not(None)).values(comment=None)
    )
    conversations = select(Conversation.id).where(Conversation.patient_id == pid).scalar_subquery()
    messages = await session.execute(
        update(ConversationMessage)
        .where(ConversationMessage.conversation_id.in_(conversations), ConversationMessage.body != "")
        .values(body="")
    )
    closed = await session.execute(
        update(Conversation)
        .where(Conversation.patient_id == pid, Conversation.status != ConversationStatus.CLOSED)
        .values(
            status=ConversationStatus.CLOSED,
            queue_tier=QUEUE_TIER[ConversationStatus.CLOSED],
            queue_at=now,
            clock_started_at=None,
            due_at=None,
            escalated_at=None,
            closed_at=now,
            closed_by_kind="system",
            updated_at=now,
        )
    )
    await session.execute(update(Conversation).where(Conversation.patient_id == pid).values(subject=""))
    assignments = await session.execute(delete(CareAssignment).where(CareAssignment.patient_id == pid))
    return {
        "complaint_texts": _rowcount(complaints),
        "survey_comments": _rowcount(surveys),
        "conversation_messages": _rowcount(messages),
        "conversations_closed": _rowcount(closed),
        "care_assignments": _rowcount(assignments),
    }


_UNNAME = text(
    """
    WITH hit AS (
        SELECT n.id, min(a ->> 'name') AS name
        FROM social_notifications n CROSS JOIN LATERAL jsonb_array_elements(n.actors) AS a
        WHERE n.actors @> jsonb_build_array(jsonb_build_object('id', CAST(:pid AS text))) AND a ->> 'id' = :pid
        GROUP BY n.id
    )
    UPDATE social_notifications n
    SET title = CASE WHEN hit.name <> '' THEN replace(n.title, hit.name, :erased) ELSE n.title END,
        body = CASE WHEN hit.name <> '' THEN replace(n.body, hit.name, :erased) ELSE n.body END,
        actors = (
            SELECT jsonb_agg(CASE WHEN x ->> 'id' = :pid THEN x || jsonb_build_object('name', CAST(:erased AS text))
                                  ELSE x END ORDER BY i)
            FROM jsonb_array_elements(n.actors) WITH ORDINALITY AS t(x, i)
        )
    FROM hit WHERE n.id = hit.id
    """
)


async def messages(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Copies of the patient's data dropped, and one still being made stopped; the inbox deleted; delivery
    records keep their outcome but lose the address and text."""
    pid, now = request.patient_id, clock.now()
    # First, as it waits for a copy being stored right now (its row lock): the inbox message that copy
    # puts is then committed, and deleted below.
    stopped = await session.execute(
        update(DataExport)
        .where(DataExport.patient_id == pid, DataExport.status.in_(OPEN_EXPORT))
        .values(status=ExportStatus.FAILED, finished_at=now, error="账号已注销")
    )
    exports = await session.execute(
        update(DataExport).where(DataExport.patient_id == pid, DataExport.content.is_not(None)).values(content=None)
    )
    inbox = await session.execute(delete(InboxMessage).where(InboxMessage.patient_id == pid))
    own = await session.execute(
        delete(Notification).where(Notification.recipient_kind == PATIENT, Notification.recipient_id == pid)
    )
    await session.execute(
        delete(NotificationPreference).where(
            NotificationPreference.account_kind == PATIENT, NotificationPreference.account_id == pid
        )
    )
    # Other people's notifications named them ("阿明 回复了你"): the name becomes 已注销用户 there too.
    named = await session.execute(_UNNAME, {"pid": str(pid), "erased": ERASED_NICKNAME})
    deliveries = await session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.patient_id == pid, MessageDelivery.body != "")
        .values(recipient=None, subject=None, body="", link=None)
    )
    return {
        "inbox": _rowcount(inbox),
        "notifications": _rowcount(own),
        "named_in_notifications": _rowcount(named),
        "deliveries": _rowcount(deliveries),
        "exports": _rowcount(exports),
        "exports_stopped": _rowcount(stopped),
    }


async def points(session: AsyncSession, request: ErasureRequest) -> Counts:
    """Open vouchers are cancelled as staff would (the item goes back into stock, the points back to the
    member: the ledger says the item was never handed out); then the member's balances (available,
    pending, and what they owe) move in one balanced entry to the system account `erased`, so no balance
    stays and the journal still sums to zero: the patient gets nothing back. Their lots are voided
    (nothing to settle, spend or expire); the referral code and the tier go."""
    pid = request.patient_id
    vouchers = list(
        await session.scalars(
            select(Redemption.id)
            .where(Redemption.patient_id == pid, Redemption.status == RedemptionStatus.ISSUED)
            .order_by(Redemption.id)
        )
    )
    for redemption_id in vouchers:
        await rewards.cancel(session, SYSTEM, redemption_id)
    member = await ledger.lock_member(session, pid)
    key = f"erasure:{request.id}"
    digest = ledger.request_hash({"erasure": str(request.id)})
    pending, available, owed = member.pending.balance, member.available.balance, -member.clawback.balance
    counts: Counts = {"vouchers": len(vouchers), "pending": pending, "available": available, "owed": owed}
    if await ledger.find_entry(session, key, digest) is None and (pending or available or owed):
        await ledger.post(
            session,
            ledger.Posting(
                key=key,
                digest=digest,
                kind=EntryKind.ERASE,
                patient_id=pid,
                amount=-(pending + available),
                memo="账号注销，积分余额清零",
                lines=[
                    (member.pending.id, -pending),
                    (member.available.id, -available),
                    (member.clawback.id, owed),
                    (ledger.system_account(AccountKind.ERASED), pending + available - owed),
                ],
            ),
            member,
        )
    lots = await session.execute(
        update(Lot)
        .where(Lot.patient_id == pid, Lot.status.in_([LotStatus.PENDING, LotStatus.AVAILABLE]), Lot.remaining > 0)
        .values(status=LotStatus.VOIDED, remaining=0)
    )
    await session.execute(delete(SettleQueue).where(SettleQueue.patient_id == pid))
    await session.execute(delete(ReferralCode).where(ReferralCode.patient_id == pid))
    await session.execute(delete(MemberTier).where(MemberTier.patient_id == pid))
    counts["lots"] = _rowcount(lots)
    return counts


@dataclass(frozen=True)
class Step:
    name: str
    label: str  # what admins read in the audit
    run: Callable[[AsyncSession, ErasureRequest], Awaitable[Counts]]


STEPS: tuple[Step, ...] = (
    Step("account", "账号假名化、退出全部登录、解除微信绑定", account),
    Step("consents", "撤回全部授权（授权记录保留）", consents),
    Step("registrations", "取消未开始活动的报名", registrations),
    Step("memberships", "退出全部社群", memberships),
    Step("community", "帖子与评论按选择匿名或删除，删除个人主页、关注、屏蔽、图片、点赞、收藏与分享", community),
    Step("health", "删除病种、健康打卡与备注", health),
    Step("care", "清除投诉、满意度调查与护理咨询中的文字，关闭咨询", care),
    Step("messages", "删除站内消息与数据副本", messages),
    Step("points", "取消未使用的兑换券，积分余额转入注销账户，作废积分批次", points),
)
STEP_LABELS = {s.name: s.label for s in STEPS}
