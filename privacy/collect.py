"""Everything stored about one patient, domain by domain, for their copy (PIPL art. 45).

One small function per domain, each plain SELECTs over that domain's tables, returning JSON-ready
values (times stay datetimes; the serialiser writes them in ISO 8601 with their offset). Anonymous
posts and comments are included: the patient wrote them, the copy is theirs. Other people appear only
as what the patient may know of them (a staff reader's name and roles, a group's name), never with
their own personal data (a referee is a date and a status, not a person).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from care.models import CareAssignment, Complaint, ComplaintAction, Conversation, ConversationMessage, Survey
from community.models import (
    Bookmark,
    CheckIn,
    CheckInStreak,
    Comment,
    Event,
    EventInvitation,
    EventRsvp,
    Group,
    HealthAlert,
    Membership,
    Post,
    Reaction,
    Report,
    ShareLink,
)
from content.models import ContentItem, StoryConsent
from content.models import Reaction as ContentReaction
from loyalty.models import (
    Account,
    Entry,
    LifecycleChange,
    Lot,
    MemberTier,
    PatientLifecycle,
    Redemption,
    Referral,
    ReferralCode,
    Reward,
    Tier,
    TierChange,
    Visit,
)
from media.models import Image
from messaging.models import InboxMessage, WechatBinding
from patients.guardian_models import GuardianAction, Guardianship
from patients.models import (
    AuthSession,
    Condition,
    Consent,
    ConsentEvent,
    Patient,
    PatientCondition,
    Site,
    Staff,
)
from privacy import reads
from privacy.models import PhiRead
from social.models import Block, Follow, Notification, NotificationPreference, Profile, TagFollow

Json = dict[str, Any]
PATIENT = "patient"  # account_kind / author_kind of patients in community tables


def _rows(result: Any) -> list[Json]:
    return [dict(row._mapping) for row in result]


async def profile(session: AsyncSession, pid: uuid.UUID) -> Json:
    row = (
        await session.execute(
            select(
                Patient.phone,
                Patient.nickname,
                Patient.real_name,
                Patient.email,
                Patient.birth_year,
                Patient.birth_date,
                Patient.gender,
                Patient.timezone,
                Site.name.label("home_site"),
                Patient.created_at.label("registered_at"),
                Patient.last_sign_in_at,
                Patient.marketing_opt_out,
            )
            .outerjoin(Site, Site.id == Patient.home_site_id)
            .where(Patient.id == pid)
        )
    ).one()
    return dict(row._mapping)


async def conditions(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(Condition.code, Condition.name, PatientCondition.added_at)
            .join(Condition, Condition.code == PatientCondition.condition_code)
            .where(PatientCondition.patient_id == pid)
            .order_by(PatientCondition.added_at, Condition.code)
        )
    )


async def consents(session: AsyncSession, pid: uuid.UUID) -> Json:
    current = select(
        Consent.channel, Consent.purpose, Consent.granted, Consent.source, Consent.notice_version, Consent.changed_at
    ).where(Consent.patient_id == pid)
    history = (
        select(
            ConsentEvent.channel,
            ConsentEvent.purpose,
            ConsentEvent.granted,
            ConsentEvent.source,
            ConsentEvent.source_note,
            ConsentEvent.notice_version,
            ConsentEvent.text_sha256,
            ConsentEvent.occurred_at,
        )
        .where(ConsentEvent.patient_id == pid)
        .order_by(ConsentEvent.occurred_at, ConsentEvent.id)
    )
    return {
        "current": _rows(await session.execute(current.order_by(Consent.channel, Consent.purpose))),
        "history": _rows(await session.execute(history)),
    }


async def sign_ins(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(AuthSession.created_at, AuthSession.device_id, AuthSession.revoked_at, AuthSession.revoked_reason)
            .where(AuthSession.subject_kind == PATIENT, AuthSession.subject_id == pid)
            .order_by(AuthSession.created_at)
        )
    )


async def visits(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                Visit.external_id,
                Site.name.label("site"),
                Visit.department,
                Visit.visited_at,
                Visit.status,
                Visit.self_paid_fen,
                Visit.insured_fen,
                Visit.items,
                Visit.refunded_at,
            )
            .join(Site, Site.id == Visit.site_id)
            .where(Visit.patient_id == pid)
            .order_by(Visit.visited_at, Visit.id)
        )
    )


async def lifecycle(session: AsyncSession, pid: uuid.UUID) -> Json:
    stage = await session.scalar(select(PatientLifecycle.stage).where(PatientLifecycle.patient_id == pid))
    changes = await session.execute(
        select(LifecycleChange.from_stage, LifecycleChange.to_stage, LifecycleChange.reason, LifecycleChange.changed_at)
        .where(LifecycleChange.patient_id == pid)
        .order_by(LifecycleChange.changed_at)
    )
    return {"stage": stage, "changes": _rows(changes)}


async def points(session: AsyncSession, pid: uuid.UUID) -> Json:
    balances = {
        kind: int(balance)
        for kind, balance in await session.execute(
            select(Account.kind, Account.balance).where(Account.patient_id == pid)
        )
    }
    entries = await session.execute(
        select(Entry.kind, Entry.amount, Entry.memo, Entry.rule_code, Entry.source_ref, Entry.created_at)
        .where(Entry.patient_id == pid)
        .order_by(Entry.created_at, Entry.id)
    )
    lots = await session.execute(
        select(
            Lot.amount,
            Lot.remaining,
            Lot.status,
            Lot.rule_code,
            Lot.source_ref,
            Lot.earned_at,
            Lot.settles_at,
            Lot.expires_at,
        )
        .where(Lot.patient_id == pid)
        .order_by(Lot.earned_at, Lot.id)
    )
    return {"balances": balances, "entries": _rows(entries), "lots": _rows(lots)}


async def tier(session: AsyncSession, pid: uuid.UUID) -> Json:
    current = (
        await session.execute(
            select(
                Tier.code,
                Tier.name,
                MemberTier.qualifying_points,
                MemberTier.since,
                MemberTier.grace_until,
            )
            .join(Tier, Tier.code == MemberTier.tier_code)
            .where(MemberTier.patient_id == pid)
        )
    ).one_or_none()
    changes = await session.execute(
        select(
            TierChange.from_tier,
            TierChange.to_tier,
            TierChange.qualifying_points,
            TierChange.reason,
            TierChange.changed_at,
        )
        .where(TierChange.patient_id == pid)
        .order_by(TierChange.changed_at)
    )
    return {"current": dict(current._mapping) if current else None, "changes": _rows(changes)}


async def redemptions(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                Reward.name.label("reward"),
                Redemption.points,
                Redemption.status,
                Redemption.voucher_code,
                Redemption.created_at,
                Redemption.expires_at,
                Redemption.fulfilled_at,
                Redemption.closed_at,
            )
            .outerjoin(Reward, Reward.id == Redemption.reward_id)
            .where(Redemption.patient_id == pid)
            .order_by(Redemption.created_at, Redemption.id)
        )
    )


async def referrals(session: AsyncSession, pid: uuid.UUID) -> Json:
    code = await session.scalar(select(ReferralCode.code).where(ReferralCode.patient_id == pid))
    columns = (Referral.status, Referral.created_at, Referral.converted_at, Referral.rewarded_at)
    made = await session.execute(select(*columns).where(Referral.referrer_id == pid).order_by(Referral.created_at))
    referred = (await session.execute(select(Referral.code, *columns).where(Referral.referee_id == pid))).one_or_none()
    return {
        "code": code,
        "referred_others": _rows(made),  # the referees are other people: dates and outcomes only
        "referred_by": dict(referred._mapping) if referred else None,
    }


async def groups(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                Group.name.label("group"),
                Membership.role,
                Membership.state,
                Membership.joined_at,
                Membership.request_note,
                Membership.created_at,
            )
            .join(Group, Group.id == Membership.group_id)
            .where(Membership.account_kind == PATIENT, Membership.account_id == pid)
            .order_by(Membership.created_at)
        )
    )


async def posts(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                Group.name.label("group"),
                Post.kind,
                Post.title,
                Post.body_md.label("body"),
                Post.image_urls,
                Post.anonymous,
                Post.status,
                Post.created_at,
                Post.edited_at,
            )
            .join(Group, Group.id == Post.group_id)
            .where(Post.author_kind == PATIENT, Post.author_id == pid)
            .order_by(Post.created_at, Post.id)
        )
    )


async def comments(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                Post.title.label("post"),
                Comment.body_md.label("body"),
                Comment.anonymous,
                Comment.status,
                Comment.created_at,
                Comment.edited_at,
            )
            .join(Post, Post.id == Comment.post_id)
            .where(Comment.author_kind == PATIENT, Comment.author_id == pid)
            .order_by(Comment.created_at, Comment.id)
        )
    )


async def reactions(session: AsyncSession, pid: uuid.UUID) -> Json:
    community = await session.execute(
        select(Reaction.target_kind, Reaction.kind, Reaction.created_at)
        .where(Reaction.account_kind == PATIENT, Reaction.account_id == pid)
        .order_by(Reaction.created_at)
    )
    content = await session.execute(
        select(ContentItem.title.label("article"), ContentReaction.kind, ContentReaction.created_at)
        .join(ContentItem, ContentItem.id == ContentReaction.item_id)
        .where(ContentReaction.patient_id == pid)
        .order_by(ContentReaction.created_at)
    )
    return {"community": _rows(community), "content": _rows(content)}


async def bookmarks(session: AsyncSession, pid: uuid.UUID) -> Json:
    """Posts and comments bookmarked (articles are in reactions.content), and the share links made."""
    saved = await session.execute(
        select(Bookmark.target_kind, Post.title.label("post"), Bookmark.created_at)
        .join(Post, Post.id == Bookmark.post_id)
        .where(Bookmark.account_kind == PATIENT, Bookmark.account_id == pid)
        .order_by(Bookmark.created_at)
    )
    links = await session.execute(
        select(ShareLink.target_kind, ShareLink.code, ShareLink.clicks, ShareLink.created_at, ShareLink.expires_at)
        .where(ShareLink.sharer_kind == PATIENT, ShareLink.sharer_id == pid)
        .order_by(ShareLink.created_at)
    )
    return {"bookmarks": _rows(saved), "share_links": _rows(links)}


async def images(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    """The images the patient uploaded (what and when; the pictures themselves are in the app)."""
    return _rows(
        await session.execute(
            select(Image.purpose, Image.status, Image.content_type, Image.width, Image.height, Image.created_at)
            .where(Image.owner_kind == PATIENT, Image.owner_id == pid)
            .order_by(Image.created_at, Image.id)
        )
    )


async def social(session: AsyncSession, pid: uuid.UUID) -> Json:
    """The profile, whom the patient follows and blocks (by the name the community shows), how many follow
    them (who they are is theirs), the tags they follow."""
    me = (Profile.account_kind == PATIENT) & (Profile.account_id == pid)
    profile = (
        await session.execute(
            select(
                Profile.bio,
                Profile.avatar_key,
                Profile.allow_follow,
                Profile.groups_visible_to,
                Profile.badges_visible_to,
                Profile.followers_visible_to,
            ).where(me)
        )
    ).one_or_none()

    def named(kind: Any, account: Any) -> Any:
        return func.coalesce(
            select(Patient.nickname).where(kind == PATIENT, Patient.id == account).scalar_subquery(),
            select(Staff.name).where(kind == "staff", Staff.id == account).scalar_subquery(),
        )

    following = await session.execute(
        select(Follow.followee_kind.label("kind"), named(Follow.followee_kind, Follow.followee_id).label("name"))
        .add_columns(Follow.created_at)
        .where(Follow.follower_kind == PATIENT, Follow.follower_id == pid)
        .order_by(Follow.created_at)
    )
    followers = await session.scalar(
        select(func.count()).select_from(Follow).where(Follow.followee_kind == PATIENT, Follow.followee_id == pid)
    )
    tags = await session.execute(
        select(TagFollow.tag, TagFollow.created_at)
        .where(TagFollow.follower_kind == PATIENT, TagFollow.follower_id == pid)
        .order_by(TagFollow.created_at)
    )
    blocked = await session.execute(
        select(Block.blocked_kind.label("kind"), named(Block.blocked_kind, Block.blocked_id).label("name"))
        .add_columns(Block.created_at)
        .where(Block.blocker_kind == PATIENT, Block.blocker_id == pid)
        .order_by(Block.created_at)
    )
    return {
        "profile": dict(profile._mapping) if profile else None,
        "following": _rows(following),
        "followers": int(followers or 0),
        "tags": _rows(tags),
        "blocked": _rows(blocked),
    }


async def notifications(session: AsyncSession, pid: uuid.UUID) -> Json:
    """The notification centre: what they were told (as shown to them) and their choices per kind."""
    told = await session.execute(
        select(
            Notification.kind,
            Notification.title,
            Notification.body,
            Notification.actor_count,
            Notification.created_at,
            Notification.read_at,
        )
        .where(Notification.recipient_kind == PATIENT, Notification.recipient_id == pid)
        .order_by(Notification.created_at, Notification.id)
    )
    choices = await session.execute(
        select(NotificationPreference.kind, NotificationPreference.channel, NotificationPreference.enabled)
        .where(NotificationPreference.account_kind == PATIENT, NotificationPreference.account_id == pid)
        .order_by(NotificationPreference.kind, NotificationPreference.channel)
    )
    return {"notifications": _rows(told), "preferences": _rows(choices)}


async def reports(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(Report.target_kind, Report.reason, Report.detail, Report.status, Report.created_at)
            .where(Report.reporter_kind == PATIENT, Report.reporter_id == pid)
            .order_by(Report.created_at)
        )
    )


async def check_ins(session: AsyncSession, pid: uuid.UUID) -> Json:
    rows = await session.execute(
        select(
            CheckIn.kind,
            CheckIn.local_date,
            CheckIn.value,
            CheckIn.note,
            CheckIn.out_of_range,
            CheckIn.created_at,
        )
        .where(CheckIn.patient_id == pid)
        .order_by(CheckIn.local_date, CheckIn.kind)
    )
    streak = (
        await session.execute(
            select(CheckInStreak.current, CheckInStreak.longest, CheckInStreak.last_date).where(
                CheckInStreak.patient_id == pid
            )
        )
    ).one_or_none()
    alerts = await session.execute(
        select(HealthAlert.kind, HealthAlert.reading, HealthAlert.message, HealthAlert.created_at)
        .where(HealthAlert.patient_id == pid)
        .order_by(HealthAlert.created_at)
    )
    return {
        "entries": _rows(rows),
        "streak": dict(streak._mapping) if streak else None,
        "alerts": _rows(alerts),
    }


async def events(session: AsyncSession, pid: uuid.UUID) -> Json:
    registrations = await session.execute(
        select(Event.title, Event.starts_at, EventRsvp.status, EventRsvp.created_at, EventRsvp.checked_in_at)
        .join(Event, Event.id == EventRsvp.event_id)
        .where(EventRsvp.patient_id == pid)
        .order_by(Event.starts_at)
    )
    invitations = await session.execute(
        select(Event.title, Event.starts_at, EventInvitation.channels, EventInvitation.created_at)
        .join(Event, Event.id == EventInvitation.event_id)
        .where(EventInvitation.patient_id == pid)
        .order_by(EventInvitation.created_at)
    )
    return {"registrations": _rows(registrations), "invitations": _rows(invitations)}


async def complaints(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    tickets = _rows(
        await session.execute(
            select(Complaint.id, Complaint.source, Complaint.body, Complaint.status, Complaint.created_at)
            .where(Complaint.patient_id == pid)
            .order_by(Complaint.created_at, Complaint.id)
        )
    )
    steps: dict[uuid.UUID, list[Json]] = {}
    if tickets:
        # The replies the patient was given; internal steps without a note are shown as steps only.
        for row in await session.execute(
            select(
                ComplaintAction.complaint_id,
                ComplaintAction.action,
                ComplaintAction.to_status,
                ComplaintAction.created_at,
                ComplaintAction.note,
            )
            .where(ComplaintAction.complaint_id.in_([t["id"] for t in tickets]))
            .order_by(ComplaintAction.created_at, ComplaintAction.id)
        ):
            note = row.note if row.action == "responded" else None
            steps.setdefault(row.complaint_id, []).append(
                {"action": row.action, "status": row.to_status, "at": row.created_at, "reply": note}
            )
    for ticket in tickets:
        ticket["history"] = steps.get(ticket.pop("id"), [])
    return tickets


async def surveys(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(Survey.visited_at, Survey.status, Survey.score, Survey.comment, Survey.answered_at)
            .where(Survey.patient_id == pid)
            .order_by(Survey.created_at, Survey.id)
        )
    )


async def care_team(session: AsyncSession, pid: uuid.UUID) -> Json:
    """The patient's own doctor and health manager, and their conversations with the care team."""
    team = await session.execute(
        select(CareAssignment.role, Staff.name, CareAssignment.created_at)
        .join(Staff, Staff.id == CareAssignment.staff_id)
        .where(CareAssignment.patient_id == pid)
        .order_by(CareAssignment.role)
    )
    threads = _rows(
        await session.execute(
            select(Conversation.id, Conversation.subject, Conversation.status, Conversation.created_at)
            .where(Conversation.patient_id == pid)
            .order_by(Conversation.created_at, Conversation.id)
        )
    )
    messages: dict[uuid.UUID, list[Json]] = {}
    if threads:
        for row in await session.execute(
            select(
                ConversationMessage.conversation_id,
                ConversationMessage.author_kind,
                Staff.name,
                ConversationMessage.body,
                ConversationMessage.created_at,
            )
            .outerjoin(
                Staff, (Staff.id == ConversationMessage.author_id) & (ConversationMessage.author_kind == "staff")
            )
            .where(ConversationMessage.conversation_id.in_([t["id"] for t in threads]))
            .order_by(ConversationMessage.created_at, ConversationMessage.id)
        ):
            author = "我" if row.author_kind == PATIENT else (row.name or "护理团队")
            messages.setdefault(row.conversation_id, []).append(
                {"from": author, "body": row.body, "at": row.created_at}
            )
    for thread in threads:
        thread["messages"] = messages.get(thread.pop("id"), [])
    return {"team": _rows(team), "conversations": threads}


