"""The following feed (关注动态): posts and answers by the people the viewer follows, and posts with the
tags they follow, across the groups the viewer may read, newest first, keyset paginated.

Only what the viewer could read anyway: the groups come from the community's one access check
(community/access.py, `can_see_group` and `can_read_posts` with the viewer's membership), and only
published posts and comments count. Anonymous posts and anonymous answers are never in this feed:
shown under a followed person's name they would unmask the alias, and shown under the alias they would
tell followers who is behind it. Posts of people the viewer blocked are left out (social/blocks.py),
and follows between two people end when one blocks the other.

One statement per page, of plain rows (the hot read path, like the group feed): the items, then each
item's post as a feed card (community.posts.post_cards_sql: author name, group role and expert badge,
reaction counts, the viewer's reactions) and an answer's comment. Followed people are read per person
with LATERAL (each person's newest page through ix_posts_author / ix_comments_author, so the cost grows
with the people followed and the page size, not with how much they ever wrote); followed tags through
the GIN index on posts' tags. An answer whose question was asked by someone the viewer blocked is left
out too: the question would show them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community.cards import POST_COLUMNS, post_cards_sql
from community.models import Comment, ContentStatus, PostKind
from core import clock, rawsql
from core.identity import Actor
from core.pagination import InvalidCursor, Page, decode_cursor, encode_cursor, page_size
from social import accounts, blocks

_PUBLISHED = ContentStatus.PUBLISHED.value
_QUESTION = PostKind.QUESTION.value


_ANSWER_COLUMNS = ("post_id", "parent_id", "author_kind", "author_id", "anonymous", "body_md", "body_html", "status")
_ANSWER_TIMES = ("created_at", "updated_at", "edited_at")


def _feed_sql(first_page: bool) -> str:
    """$1/$2 the viewer's account kind and id, $3 the readable group ids, $4 the page limit (+1),
    then after a cursor $5/$6 its (created_at, id), and last the time the expert badge is checked at."""
    post_key = "" if first_page else " AND (p.created_at, p.id) < ($5, $6)"
    comment_key = "" if first_page else " AND (c.created_at, c.id) < ($5, $6)"
    item_key = "" if first_page else " WHERE (i.created_at, i.id) < ($5, $6)"
    now = "$5" if first_page else "$7"
    answer = ", ".join(f"a.{c} AS answer_{c}" for c in (*_ANSWER_COLUMNS, *_ANSWER_TIMES))
    cards = post_cards_sql(
        f"SELECT it.item_kind, it.item_id, it.item_created_at, it.via_tag, {POST_COLUMNS}"
        " FROM items it JOIN community_posts p ON p.id = it.post_id",
        viewer=("$1", "$2"),
        now=now,
        order="p.item_created_at DESC, p.item_id DESC",
        extra_columns=f", g.alias_prefix, {answer}",
        extra_joins="\nJOIN community_groups g ON g.id = p.group_id"
        "\nLEFT JOIN community_comments a ON p.item_kind = 'answer' AND a.id = p.item_id",
    )
    return f"""
WITH followed AS (
    SELECT followee_kind, followee_id FROM social_follows WHERE follower_kind = $1 AND follower_id = $2
), tags AS (
    SELECT coalesce(array_agg(tag), '{{}}')::varchar[] AS tags
    FROM social_tag_follows WHERE follower_kind = $1 AND follower_id = $2
), items AS (
SELECT i.kind AS item_kind, i.id AS item_id, i.post_id, i.created_at AS item_created_at, i.via_tag FROM (
    (SELECT 'post' AS kind, fp.id, fp.id AS post_id, fp.created_at, NULL::varchar AS via_tag
     FROM followed f CROSS JOIN LATERAL (
        SELECT p.id, p.created_at FROM community_posts p
        WHERE p.author_kind = f.followee_kind AND p.author_id = f.followee_id AND NOT p.anonymous
          AND p.status = '{_PUBLISHED}' AND p.group_id = ANY($3){post_key}
        ORDER BY p.created_at DESC, p.id DESC LIMIT $4
     ) fp)
    UNION ALL
    (SELECT 'post', p.id, p.id, p.created_at,
            (SELECT t FROM unnest(p.tags) t WHERE t = ANY(tg.tags) LIMIT 1)
     FROM community_posts p, tags tg
     WHERE p.tags && tg.tags AND NOT p.anonymous AND p.status = '{_PUBLISHED}' AND p.group_id = ANY($3){post_key}
       AND NOT EXISTS (SELECT 1 FROM followed f WHERE f.followee_kind = p.author_kind AND f.followee_id = p.author_id)
       AND {blocks.shown_sql("p", "$1", "$2")}
     ORDER BY p.created_at DESC, p.id DESC LIMIT $4)
    UNION ALL
    (SELECT 'answer', fc.id, fc.post_id, fc.created_at, NULL
     FROM followed f CROSS JOIN LATERAL (
        SELECT c.id, c.post_id, c.created_at FROM community_comments c
        JOIN community_posts q ON q.id = c.post_id
        WHERE c.author_kind = f.followee_kind AND c.author_id = f.followee_id AND NOT c.anonymous
          AND c.status = '{_PUBLISHED}' AND q.kind = '{_QUESTION}' AND q.status = '{_PUBLISHED}'
          AND q.group_id = ANY($3) AND {blocks.shown_sql("q", "$1", "$2")}{comment_key}
        ORDER BY c.created_at DESC, c.id DESC LIMIT $4
     ) fc)
) i{item_key}
ORDER BY i.created_at DESC, i.id DESC LIMIT $4
){cards}"""


_FEED_SQL = {first: _feed_sql(first) for first in (True, False)}


@dataclass(frozen=True, slots=True)
class FollowingItem:
    kind: str  # post | answer
    post: Any  # the post as a feed card row (community.posts.post_cards_sql's columns, and alias_prefix)
    answer: Comment | None  # the answer (read with the page, not attached to the session)
    via_tag: str | None  # the followed tag that brought the post (None: by a followed person)
    created_at: datetime

    @property
    def post_id(self) -> uuid.UUID:
        post_id: uuid.UUID = self.post["id"]
        return post_id


def _answer(r: Any) -> Comment:
    values = {c: r[f"answer_{c}"] for c in (*_ANSWER_COLUMNS, *_ANSWER_TIMES)}
    return Comment(id=r["item_id"], **values)


async def following_feed(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[FollowingItem]:
    me = accounts.of(actor)
    size = page_size(first)
    args: list[Any] = [me.kind, me.id, await access.readable_group_ids(session, actor), size + 1]
    if after:
        created_at, item_id = decode_cursor(after, 2, types=(datetime, uuid.UUID))
        if not isinstance(created_at, datetime) or not isinstance(item_id, uuid.UUID):
            raise InvalidCursor(field="after")
        args += [created_at, item_id]
    args.append(clock.now())
    rows = await rawsql.fetch(session, _FEED_SQL[not after], *args)
    has_next = len(rows) > size
    rows = rows[:size]
    items = [
        FollowingItem(
            r["item_kind"], r, _answer(r) if r["item_kind"] == "answer" else None, r["via_tag"], r["item_created_at"]
        )
        for r in rows
    ]
    cursors = [encode_cursor(r["item_created_at"], r["item_id"]) for r in rows]
    return Page(items=items, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
