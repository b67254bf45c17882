"""Queue items and their targets: opening items, alerting the care team, notices, and who may handle an item."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community.errors import CommunityCode as Code
from community.errors import ItemNotFound
from community.models import (
    Comment,
    ContentStatus,
    Group,
    ItemReason,
    Membership,
    ModerationItem,
    NoticeSent,
    Post,
    QueueStatus,
)
from community.moderation.rules import CARE_ROLES, CARE_TEAM_RECIPIENT, TARGET_KINDS
from core import clock, pubsub
from core.channels import ChannelName, Message, send_later
from core.errors import DomainError, PermissionDenied
from core.identity import Actor, Role
from core.ids import new_id
from core.settings import get_settings
from oncall import service as oncall
from oncall.models import PageKind
from social import notify


def _check_kind(target_kind: str) -> None:
    if target_kind not in TARGET_KINDS:
        raise DomainError("内容类型无效", field="targetKind", code=Code.TARGET_KIND_INVALID)


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
        before, target.status = target.status, status
        if target.kind == "comment":
            await count_comment_change(session, target.post_id, before, status)
        if target.kind == "post" and status == ContentStatus.PUBLISHED.value:
            # A released post reaches live group subscribers like a new one (channel of community.posts).
            pubsub.publish_after_commit(session, f"group:{target.group_id}:posts", {"post_id": str(target.id)})
        if status == ContentStatus.PUBLISHED.value:
            await notify.released(session, target.kind, target.id)  # mentions, replies, followers: once
    return changed is not None


async def count_comment_change(session: AsyncSession, post_id: uuid.UUID, before: str, after: str) -> None:
    """A post's comment count is its published comments: one more when a comment is published (a held
    one released), one fewer when a published one is hidden, removed or deleted."""
    published = ContentStatus.PUBLISHED.value
    delta = (after == published) - (before == published)
    if delta:
        await session.execute(
            update(Post)
            .where(Post.id == post_id)
            .values(comment_count=func.greatest(Post.comment_count + delta, 0))
            .execution_options(synchronize_session=False)
        )


async def _notify_author(session: AsyncSession, target: _Target, body: str, subject: str) -> bool:
    """In-app notices go to patient authors (staff read the console)."""
    if target.author_kind != "patient":
        return False
    await send_later(session, Message(ChannelName.IN_APP, str(target.author_id), body, subject=subject))
    await notify.moderation_outcome(
        session,
        author=(target.author_kind, target.author_id),
        target_kind=target.kind,
        target_id=target.id,
        post_id=target.post_id,
        subject=subject,
        body=body,
    )
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


def _local(at: datetime) -> str:
    return at.astimezone(ZoneInfo(get_settings().default_timezone)).strftime("%Y-%m-%d %H:%M")
