"""The personalised feed: items the viewer may read (the access check), ranked by
- match: the item's condition tags against the viewer's conditions, its audience groups against
  the viewer's groups (whole points, so a matched item always ranks above an unmatched one);
- freshness (halves about every ten days) and engagement (reads, likes, bookmarks, shares, on a
  log scale), as fractions below one point;
- newest first among equals, then id.
The first page fixes `as_of` in the cursor: freshness is measured from it and engagement counts
only events before it, so every page ranks the same snapshot and no item appears twice."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Float, case, cast, func, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from content.access import Viewer, readable
from content.models import ContentItem, EngagementEvent, EngagementKind
from core import clock
from core.pagination import Page, decode_cursor, encode_cursor, page_size

_WEIGHTS = {
    EngagementKind.READ_END: 1,
    EngagementKind.LIKE: 2,
    EngagementKind.BOOKMARK: 3,
    EngagementKind.SHARE: 3,
}


def _score(viewer: Viewer, as_of: datetime) -> Any:
    cond: Any = literal(0)
    for code in sorted(viewer.conditions):
        cond = cond + case((ContentItem.condition_codes.contains([code]), 1), else_=0)
    group_match: Any = literal(0)
    if viewer.group_ids:
        group_match = case((ContentItem.audience_group_ids.overlap(sorted(viewer.group_ids)), 1), else_=0)
    weight = func.sum(case({k.value: w for k, w in _WEIGHTS.items()}, value=EngagementEvent.kind, else_=0))
    engagement = (
        select(func.coalesce(weight, 0))
        .where(EngagementEvent.item_id == ContentItem.id, EngagementEvent.occurred_at < as_of)
        .scalar_subquery()
    )
    age_days = func.extract("epoch", literal(as_of) - ContentItem.published_at) / 86400.0
    freshness = func.exp(-func.greatest(age_days, 0) / 14.0)  # 0..1
    engaged = func.least(func.ln(1 + cast(engagement, Float)) / literal(math.log(1001.0), Float), 1.0) * 0.5  # 0..0.5
    fraction = cast(func.round((freshness * 0.5 + engaged) * 1_000_000), BigInteger)  # < 1 point
    return (cast(cond, BigInteger) * 2 + group_match) * 1_000_000 + fraction


async def feed(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page[Any]:
    size = page_size(first)
    if after:
        as_of, score_after, published_after, id_after = decode_cursor(after, 4)
    else:
        as_of = clock.now()
    score = _score(viewer, as_of).label("score")
    inner = (
        select(ContentItem.id.label("id"), ContentItem.published_at.label("published_at"), score)
        .where(readable(viewer), ContentItem.published_at <= as_of)
        .subquery()
    )
    stmt = select(ContentItem, inner.c.score).join(inner, inner.c.id == ContentItem.id)
    if after:
        stmt = stmt.where(
            tuple_(inner.c.score, inner.c.published_at, inner.c.id) < tuple_(score_after, published_after, id_after)
        )
    stmt = stmt.order_by(inner.c.score.desc(), inner.c.published_at.desc(), inner.c.id.desc()).limit(size + 1)
    rows = (await session.execute(stmt)).all()
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        items=[item for item, _ in rows],
        cursors=[encode_cursor(as_of, int(s), item.published_at, item.id) for item, s in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )
