"""The personalised feed: items the viewer may read (the access check), ranked by
- match: 2 points per item condition tag among the viewer's conditions, 1 when the item is aimed at
  one of the viewer's groups; every matched item ranks above every unmatched one, more points first;
- then freshness times engagement, `exp(-age / 14 days) * (1 + weight) ** 0.25` (the weight grows with reads,
  likes, bookmarks and shares), whose logarithm is the stored `feed_rank`: the order it gives never
  changes as time passes, and with no engagement it is simply newest first;
- then id.
Matched items are few (tags and group audiences, GIN-indexed) and are ranked in full; the unmatched
rest is read in `feed_rank` index order, so a page costs the same on a catalogue of any size.
The cursor is (match points, rank, id). An item's rank only grows (engagement is never taken back),
so it can rise past the cursor but never fall behind it again: no item appears twice across pages."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import BigInteger, case, cast, false, literal, not_, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from content.access import Viewer, readable
from content.models import ContentItem
from core.pagination import Page, decode_cursor, encode_cursor, page_size


def _level(viewer: Viewer) -> Any:
    """Match points: 2 per matched condition, 1 for a matched audience group."""
    cond: Any = literal(0)
    for code in sorted(viewer.conditions):
        cond = cond + case((ContentItem.condition_codes.contains([code]), 1), else_=0)
    group_match: Any = literal(0)
    if viewer.group_ids:
        group_match = case((ContentItem.audience_group_ids.overlap(sorted(viewer.group_ids)), 1), else_=0)
    return cast(cond, BigInteger) * 2 + group_match


def _matched(viewer: Viewer) -> Any:
    clauses = []
    if viewer.conditions:
        clauses.append(ContentItem.condition_codes.overlap(sorted(viewer.conditions)))
    if viewer.group_ids:
        clauses.append(ContentItem.audience_group_ids.overlap(sorted(viewer.group_ids)))
    return or_(*clauses) if clauses else false()


async def feed(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page[Any]:
    size = page_size(first)
    level_after: int | None = None
    if after:
        level_after, rank_after, id_after = decode_cursor(after, 3, types=(int, float, uuid.UUID))
    matched = _matched(viewer)
    rank = ContentItem.feed_rank
    rows: list[tuple[Any, int]] = []
    if (viewer.conditions or viewer.group_ids) and (level_after is None or level_after > 0):
        level = _level(viewer)
        stmt = select(ContentItem, level).where(readable(viewer), matched)
        if level_after is not None:
            stmt = stmt.where(tuple_(level, rank, ContentItem.id) < tuple_(level_after, rank_after, id_after))
        stmt = stmt.order_by(level.desc(), rank.desc(), ContentItem.id.desc()).limit(size + 1)
        rows = [(item, int(points)) for item, points in (await session.execute(stmt)).all()]
    if len(rows) <= size:
        stmt = select(ContentItem).where(readable(viewer), not_(matched))
        if level_after == 0:
            stmt = stmt.where(tuple_(rank, ContentItem.id) < tuple_(rank_after, id_after))
        stmt = stmt.order_by(rank.desc(), ContentItem.id.desc()).limit(size + 1 - len(rows))
        rows += [(item, 0) for item in await session.scalars(stmt)]
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        items=[item for item, _ in rows],
        cursors=[encode_cursor(points, item.feed_rank, item.id) for item, points in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )
