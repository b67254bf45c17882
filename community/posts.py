"""Posts, comments, reactions, Q&A answers, pinning and locking, edits with history, anonymity.

Every new post or comment passes the word filter and the posting limits (community.moderation):
blocked words are refused, held content waits for a moderator, an emergency is shown to its author
only (and to staff) while help is sent at once.
"""

from __future__ import annotations

import secrets
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, credentials, errors, moderation, search
from community.cards import POST_COLUMNS, post_cards_sql
from community.errors import CommunityCode as Code
from community.models import (
    AnonymousAlias,
    Comment,
    ContentStatus,
    Group,
    MemberRole,
    Membership,
    Post,
    PostKind,
    PostRevision,
    Reaction,
    ReactionKind,
)
from core import clock, pubsub, rawsql
from core.errors import CoreCode, DomainError, PermissionDenied, Validator
from core.identity import Actor, ActorKind, Role
from core.ids import new_id
from core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor, keyset_page, page_size
from core.text import render_markdown
from media import attach
from patients import guardians
from social import blocks, notify, tags

VISIBLE_TO_AUTHOR = (ContentStatus.PUBLISHED, ContentStatus.HELD, ContentStatus.AUTHOR_ONLY, ContentStatus.HIDDEN)
EXPERT_STAFF_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)


@dataclass(frozen=True)
class Created:
    """A new post or comment, and the help text an emergency author must see at once."""

    item: Post | Comment
    help_text: str | None
    group_id: uuid.UUID


def _validate_post(kind: str, title: str, body: str, image_urls: list[str], attached: int = 0) -> None:
    v = Validator()
    v.check(kind in {k.value for k in PostKind}, "kind", Code.POST_KIND_INVALID, "帖子类型无效")
    v.check(2 <= len(title.strip()) <= 100, "title", Code.TITLE_LENGTH, "标题需为2到100个字符")
    v.check(1 <= len(body.strip()) <= 10_000, "body", CoreCode.BODY_LENGTH, "正文需为1到10000个字符")
    v.check(len(image_urls) + attached <= 9, "imageUrls", Code.TOO_MANY_IMAGES, "最多9张图片")
    v.check(
        all(u.startswith("https://") and len(u) <= 500 for u in image_urls),
        "imageUrls",
        Code.IMAGE_URL_INVALID,
        "图片需为 https 链接",
    )
    v.raise_if_any()


async def _alias(session: AsyncSession, group_id: uuid.UUID, account_id: uuid.UUID) -> None:
    """A random 4-digit number per (group, person), kept for good: one voice, no identity."""
    for _ in range(20):
        inserted = await session.scalar(
            insert(AnonymousAlias)
            .values(group_id=group_id, account_id=account_id, number=secrets.randbelow(9000) + 1000)
            .on_conflict_do_nothing()
            .returning(AnonymousAlias.number)
        )
        if inserted is not None:
            return
        exists = await session.scalar(
            select(AnonymousAlias.number).where(
                AnonymousAlias.group_id == group_id, AnonymousAlias.account_id == account_id
            )
        )
        if exists is not None:
            return
    raise RuntimeError("no free alias number")


@asynccontextmanager
async def _crisis_help_on_refusal(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID | None, crisis: bool
) -> AsyncIterator[None]:
    """A crisis text refused where it cannot be kept (not a member, no such group or post): help the
    author and page the on-duty doctor anyway, and commit that with the refusal."""
    try:
        yield
    except DomainError as refusal:
        if not crisis:
            raise
        await moderation.help_refused_crisis(session, actor, group_id=group_id)
        refusal.keep_changes = True
        raise


