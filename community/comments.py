"""Comments after they are written: the author edits (revisions kept) or deletes; a moderator removes
one directly; moderators read the revisions. Creating comments lives with posts (community/posts.py).

An edit is screened exactly like a new comment: crisis first (before ownership, mute, ban and lock
decide), then the length limit and the word filter on the new text. Old texts are kept in
`community_comment_revisions` and shown to the group's moderators (and admins) only, never to other
members and not to the author either: what was taken back stays taken back.

Queue decisions already remove comments (`moderate` with REMOVE or BAN); `remove_comment` is for what
a moderator sees while reading a thread. An undecided queue item of the comment is decided by the
removal (REMOVE, version raised, so a second moderator deciding it gets VERSION_CONFLICT) and its open
reports are upheld. Emergencies stay with the care team and staff moderators, as in the queue.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from community import access, audit, errors, moderation
from community.models import (
    Comment,
    CommentRevision,
    ContentStatus,
    Decision,
    Group,
    ItemReason,
    ModerationItem,
    Post,
    QueueStatus,
    Report,
    ReportStatus,
)
from community.moderation.items import (
    _is_care_staff,
    _may_handle,
    _notify_author,
    _set_status,
    _targets,
    count_comment_change,
)
from community.posts import Created, _crisis_help_on_refusal
from core import clock
from core.errors import CoreCode, PermissionDenied, Validator
from core.identity import Actor, DelegationScope
from core.ids import new_id
from core.text import render_markdown
from patients import guardians

COMMENT_MAX = 2000  # the limit of community.posts.create_comment
REVISIONS_MAX = 50  # a page of one comment's revisions at most


def _validate(body: str) -> str:
    v = Validator()
    v.check(1 <= len(body.strip()) <= COMMENT_MAX, "body", CoreCode.BODY_LENGTH, f"评论需为1到{COMMENT_MAX}个字符")
    v.raise_if_any()
    return body.strip()


async def _own_comment(session: AsyncSession, actor: Actor, comment_id: uuid.UUID) -> tuple[Comment, Post]:
    """The actor's own comment (not removed) and its post, locked; anyone else's is not found."""
    comment = await session.get(Comment, comment_id, with_for_update=True, populate_existing=True)
    kind, account_id = access.viewer_account(actor)
    if comment is None or (comment.author_kind, comment.author_id) != (kind, account_id):
        raise errors.CommentNotFound(field="commentId")
    post = await session.get(Post, comment.post_id)
    if post is None or comment.status == ContentStatus.REMOVED or post.status == ContentStatus.REMOVED:
        raise errors.CommentNotFound(field="commentId")
    return comment, post


def keep_revision(session: AsyncSession, comment: Comment, actor: Actor, at: datetime) -> None:
    """The comment's text as it is now, kept before an edit or a deletion changes what is shown."""
    assert actor.id is not None
    session.add(
        CommentRevision(id=new_id(), comment_id=comment.id, body_md=comment.body_md, edited_by=actor.id, edited_at=at)
    )


async def edit_comment(session: AsyncSession, actor: Actor, comment_id: uuid.UUID, *, body: str) -> Created:
    """The author edits their comment; the previous text is kept as a revision and the new one screened
    as on create. A muted or banned member, or a locked post, cannot be edited into, unless the new
    text is a crisis: then it is kept (visible to its author and staff) and help comes at once."""
    actor.require_authenticated()
    text = _validate(body)
    # Crisis first: a crisis text is answered whatever refuses the edit afterwards.
    crisis = await moderation.is_crisis(session, actor, text)
    async with _crisis_help_on_refusal(session, actor, None, crisis):
        comment, post = await _own_comment(session, actor, comment_id)
    async with _crisis_help_on_refusal(session, actor, post.group_id, crisis):
        await access.require_participant(session, actor, post.group_id, crisis=crisis)
        # As on create: a minor does not write themselves; a guardian needs the community scope (recorded).
        await guardians.check_posting(session, actor, "comment_edit", f"comment:{comment.id}")
    if post.locked and not crisis:
        raise errors.PostLocked()
    screening = await moderation.screen(session, actor, group_id=post.group_id, text=text)
    now = clock.now()
    keep_revision(session, comment, actor, now)
    comment.body_md, comment.body_html = text, render_markdown(text)
    comment.edited_at = now
    comment.updated_at = now
    # As for posts: a crisis edit escalates whatever the state; a published comment edited into held
    # words waits for a moderator again. A held one stays held until a moderator decides.
    escalate = screening.status == ContentStatus.AUTHOR_ONLY and comment.status != ContentStatus.AUTHOR_ONLY
    if escalate or (comment.status == ContentStatus.PUBLISHED and screening.status != ContentStatus.PUBLISHED):
        before = comment.status
        comment.status = screening.status
        await count_comment_change(session, post.id, before, comment.status)
        await session.flush()
        await moderation.after_create(
            session, actor, group_id=post.group_id, target_kind="comment", target_id=comment.id, screening=screening
        )
    await session.flush()
    return Created(comment, screening.help_text, post.group_id)


