"""Bookmarks (收藏) of posts and comments (answers) for patients and staff, listed with the articles a
patient bookmarked in content (content.engagement keeps those: its counts and feed ranking read them).

Adding and removing are idempotent: a second add keeps the first one's time, removing what is not
there changes nothing. Only a published post or comment the person may read now can be bookmarked.
The list shows only what the person may STILL read: posts and comments of the groups the one access
check opens now (community/access.py `readable_group_ids`: after leaving a members-only group its
posts drop out; joining again brings the bookmarks back) and still published; articles by content's
own check. Newest first, keyset paginated on (bookmarked at, target id), the same key content uses,
so the two lists merge page by page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, any_, cast, delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from community import access, errors, posts
from community.models import Bookmark, Comment, ContentStatus, Post
from content import engagement
from content.models import ContentItem, EngagementKind, Reaction
from core import clock
from core.identity import Actor
from core.pagination import Page, decode_cursor, encode_cursor, page_size
from social import blocks

KINDS = ("post", "comment", "article")


@dataclass(frozen=True)
class Saved:
    """One bookmark: the post (also the post of a bookmarked comment), the comment or the article."""

    kind: str  # post | comment | article
    target_id: uuid.UUID
    created_at: datetime
    post: Post | None = None
    comment: Comment | None = None
    article: ContentItem | None = None


async def _readable_target(
    session: AsyncSession, actor: Actor, kind: str, target_id: uuid.UUID
) -> tuple[Post, Comment | None]:
    """The published post (and comment) behind a bookmark target, read as the actor; not found otherwise."""
    comment = None
    post_id = target_id
    if kind == "comment":
        comment = await session.get(Comment, target_id)
        if comment is None or comment.status != ContentStatus.PUBLISHED:
            raise errors.CommentNotFound(field="targetId")
        post_id = comment.post_id
    try:
        post, _, _ = await posts.get_post(session, actor, post_id)
    except (errors.PostNotFound, errors.GroupNotFound) as refusal:
        raise (errors.CommentNotFound if comment else errors.PostNotFound)(field="targetId") from refusal
    if post.status != ContentStatus.PUBLISHED:
        raise (errors.CommentNotFound if comment else errors.PostNotFound)(field="targetId")
    return post, comment


async def add(session: AsyncSession, actor: Actor, *, kind: str, target_id: uuid.UUID) -> Saved:
    """Bookmark a post, comment or article (articles: patients, through content)."""
    if kind == "article":
        await engagement.react(session, actor, target_id, EngagementKind.BOOKMARK, on=True)
        item = await session.get(ContentItem, target_id)
        assert item is not None  # content.engagement checked it is readable
        at = await session.scalar(
            select(Reaction.created_at).where(
                Reaction.item_id == target_id, Reaction.patient_id == actor.id, Reaction.kind == EngagementKind.BOOKMARK
            )
        )
        return Saved("article", target_id, at or clock.now(), article=item)
    account_kind, account_id = access.account_of(actor)  # NOT_AUTHENTICATED for anyone signed out
    post, comment = await _readable_target(session, actor, kind, target_id)
    await session.execute(
        insert(Bookmark)
        .values(
            account_kind=account_kind,
            account_id=account_id,
            target_kind=kind,
            target_id=target_id,
            post_id=post.id,
            group_id=post.group_id,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing()
    )
    at = await session.scalar(
        select(Bookmark.created_at).where(
            Bookmark.account_kind == account_kind,
            Bookmark.account_id == account_id,
            Bookmark.target_kind == kind,
            Bookmark.target_id == target_id,
        )
    )
    assert at is not None
    return Saved(kind, target_id, at, post=post, comment=comment)


async def remove(session: AsyncSession, actor: Actor, *, kind: str, target_id: uuid.UUID) -> bool:
    """Take a bookmark back; True when there was one. A post in a group the person left can still be
    taken off their list (it is their own row; no read check)."""
    if kind == "article":
        return (await engagement.react(session, actor, target_id, EngagementKind.BOOKMARK, on=False)).recorded
    account_kind, account_id = access.account_of(actor)
    gone = await session.execute(
        delete(Bookmark)
        .where(
            Bookmark.account_kind == account_kind,
            Bookmark.account_id == account_id,
            Bookmark.target_kind == kind,
            Bookmark.target_id == target_id,
        )
        .returning(Bookmark.target_id)
    )
    return gone.first() is not None


async def _community_rows(
    session: AsyncSession, actor: Actor, limit: int, after: tuple[datetime, uuid.UUID] | None
) -> list[Saved]:
    account_kind, account_id = access.account_of(actor)
    readable = await access.readable_group_ids(session, actor)
    if not readable:
        return []
    stmt = (
        select(Bookmark, Post, Comment)
        .join(Post, Post.id == Bookmark.post_id)
        .outerjoin(Comment, and_(Bookmark.target_kind == "comment", Comment.id == Bookmark.target_id))
        .where(
            Bookmark.account_kind == account_kind,
            Bookmark.account_id == account_id,
            Bookmark.group_id == any_(cast(readable, ARRAY(Uuid()))),
            Post.status == ContentStatus.PUBLISHED,
            or_(Bookmark.target_kind == "post", Comment.status == ContentStatus.PUBLISHED),
            # Blocking someone hides what they wrote here too (social/blocks.py); a post bookmark has
            # no comment row, and the comment rule then holds.
            blocks.shown(actor, "community_posts"),
            blocks.shown(actor, "community_comments", comment=True),
        )
    )
    if after is not None:
        stmt = stmt.where(tuple_(Bookmark.created_at, Bookmark.target_id) < tuple_(*after))
    rows = await session.execute(stmt.order_by(Bookmark.created_at.desc(), Bookmark.target_id.desc()).limit(limit))
    return [Saved(b.target_kind, b.target_id, b.created_at, post=p, comment=c) for b, p, c in rows]


async def page(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Saved]:
    """My bookmarks of every kind, newest first (see the module docstring)."""
    access.account_of(actor)  # NOT_AUTHENTICATED
    size = page_size(first)
    key = decode_cursor(after, 2, types=(datetime, uuid.UUID)) if after else None
    cursor = (key[0], key[1]) if key else None
    found = await _community_rows(session, actor, size + 1, cursor)
    more_articles = False
    if actor.is_patient:
        # content's page with the same cursor: its cursors are (bookmarked at, item id), ours too.
        articles = await engagement.bookmarks_page(session, actor, first=size, after=after)
        more_articles = articles.has_next_page
        for item, c in zip(articles.items, articles.cursors, strict=True):
            at, _ = decode_cursor(c, 2, types=(datetime, uuid.UUID))
            found.append(Saved("article", item.id, at, article=item))
    found.sort(key=lambda s: (s.created_at, s.target_id), reverse=True)
    items = found[:size]
    return Page(
        items=items,
        cursors=[encode_cursor(s.created_at, s.target_id) for s in items],
        has_next_page=len(found) > size or more_articles,
        has_previous_page=after is not None,
    )