async def create_post(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID,
    kind: str,
    title: str,
    body: str,
    image_urls: list[str] | None = None,
    anonymous: bool = False,
    image_ids: Sequence[uuid.UUID] = (),
) -> Created:
    images = list(image_urls or [])
    _validate_post(kind, title, body, images, attached=len(set(image_ids)))
    # The stripped text is what is stored and what the length checks counted (padding is not screened).
    text = f"{title.strip()}\n{body.strip()}"
    # Crisis first: before membership, mute, ban and limits decide, so a person at risk is never just refused.
    crisis = await moderation.is_crisis(session, actor, text)
    async with _crisis_help_on_refusal(session, actor, group_id, crisis):
        group, member = await access.require_participant(session, actor, group_id, crisis=crisis)
        # A minor does not post themselves; a guardian needs the community scope (and is recorded).
        await guardians.check_posting(session, actor, "post_create", f"group:{group_id}")
    if anonymous and not group.allow_anonymous and not crisis:
        raise errors.AnonymousNotAllowed(field="anonymous")
    await moderation.check_posting_limit(session, actor, member, kind="post", crisis=crisis)
    screening = await moderation.screen(session, actor, group_id=group_id, text=text)
    author_kind, author_id = access.account_of(actor)
    now = clock.now()
    post = Post(
        id=new_id(),
        group_id=group_id,
        author_kind=author_kind,
        author_id=author_id,
        anonymous=anonymous,
        kind=kind,
        title=title.strip(),
        body_md=body.strip(),
        body_html=render_markdown(body.strip()),
        image_urls=images,
        tags=tags.extract(title.strip(), body.strip()),
        status=screening.status,
        pinned=False,
        locked=False,
        comment_count=0,
        last_activity_at=now,
        created_at=now,
        updated_at=now,
    )
    post.search_vector = await search.post_vector(post.title, post.body_md)  # post search (community/search.py)
    session.add(post)
    if anonymous:
        await _alias(session, group_id, author_id)
    await session.flush()
    # Uploaded images (media/): the author's own, of this group; a refusal rolls the post back.
    await attach.attach_to_post(
        session, owner=(author_kind, author_id), group_id=group_id, post_id=post.id, image_ids=image_ids
    )
    await moderation.after_create(
        session, actor, group_id=group_id, target_kind="post", target_id=post.id, screening=screening
    )
    if post.status == ContentStatus.PUBLISHED:
        announce_post(session, post)
        await notify.post_published(session, post.id)  # mentions and followers, by a worker after commit
    return Created(post, screening.help_text, post.group_id)


def posts_channel(group_id: uuid.UUID) -> str:
    return f"group:{group_id}:posts"


def announce_post(session: AsyncSession, post: Post) -> None:
    """Tell live subscribers of the group, once the post is committed and visible."""
    pubsub.publish_after_commit(session, posts_channel(post.group_id), {"post_id": str(post.id)})


def can_view_post(actor: Actor, post: Post, group: Group, member: Membership | None) -> bool:
    if access.can_moderate(actor, member):
        return True
    own = actor.id is not None and post.author_id == actor.id
    if own and post.status in VISIBLE_TO_AUTHOR:
        return True
    if post.status == ContentStatus.AUTHOR_ONLY:
        # An emergency is seen by the author and the care team, never by other members.
        return actor.has_role(*EXPERT_STAFF_ROLES)
    return post.status == ContentStatus.PUBLISHED and access.can_read_posts(actor, group, member)


async def get_post(session: AsyncSession, actor: Actor, post_id: uuid.UUID) -> tuple[Post, Group, Membership | None]:
    post = await session.get(Post, post_id)
    if post is None:
        raise errors.PostNotFound()
    group, member = await access.get_group(session, actor, post.group_id)
    if not can_view_post(actor, post, group, member):
        raise errors.PostNotFound()
    return post, group, member


async def edit_post(
    session: AsyncSession,
    actor: Actor,
    post_id: uuid.UUID,
    *,
    title: str,
    body: str,
    image_urls: list[str] | None = None,
) -> Created:
    """The author edits; the previous text is kept as a revision and the new one screened again."""
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None or post.author_id != actor.id or post.status == ContentStatus.REMOVED:
        raise errors.PostNotFound()
    images = list(post.image_urls if image_urls is None else image_urls)
    _validate_post(post.kind, title, body, images)
    text = f"{title.strip()}\n{body.strip()}"
    crisis = await moderation.is_crisis(session, actor, text)  # crisis first, as in create_post
    async with _crisis_help_on_refusal(session, actor, post.group_id, crisis):
        await access.require_participant(session, actor, post.group_id, crisis=crisis)
    screening = await moderation.screen(session, actor, group_id=post.group_id, text=text)
    now = clock.now()
    session.add(
        PostRevision(
            id=new_id(), post_id=post.id, title=post.title, body_md=post.body_md, edited_by=actor.id, edited_at=now
        )
    )
    post.title, post.body_md, post.body_html = title.strip(), body.strip(), render_markdown(body.strip())
    post.image_urls = images
    post.tags = tags.extract(post.title, post.body_md)
    post.search_vector = await search.post_vector(post.title, post.body_md)
    post.edited_at = now
    post.updated_at = now
    # A crisis edit escalates whatever the post's state (held, hidden): someone must see it now.
    escalate = screening.status == ContentStatus.AUTHOR_ONLY and post.status != ContentStatus.AUTHOR_ONLY
    if escalate or (post.status == ContentStatus.PUBLISHED and screening.status != ContentStatus.PUBLISHED):
        post.status = screening.status
        await moderation.after_create(
            session, actor, group_id=post.group_id, target_kind="post", target_id=post.id, screening=screening
        )
    return Created(post, screening.help_text, post.group_id)