async def inbox(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(
                InboxMessage.subject,
                InboxMessage.body,
                InboxMessage.link,
                InboxMessage.created_at,
                InboxMessage.read_at,
            )
            .where(InboxMessage.patient_id == pid)
            .order_by(InboxMessage.created_at, InboxMessage.id)
        )
    )


async def wechat(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(WechatBinding.app, WechatBinding.openid, WechatBinding.created_at)
            .where(WechatBinding.patient_id == pid)
            .order_by(WechatBinding.created_at)
        )
    )


async def stories(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    return _rows(
        await session.execute(
            select(ContentItem.title, StoryConsent.granted_at, StoryConsent.withdrawn_at)
            .join(ContentItem, ContentItem.id == StoryConsent.item_id)
            .where(StoryConsent.patient_id == pid)
            .order_by(StoryConsent.granted_at)
        )
    )


async def health_data_reads(session: AsyncSession, pid: uuid.UUID) -> list[Json]:
    """谁查看了我的健康信息: every staff read on record (reader's name and roles, what, when, how)."""
    rows = await session.execute(
        select(PhiRead.kind, PhiRead.read_at, PhiRead.through, PhiRead.staff_roles, Staff.name)
        .outerjoin(Staff, Staff.id == PhiRead.staff_id)
        .where(PhiRead.patient_id == pid)
        .order_by(PhiRead.read_at, PhiRead.id)
    )
    return [
        {
            "reader": r.name or "工作人员",
            "reader_roles": reads.role_labels(r.staff_roles),
            "kind": reads.kind_label(r.kind),
            "read_at": r.read_at,
            "through": r.through,
        }
        for r in rows
    ]


async def guardianships(session: AsyncSession, pid: uuid.UUID) -> Json:
    """Delegations the patient gave (as dependent) or holds (as guardian), and what was done under them;
    the other person appears only as their side of it."""
    given = await session.execute(
        select(
            (Guardianship.dependent_id == pid).label("mine"),
            Guardianship.relation,
            Guardianship.scopes,
            Guardianship.status,
            Guardianship.confirmation,
            Guardianship.created_at,
            Guardianship.confirmed_at,
            Guardianship.revoked_at,
            Guardianship.revoked_reason,
        )
        .where(or_(Guardianship.guardian_id == pid, Guardianship.dependent_id == pid))
        .order_by(Guardianship.created_at, Guardianship.id)
    )
    actions = await session.execute(
        select(
            (GuardianAction.dependent_id == pid).label("mine"),
            GuardianAction.scope,
            GuardianAction.action,
            GuardianAction.target,
            GuardianAction.occurred_at,
        )
        .where(or_(GuardianAction.guardian_id == pid, GuardianAction.dependent_id == pid))
        .order_by(GuardianAction.occurred_at, GuardianAction.id)
    )
    return {
        "delegations": [_side(r, "dependent", "guardian") for r in given],
        "actions": [_side(r, "done_for_me", "done_by_me") for r in actions],
    }


def _side(row: Any, yes: str, no: str) -> Json:
    """A row whose column `mine` says whether the patient is the dependent, as a labelled dict."""
    values = dict(row._mapping)
    return {"side": yes if values.pop("mine") else no, **values}


# The copy's sections, in the order they are written.
SECTIONS: tuple[tuple[str, Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]], ...] = (
    ("profile", profile),
    ("conditions", conditions),
    ("consents", consents),
    ("sign_ins", sign_ins),
    ("visits", visits),
    ("lifecycle", lifecycle),
    ("points", points),
    ("tier", tier),
    ("redemptions", redemptions),
    ("referrals", referrals),
    ("groups", groups),
    ("posts", posts),
    ("comments", comments),
    ("reactions", reactions),
    ("bookmarks", bookmarks),
    ("social", social),
    ("notifications", notifications),
    ("images", images),
    ("reports", reports),
    ("check_ins", check_ins),
    ("events", events),
    ("complaints", complaints),
    ("surveys", surveys),
    ("care_team", care_team),
    ("inbox", inbox),
    ("wechat", wechat),
    ("stories", stories),
    ("health_data_reads", health_data_reads),
    ("guardianships", guardianships),
)


async def everything(session: AsyncSession, pid: uuid.UUID) -> Json:
    return {name: await read(session, pid) for name, read in SECTIONS}
