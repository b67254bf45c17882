"""Moderation: screening new content, posting limits, reports, the queue, decisions, restrictions.

The post/comment service calls three functions around every new post or comment:

    await moderation.check_posting_limit(session, actor, membership, kind="post")
    screening = await moderation.screen(session, actor, group_id=..., text=...)   # may raise ContentBlocked
    ... insert the row with status=screening.status ...
    await moderation.after_create(session, actor, group_id=..., target_kind="post", target_id=..., screening=screening)

Screening (community.wordfilter over the database word list):
- an emergency word (胸痛, 想自杀 ...) wins over everything else: the content is AUTHOR_ONLY (its author
  and staff see it), the author gets an in-app reply with 120 and crisis hotlines at once, the
  on-duty care team is alerted through the outbox and a top-priority queue item waits for a human.
  It wins over block words on purpose: a person in crisis who also swears must not be turned away;
- a block word refuses the content (ContentBlocked names the words);
- hold and ad/medical-claim words hold the content (HELD) for a moderator;
- staff (and the system) are trusted authors: only block words apply to them (a doctor writes
  "胸痛请立即拨打120" or "糖尿病没有特效药" as advice, not as an emergency or an advert).

Emergency alert routing: ONE in-app message per content to the recipient `care-team`
(CARE_TEAM_RECIPIENT), the on-duty care-team inbox, written to the outbox in the same transaction;
it names the group, the words, the queue item and the patient (the care team must be able to
reach a person at risk, even one who posted anonymously; moderators never see that id). Doctors
and health managers (CARE_ROLES) see and decide emergency items in the queue; group moderators
(members) never see them. Notices are idempotent per queue item (community_notices_sent): a retry
or a repeated call sends nothing twice, a new emergency in content a human already released does.

Reports: one per reporter per target, weighted by the reporter's standing (REPORT WEIGHTS below);
when the open reports of a target weigh AUTO_HIDE_THRESHOLD or more, published content is hidden
until a moderator decides, except emergency items (never hidden without a human seeing them). A
report with reason self_harm escalates the item to an emergency and alerts the care team.

Queue decisions use optimistic versions (`UPDATE ... WHERE version = :v`), so of two moderators
deciding one item, one wins and the other gets VersionConflict. Every moderator action and the
system's automatic ones are written to the one append-only audit log with their effects in
`detail`. Queue entries never carry the identity of an anonymous author.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, false, func, or_, select, text, true, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, errors, wordfilter
from community.models import (
    AnonymousAlias,
    AuditEntry,
    Comment,
    ContentStatus,
    Group,
    MemberRole,
    Membership,
    MemberState,
    ModerationItem,
    NoticeSent,
    Post,
    QueueStatus,
    Report,
    SensitiveWord,
    WordCategory,
    WordException,
)
from core import clock, pubsub
from core.channels import ChannelName, Message, send_later
from core.errors import Conflict, DomainError, NotFound, PermissionDenied, Validator
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id
from core.pagination import Page, decode_cursor, encode_cursor, keyset_page, page_size
from core.settings import get_settings
from oncall import service as oncall
from oncall.models import PageKind
from patients import queries as patient_queries

# --- settings of the rules ----------------------------------------------------------------------

NEW_MEMBER_DAYS = 3
NEW_MEMBER_DAILY_LIMITS = {"post": 3, "comment": 10}
AUTO_HIDE_THRESHOLD = Decimal("3.00")
CLAIM_TTL = timedelta(minutes=30)  # a claim older than this may be taken over
CARE_TEAM_RECIPIENT = "care-team"
CARE_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)
TARGET_KINDS = ("post", "comment")

PRIORITY_EMERGENCY = 100
PRIORITY_HIDDEN = 30  # auto-hidden by reports: someone's content is down until a human looks
PRIORITY_REPORTS = 20
PRIORITY_HELD = 10

# Report weights: staff with moderation or clinical roles 3.0 (one report hides), other staff 1.5;
# members: group moderators/owners/experts 2.0, members for 90+ days 1.5, members 1.0, readers who
# are not members 0.5; plus 0.25 per upheld report (up to 1.0), times the reporter's smoothed
# accuracy (upheld + 1) / (upheld + rejected + 1); clamped to [0.1, 3.0].
STAFF_WEIGHT = Decimal("3.00")
OTHER_STAFF_WEIGHT = Decimal("1.50")
SENIOR_MEMBER_DAYS = 90

HELP_TEXT = (
    "我们注意到您提到的情况可能需要紧急帮助。"
    "如果出现胸痛、呼吸困难、意识不清等情况，请立即拨打120急救电话，或尽快前往最近医院的急诊科。"
    "如果您正感到绝望或有伤害自己的想法，请拨打心理援助热线12356或400-161-9995（24小时），您并不孤单。"
    "您的内容暂时仅您本人可见，值班医护人员已收到提醒，会尽快与您联系。"
)


class Decision(enum.StrEnum):
    KEEP = "keep"  # restore: hidden / held / author-only -> published; reports rejected
    HIDE = "hide"  # hidden (restorable)
    REMOVE = "remove"
    WARN = "warn"  # hidden + a warning to the author
    MUTE = "mute"  # hidden + the author muted for N days
    BAN = "ban"  # removed + the author banned (for N days or for good)


# what each decision does to the content
DECISION_STATUS = {
    Decision.KEEP: ContentStatus.PUBLISHED,
    Decision.HIDE: ContentStatus.HIDDEN,
    Decision.REMOVE: ContentStatus.REMOVED,
    Decision.WARN: ContentStatus.HIDDEN,
    Decision.MUTE: ContentStatus.HIDDEN,
    Decision.BAN: ContentStatus.REMOVED,
}


class ItemReason(enum.StrEnum):
    REPORTS = "reports"
    HELD_WORD = "held_word"
    AD_CLAIM = "ad_claim"
    EMERGENCY = "emergency"


ITEM_REASON_LABELS = {
    ItemReason.REPORTS: "用户举报",
    ItemReason.HELD_WORD: "敏感词待审",
    ItemReason.AD_CLAIM: "广告或医疗功效宣传",
    ItemReason.EMERGENCY: "紧急求助",
}


class ReportReason(enum.StrEnum):
    SPAM = "spam"
    ABUSE = "abuse"
    MISINFORMATION = "misinformation"
    PRIVACY = "privacy"
    ILLEGAL = "illegal"
    SELF_HARM = "self_harm"
    OTHER = "other"


REPORT_REASON_LABELS = {
    ReportReason.SPAM: "广告或垃圾信息",
    ReportReason.ABUSE: "辱骂或人身攻击",
    ReportReason.MISINFORMATION: "不实医疗信息",
    ReportReason.PRIVACY: "泄露他人隐私",
    ReportReason.ILLEGAL: "违法违规",
    ReportReason.SELF_HARM: "可能有自伤风险",
    ReportReason.OTHER: "其他",
}


class ReportStatus(enum.StrEnum):
    OPEN = "open"
    UPHELD = "upheld"
    REJECTED = "rejected"


# --- errors (stable codes; candidates for community/errors.py) ----------------------------------


class ItemNotFound(NotFound):
    code = "MODERATION_ITEM_NOT_FOUND"
    default_message = "审核条目不存在"


class ItemClaimed(Conflict):
    code = "MODERATION_ITEM_CLAIMED"
    default_message = "该条目正由其他版主处理"


class AlreadyReported(Conflict):
    code = "ALREADY_REPORTED"
    default_message = "您已举报过该内容，我们会尽快处理"


class CannotReportOwn(DomainError):
    code = "CANNOT_REPORT_OWN"
    default_message = "不能举报自己发布的内容"


class RestrictNotAllowed(PermissionDenied):
    code = "RESTRICT_NOT_ALLOWED"
    default_message = "不能对该成员执行此操作"


class WordNotFound(NotFound):
    code = "WORD_NOT_FOUND"
    default_message = "词语不存在"


# --- screening ----------------------------------------------------------------------------------


@dataclass
class Screening:
    status: ContentStatus  # PUBLISHED, HELD or AUTHOR_ONLY
    matches: list[wordfilter.Match] = field(default_factory=list)
    help_text: str | None = None  # emergencies: shown to the author at once

    @property
    def categories(self) -> set[WordCategory]:
        return {m.category for m in self.matches}


def _trusted_author(actor: Actor) -> bool:
    return actor.is_staff or actor.is_system


async def screen(session: AsyncSession, actor: Actor, *, group_id: uuid.UUID, text: str) -> Screening:
    """Decide how new or edited content is published. Raises ContentBlocked for block words."""
    result = (await wordfilter.load(session)).scan(text)
    trusted = _trusted_author(actor)
    if not trusted and result.has(WordCategory.EMERGENCY):
        return Screening(ContentStatus.AUTHOR_ONLY, result.matches, HELP_TEXT)
    if result.has(WordCategory.BLOCK):
        names = "、".join(f"「{w}」" for w in result.words(WordCategory.BLOCK))
        raise errors.ContentBlocked(f"内容包含不允许发布的词语{names}，请修改后再发")
    if not trusted and (result.has(WordCategory.HOLD) or result.has(WordCategory.AD)):
        return Screening(ContentStatus.HELD, result.matches, None)
    return Screening(ContentStatus.PUBLISHED, result.matches, None)


def _day_start_utc(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(get_settings().default_timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


async def check_posting_limit(session: AsyncSession, actor: Actor, membership: Membership, *, kind: str) -> None:
    """New members (joined less than NEW_MEMBER_DAYS ago) may post 3 posts and 10 comments per local
    day in the group. Staff and appointed experts/moderators are not limited."""
    if kind not in NEW_MEMBER_DAILY_LIMITS:
        raise ValueError(f"unknown content kind {kind}")
    if _trusted_author(actor) or membership.role != MemberRole.MEMBER:
        return
    now = clock.now()
    if membership.joined_at is None or membership.joined_at <= now - timedelta(days=NEW_MEMBER_DAYS):
        return
    # One member's concurrent posts queue here, so two requests cannot both take the last slot.
    await session.execute(select(Membership.id).where(Membership.id == membership.id).with_for_update())
    author_kind, author_id = access.account_of(actor)
    since = _day_start_utc(now)
    if kind == "post":
        count = await session.scalar(
            select(func.count())
            .select_from(Post)
            .where(
                Post.group_id == membership.group_id,
                Post.author_kind == author_kind,
                Post.author_id == author_id,
                Post.created_at >= since,
            )
        )
    else:
        count = await session.scalar(
            select(func.count())
            .select_from(Comment)
            .join(Post, Post.id == Comment.post_id)
            .where(
                Post.group_id == membership.group_id,
                Comment.author_kind == author_kind,
                Comment.author_id == author_id,
                Comment.created_at >= since,
            )
        )
    limit = NEW_MEMBER_DAILY_LIMITS[kind]
    if (count or 0) >= limit:
        what = f"{limit}篇帖子" if kind == "post" else f"{limit}条评论"
        raise errors.NewMemberLimit(f"新成员入群{NEW_MEMBER_DAYS}天内每天最多发{what}，请明天再来")


async def after_create(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID,
    target_kind: str,
    target_id: uuid.UUID,
    screening: Screening,
) -> None:
    """Queue held content; for an emergency also help the author and alert the care team."""
    _check_kind(target_kind)
    if screening.status == ContentStatus.PUBLISHED:
        return
    words = sorted({m.word for m in screening.matches})
    categories = sorted({m.category.value for m in screening.matches})
    if screening.status == ContentStatus.HELD:
        ad_only = WordCategory.AD in screening.categories and WordCategory.HOLD not in screening.categories
        reason = ItemReason.AD_CLAIM if ad_only else ItemReason.HELD_WORD
        item = await _open_item(
            session,
            target_kind=target_kind,
            target_id=target_id,
            group_id=group_id,
            reason=reason,
            priority=PRIORITY_HELD,
        )
        await audit.record(
            session,
            SYSTEM,
            "auto_hold",
            target_kind=target_kind,
            target_id=target_id,
            group_id=group_id,
            reason=ITEM_REASON_LABELS[reason],
            detail={"item_id": str(item.id), "words": words, "categories": categories},
        )
        return
    if screening.status != ContentStatus.AUTHOR_ONLY:
        return
    item = await _open_item(
        session,
        target_kind=target_kind,
        target_id=target_id,
        group_id=group_id,
        reason=ItemReason.EMERGENCY,
        priority=PRIORITY_EMERGENCY,
    )
    author_kind, author_id = access.account_of(actor)
    help_sent = False
    if author_kind == "patient" and await _first_notice(session, f"emergency-help:{item.id}"):
        await send_later(
            session,
            Message(ChannelName.IN_APP, str(author_id), screening.help_text or HELP_TEXT, subject="紧急求助提示"),
        )
        help_sent = True
    alerted = await _alert_care_team(
        session,
        item=item,
        target_kind=target_kind,
        target_id=target_id,
        group_id=group_id,
        author_kind=author_kind,
        author_id=author_id,
        what=f"出现紧急情况关键词（{'、'.join(words)}），内容暂时仅作者本人可见",
    )
    await audit.record(
        session,
        SYSTEM,
        "emergency_escalate",
        target_kind=target_kind,
        target_id=target_id,
        group_id=group_id,
        reason=ITEM_REASON_LABELS[ItemReason.EMERGENCY],
        detail={
            "item_id": str(item.id),
            "words": words,
            "status": ContentStatus.AUTHOR_ONLY.value,
            "help_sent_to_author": help_sent,
            "alerted": CARE_TEAM_RECIPIENT if alerted else None,
            "emergency": True,
        },
    )


# --- helpers ------------------------------------------------------------------------------------


def _check_kind(target_kind: str) -> None:
    if target_kind not in TARGET_KINDS:
        raise DomainError("内容类型无效", field="targetKind", code="TARGET_KIND_INVALID")


async def _first_notice(session: AsyncSession, key: str) -> bool:
    """True the first time `key` is seen: a retried job or a repeated call never notifies twice."""
    inserted = await session.scalar(
        insert(NoticeSent)
        .values(key=key[:200], created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(NoticeSent.key)
    )
    return inserted is not None


async def _alert_care_team(
    session: AsyncSession,
    *,
    item: ModerationItem,
    target_kind: str,
    target_id: uuid.UUID,
    group_id: uuid.UUID,
    author_kind: str,
    author_id: uuid.UUID,
    what: str,
) -> bool:
    if not await _first_notice(session, f"emergency-alert:{item.id}"):
        return False
    group = await session.get(Group, group_id)
    noun = "帖子" if target_kind == "post" else "评论"
    who = f"患者编号 {author_id}" if author_kind == "patient" else f"工作人员编号 {author_id}"
    body = (
        f"【紧急求助】社群「{group.name if group else ''}」中的一条{noun}{what}。"
        f"请值班医护人员立即查看审核队列中的紧急条目（{item.id}），并尽快联系该用户（{who}）。"
    )
    await send_later(
        session, Message(ChannelName.IN_APP, CARE_TEAM_RECIPIENT, body, subject="社区紧急求助提醒"), sensitive=True
    )
    # Page the on-duty doctor (staff inbox + an SMS naming no patient or condition). Groups belong
    # to no site, so every site's roster counts.
    await oncall.page(
        session,
        kind=PageKind.EMERGENCY_POST,
        ref=str(item.id),
        site_id=None,
        role=Role.DOCTOR,
        subject="社区紧急求助提醒",
        body=body,
    )
    return True


QUEUE_CHANNEL = "moderation:queue"


async def _open_item(
    session: AsyncSession,
    *,
    target_kind: str,
    target_id: uuid.UUID,
    group_id: uuid.UUID,
    reason: ItemReason,
    priority: int,
) -> ModerationItem:
    """The one undecided queue item of a target (created if missing), locked. An escalation to an
    emergency raises its priority and version (a moderator looking at it must look again)."""
    now = clock.now()
    await session.execute(
        insert(ModerationItem)
        .values(
            id=new_id(),
            target_kind=target_kind,
            target_id=target_id,
            group_id=group_id,
            reason=reason.value,
            priority=priority,
            score=0,
            status=QueueStatus.OPEN.value,
            version=1,
            created_at=now,
        )
        .on_conflict_do_nothing(
            # the partial unique index uq_moderation_open_target, spelled as a literal so PostgreSQL
            # can match the predicate (a bound parameter cannot be)
            index_elements=["target_kind", "target_id"],
            index_where=text("status <> 'decided'"),
        )
    )
    item = await session.scalar(
        select(ModerationItem)
        .where(
            ModerationItem.target_kind == target_kind,
            ModerationItem.target_id == target_id,
            ModerationItem.status != QueueStatus.DECIDED,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert item is not None
    # Live queue subscribers hear of it once committed (they re-check access per item).
    pubsub.publish_after_commit(session, QUEUE_CHANNEL, {"item_id": str(item.id)})
    if reason == ItemReason.EMERGENCY and item.reason != ItemReason.EMERGENCY:
        item.reason = ItemReason.EMERGENCY.value
        item.version += 1
    if priority > item.priority:
        item.priority = priority
    return item


@dataclass
class _Target:
    kind: str
    id: uuid.UUID
    group_id: uuid.UUID
    post_id: uuid.UUID
    author_kind: str
    author_id: uuid.UUID
    anonymous: bool
    status: str
    title: str | None
    body: str
    created_at: datetime


async def _targets(
    session: AsyncSession, refs: Iterable[tuple[str, uuid.UUID]], *, lock: bool = False
) -> dict[tuple[str, uuid.UUID], _Target]:
    refs = list(refs)
    post_ids = [i for k, i in refs if k == "post"]
    comment_ids = [i for k, i in refs if k == "comment"]
    out: dict[tuple[str, uuid.UUID], _Target] = {}
    if post_ids:
        stmt = select(Post).where(Post.id.in_(post_ids)).execution_options(populate_existing=True)
        if lock:
            stmt = stmt.with_for_update()
        for p in await session.scalars(stmt):
            out[("post", p.id)] = _Target(
                "post",
                p.id,
                p.group_id,
                p.id,
                p.author_kind,
                p.author_id,
                p.anonymous,
                p.status,
                p.title,
                p.body_md,
                p.created_at,
            )
    if comment_ids:
        cstmt = (
            select(Comment, Post.group_id)
            .join(Post, Post.id == Comment.post_id)
            .where(Comment.id.in_(comment_ids))
            .execution_options(populate_existing=True)
        )
        if lock:
            cstmt = cstmt.with_for_update(of=Comment)
        for c, group_id in (await session.execute(cstmt)).all():
            out[("comment", c.id)] = _Target(
                "comment",
                c.id,
                group_id,
                c.post_id,
                c.author_kind,
                c.author_id,
                c.anonymous,
                c.status,
                None,
                c.body_md,
                c.created_at,
            )
    return out


async def _set_status(session: AsyncSession, target: _Target, status: str, *, only_from: str | None = None) -> bool:
    model: type[Post] | type[Comment] = Post if target.kind == "post" else Comment
    stmt = update(model).where(model.id == target.id)
    if only_from is not None:
        stmt = stmt.where(model.status == only_from)
    changed = await session.scalar(
        stmt.values(status=status, updated_at=clock.now())
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    if changed is not None:
        target.status = status
        if target.kind == "post" and status == ContentStatus.PUBLISHED.value:
            # A released post reaches live group subscribers like a new one (channel of community.posts).
            pubsub.publish_after_commit(session, f"group:{target.group_id}:posts", {"post_id": str(target.id)})
    return changed is not None


async def _notify_author(session: AsyncSession, target: _Target, body: str, subject: str) -> bool:
    """In-app notices go to patient authors (staff read the console)."""
    if target.author_kind != "patient":
        return False
    await send_later(session, Message(ChannelName.IN_APP, str(target.author_id), body, subject=subject))
    return True


def _is_care_staff(actor: Actor) -> bool:
    return actor.is_staff and actor.has_role(*CARE_ROLES)


def _may_handle(actor: Actor, item: ModerationItem, m: Membership | None) -> bool:
    """Staff moderators handle everything; emergencies also the care team (doctors, health
    managers), never group moderators who are members; other items the group's moderators."""
    if access.is_staff_moderator(actor):
        return True
    if item.reason == ItemReason.EMERGENCY:
        return _is_care_staff(actor)
    return access.can_moderate(actor, m)