async def delete_post(session: AsyncSession, actor: Actor, post_id: uuid.UUID) -> Post:
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None or post.author_id != actor.id:
        raise errors.PostNotFound()
    post.status = ContentStatus.REMOVED
    post.updated_at = clock.now()
    return post


async def set_flags(
    session: AsyncSession,
    actor: Actor,
    post_id: uuid.UUID,
    *,
    pinned: bool | None = None,
    locked: bool | None = None,
    reason: str | None = None,
) -> Post:
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None:
        raise errors.PostNotFound()
    member = await access.membership(session, post.group_id, actor)
    if not access.can_moderate(actor, member):
        raise PermissionDenied()
    changes = {}
    if pinned is not None and pinned != post.pinned:
        post.pinned = pinned
        changes["pinned"] = pinned
    if locked is not None and locked != post.locked:
        post.locked = locked
        changes["locked"] = locked
    if changes:
        post.updated_at = clock.now()
        await audit.record(
            session,
            actor,
            "post_flags",
            target_kind="post",
            target_id=post.id,
            group_id=post.group_id,
            reason=reason,
            detail=changes,
        )
    return post


# --- comments ---------------------------------------------------------------------------------


async def create_comment(
    session: AsyncSession,
    actor: Actor,
    *,
    post_id: uuid.UUID,
    body: str,
    parent_id: uuid.UUID | None = None,
    anonymous: bool = False,
) -> Created:
    v = Validator()
    v.check(1 <= len(body.strip()) <= 2000, "body", CoreCode.BODY_LENGTH, "评论需为1到2000个字符")
    v.raise_if_any()
    # Crisis first (see create_post): a crisis comment on a locked post, or by a muted member, is kept
    # visible to its author and staff only, and help comes.
    crisis = await moderation.is_crisis(session, actor, body.strip())
    async with _crisis_help_on_refusal(session, actor, None, crisis):
        post, group, _ = await get_post(session, actor, post_id)
        if post.status != ContentStatus.PUBLISHED:
            raise errors.PostNotFound()
    async with _crisis_help_on_refusal(session, actor, post.group_id, crisis):
        _, member = await access.require_participant(session, actor, post.group_id, crisis=crisis)
        await guardians.check_posting(session, actor, "comment_create", f"post:{post_id}")
    if post.locked and not crisis:
        raise errors.PostLocked()
    if anonymous and not group.allow_anonymous and not crisis:
        raise errors.AnonymousNotAllowed(field="anonymous")
    if parent_id is not None:
        parent = await session.get(Comment, parent_id)
        if parent is None or parent.post_id != post_id:
            raise errors.CommentNotFound(field="parentId")
        parent_id = parent.parent_id or parent.id  # one reply level: replies to a reply join its thread
    if not crisis:  # no replies between two people of whom one blocked the other (a crisis text goes to staff)
        await blocks.check_reply(session, actor, post, parent if parent_id is not None else None)
    await moderation.check_posting_limit(session, actor, member, kind="comment", crisis=crisis)
    screening = await moderation.screen(session, actor, group_id=post.group_id, text=body.strip())
    author_kind, author_id = access.account_of(actor)
    now = clock.now()
    comment = Comment(
        id=new_id(),
        post_id=post_id,
        parent_id=parent_id,
        author_kind=author_kind,
        author_id=author_id,
        anonymous=anonymous,
        body_md=body.strip(),
        body_html=render_markdown(body.strip()),
        status=screening.status,
        created_at=now,
        updated_at=now,
    )
    session.add(comment)
    if anonymous:
        await _alias(session, post.group_id, author_id)
    if screening.status == ContentStatus.PUBLISHED:
        await session.execute(
            update(Post).where(Post.id == post_id).values(comment_count=Post.comment_count + 1, last_activity_at=now)
        )
    await session.flush()
    await moderation.after_create(
        session, actor, group_id=post.group_id, target_kind="comment", target_id=comment.id, screening=screening
    )
    if screening.status == ContentStatus.PUBLISHED:
        await notify.comment_published(session, comment.id)  # the post's author, the replied-to, mentions
    return Created(comment, screening.help_text, post.group_id)


