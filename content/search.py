"""Chinese search: jieba segments the live title, summary and body into words stored in a
`tsvector('simple')` column with a GIN index, so 2-character words (血糖, 血压) are found through
the index (trigrams cannot serve them). English words are lower-cased by the 'simple' dictionary.
Results always pass the access check; highlights are computed on the matched words."""

from __future__ import annotations

import html
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jieba
from sqlalchemy import BigInteger, ColumnElement, cast, func, literal_column, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from content.access import Viewer, readable
from content.errors import ContentCode as Code
from content.models import ContentItem, ContentRevision
from core import cpu
from core.errors import Validator
from core.pagination import Page, decode_cursor, encode_cursor, page_size

jieba.setLogLevel(logging.WARNING)
MAX_QUERY_LENGTH = 100
# Longer than any stored document (title 120 + summary 500 + body 50,000, checked on save): a bound
# on what one segmentation call may cost (about 0.1 s per 50,000 characters), never reached in use.
MAX_DOCUMENT_LENGTH = 60_000
_WORD = re.compile(r"[\w\u4e00-\u9fff]", re.UNICODE)
_MARKDOWN = re.compile(r"[#*_`>\[\]()!~|-]+")


def _keep(token: str) -> bool:
    return bool(token.strip()) and bool(_WORD.search(token))


def segment_document(text: str) -> str:
    """Every word and its sub-words (search mode), space-separated, for to_tsvector('simple').
    Text past MAX_DOCUMENT_LENGTH is not indexed."""
    plain = _MARKDOWN.sub(" ", (text or "")[:MAX_DOCUMENT_LENGTH])
    return " ".join(t.strip().lower() for t in jieba.cut_for_search(plain) if _keep(t))


def segment_query(query: str) -> list[str]:
    """Precise-mode words of a query (each of them is also among a document's search-mode words).
    `search` refuses longer queries first; the cut here only bounds a caller that did not."""
    words = jieba.cut((query or "")[:MAX_QUERY_LENGTH])
    return list(dict.fromkeys(t.strip().lower() for t in words if _keep(t)))


def vector_expression(title: str, summary: str, body: str) -> ColumnElement[Any]:
    def weighted(text: str, weight: str) -> ColumnElement[Any]:
        return func.setweight(
            func.to_tsvector("simple", segment_document(text)), literal_column(f"'{weight}'::\"char\"")
        )

    return weighted(title, "A").op("||")(weighted(summary, "B")).op("||")(weighted(body, "C"))


async def load_dictionary() -> None:
    """jieba reads its dictionary on first use (about half a second): done once, on the CPU pool."""
    if not jieba.dt.initialized:
        await cpu.run(jieba.initialize)


async def document_vector(title: str, summary: str, body: str) -> ColumnElement[Any]:
    """`vector_expression` built on the CPU pool: segmenting a whole article takes up to a tenth of
    a second (and loading jieba's dictionary, on first use, half a second), too long for the loop."""
    await load_dictionary()
    return await cpu.run(vector_expression, title, summary, body)


def query_expression(words: list[str]) -> ColumnElement[Any]:
    return func.plainto_tsquery("simple", " ".join(words))


def highlight(text: str, words: list[str], *, width: int = 60) -> str:
    """HTML-escaped text (a window around the first match when `width` is set) with <em> on each word."""
    plain = _MARKDOWN.sub(" ", text or "")
    plain = re.sub(r"\s+", " ", plain).strip()
    lowered = plain.lower()
    positions = [p for w in words if (p := lowered.find(w)) != -1]
    if width and len(plain) > width:
        first = min(positions) if positions else 0
        start = max(0, first - width // 3)
        window = plain[start : start + width]
        prefix, suffix = ("…" if start > 0 else ""), ("…" if start + width < len(plain) else "")
    else:
        window, prefix, suffix = plain, "", ""
    if not words:
        return html.escape(window)
    pattern = re.compile("|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for m in pattern.finditer(window):
        out.append(html.escape(window[last : m.start()]))
        out.append(f"<em>{html.escape(m.group())}</em>")
        last = m.end()
    out.append(html.escape(window[last:]))
    return prefix + "".join(out) + suffix


@dataclass(frozen=True)
class Hit:
    item: ContentItem
    title_highlight: str
    snippet: str


def search_statement(viewer: Viewer, words: list[str]) -> Any:
    """The matching items the viewer may read (ids and ranking columns only: the GIN index finds them)."""
    q = query_expression(words)
    # Ranked on the title and summary words only (a small vector); the full vector decides the match.
    score = cast(func.ts_rank_cd(ContentItem.rank_vector, q) * 1_000_000, BigInteger)
    stmt = select(ContentItem.id, ContentItem.published_at, score.label("score")).where(
        ContentItem.search_vector.op("@@")(q), readable(viewer)
    )
    return stmt, score


async def search(
    session: AsyncSession, viewer: Viewer, query: str, *, first: int | None, after: str | None
) -> Page[Hit]:
    # The length is checked before jieba sees the text: segmenting a megabyte takes minutes.
    v = Validator()
    v.check(
        0 < len((query or "").strip()) <= MAX_QUERY_LENGTH,
        "query",
        Code.SEARCH_QUERY_INVALID,
        f"搜索词长度需在1到{MAX_QUERY_LENGTH}个字符之间",
    )
    v.raise_if_any()
    await load_dictionary()
    words = segment_query(query.strip())  # at most 100 characters: well under a millisecond
    size = page_size(first)
    if not words:
        return Page(items=[], cursors=[], has_next_page=False, has_previous_page=after is not None)
    stmt, score = search_statement(viewer, words)
    if after:
        s, published, id_ = decode_cursor(after, 3, types=(int, datetime, uuid.UUID))
        stmt = stmt.where(tuple_(score, ContentItem.published_at, ContentItem.id) < tuple_(s, published, id_))
    # Rank and cut the page on content_items alone; only the page's rows fetch their (wide) live revision.
    ranked = (
        stmt.order_by(score.desc(), ContentItem.published_at.desc(), ContentItem.id.desc()).limit(size + 1).subquery()
    )
    rows = (
        await session.execute(
            select(ContentItem, ContentRevision, ranked.c.score)
            .join(ranked, ranked.c.id == ContentItem.id)
            .join(ContentRevision, ContentRevision.id == ContentItem.live_revision_id)
            .order_by(ranked.c.score.desc(), ranked.c.published_at.desc(), ranked.c.id.desc())
        )
    ).all()
    has_next = len(rows) > size
    rows = rows[:size]
    hits = [
        Hit(
            item=item,
            title_highlight=highlight(rev.title, words, width=0),
            snippet=highlight(f"{rev.summary} {rev.body}", words),
        )
        for item, rev, _ in rows
    ]
    cursors = [encode_cursor(int(s), item.published_at, item.id) for item, _, s in rows]
    return Page(items=hits, cursors=cursors, has_next_page=has_next, has_previous_page=after is not None)