async def _get_item(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> ModerationItem:
    actor.require_authenticated()
    item = await session.get(ModerationItem, item_id, populate_existing=True)
    if item is None:
        raise ItemNotFound()
    m = await access.membership(session, item.group_id, actor)
    if not _may_handle(actor, item, m):
        if item.reason == ItemReason.EMERGENCY and access.can_moderate(actor, m):
            raise PermissionDenied("紧急求助内容由医护人员和社区工作人员处理")
        raise PermissionDenied("仅版主可以处理审核条目")
    return item


# --- reports ------------------------------------------------------------------------------------


async def reporter_counts(session: AsyncSession, reporter_kind: str, reporter_id: uuid.UUID) -> tuple[int, int]:
    """(upheld, rejected) reports of this reporter in any group."""
    row = (
        await session.execute(
            select(
                func.count().filter(Report.status == ReportStatus.UPHELD),
                func.count().filter(Report.status == ReportStatus.REJECTED),
            ).where(Report.reporter_kind == reporter_kind, Report.reporter_id == reporter_id)
        )
    ).one()
    return int(row[0]), int(row[1])


async def reporter_weight(session: AsyncSession, actor: Actor, m: Membership | None) -> Decimal:
    """How much one report of this actor counts (see REPORT WEIGHTS at the top)."""
    if actor.is_staff:
        if actor.has_role(Role.MODERATOR, *CARE_ROLES):
            return STAFF_WEIGHT
        return OTHER_STAFF_WEIGHT
    kind, reporter_id = access.account_of(actor)
    now = clock.now()
    if m is not None and m.state == MemberState.ACTIVE:
        if m.role in (MemberRole.MODERATOR, MemberRole.OWNER, MemberRole.EXPERT):
            base = Decimal("2.0")
        elif m.joined_at is not None and m.joined_at <= now - timedelta(days=SENIOR_MEMBER_DAYS):
            base = Decimal("1.5")
        else:
            base = Decimal("1.0")
    else:
        base = Decimal("0.5")
    upheld, rejected = await reporter_counts(session, kind, reporter_id)
    weight = (base + Decimal("0.25") * min(upheld, 4)) * Decimal(upheld + 1) / Decimal(upheld + rejected + 1)
    weight = max(Decimal("0.1"), min(STAFF_WEIGHT, weight))
    return weight.quantize(Decimal("0.01"))


async def report(
    session: AsyncSession,
    actor: Actor,
    *,
    target_kind: str,
    target_id: uuid.UUID,
    reason: str,
    detail: str | None = None,
) -> Report:
    """Report a post or comment the actor can read. Auto-hides it when the weighted open reports
    reach AUTO_HIDE_THRESHOLD, except an emergency (a human must see it first)."""
    reporter_kind, reporter_id = access.account_of(actor)
    v = Validator()
    v.check(target_kind in TARGET_KINDS, "targetKind", "TARGET_KIND_INVALID", "内容类型无效")
    v.check(reason in {r.value for r in ReportReason}, "reason", "REPORT_REASON_INVALID", "请选择举报原因")
    v.check(detail is None or len(detail.strip()) <= 500, "detail", "DETAIL_LENGTH", "补充说明最多500个字")
    v.raise_if_any()
    target = (await _targets(session, [(target_kind, target_id)])).get((target_kind, target_id))
    not_found = errors.PostNotFound() if target_kind == "post" else errors.CommentNotFound()
    if target is None:
        raise not_found
    try:
        _, m = await access.require_reader(session, actor, target.group_id)
    except errors.GroupNotFound:
        raise not_found from None
    # members report what they can see; staff moderators and the care team also see held content
    if target.status != ContentStatus.PUBLISHED and not (access.is_staff_moderator(actor) or _is_care_staff(actor)):
        raise not_found
    if (target.author_kind, target.author_id) == (reporter_kind, reporter_id):
        raise CannotReportOwn()
    weight = await reporter_weight(session, actor, m)
    now = clock.now()
    report_id = await session.scalar(
        insert(Report)
        .values(
            id=new_id(),
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reporter_kind=reporter_kind,
            reporter_id=reporter_id,
            reason=reason,
            detail=(detail or "").strip() or None,
            weight=weight,
            status=ReportStatus.OPEN.value,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["target_kind", "target_id", "reporter_kind", "reporter_id"])
        .returning(Report.id)
    )
    if report_id is None:
        raise AlreadyReported()
    escalate = reason == ReportReason.SELF_HARM
    item = await _open_item(
        session,
        target_kind=target_kind,
        target_id=target_id,
        group_id=target.group_id,
        reason=ItemReason.EMERGENCY if escalate else ItemReason.REPORTS,
        priority=PRIORITY_EMERGENCY if escalate else PRIORITY_REPORTS,
    )
    # The item row is locked: concurrent reports of one target add up one after the other.
    score = Decimal(
        await session.scalar(
            select(func.coalesce(func.sum(Report.weight), 0)).where(
                Report.target_kind == target_kind, Report.target_id == target_id, Report.status == ReportStatus.OPEN
            )
        )
        or 0
    )
    item.score = score
    if escalate and await _alert_care_team(
        session,
        item=item,
        target_kind=target_kind,
        target_id=target_id,
        group_id=target.group_id,
        author_kind=target.author_kind,
        author_id=target.author_id,
        what="被其他用户举报可能有自伤风险",
    ):
        await audit.record(
            session,
            SYSTEM,
            "emergency_escalate",
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reason=REPORT_REASON_LABELS[ReportReason.SELF_HARM],
            detail={"item_id": str(item.id), "source": "report", "alerted": CARE_TEAM_RECIPIENT, "emergency": True},
        )
    if (
        score >= AUTO_HIDE_THRESHOLD
        and item.reason != ItemReason.EMERGENCY
        and target.status == ContentStatus.PUBLISHED
        and await _set_status(session, target, ContentStatus.HIDDEN.value, only_from=ContentStatus.PUBLISHED.value)
    ):
        item.priority = max(item.priority, PRIORITY_HIDDEN)
        notified = await _notify_author(
            session,
            target,
            "您发布的内容被多位用户举报，已暂时隐藏，等待版主审核。如审核认为没有问题，内容会自动恢复。",
            "内容已暂时隐藏",
        )
        await audit.record(
            session,
            SYSTEM,
            "auto_hide",
            target_kind=target_kind,
            target_id=target_id,
            group_id=target.group_id,
            reason="举报加权分达到自动隐藏阈值",
            detail={
                "item_id": str(item.id),
                "score": str(score),
                "threshold": str(AUTO_HIDE_THRESHOLD),
                "status": {"from": ContentStatus.PUBLISHED.value, "to": ContentStatus.HIDDEN.value},
                "author_notified": notified,
            },
        )
    found = await session.get(Report, report_id)
    assert found is not None
    return found


# --- the queue ----------------------------------------------------------------------------------


@dataclass
class QueueEntry:
    """A queue item as a moderator sees it. `author_kind`/`author_id` are None for anonymous content:
    an anonymous author is only ever shown by the group alias."""

    item: ModerationItem
    group_name: str
    target_exists: bool
    target_status: str | None
    post_id: uuid.UUID | None
    title: str | None
    excerpt: str
    anonymous: bool
    author_label: str
    author_kind: str | None
    author_id: uuid.UUID | None
    report_count: int
    report_reasons: dict[str, int]
    claimed_by_me: bool


async def _entries(session: AsyncSession, actor: Actor, items: Sequence[ModerationItem]) -> list[QueueEntry]:
    """Queue entries for a page of items in a fixed number of statements."""
    if not items:
        return []
    refs = [(i.target_kind, i.target_id) for i in items]
    targets = await _targets(session, refs)
    group_ids = list({i.group_id for i in items})
    groups = {g.id: g for g in await session.scalars(select(Group).where(Group.id.in_(group_ids)))}
    anonymous_keys = [(t.group_id, t.author_id) for t in targets.values() if t.anonymous]
    aliases: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    if anonymous_keys:
        rows = await session.execute(
            select(AnonymousAlias.group_id, AnonymousAlias.account_id, AnonymousAlias.number).where(
                tuple_(AnonymousAlias.group_id, AnonymousAlias.account_id).in_(anonymous_keys)
            )
        )
        aliases = {(g, a): n for g, a, n in rows}
    patient_ids = [t.author_id for t in targets.values() if not t.anonymous and t.author_kind == "patient"]
    staff_ids = [t.author_id for t in targets.values() if not t.anonymous and t.author_kind == "staff"]
    patients = await patient_queries.patients_by_ids(session, patient_ids) if patient_ids else {}
    staff = await patient_queries.staff_by_ids(session, staff_ids) if staff_ids else {}
    counts: dict[tuple[str, uuid.UUID], dict[str, int]] = {}
    for kind, tid, reason, n in await session.execute(
        select(Report.target_kind, Report.target_id, Report.reason, func.count())
        .where(tuple_(Report.target_kind, Report.target_id).in_(refs))
        .group_by(Report.target_kind, Report.target_id, Report.reason)
    ):
        counts.setdefault((kind, tid), {})[reason] = int(n)
    out = []
    for item in items:
        group = groups.get(item.group_id)
        prefix = group.alias_prefix if group else "病友"
        t = targets.get((item.target_kind, item.target_id))
        reasons = counts.get((item.target_kind, item.target_id), {})
        if t is None:
            label, kind_, id_ = "（内容已不存在）", None, None
        elif t.anonymous:
            number = aliases.get((t.group_id, t.author_id))
            label, kind_, id_ = f"{prefix}#{number or '----'}", None, None
        elif t.author_kind == "staff":
            s = staff.get(t.author_id)
            label, kind_, id_ = (s.name if s else "工作人员"), "staff", t.author_id
        else:
            p = patients.get(t.author_id)
            label, kind_, id_ = (p.nickname if p else "已注销用户"), "patient", t.author_id
        body = (t.body if t else "").strip()
        out.append(
            QueueEntry(
                item=item,
                group_name=group.name if group else "",
                target_exists=t is not None,
                target_status=t.status if t else None,
                post_id=t.post_id if t else None,
                title=t.title if t else None,
                excerpt=body[:140] + ("…" if len(body) > 140 else ""),
                anonymous=bool(t and t.anonymous),
                author_label=label,
                author_kind=kind_,
                author_id=id_,
                report_count=sum(reasons.values()),
                report_reasons=reasons,
                claimed_by_me=item.claimed_by is not None and item.claimed_by == actor.id,
            )
        )
    return out


async def entries_for(session: AsyncSession, actor: Actor, items: Sequence[ModerationItem]) -> list[QueueEntry]:
    """Entries of items the caller already authorised (e.g. the item a decision returned)."""
    return await _entries(session, actor, items)


async def items_by_ids(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> list[QueueEntry | None]:
    """For node lookups: an item the actor may not handle reads as missing."""
    if actor.id is None and not actor.is_system:
        return [None] * len(ids)
    items = {i.id: i for i in await session.scalars(select(ModerationItem).where(ModerationItem.id.in_(ids)))}
    mine = await access.memberships_of(session, actor, list({i.group_id for i in items.values()}))
    allowed = [i for i in items.values() if _may_handle(actor, i, mine.get(i.group_id))]
    entries = {e.item.id: e for e in await _entries(session, actor, allowed)}
    return [entries.get(i) for i in ids]


async def _queue_scope(session: AsyncSession, actor: Actor, group_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Which items this actor may see; PermissionDenied for someone who moderates nothing."""
    if access.is_staff_moderator(actor):
        return true()
    kind, account_id = access.account_of(actor)
    emergency = ModerationItem.reason == ItemReason.EMERGENCY.value
    care = _is_care_staff(actor)
    if group_id is not None:
        _, m = await access.get_group(session, actor, group_id)
        if access.can_moderate(actor, m):
            return true() if care else ~emergency
        if care:
            return emergency
        raise PermissionDenied("仅版主可以查看审核队列")
    moderated = select(Membership.group_id).where(
        Membership.account_kind == kind,
        Membership.account_id == account_id,
        Membership.role.in_([MemberRole.MODERATOR.value, MemberRole.OWNER.value]),
        Membership.state == MemberState.ACTIVE.value,
    )
    moderates_any = bool(await session.scalar(select(moderated.exists())))
    if not moderates_any and not care:
        raise PermissionDenied("仅版主可以查看审核队列")
    scope: ColumnElement[bool] = and_(ModerationItem.group_id.in_(moderated), ~emergency) if moderates_any else false()
    return or_(scope, emergency) if care else scope


async def queue_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    status: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[QueueEntry]:
    """The queue, most urgent first (priority, then oldest first). `status` None: everything not
    decided yet. Staff moderators see every group; group moderators their groups; the care team
    the emergencies.

    Two sort keys (priority descending, age ascending) do not fit core.pagination.keyset_page's
    single key, so the keyset is written out here with the same cursor encoding and page cap."""
    scope = await _queue_scope(session, actor, group_id)
    size = page_size(first)
    stmt = select(ModerationItem).where(scope)
    if group_id is not None:
        stmt = stmt.where(ModerationItem.group_id == group_id)
    if status is None:
        stmt = stmt.where(ModerationItem.status != QueueStatus.DECIDED.value)
    elif status in {s.value for s in QueueStatus}:
        stmt = stmt.where(ModerationItem.status == status)
    else:
        raise DomainError("队列状态无效", field="status", code="QUEUE_STATUS_INVALID")
    if after:
        priority, created_at, item_id = decode_cursor(after, 3, types=(int, datetime, uuid.UUID))
        stmt = stmt.where(
            or_(
                ModerationItem.priority < priority,
                and_(
                    ModerationItem.priority == priority,
                    tuple_(ModerationItem.created_at, ModerationItem.id) > tuple_(created_at, item_id),
                ),
            )
        )
    stmt = stmt.order_by(ModerationItem.priority.desc(), ModerationItem.created_at.asc(), ModerationItem.id.asc())
    rows = list((await session.scalars(stmt.limit(size + 1))).all())
    has_next = len(rows) > size
    rows = rows[:size]
    entries = await _entries(session, actor, rows)
    return Page(
        items=entries,
        cursors=[encode_cursor(r.priority, r.created_at, r.id) for r in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )


async def claim(session: AsyncSession, actor: Actor, item_id: uuid.UUID, version: int) -> ModerationItem:
    """Take an item to work on. A claim by someone else younger than CLAIM_TTL is respected."""
    item = await _get_item(session, actor, item_id)
    now = clock.now()
    _refuse_foreign_claim(actor, item, now)
    new_version = await session.scalar(
        update(ModerationItem)
        .where(
            ModerationItem.id == item_id,
            ModerationItem.version == version,
            ModerationItem.status != QueueStatus.DECIDED.value,
        )
        .values(
            status=QueueStatus.CLAIMED.value, claimed_by=actor.id, claimed_at=now, version=ModerationItem.version + 1
        )
        .returning(ModerationItem.version)
        .execution_options(synchronize_session=False)
    )
    if new_version is None:
        raise errors.VersionConflict()
    await session.refresh(item)
    await audit.record(
        session,
        actor,
        "moderation_claim",
        target_kind=item.target_kind,
        target_id=item.target_id,
        group_id=item.group_id,
        detail={"item_id": str(item.id), "version": new_version, **_emergency_flag(item)},
    )
    return item


def _refuse_foreign_claim(actor: Actor, item: ModerationItem, now: datetime) -> None:
    if (
        item.status == QueueStatus.CLAIMED
        and item.claimed_by is not None
        and item.claimed_by != actor.id
        and item.claimed_at is not None
        and item.claimed_at > now - CLAIM_TTL
    ):
        raise ItemClaimed()


def _emergency_flag(item: ModerationItem) -> dict[str, Any]:
    return {"emergency": True} if item.reason == ItemReason.EMERGENCY else {}


def _validate_decision(decision: str, reason: str | None, mute_days: int | None, ban_days: int | None) -> None:
    v = Validator()
    v.check(decision in {d.value for d in Decision}, "decision", "DECISION_INVALID", "处理方式无效")
    text = (reason or "").strip()
    v.check(len(text) <= 300, "reason", "REASON_LENGTH", "理由最多300个字")
    v.check(decision == Decision.KEEP or bool(text), "reason", "REASON_REQUIRED", "请填写处理理由")
    if decision == Decision.MUTE:
        v.check(
            mute_days is not None and 1 <= mute_days <= 365, "muteDays", "MUTE_DAYS_INVALID", "禁言天数需为1到365天"
        )
    if decision == Decision.BAN:
        v.check(ban_days is None or 1 <= ban_days <= 3650, "banDays", "BAN_DAYS_INVALID", "封禁天数需为1到3650天")
    v.raise_if_any()


async def decide(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    *,
    version: int,
    decision: str,
    reason: str | None,
    mute_days: int | None = None,
    ban_days: int | None = None,
) -> ModerationItem:
    """Decide an item at the version the moderator saw. Applies the decision to the content, marks
    the open reports upheld (rejected for keep), restricts the author for mute/ban, tells the
    author, and writes one audit entry with all of it."""
    _validate_decision(decision, reason, mute_days, ban_days)
    choice = Decision(decision)
    item = await _get_item(session, actor, item_id)
    now = clock.now()
    _refuse_foreign_claim(actor, item, now)
    new_version = await session.scalar(
        update(ModerationItem)
        .where(
            ModerationItem.id == item_id,
            ModerationItem.version == version,
            ModerationItem.status != QueueStatus.DECIDED.value,
        )
        .values(
            status=QueueStatus.DECIDED.value,
            decision=choice.value,
            decided_by=actor.id,
            decided_at=now,
            version=ModerationItem.version + 1,
        )
        .returning(ModerationItem.version)
        .execution_options(synchronize_session=False)
    )
    if new_version is None:
        raise errors.VersionConflict()
    await session.refresh(item)
    reason_text = (reason or "").strip() or None
    effects: dict[str, Any] = {
        "item_id": str(item.id),
        "item_reason": item.reason,
        "decision": choice.value,
        "version": new_version,
        **_emergency_flag(item),
    }
    target = (await _targets(session, [(item.target_kind, item.target_id)], lock=True)).get(
        (item.target_kind, item.target_id)
    )
    if target is None:
        effects["target"] = "missing"
    else:
        effects["anonymous"] = target.anonymous
        before = target.status
        after = DECISION_STATUS[choice].value
        if choice == Decision.KEEP and before not in (
            ContentStatus.HIDDEN,
            ContentStatus.HELD,
            ContentStatus.AUTHOR_ONLY,
        ):
            after = before  # published stays; removed (e.g. by its author) is not brought back
        if before == ContentStatus.REMOVED and after == ContentStatus.HIDDEN:
            after = before
        if after != before:
            await _set_status(session, target, after)
            effects["status"] = {"from": before, "to": after}
        report_status = ReportStatus.REJECTED if choice == Decision.KEEP else ReportStatus.UPHELD
        marked = (
            await session.scalars(
                update(Report)
                .where(
                    Report.target_kind == item.target_kind,
                    Report.target_id == item.target_id,
                    Report.status == ReportStatus.OPEN.value,
                )
                .values(status=report_status.value)
                .returning(Report.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        effects["reports"] = {report_status.value: len(marked)}
        group = await session.get(Group, item.group_id)
        restriction: dict[str, Any] = {}
        if choice in (Decision.MUTE, Decision.BAN):
            member = await session.scalar(
                select(Membership)
                .where(
                    Membership.group_id == item.group_id,
                    Membership.account_kind == target.author_kind,
                    Membership.account_id == target.author_id,
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            if member is None:
                raise RestrictNotAllowed("该作者已不在社群中，无法禁言或封禁")
            restriction = await _restrict(
                session,
                actor,
                member,
                mute_days=mute_days if choice == Decision.MUTE else None,
                ban=choice == Decision.BAN,
                ban_days=ban_days,
                now=now,
            )
            effects.update(restriction)
        notice = _decision_notice(choice, group.name if group else "", reason_text, before, after, restriction)
        effects["author_notified"] = notice is not None and await _notify_author(
            session, target, notice, "社区审核结果"
        )
    await audit.record(
        session,
        actor,
        f"moderate_{choice.value}",
        target_kind=item.target_kind,
        target_id=item.target_id,
        group_id=item.group_id,
        reason=reason_text,
        detail=effects,
    )
    return item


def _local(at: datetime) -> str:
    return at.astimezone(ZoneInfo(get_settings().default_timezone)).strftime("%Y-%m-%d %H:%M")


def _decision_notice(
    choice: Decision, group_name: str, reason: str | None, before: str, after: str, restriction: dict[str, Any]
) -> str | None:
    where = f"您在「{group_name}」发布的内容"
    why = f"原因：{reason}。" if reason else ""
    if choice == Decision.KEEP:
        return f"{where}已通过审核，现已公开。" if after != before else None
    if choice == Decision.HIDE:
        return f"{where}因违反社区规则已被隐藏。{why}"
    if choice == Decision.REMOVE:
        return f"{where}因违反社区规则已被删除。{why}"
    if choice == Decision.WARN:
        return f"{where}因违反社区规则已被隐藏，这是一次警告。{why}多次违规将被禁言或移出社群。"
    if choice == Decision.MUTE:
        until = restriction.get("muted_until")
        when = f"至{_local(datetime.fromisoformat(until))}" if until else ""
        return f"{where}因违反社区规则已被隐藏，您已被禁言{when}。{why}"
    until = restriction.get("banned_until")
    when = f"至{_local(datetime.fromisoformat(until))}" if until else ""
    return f"{where}因严重违反社区规则已被删除，您已被移出该社群{when}。{why}"


async def _restrict(
    session: AsyncSession,
    actor: Actor,
    m: Membership,
    *,
    mute_days: int | None,
    ban: bool,
    ban_days: int | None,
    now: datetime,
) -> dict[str, Any]:
    """Mute or ban one membership; returns the effects for the audit entry."""
    if actor.id is not None and (m.account_kind, m.account_id) == access.account_of(actor):
        raise RestrictNotAllowed("不能对自己执行此操作")
    if m.account_kind == "staff":
        raise RestrictNotAllowed("工作人员账号请由管理员处理")
    if m.role in (MemberRole.MODERATOR, MemberRole.OWNER) and not access.is_staff_moderator(actor):
        raise RestrictNotAllowed("版主和群主只能由社区工作人员处理")
    effects: dict[str, Any] = {"membership_id": str(m.id)}
    if mute_days is not None:
        m.muted_until = now + timedelta(days=mute_days)
        effects["muted_until"] = m.muted_until.isoformat()
        effects["mute_days"] = mute_days
    if ban:
        if m.state == MemberState.ACTIVE:
            await session.execute(
                update(Group).where(Group.id == m.group_id).values(member_count=Group.member_count - 1)
            )
        effects["state"] = {"from": m.state, "to": MemberState.BANNED.value}
        m.state = MemberState.BANNED.value
        m.banned_until = now + timedelta(days=ban_days) if ban_days else None
        effects["banned_until"] = m.banned_until.isoformat() if m.banned_until else None
    m.updated_at = now
    await session.flush()
    return effects


async def restrict_member(
    session: AsyncSession,
    actor: Actor,
    membership_id: uuid.UUID,
    *,
    reason: str,
    mute_days: int | None = None,
    ban: bool = False,
    ban_days: int | None = None,
    lift: bool = False,
) -> Membership:
    """Mute (mute_days), ban (ban, optionally for ban_days) or lift both (lift: unmuted, and a banned
    member becomes 'left' and may join again) directly, outside the queue."""
    v = Validator()
    chosen = sum([mute_days is not None, ban, lift])
    v.check(chosen == 1, "action", "RESTRICTION_INVALID", "请选择禁言、封禁或解除其中一项")
    v.check(mute_days is None or 1 <= mute_days <= 365, "muteDays", "MUTE_DAYS_INVALID", "禁言天数需为1到365天")
    v.check(ban_days is None or 1 <= ban_days <= 3650, "banDays", "BAN_DAYS_INVALID", "封禁天数需为1到3650天")
    v.check(1 <= len((reason or "").strip()) <= 300, "reason", "REASON_REQUIRED", "请填写理由（最多300个字）")
    v.raise_if_any()
    m = await session.get(Membership, membership_id, with_for_update=True, populate_existing=True)
    if m is None:
        raise NotFound("成员不存在", code="MEMBERSHIP_NOT_FOUND")
    mine = await access.membership(session, m.group_id, actor)
    if not access.can_moderate(actor, mine):
        raise PermissionDenied("仅版主可以禁言或封禁成员")
    now = clock.now()
    if lift:
        effects: dict[str, Any] = {"membership_id": str(m.id), "muted_until": None}
        m.muted_until = None
        if m.state == MemberState.BANNED:
            effects["state"] = {"from": m.state, "to": MemberState.LEFT.value}
            m.state = MemberState.LEFT.value
            m.banned_until = None
        m.updated_at = now
        action = "member_unrestrict"
        body = "您在社群中的禁言或封禁已解除。"
    else:
        effects = await _restrict(session, actor, m, mute_days=mute_days, ban=ban, ban_days=ban_days, now=now)
        action = "member_ban" if ban else "member_mute"
        if ban:
            until = f"至{_local(m.banned_until)}" if m.banned_until else ""
            body = f"您已被移出社群{until}。原因：{reason.strip()}"
        else:
            assert m.muted_until is not None
            body = f"您已被禁言至{_local(m.muted_until)}。原因：{reason.strip()}"
    if m.account_kind == "patient":
        await send_later(session, Message(ChannelName.IN_APP, str(m.account_id), body, subject="社区管理通知"))
    await audit.record(
        session,
        actor,
        action,
        target_kind="membership",
        target_id=m.id,
        group_id=m.group_id,
        reason=reason.strip(),
        detail=effects,
    )
    return m


# --- the audit log ------------------------------------------------------------------------------

# keys of `detail` that could lead back to an anonymous author
_IDENTIFYING_KEYS = ("membership_id",)


async def audit_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[AuditEntry]:
    """Newest first. Staff moderators read every group (group_id None: all); group moderators their
    group, without the emergency entries (those belong to staff and the care team)."""
    staff = access.is_staff_moderator(actor)
    if not staff:
        if group_id is None:
            actor.require_authenticated()
            raise PermissionDenied("请选择要查看的社群")
        _, m = await access.get_group(session, actor, group_id)
        if not access.can_moderate(actor, m):
            raise PermissionDenied("仅版主可以查看审核日志")
    stmt = select(AuditEntry)
    if group_id is not None:
        stmt = stmt.where(AuditEntry.group_id == group_id)
    if not staff:
        flag = AuditEntry.detail["emergency"].astext
        stmt = stmt.where(or_(flag.is_(None), flag != "true"))
    return await keyset_page(
        session, stmt, sort=AuditEntry.created_at, id_=AuditEntry.id, first=first, after=after, descending=True
    )


def visible_detail(entry: AuditEntry, actor: Actor) -> dict[str, Any]:
    """An entry's detail as a moderator may see it: for anonymous content, nothing that leads to the
    author (admins see everything)."""
    detail = dict(entry.detail or {})
    if detail.get("anonymous") and not (actor.is_staff and Role.ADMIN in actor.roles):
        for key in _IDENTIFYING_KEYS:
            detail.pop(key, None)
    return detail


# --- the word list (admins) ---------------------------------------------------------------------


async def words_page(
    session: AsyncSession,
    actor: Actor,
    *,
    category: str | None = None,
    include_inactive: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[SensitiveWord]:
    actor.require_role(Role.ADMIN)
    stmt = select(SensitiveWord)
    if category is not None:
        stmt = stmt.where(SensitiveWord.category == category)
    if not include_inactive:
        stmt = stmt.where(SensitiveWord.active.is_(True))
    return await keyset_page(
        session, stmt, sort=SensitiveWord.created_at, id_=SensitiveWord.id, first=first, after=after
    )


async def word_exceptions(session: AsyncSession, actor: Actor) -> list[WordException]:
    actor.require_role(Role.ADMIN)
    return list(await session.scalars(select(WordException).order_by(WordException.phrase)))


async def add_word(
    session: AsyncSession, actor: Actor, *, word: str, category: str, note: str | None = None
) -> SensitiveWord:
    """Add a word, or switch an existing one back on with the new category."""
    actor.require_role(Role.ADMIN)
    word = (word or "").strip()
    v = Validator()
    v.check(1 <= len(word) <= 60, "word", "WORD_LENGTH", "词语需为1到60个字符")
    v.check(not word or bool(wordfilter.normal_form(word)), "word", "WORD_EMPTY", "词语不能只包含空格或符号")
    v.check(category in {c.value for c in WordCategory}, "category", "CATEGORY_INVALID", "类别无效")
    v.check(note is None or len(note) <= 200, "note", "NOTE_LENGTH", "备注最多200个字")
    v.raise_if_any()
    row = await session.scalar(
        select(SensitiveWord)
        .where(SensitiveWord.word == word)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    before = None
    if row is None:
        row = SensitiveWord(id=new_id(), word=word, category=category, note=note, active=True, created_at=clock.now())
        session.add(row)
    else:
        before = {"category": row.category, "active": row.active}
        row.category, row.active = category, True
        if note is not None:
            row.note = note
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_add",
        target_kind="sensitive_word",
        target_id=row.id,
        group_id=None,
        detail={"word": word, "category": category, "before": before},
    )
    return row


async def remove_word(session: AsyncSession, actor: Actor, word_id: uuid.UUID) -> SensitiveWord:
    """Switch a word off (kept, so the defaults never bring it back)."""
    actor.require_role(Role.ADMIN)
    row = await session.get(SensitiveWord, word_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise WordNotFound()
    row.active = False
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_remove",
        target_kind="sensitive_word",
        target_id=row.id,
        group_id=None,
        detail={"word": row.word, "category": row.category},
    )
    return row


async def add_exception(session: AsyncSession, actor: Actor, *, phrase: str) -> WordException:
    actor.require_role(Role.ADMIN)
    phrase = (phrase or "").strip()
    v = Validator()
    v.check(2 <= len(phrase) <= 60, "phrase", "PHRASE_LENGTH", "例外短语需为2到60个字符")
    v.check(not phrase or bool(wordfilter.normal_form(phrase)), "phrase", "PHRASE_EMPTY", "短语不能只包含空格或符号")
    v.raise_if_any()
    row = await session.scalar(select(WordException).where(WordException.phrase == phrase))
    if row is None:
        row = WordException(id=new_id(), phrase=phrase, created_at=clock.now())
        session.add(row)
        await session.flush()
        await audit.record(
            session,
            actor,
            "word_exception_add",
            target_kind="word_exception",
            target_id=row.id,
            group_id=None,
            detail={"phrase": phrase},
        )
    return row


async def remove_exception(session: AsyncSession, actor: Actor, exception_id: uuid.UUID) -> WordException:
    actor.require_role(Role.ADMIN)
    row = await session.get(WordException, exception_id)
    if row is None:
        raise WordNotFound("例外短语不存在")
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_exception_remove",
        target_kind="word_exception",
        target_id=row.id,
        group_id=None,
        detail={"phrase": row.phrase},
    )
    return row