async def delete_comment(session: AsyncSession, actor: Actor, comment_id: uuid.UUID) -> Created:
    """The author deletes their comment: a soft delete (REMOVED; its replies stay). Its body is shown to
    nobody; the text is kept as its last revision, which only the group's moderators read."""
    actor.require_authenticated()
    comment, post = await _own_comment(session, actor, comment_id)
    # Anyone may take their words back (a minor too); a guardian doing it needs the community scope.
    await guardians.acting(session, actor, DelegationScope.COMMUNITY, "comment_delete", f"comment:{comment.id}")
    before = comment.status
    now = clock.now()
    keep_revision(session, comment, actor, now)
    comment.status = ContentStatus.REMOVED.value
    comment.updated_at = now
    await count_comment_change(session, post.id, before, comment.status)
    await session.flush()
    return Created(comment, None, post.group_id)


def check_revisions_reader(actor: Actor, member: access.AnyMember | None) -> None:
    """Old texts are for the group's moderators and owners, staff moderators and admins; the refusal
    says why to everyone else (the author included)."""
    actor.require_authenticated()
    if not access.can_moderate(actor, member):
        raise PermissionDenied("仅本群版主、群主和管理员可以查看评论的修改历史")


async def revisions_of(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[CommentRevision]]:
    """The latest REVISIONS_MAX revisions of each comment, newest first, in one statement (for a
    DataLoader). Callers check `may_read_revisions` first."""
    ranked = (
        select(
            CommentRevision,
            func.row_number()
            .over(
                partition_by=CommentRevision.comment_id,
                order_by=(CommentRevision.edited_at.desc(), CommentRevision.id.desc()),
            )
            .label("n"),
        )
        .where(CommentRevision.comment_id.in_(list(ids)))
        .subquery()
    )
    revision = aliased(CommentRevision, ranked)
    rows = await session.scalars(
        select(revision).where(ranked.c.n <= REVISIONS_MAX).order_by(ranked.c.comment_id, ranked.c.n)
    )
    out: dict[uuid.UUID, list[CommentRevision]] = defaultdict(list)
    for row in rows:
        out[row.comment_id].append(row)
    return out


# --- removal by a moderator ---------------------------------------------------------------------


async def remove_comment(session: AsyncSession, actor: Actor, comment_id: uuid.UUID, *, reason: str) -> Created:
    """The group's moderators and owners, staff moderators and admins remove a comment, with a reason
    the author is told and the audit log keeps. Removing a removed comment changes nothing."""
    v = Validator()
    v.check(1 <= len((reason or "").strip()) <= 300, "reason", CoreCode.REASON_REQUIRED, "请填写理由（最多300个字）")
    v.raise_if_any()
    actor.require_authenticated()
    target = (await _targets(session, [("comment", comment_id)], lock=True)).get(("comment", comment_id))
    if target is None:
        raise errors.CommentNotFound(field="commentId")
    mine = await access.membership(session, target.group_id, actor)
    if not access.can_moderate(actor, mine):
        raise PermissionDenied("仅本群版主、群主和社区工作人员可以删除评论")
    item = await session.scalar(
        select(ModerationItem)
        .where(
            ModerationItem.target_kind == "comment",
            ModerationItem.target_id == comment_id,
            ModerationItem.status != QueueStatus.DECIDED.value,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    emergency = target.status == ContentStatus.AUTHOR_ONLY or (item is not None and item.reason == ItemReason.EMERGENCY)
    if emergency and not (access.is_staff_moderator(actor) or _is_care_staff(actor)):
        raise PermissionDenied("紧急求助内容由医护人员和社区工作人员处理")
    if item is not None and not _may_handle(actor, item, mine):
        raise PermissionDenied()
    comment = await session.get(Comment, comment_id, populate_existing=True)
    assert comment is not None
    if target.status == ContentStatus.REMOVED:
        return Created(comment, None, target.group_id)
    text = reason.strip()
    now = clock.now()
    before = target.status
    keep_revision(session, comment, actor, now)  # the body is shown to nobody from now on
    await _set_status(session, target, ContentStatus.REMOVED.value)
    effects: dict[str, Any] = {
        "status": {"from": before, "to": ContentStatus.REMOVED.value},
        "anonymous": target.anonymous,
        "direct": True,
    }
    if emergency:
        effects["emergency"] = True  # like the queue's emergency entries: staff and the care team read it
    if item is not None:
        await session.execute(
            update(ModerationItem)
            .where(ModerationItem.id == item.id)
            .values(
                status=QueueStatus.DECIDED.value,
                decision=Decision.REMOVE.value,
                decided_by=actor.id,
                decided_at=now,
                version=ModerationItem.version + 1,
            )
            .execution_options(synchronize_session=False)
        )
        effects["item_id"] = str(item.id)
    upheld = (
        await session.scalars(
            update(Report)
            .where(
                Report.target_kind == "comment",
                Report.target_id == comment_id,
                Report.status == ReportStatus.OPEN.value,
            )
            .values(status=ReportStatus.UPHELD.value)
            .returning(Report.id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    effects["reports"] = {ReportStatus.UPHELD.value: len(upheld)}
    group = await session.get(Group, target.group_id)
    notice = f"您在「{group.name if group else ''}」发表的评论因违反社区规则已被删除。原因：{text}。"
    effects["author_notified"] = await _notify_author(session, target, notice, "社区审核结果")
    await audit.record(
        session,
        actor,
        "comment_remove",
        target_kind="comment",
        target_id=comment_id,
        group_id=target.group_id,
        reason=text,
        detail=effects,
    )
    await session.refresh(comment)
    return Created(comment, None, target.group_id)
