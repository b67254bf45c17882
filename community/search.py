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
often outranks one said once), then recency; keyset pagination on (step, created_at, id). The work is
bounded: the matches are taken newest first (through the GIN index, or for a term in most posts the
created_at index, stopping early) and only the newest SEARCH_CANDIDATES of them are ranked. A rare term
ranks every match; a common one (糖, 血) ranks the latest few thousand posts that say it instead of
computing ts_rank for tens of thousands of rows on every request; more words reach older posts.

One statement of plain rows: the page's posts come as feed cards (community.posts.post_cards_sql:
author name or group alias, role and expert badge, reaction counts, the viewer's reactions), with the
body for the snippet and the group's alias prefix.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, literal_column
from sqlalchemy.ext.asyncio import AsyncSession

from community import access
from community.cards import POST_COLUMNS, post_cards_sql
from community.models import ContentStatus
from content import search as content_search
from content.errors import ContentCode
from core import clock, cpu, rawsql
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


# How many of the newest matches are ranked (see the module's docstring): enough that a search for a
# common term still ranks months of posts, few enough that ranking them costs a few milliseconds.
SEARCH_CANDIDATES = 2000


@dataclass(frozen=True, slots=True)
class Hit:
    post: Any  # the post as a feed card row (community.posts.post_cards_sql's columns, body_md, alias_prefix)
    title_highlight: str
    snippet: str

    @property
    def post_id(self) -> uuid.UUID:
        post_id: uuid.UUID = self.post["id"]
        return post_id


def search_sql(after: bool, candidates: int = SEARCH_CANDIDATES) -> str:
    """$1 the query's words (space-separated, as plainto_tsquery reads them), $2 the readable group ids,
    $3/$4 the viewer's account kind and id (NULL for an anonymous viewer: no blocks, no reactions of
    their own), $5 the page limit (+1), $6 the time the expert badge is checked at, then after a cursor
    $7/$8/$9 its (step, created_at, id). Published posts of those groups matching every word and not
    by someone the viewer blocked; the newest `candidates` of them ranked."""
    key = " WHERE (r.step, r.created_at, r.id) < ($7, $8, $9)" if after else ""
    cards = post_cards_sql(
        f"SELECT pg.step, p.body_md, {POST_COLUMNS} FROM page pg JOIN community_posts p ON p.id = pg.id",
        viewer=("$3", "$4"),
        now="$6",
        order="p.step DESC, p.created_at DESC, p.id DESC",
        extra_columns=", g.alias_prefix",
        extra_joins="\nJOIN community_groups g ON g.id = p.group_id",
    )
    # The candidates are narrow rows (id, created_at): sorting tens of thousands of matches of a word
    # newest first stays an in-memory top-N sort; the ranked ones read their vector by primary key.
    # Planned per call (core/rawsql.py): how many posts say the words decides the plan.
    return f"""{rawsql.PLAN_PER_CALL}
WITH candidates AS MATERIALIZED (
    SELECT p.id, p.created_at FROM community_posts p
    WHERE p.search_vector @@ plainto_tsquery('simple', $1) AND p.status = '{ContentStatus.PUBLISHED.value}'
      AND p.group_id = ANY($2) AND {blocks.shown_sql("p", "$3", "$4")}
    ORDER BY p.created_at DESC, p.id DESC LIMIT {int(candidates)}
), ranked AS (
    SELECT c.id, c.created_at, floor(ts_rank(v.search_vector, plainto_tsquery('simple', $1)) * 10)::int AS step
    FROM candidates c JOIN community_posts v ON v.id = c.id
), page AS (
    SELECT r.step, r.created_at, r.id FROM ranked r{key}
    ORDER BY r.step DESC, r.created_at DESC, r.id DESC LIMIT $5
){cards}"""


_SEARCH_SQL = {after: search_sql(after) for after in (False, True)}


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
    key = decode_cursor(after, 3, types=(int, datetime, uuid.UUID)) if after else ()
    if group_id is not None:
        await access.require_reader(session, actor, group_id)  # GROUP_NOT_FOUND / NOT_A_MEMBER
        group_ids = [group_id]
    else:
        group_ids = await access.readable_group_ids(session, actor)
    await content_search.load_dictionary()
    words = query_words(text)  # at most 100 characters: well under a millisecond
    if not words or not group_ids:
        return Page(items=[], cursors=[], has_next_page=False, has_previous_page=after is not None)
    kind, account_id = access.viewer_account(actor)
    args = (" ".join(words), group_ids, kind, account_id, size + 1, clock.now(), *key)
    rows = await rawsql.fetch(session, _SEARCH_SQL[bool(key)], *args)
    has_next = len(rows) > size
    rows = rows[:size]
    hits = [
        Hit(
            post=r,
            title_highlight=content_search.highlight(r["title"], words, width=0),
            snippet=content_search.highlight(r["body_md"], words),
        )
        for r in rows
    ]
    cursors = [encode_cursor(r["step"], r["created_at"], r["id"]) for r in rows]
    return Page(items=hits, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
