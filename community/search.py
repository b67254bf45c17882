"""Post search with the same Chinese segmentation as articles (content/search.py): jieba's words of the
title (weight A) and body (B) in `community_posts.search_vector`, a tsvector('simple') under a GIN index.

One-character queries. jieba keeps 糖 and 血 inside words (糖尿病, 血压), so its words alone never
find a post by 糖. Every CJK character of the text is therefore also indexed on its own (a unigram),
except a short list of function characters (的, 了, 是 ...) that would match nearly every post and
say nothing: those are dropped from documents and queries alike. Any one-character query for a
health term (糖, 血, 药, 癌, 痒 ...) goes through the same GIN index as a word (tests EXPLAIN it); a
query made only of function characters finds nothing. jieba's own one-character words are left to the
unigrams (the same lexeme, counted once).

Only posts the viewer may read: published posts of the groups the community's one access check opens
(community/access.py `readable_group_ids`: a secret or members-only group's posts never reach
outsiders; held, hidden, removed and author-only posts never appear). An anonymous post is shown as a
Post, whose author is its group alias.

Ranking: relevance in steps of a tenth of ts_rank (a title match outranks a body match, a word said
often outranks one said once), then recency; keyset pagination on (step, created_at, id).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Integer, Select, any_, cast, func, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Uuid

from community import access
from community.models import ContentStatus, Post
from content import search as content_search
from content.errors import ContentCode
from core import cpu
from core.errors import Validator
from core.identity import Actor
from core.pagination import Page, decode_cursor, encode_cursor, page_size
from social import blocks

# The article search's limit and error code: one rule (and one code for clients) for every search box.
MAX_QUERY_LENGTH = content_search.MAX_QUERY_LENGTH
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# Function characters too common to search by alone (each is in most posts): never indexed alone.
STOP_CHARACTERS = frozenset("的了是在我你他她它们这那就也都和与及或而但很吗呢吧啊呀哦嗯么着过被把给让个之其")


def _unigram(token: str) -> bool:
    return len(token) == 1 and _CJK.match(token) is not None


def segment_text(text: str) -> str:
    """jieba's search-mode words (content.search.segment_document) without its one-character CJK words,
    then every CJK character that is not a function character, space-separated for to_tsvector."""
    words = [w for w in content_search.segment_document(text).split(" ") if w and not _unigram(w)]
    plain = (text or "")[: content_search.MAX_DOCUMENT_LENGTH]
    chars = [c for c in _CJK.findall(plain) if c not in STOP_CHARACTERS]
    return " ".join([*words, *chars])


def document_texts(title: str, body: str) -> tuple[str, str]:
    """The segmented title and body (also used by migration 0029 to backfill existing posts)."""
    return segment_text(title), segment_text(body)


def _vector(title: str, body: str) -> ColumnElement[object]:
    t, b = document_texts(title, body)
    return func.setweight(func.to_tsvector("simple", t), literal_column("'A'::\"char\"")).op("||")(
        func.setweight(func.to_tsvector("simple", b), literal_column("'B'::\"char\""))
    )


async def post_vector(title: str, body: str) -> ColumnElement[object]:
    """The value of `Post.search_vector` for this text, segmented on the CPU pool (a 10,000-character
    body takes some 20 ms; jieba's dictionary loads on first use): set on create and on every edit."""
    await content_search.load_dictionary()
    return await cpu.run(_vector, title, body)


def query_words(query: str) -> list[str]:
    """The words of a query as the index holds them: jieba's precise-mode words, a one-character word
    as its unigram, function characters dropped."""
    return [w for w in content_search.segment_query(query) if w not in STOP_CHARACTERS]


def check_query(query: str | None) -> str:
    """The stripped query, refused before anything segments it when empty or too long."""
    text = (query or "").strip()
    v = Validator()
    v.check(
        0 < len(text) <= MAX_QUERY_LENGTH,
        "query",
        ContentCode.SEARCH_QUERY_INVALID,
        f"搜索词长度需在1到{MAX_QUERY_LENGTH}个字符之间",
    )
    v.raise_if_any()
    return text


@dataclass(frozen=True)
class Hit:
    post: Post
    title_highlight: str
    snippet: str


def tsquery(words: list[str]) -> ColumnElement[object]:
    return func.plainto_tsquery("simple", " ".join(words))


def search_statement(words: list[str], group_ids: list[uuid.UUID]) -> tuple[Select[Post, int], ColumnElement[int]]:
    """Published posts of these groups matching every word, with their relevance step."""
    q = tsquery(words)
    step = cast(func.floor(func.ts_rank(Post.search_vector, q) * 10), Integer)
    stmt = select(Post, step.label("step")).where(
        Post.search_vector.op("@@")(q),
        Post.status == ContentStatus.PUBLISHED,
        Post.group_id == any_(cast(group_ids, ARRAY(Uuid()))),
    )
    return stmt, step


async def search_posts(
    session: AsyncSession,
    actor: Actor,
    query: str,
    *,
    group_id: uuid.UUID | None = None,
    first: int | None,
    after: str | None,
) -> Page[Hit]:
    # Length first: jieba never sees more than MAX_QUERY_LENGTH characters (issue 10: nothing heavy on the loop).
    text = check_query(query)
    size = page_size(first)
    key = decode_cursor(after, 3, types=(int, datetime, uuid.UUID)) if after else None
    if group_id is not None:
        await access.require_reader(session, actor, group_id)  # GROUP_NOT_FOUND / NOT_A_MEMBER
        group_ids = [group_id]
    else:
        group_ids = await access.readable_group_ids(session, actor)
    await content_search.load_dictionary()
    words = query_words(text)  # at most 100 characters: well under a millisecond
    if not words or not group_ids:
        return Page(items=[], cursors=[], has_next_page=False, has_previous_page=after is not None)
    stmt, step = search_statement(words, group_ids)
    stmt = stmt.where(blocks.shown(actor, "community_posts"))  # not the posts of people the viewer blocked
    if key:
        stmt = stmt.where(tuple_(step, Post.created_at, Post.id) < tuple_(*key))
    rows = (
        await session.execute(stmt.order_by(step.desc(), Post.created_at.desc(), Post.id.desc()).limit(size + 1))
    ).all()
    has_next = len(rows) > size
    rows = rows[:size]
    hits = [
        Hit(
            post=post,
            title_highlight=content_search.highlight(post.title, words, width=0),
            snippet=content_search.highlight(post.body_md, words),
        )
        for post, _ in rows
    ]
    cursors = [encode_cursor(int(s), post.created_at, post.id) for post, s in rows]
    return Page(items=hits, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