async def comments_page(
    session: AsyncSession, actor: Actor, post_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[Comment]:
    """Oldest first; the viewer's own held comments are included, others' only when published."""
    post, _, member = await get_post(session, actor, post_id)
    # Comments of people the viewer blocked are left out (social/blocks.py: not on-duty staff's).
    stmt = select(Comment).where(Comment.post_id == post.id, blocks.shown(actor, "community_comments", comment=True))
    if not access.can_moderate(actor, member):
        visible = Comment.status == ContentStatus.PUBLISHED
        if actor.id is not None:
            visible = visible | (and_(Comment.author_id == actor.id, Comment.status.in_(VISIBLE_TO_AUTHOR)))
        stmt = stmt.where(visible)
    return await keyset_page(session, stmt, sort=Comment.created_at, id_=Comment.id, first=first, after=after)


def answer_shown(actor: Actor, comment: Comment) -> bool:
    """Whether a post's verified or accepted answer may be shown to `actor` in place: published, or
    the viewer's own (held or waiting). A held, hidden or removed answer is never shown there to
    others, moderators included (they read it in the comment list and the queue)."""
    if comment.status == ContentStatus.PUBLISHED:
        return True
    return actor.id is not None and comment.author_id == actor.id and comment.status in VISIBLE_TO_AUTHOR


# --- answers ----------------------------------------------------------------------------------


async def verify_answer(session: AsyncSession, actor: Actor, *, post_id: uuid.UUID, comment_id: uuid.UUID) -> Post:
    """Only a group expert who is doctor or health-manager staff with a credential valid now may mark an
    answer as verified (CREDENTIAL_EXPIRED once it lapsed). The mark records who and when, and stays
    when their credential later lapses (community/credentials.py says why)."""
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None or post.kind != PostKind.QUESTION or post.status != ContentStatus.PUBLISHED:
        raise errors.PostNotFound()
    member = await access.membership(session, post.group_id, actor)
    expert = (
        actor.is_staff
        and actor.has_role(*EXPERT_STAFF_ROLES)
        and access.is_active(member)
        and member is not None
        and member.role == MemberRole.EXPERT
    )
    if not expert or actor.id is None:
        raise PermissionDenied("只有本群认证专家（医生或健康管理师）可以认证回答")
    await credentials.require_expert(session, actor.id)
    await _answer_of(session, post, comment_id)
    now = clock.now()
    post.verified_answer_id = comment_id
    post.verified_answer_by = actor.id
    post.verified_answer_at = now
    post.updated_at = now
    await notify.answer_verified(session, post_id=post.id, comment_id=comment_id, by=actor.id)
    await audit.record(
        session,
        actor,
        "answer_verify",
        target_kind="post",
        target_id=post.id,
        group_id=post.group_id,
        detail={"comment_id": str(comment_id)},
    )
    return post


async def accept_answer(session: AsyncSession, actor: Actor, *, post_id: uuid.UUID, comment_id: uuid.UUID) -> Post:
    post = await session.get(Post, post_id, with_for_update=True)
    if post is None or post.kind != PostKind.QUESTION or post.status != ContentStatus.PUBLISHED:
        raise errors.PostNotFound()
    if post.author_id != actor.id:
        raise PermissionDenied("只有提问者可以采纳回答")
    await _answer_of(session, post, comment_id)
    post.accepted_answer_id = comment_id
    post.updated_at = clock.now()
    await notify.answer_accepted(session, post_id=post.id, comment_id=comment_id)
    return post


async def _answer_of(session: AsyncSession, post: Post, comment_id: uuid.UUID) -> Comment:
    comment = await session.get(Comment, comment_id)
    if comment is None or comment.post_id != post.id or comment.status != ContentStatus.PUBLISHED:
        raise errors.CommentNotFound(field="commentId")
    return comment


# --- reactions --------------------------------------------------------------------------------


async def react(
    session: AsyncSession, actor: Actor, *, target_kind: str, target_id: uuid.UUID, kind: str, on: bool = True
) -> None:
    """One reaction per kind per person; reacting twice is harmless, `on=False` takes it back."""
    if kind not in {k.value for k in ReactionKind}:
        raise errors.DomainError("表情类型无效", field="kind", code=Code.REACTION_INVALID)
    if target_kind == "post":
        post, _, _ = await get_post(session, actor, target_id)
    elif target_kind == "comment":
        comment = await session.get(Comment, target_id)
        if comment is None or comment.status != ContentStatus.PUBLISHED:
            raise errors.CommentNotFound()
        post, _, _ = await get_post(session, actor, comment.post_id)
    else:
        raise errors.DomainError("对象类型无效", field="targetKind", code=Code.TARGET_INVALID)
    await access.require_participant(session, actor, post.group_id)
    account_kind, account_id = access.account_of(actor)
    if on:
        await session.execute(
            insert(Reaction)
            .values(
                target_kind=target_kind,
                target_id=target_id,
                account_kind=account_kind,
                account_id=account_id,
                kind=kind,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing()
        )
        await notify.reacted(
            session, target_kind=target_kind, target_id=target_id, kind=kind, by=(account_kind, account_id)
        )
    else:
        await session.execute(
            delete(Reaction).where(
                Reaction.target_kind == target_kind,
                Reaction.target_id == target_id,
                Reaction.account_kind == account_kind,
                Reaction.account_id == account_id,
                Reaction.kind == kind,
            )
        )


async def reaction_counts(
    session: AsyncSession, keys: Sequence[tuple[str, uuid.UUID]]
) -> dict[tuple[str, uuid.UUID], dict[str, int]]:
    ids = [k[1] for k in keys]
    out: dict[tuple[str, uuid.UUID], dict[str, int]] = defaultdict(dict)
    for target_kind, target_id, kind, n in await session.execute(
        select(Reaction.target_kind, Reaction.target_id, Reaction.kind, func.count())
        .where(Reaction.target_id.in_(ids))
        .group_by(Reaction.target_kind, Reaction.target_id, Reaction.kind)
    ):
        out[(target_kind, target_id)][kind] = n
    return out


async def my_reactions(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    if actor.id is None or actor.kind not in (ActorKind.PATIENT, ActorKind.STAFF):
        return {}
    account_kind, account_id = access.account_of(actor)
    out: dict[uuid.UUID, list[str]] = defaultdict(list)
    for target_id, kind in await session.execute(
        select(Reaction.target_id, Reaction.kind)
        .where(Reaction.target_id.in_(ids), Reaction.account_kind == account_kind, Reaction.account_id == account_id)
        .order_by(Reaction.kind)
    ):
        out[target_id].append(kind)
    return out


# --- feed -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feed:
    pinned: list[Post]
    page: Page[Post]


async def group_feed(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID, *, first: int | None, after: str | None
) -> Feed:
    """Newest first with pinned posts on top of the first page; the viewer also sees their own held
    or hidden posts (marked), moderators see everything but removed."""
    group, member = await access.require_reader(session, actor, group_id)
    visible = Post.status == ContentStatus.PUBLISHED
    if access.can_moderate(actor, member):
        visible = Post.status != ContentStatus.REMOVED
    elif actor.id is not None:
        visible = or_(visible, and_(Post.author_id == actor.id, Post.status.in_(VISIBLE_TO_AUTHOR)))
    base = select(Post).where(Post.group_id == group.id, visible, blocks.shown(actor, "community_posts"))
    pinned = (
        []
        if after
        else list(await session.scalars(base.where(Post.pinned.is_(True)).order_by(Post.created_at.desc()).limit(10)))
    )
    page = await keyset_page(
        session,
        base.where(Post.pinned.is_(False)),
        sort=Post.created_at,
        id_=Post.id,
        first=first,
        after=after,
        descending=True,
    )
    return Feed(pinned=pinned, page=page)


# --- the feed as plain rows (the hot read path) ---------------------------------------------------

# One prepared statement per page: the pinned posts (first page only) and the page, each post with
# what a feed card shows prefetched (community/cards.py): the author's name (patient nickname or staff
# name), alias number when anonymous, group role (for the expert badge), reaction counts and the
# viewer's own reactions.
# The texts are built once here, one per (visibility rule, first page or after a cursor).
_AUTHOR_VISIBLE = ", ".join(f"'{s.value}'" for s in VISIBLE_TO_AUTHOR)
_VISIBILITY = {
    "public": f"p.status = '{ContentStatus.PUBLISHED.value}'",
    "moderator": f"p.status <> '{ContentStatus.REMOVED.value}'",
    # $5: the viewer's id (their own held or hidden posts, marked)
    "author": (
        f"(p.status = '{ContentStatus.PUBLISHED.value}' OR (p.author_id = $5 AND p.status IN ({_AUTHOR_VISIBLE})))"
    ),
}


def _feed_sql(visibility: str, first_page: bool, *, shape: str = "feed", by_kind: bool = False) -> str:
    """$1 group, $2 page limit, $3/$4 the viewer's account kind and id (NULL: no viewer reactions),
    [$5 the viewer's id for the author rule], then the cursor's (created_at, id) after a cursor, then
    the time the expert badge is checked at (the clock's), and last the post kind when `by_kind`.
    `shape`: "feed" (the pinned posts on the first page, then the page), "posts" (only the page of
    posts that are not pinned) or "pinned" (only the pinned posts, $2 of them, never after a cursor)."""
    # Posts of people the viewer ($3, $4) blocked are left out (social/blocks.py).
    visible = f"{_VISIBILITY[visibility]} AND {blocks.shown_sql('p', '$3', '$4')}"
    n = 6 if visibility == "author" else 5
    keyset = "" if first_page else f" AND (p.created_at, p.id) < (${n}, ${n + 1})"
    now = f"${n if first_page else n + 2}"
    if by_kind:
        visible = f"{visible} AND p.kind = ${(n if first_page else n + 2) + 1}"
    page = (
        f"(SELECT {POST_COLUMNS} FROM community_posts p WHERE p.group_id = $1 AND p.pinned = false AND {visible}"
        f"{keyset} ORDER BY p.created_at DESC, p.id DESC LIMIT $2)"
    )
    pinned = (
        f"(SELECT {POST_COLUMNS} FROM community_posts p WHERE p.group_id = $1 AND p.pinned = true AND {visible} "
        "ORDER BY p.created_at DESC LIMIT 10) UNION ALL "
        if first_page and shape == "feed"
        else ""
    )
    if shape == "pinned":
        page = (
            f"(SELECT {POST_COLUMNS} FROM community_posts p WHERE p.group_id = $1 AND p.pinned = true AND {visible} "
            "ORDER BY p.created_at DESC, p.id DESC LIMIT $2)"
        )
    return post_cards_sql(
        f"{pinned}{page}", viewer=("$3", "$4"), now=now, order="p.pinned DESC, p.created_at DESC, p.id DESC"
    )


_FEED_SQL = {(v, first): _feed_sql(v, first) for v in _VISIBILITY for first in (True, False)}
# `Group.posts` (a plain connection, optionally of one kind) and `Group.pinnedPosts`.
_POSTS_SQL = {
    (v, first, by_kind): _feed_sql(v, first, shape="posts", by_kind=by_kind)
    for v in _VISIBILITY
    for first in (True, False)
    for by_kind in (True, False)
}
_PINNED_SQL = {
    (v, by_kind): _feed_sql(v, True, shape="pinned", by_kind=by_kind) for v in _VISIBILITY for by_kind in (True, False)
}
PINNED_MAX = 10


@dataclass(frozen=True)
class FeedRows:
    """Pinned posts and a page of posts as asyncpg Records (the columns of `_feed_sql`)."""

    pinned: list[Any]
    page: Page[Any]


async def group_feed_rows(
    session: AsyncSession,
    actor: Actor,
    group: access.AnyGroup,
    member: access.AnyMember | None,
    *,
    first: int | None,
    after: str | None,
) -> FeedRows:
    """`group_feed` for a group and membership already loaded (the same read check and visibility
    rules), in one statement of plain rows with each post's author, counts and viewer reactions."""
    access.check_reader(actor, group, member)
    size = page_size(first)
    visibility, args = _feed_args(actor, group, member, size + 1, after)
    rows = await rawsql.fetch(session, _FEED_SQL[(visibility, not after)], *args)
    pinned = [r for r in rows if r["pinned"]]
    return FeedRows(pinned=pinned, page=_rows_page([r for r in rows if not r["pinned"]], size, after))


def _feed_args(
    actor: Actor, group: access.AnyGroup, member: access.AnyMember | None, limit: int, after: str | None
) -> tuple[str, list[Any]]:
    """The visibility rule of `_feed_sql` for this viewer, and its parameters up to the clock's time."""
    if access.can_moderate(actor, member):
        visibility = "moderator"
    elif actor.id is not None:
        visibility = "author"
    else:
        visibility = "public"
    kind, account_id = access.viewer_account(actor)
    args: list[Any] = [group.id, limit, kind, account_id]
    if visibility == "author":
        args.append(actor.id)
    if after:
        created_at, post_id = decode_cursor(after, 2)
        if not isinstance(created_at, datetime) or not isinstance(post_id, uuid.UUID):
            raise InvalidCursor(field="after")
        args += [created_at, post_id]
    args.append(clock.now())
    return visibility, args


def _rows_page(rows: list[Any], size: int, after: str | None) -> Page[Any]:
    return Page(
        items=rows[:size],
        cursors=[encode_cursor(r["created_at"], r["id"]) for r in rows[:size]],
        has_next_page=len(rows) > size,
        has_previous_page=after is not None,
    )


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in {k.value for k in PostKind}:
        raise DomainError("帖子类型无效", field="kind", code=Code.POST_KIND_INVALID)


async def group_posts_rows(
    session: AsyncSession,
    actor: Actor,
    group: access.AnyGroup,
    member: access.AnyMember | None,
    *,
    first: int | None,
    after: str | None,
    kind: str | None = None,
) -> Page[Any]:
    """The group's posts that are not pinned, newest first, optionally of one kind: a plain connection
    (the pinned ones are `pinned_rows`), by the read check and visibility rules of `group_feed_rows`."""
    access.check_reader(actor, group, member)
    _check_kind(kind)
    size = page_size(first)
    visibility, args = _feed_args(actor, group, member, size + 1, after)
    if kind is not None:
        args.append(kind)
    rows = await rawsql.fetch(session, _POSTS_SQL[(visibility, not after, kind is not None)], *args)
    return _rows_page(list(rows), size, after)


async def pinned_rows(
    session: AsyncSession,
    actor: Actor,
    group: access.AnyGroup,
    member: access.AnyMember | None,
    *,
    first: int | None = None,
    kind: str | None = None,
) -> list[Any]:
    """The group's pinned posts (at most PINNED_MAX), newest first, by the rules of `group_feed_rows`."""
    access.check_reader(actor, group, member)
    _check_kind(kind)
    limit = min(page_size(first, default=PINNED_MAX), PINNED_MAX)
    visibility, args = _feed_args(actor, group, member, limit, None)
    if kind is not None:
        args.append(kind)
    return list(await rawsql.fetch(session, _PINNED_SQL[(visibility, kind is not None)], *args))


# --- authors ----------------------------------------------------------------------------------


async def aliases(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> dict[tuple, int]:
    group_ids = [k[0] for k in keys]
    account_ids = [k[1] for k in keys]
    rows = await session.execute(
        select(AnonymousAlias.group_id, AnonymousAlias.account_id, AnonymousAlias.number).where(
            AnonymousAlias.group_id.in_(group_ids), AnonymousAlias.account_id.in_(account_ids)
        )
    )
    return {(g, a): n for g, a, n in rows}


async def reveal_author(
    session: AsyncSession, actor: Actor, *, target_kind: str, target_id: uuid.UUID, reason: str
) -> tuple[str, uuid.UUID]:
    """Admins only, with a reason that is logged; moderators see the alias and nothing more."""
    actor.require_role(Role.ADMIN)
    if actor.is_system or len((reason or "").strip()) < 4:
        raise errors.DomainError("请填写查看真实身份的理由（至少4个字）", field="reason", code=CoreCode.REASON_REQUIRED)
    post: Post | None
    item: Post | Comment | None
    if target_kind == "post":
        item = post = await session.get(Post, target_id)
    else:
        item = await session.get(Comment, target_id)
        post = await session.get(Post, item.post_id) if item else None
    if item is None or post is None:
        raise errors.PostNotFound()
    group_id = post.group_id
    await audit.record(
        session,
        actor,
        "reveal_author",
        target_kind=target_kind,
        target_id=target_id,
        group_id=group_id,
        reason=reason.strip(),
    )
    return item.author_kind, item.author_id


async def comments_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Comment]:
    return {c.id: c for c in await session.scalars(select(Comment).where(Comment.id.in_(ids)))}
