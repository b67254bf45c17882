"""The personalised feed: items the viewer may read (the access check), ranked by
- match: the item's condition tags against the viewer's conditions, its audience groups against
  the viewer's groups (whole points, so a matched item always ranks above an unmatched one);
- freshness (halves about every ten days) and engagement (reads, likes, bookmarks, shares, on a
  log scale), as fractions below one point;
- newest first among equals, then id.
The first page fixes `as_of` in the cursor and freshness is measured from it. Engagement is the
item's `engagement_weight`, which only grows (content.engagement): an item can only rise past the
cursor, never fall back below it, so no item appears twice across pages (one that rose is not shown
again). A page first counts the readable items per match level and scores only the levels that can
reach it."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, case, cast, func, literal, select, true, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from content.access import Viewer, readable
from content.models import ContentItem
from core import clock
from core.pagination import Page, decode_cursor, encode_cursor, page_size

POINT = 1_000_000  # one match point in the integer score; the fraction stays below it


def _level(viewer: Viewer) -> Any:
    """Whole match points: 2 per matched condition, 1 for a matched audience group."""
    cond: Any = literal(0)
    for code in sorted(viewer.conditions):
        cond = cond + case((ContentItem.condition_codes.contains([code]), 1), else_=0)
    group_match: Any = literal(0)
    if viewer.group_ids:
        group_match = case((ContentItem.audience_group_ids.overlap(sorted(viewer.group_ids)), 1), else_=0)
    return cast(cond, BigInteger) * 2 + group_match


def _freshness(as_of: datetime) -> Any:
    age_days = func.extract("epoch", literal(as_of) - ContentItem.published_at) / 86400.0
    return func.exp(-func.greatest(age_days, 0) / 14.0)  # 0..1


def _fraction(freshness: Any, engaged: Any) -> Any:
    # Capped below one point, so every item of a level ranks below every item of the level above.
    return func.least(cast(func.round((freshness * 0.5 + engaged) * POINT), BigInteger), POINT - 1)


def _score(viewer: Viewer, as_of: datetime) -> Any:
    engagement = ContentItem.engagement_weight
    engaged = func.least(func.ln(1 + cast(engagement, Float)) / literal(math.log(1001.0), Float), 1.0) * 0.5  # 0..0.5
    return _level(viewer) * POINT + _fraction(_freshness(as_of), engaged)


async def _lowest_level_needed(
    session: AsyncSession, viewer: Viewer, as_of: datetime, cursor_score: int | None, needed: int
) -> int | None:
    """The lowest match level the page can reach. Scoring an item costs an engagement lookup, its level
    and an upper bound of its score (full engagement) cost nothing: count per level the readable items
    sure to come after the cursor, and score only the levels that hold the next `needed` of them.
    None: score every level."""
    level = _level(viewer)
    where = [readable(viewer), ContentItem.published_at <= as_of]
    sure: Any = true()
    if cursor_score is not None:
        where.append(level <= cursor_score // POINT)
        # Below the cursor even with full engagement: surely after it (every lower level is).
        sure = level * POINT + _fraction(_freshness(as_of), 0.5) < cursor_score
    stmt = select(level, func.count().filter(sure)).where(*where).group_by(level).order_by(level.desc())
    counts = (await session.execute(stmt)).all()
    certain = 0
    for value, count in counts[:-1]:
        certain += count
        if certain >= needed:
            return int(value)
    return None


async def feed(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page[Any]:
    size = page_size(first)
    if after:
        as_of, score_after, published_after, id_after = decode_cursor(after, 4)
    else:
        as_of = clock.now()
    floor = await _lowest_level_needed(session, viewer, as_of, int(score_after) if after else None, size + 1)

    async def page(floor: int | None) -> list[Any]:
        where = [readable(viewer), ContentItem.published_at <= as_of]
        if floor is not None:
            where.append(_level(viewer) >= floor)
        score = _score(viewer, as_of).label("score")
        inner = (
            select(ContentItem.id.label("id"), ContentItem.published_at.label("published_at"), score)
            .where(*where)
            .subquery()
        )
        stmt = select(ContentItem, inner.c.score).join(inner, inner.c.id == ContentItem.id)
        if after:
            stmt = stmt.where(
                tuple_(inner.c.score, inner.c.published_at, inner.c.id) < tuple_(score_after, published_after, id_after)
            )
        stmt = stmt.order_by(inner.c.score.desc(), inner.c.published_at.desc(), inner.c.id.desc()).limit(size + 1)
        return list((await session.execute(stmt)).all())

    rows = await page(floor)
    if floor is not None and len(rows) <= size:
        rows = await page(None)  # an item left between the count and the page: rank every level
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        items=[item for item, _ in rows],
        cursors=[encode_cursor(as_of, int(s), item.published_at, item.id) for item, s in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )
