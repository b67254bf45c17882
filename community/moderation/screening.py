"""Screening new posts and comments: the word filter, posting limits for new members, and what follows a
creation (held items, emergencies)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, errors, wordfilter
from community.models import (
    Comment,
    ContentStatus,
    ItemReason,
    MemberRole,
    Membership,
    Post,
    WordCategory,
)
from community.moderation.items import _alert_care_team, _check_kind, _first_notice, _open_item
from community.moderation.rules import (
    CARE_TEAM_RECIPIENT,
    HELP_TEXT,
    ITEM_REASON_LABELS,
    NEW_MEMBER_DAILY_LIMITS,
    NEW_MEMBER_DAYS,
    PRIORITY_EMERGENCY,
    PRIORITY_HELD,
)
from core import clock
from core.channels import ChannelName, Message, send_later
from core.identity import SYSTEM, Actor
from core.settings import get_settings


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


async def check_posting_limit(
    session: AsyncSession, actor: Actor, membership: Membership, *, kind: str, crisis: bool = False
) -> None:
    """New members (joined less than NEW_MEMBER_DAYS ago) may post 3 posts and 10 comments per local
    day in the group. Staff and appointed experts/moderators are not limited, nor is a crisis text (it
    stays visible to its author and staff only)."""
    if kind not in NEW_MEMBER_DAILY_LIMITS:
        raise ValueError(f"unknown content kind {kind}")
    if crisis or _trusted_author(actor) or membership.role != MemberRole.MEMBER:
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
