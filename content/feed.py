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
so it can rise past the cursor but never fall behind it again: no item appears twice across pages.

A page is one prepared statement (core/rawsql): both parts as a UNION ALL (each cut at the page size),
with what a card shows besides the item row (the live revision's title, summary and media; the
viewer's likes and bookmarks). Its text depends only on the shape of the request (kind of viewer,
number of conditions, groups or not, which part the cursor is in), so each shape is built once.
Rows come back as `FeedItem`s: the item's columns under the ORM's names, no ORM objects."""

from __future__ import annotations

import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from content import access
from content.access import Viewer, readable_sql
from core import clock, rawsql
from core.identity import Actor, ActorKind
from core.pagination import Page, decode_cursor, encode_cursor, page_size

_ITEM_COLUMNS = (
    "i.id, i.kind, i.status, i.language, i.working_revision_id, i.publish_at,"
    " i.live_revision_id, i.published_at, i.title, i.condition_codes, i.topics,"
    " i.audience_conditions, i.audience_group_ids, i.audience_tiers, i.audience_stages, i.gate,"
    " i.gate_min_tier_rank, i.view_count, i.read_count, i.like_count, i.bookmark_count, i.share_count,"
    " i.feed_rank"
)


@dataclass(slots=True)
class FeedItem:
    """A feed row: the columns of `ContentItem` a reader's card and item fields use (same names), its
    match points, and the card (live revision's title, summary, media; the viewer's reaction kinds)."""

    id: uuid.UUID
    kind: str
    status: str
    language: str
    working_revision_id: uuid.UUID | None
    publish_at: datetime | None
    live_revision_id: uuid.UUID | None
    published_at: datetime | None
    title: str
    condition_codes: list[str]
    topics: list[str]
    audience_conditions: list[str]
    audience_group_ids: list[uuid.UUID]
    audience_tiers: list[str]
    audience_stages: list[str]
    gate: str
    gate_min_tier_rank: int | None
    view_count: int
    read_count: int
    like_count: int
    bookmark_count: int
    share_count: int
    feed_rank: float
    points: int
    card_title: str | None
    card_summary: str | None
    card_cover_url: str | None
    card_video_url: str | None
    mine: list[str] | None


def _level_sql(conditions: int, groups: bool) -> str:
    """Match points: 2 per matched condition (the viewer's sorted codes, one slice each), 1 for a
    matched audience group."""
    parts = [f"(i.condition_codes @> (:conditions::varchar[])[{k}:{k}])::int" for k in range(1, conditions + 1)]
    level = f"2 * ({' + '.join(parts)})" if parts else "0"
    if groups:
        level += " + (i.audience_group_ids && :group_ids)::int"
    return level


def _matched_sql(conditions: int, groups: bool) -> str:
    clauses = []
    if conditions:
        clauses.append("i.condition_codes && :conditions")
    if groups:
        clauses.append("i.audience_group_ids && :group_ids")
    return "(" + " OR ".join(clauses) + ")"


def _build(
    readable: str, conditions: int, groups: bool, matched_part: bool, after: int | None, by_v: bool = False
) -> rawsql.Named:
    """after: None (first page), 1 (the cursor is in the matched part), 0 (in the unmatched part).
    The unmatched part runs only when the matched one leaves room on the page (a one-time filter on the
    matched rows' count), so a viewer with many matches pays for one part, as with two statements.
    by_v: the statement reads the patient viewer itself (CTE v, see `patient_feed`), whose columns lead
    every row (one row of NULL items for an empty page)."""
    any_match = bool(conditions or groups)
    unmatched_guard = ""
    ctes = [f"v AS MATERIALIZED ({access.VIEWER_CTE_SQL})"] if by_v else []
    parts = []
    if any_match and matched_part:
        level = _level_sql(conditions, groups)
        keyset = f" AND ({level}, i.feed_rank, i.id) < (:points_after::bigint, :rank_after, :id_after)" if after else ""
        ctes.append(
            f"m AS MATERIALIZED (SELECT {_ITEM_COLUMNS}, {level} AS points FROM content_items i"
            f" WHERE {readable} AND {_matched_sql(conditions, groups)}{keyset}"
            f" ORDER BY points DESC, i.feed_rank DESC, i.id DESC LIMIT :limit)"
        )
        parts.append("SELECT * FROM m")
        unmatched_guard = " AND (SELECT count(*) FROM m) < :limit"
    unmatched = f" AND NOT {_matched_sql(conditions, groups)}" if any_match else ""
    keyset = " AND (i.feed_rank, i.id) < (:rank_after, :id_after)" if after == 0 else ""
    parts.append(
        f"(SELECT {_ITEM_COLUMNS}, 0 AS points FROM content_items i"
        f" WHERE {readable}{unmatched}{keyset}{unmatched_guard} ORDER BY i.feed_rank DESC, i.id DESC LIMIT :limit)"
    )
    page = f"""SELECT f.*, r.title, r.summary, r.cover_url, r.video_url,
       (SELECT array_agg(x.kind::text) FROM content_reactions x WHERE x.item_id = f.id AND x.patient_id = :patient_id)
FROM ({" UNION ALL ".join(parts)}) AS f
LEFT JOIN content_revisions r ON r.id = f.live_revision_id
ORDER BY f.points DESC, f.feed_rank DESC, f.id DESC LIMIT :limit"""
    if by_v:
        page = f"""SELECT v.condition_codes, v.tier_code, v.tier_rank, v.stage, v.group_ids, p.*
FROM v LEFT JOIN ({page}) AS p ON true
ORDER BY p.points DESC, p.feed_rank DESC, p.id DESC"""
    sql = (f"WITH {', '.join(ctes)}\n" if ctes else "") + page
    return rawsql.Named(rawsql.inline(sql, access.VIEWER_VALUES_SQL) if by_v else sql)


_STATEMENTS: dict[tuple[Any, ...], rawsql.Named] = {}


def _statement(*shape: Any) -> rawsql.Named:
    statement = _STATEMENTS.get(shape)
    if statement is None:
        statement = _STATEMENTS[shape] = _build(*shape)
    return statement


def _paging(size: int, after: str | None) -> tuple[dict[str, Any], int | None]:
    values: dict[str, Any] = {"limit": size + 1}
    level_after: int | None = None
    if after:
        level_after, rank_after, id_after = decode_cursor(after, 3, types=(int, float, uuid.UUID))
        values.update(points_after=level_after, rank_after=float(rank_after), id_after=id_after)
    return values, level_after


def _page(items: list[FeedItem], size: int, after: str | None) -> Page[FeedItem]:
    has_next = len(items) > size
    items = items[:size]
    return Page(
        items=items,
        cursors=[encode_cursor(item.points, item.feed_rank, item.id) for item in items],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )


async def feed(session: AsyncSession, viewer: Viewer, *, first: int | None, after: str | None) -> Page[FeedItem]:
    size = page_size(first)
    readable, values = readable_sql(viewer)
    paging, level_after = _paging(size, after)
    values.update(paging)
    values["patient_id"] = viewer.patient_id
    values.setdefault("conditions", sorted(viewer.conditions))
    values.setdefault("group_ids", sorted(viewer.group_ids))
    matched_part = level_after is None or level_after > 0
    after_part = None if level_after is None else min(level_after, 1)
    statement = _statement(readable, len(viewer.conditions), bool(viewer.group_ids), matched_part, after_part)
    rows = await rawsql.fetch(session, statement.sql, *statement.args(values))
    return _page([FeedItem(*row) for row in rows], size, after)


# The shape of each patient's viewer (number of conditions, groups or not) last seen by this process: the
# merged statement's text depends on it. Only the shape is remembered, never the facts (they are read
# in the statement); a shape that changed is noticed in the row and the page read again. Bounded.
_SHAPES: OrderedDict[uuid.UUID, tuple[int, bool]] = OrderedDict()
MAX_SHAPES = 20_000
GUESSED_SHAPE = (1, False)


async def feed_of(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[FeedItem]:
    """The feed of whoever asks: for a patient the viewer's facts, the access check and the page in one
    prepared statement (as `load_viewer` + `feed` would read them); staff and anonymous readers need no
    viewer read at all."""
    if access.is_content_staff(actor) or actor.kind is not ActorKind.PATIENT or actor.id is None:
        return await feed(session, await access.load_viewer(session, actor), first=first, after=after)
    size = page_size(first)
    values, level_after = _paging(size, after)
    values.update(patient_id=actor.id, now=clock.now())
    matched_part = level_after is None or level_after > 0
    after_part = None if level_after is None else min(level_after, 1)
    shape = _SHAPES.get(actor.id, GUESSED_SHAPE)
    for _ in range(2):
        statement = _statement(access.READABLE_BY_V_SQL, *shape, matched_part, after_part, True)
        rows = await rawsql.fetch(session, statement.sql, *statement.args(values))
        seen = (len(rows[0][0] or ()), bool(rows[0][4]))
        _remember(actor.id, seen)
        if seen == shape:
            return _page([FeedItem(*row[5:]) for row in rows if row[5] is not None], size, after)
        shape = seen  # the first read of this patient here, or their conditions or groups changed
    # Changed again between the two reads: the facts, then the page, apart.
    return await feed(session, await access.load_viewer(session, actor), first=first, after=after)


def _remember(patient_id: uuid.UUID, shape: tuple[int, bool]) -> None:
    _SHAPES[patient_id] = shape
    _SHAPES.move_to_end(patient_id)
    if len(_SHAPES) > MAX_SHAPES:
        _SHAPES.popitem(last=False)
