"""Engagement: views, reads to the end, likes, bookmarks and shares; counts per item; bookmarks;
a marketer's stats by day. Reading an item to the end awards points through loyalty (the
`article_read` rule with its daily cap), once per patient and item."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from content import errors
from content.access import Viewer, can_read, load_viewer, readable
from content.models import ContentItem, ContentKind, EngagementEvent, EngagementKind, Reaction
from core import clock
from core.errors import PermissionDenied
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, decode_cursor, encode_cursor, page_size
from core.settings import get_settings
from loyalty import earning

READ_RULE = "article_read"
REWARDED_KINDS = frozenset({ContentKind.ARTICLE, ContentKind.STORY})
_COUNTERS = {
    EngagementKind.VIEW: ContentItem.view_count,
    EngagementKind.READ_END: ContentItem.read_count,
    EngagementKind.LIKE: ContentItem.like_count,
    EngagementKind.BOOKMARK: ContentItem.bookmark_count,
    EngagementKind.SHARE: ContentItem.share_count,
}


@dataclass(frozen=True)
class Engagement:
    item_id: uuid.UUID
    kind: str
    recorded: bool
    points_awarded: int = 0


def _today() -> date:
    return clock.now().astimezone(ZoneInfo(get_settings().default_timezone)).date()


# Feed ranking weight of each event kind (content.feed): raised with each event, never lowered.
WEIGHTS = {EngagementKind.READ_END: 1, EngagementKind.LIKE: 2, EngagementKind.BOOKMARK: 3, EngagementKind.SHARE: 3}


async def _lock_rank_credit(session: AsyncSession, item_id: uuid.UUID, patient_id: uuid.UUID, kind: str) -> None:
    """Serialises one patient's events of one kind on one item (held to commit), so that `_first_today`
    sees the others: twenty shares at once still rank as one."""
    key = func.hashtextextended(f"content-rank:{item_id}:{patient_id}:{kind}", 0)
    await session.execute(select(func.pg_advisory_xact_lock(key)))


async def _first_today(session: AsyncSession, item_id: uuid.UUID, patient_id: uuid.UUID, kind: str) -> bool:
    """Whether the event just recorded is this patient's first of its kind on this item today."""
    await session.flush()
    count = await session.scalar(
        select(func.count())
        .select_from(EngagementEvent)
        .where(
            EngagementEvent.item_id == item_id,
            EngagementEvent.patient_id == patient_id,
            EngagementEvent.kind == kind,
            EngagementEvent.day == _today(),
        )
    )
    return count == 1


async def _bump(session: AsyncSession, item_id: uuid.UUID, kind: str, delta: int, *, ranks: bool) -> None:
    """Counters count every event; the feed's ranking weight only a patient's first event of a kind on an
    item per day (`ranks`): one patient sharing an article twenty times, or liking it on and off, must not
    push it up the feed."""
    column = _COUNTERS[EngagementKind(kind)]
    values: dict[str, Any] = {column.key: func.greatest(column + delta, 0)}
    weight = WEIGHTS.get(EngagementKind(kind), 0)
    if delta > 0 and weight and ranks:
        values["engagement_weight"] = ContentItem.engagement_weight + weight * delta
    await session.execute(
        update(ContentItem).where(ContentItem.id == item_id).values(values).execution_options(synchronize_session=False)
    )


async def _reader(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> tuple[uuid.UUID, Viewer]:
    patient_id = actor.require_patient()
    viewer = await load_viewer(session, actor)
    if not await can_read(session, viewer, item_id):
        raise errors.ItemNotFound(field="itemId")
    return patient_id, viewer


async def record(session: AsyncSession, actor: Actor, item_id: uuid.UUID, kind: str) -> Engagement:
    """A view, a read to the end or a share by a patient who may read the item."""
    if kind not in (EngagementKind.VIEW, EngagementKind.READ_END, EngagementKind.SHARE):
        raise errors.InvalidTransition("不支持的互动类型", field="kind")
    patient_id, _ = await _reader(session, actor, item_id)
    if kind in WEIGHTS:
        await _lock_rank_credit(session, item_id, patient_id, kind)
    now = clock.now()
    stmt = insert(EngagementEvent).values(
        id=new_id(), item_id=item_id, patient_id=patient_id, kind=kind, day=_today(), occurred_at=now
    )
    if kind == EngagementKind.READ_END:
        stmt = stmt.on_conflict_do_nothing(
            index_elements=["item_id", "patient_id"], index_where=EngagementEvent.kind == EngagementKind.READ_END
        )
    inserted = (await session.execute(stmt.returning(EngagementEvent.id))).scalar_one_or_none() is not None
    if not inserted:
        return Engagement(item_id, kind, recorded=False)
    await _bump(session, item_id, kind, 1, ranks=await _first_today(session, item_id, patient_id, kind))
    points = 0
    if kind == EngagementKind.READ_END:
        item_kind = await session.scalar(select(ContentItem.kind).where(ContentItem.id == item_id))
        if item_kind in REWARDED_KINDS:
            award = await earning.award(
                session, patient_id, READ_RULE, f"content:{item_id}", f"content-read:{item_id}:{patient_id}"
            )
            points = award.points
    return Engagement(item_id, kind, recorded=True, points_awarded=points)


async def react(session: AsyncSession, actor: Actor, item_id: uuid.UUID, kind: str, *, on: bool) -> Engagement:
    """Like or bookmark (on=True), or take it back; repeating either changes nothing."""
    if kind not in (EngagementKind.LIKE, EngagementKind.BOOKMARK):
        raise errors.InvalidTransition("不支持的互动类型", field="kind")
    patient_id, _ = await _reader(session, actor, item_id)
    now = clock.now()
    if on:
        await _lock_rank_credit(session, item_id, patient_id, kind)
        done = (
            await session.execute(
                insert(Reaction)
                .values(item_id=item_id, patient_id=patient_id, kind=kind, created_at=now)
                .on_conflict_do_nothing()
                .returning(Reaction.item_id)
            )
        ).scalar_one_or_none() is not None
        if done:
            session.add(
                EngagementEvent(
                    id=new_id(), item_id=item_id, patient_id=patient_id, kind=kind, day=_today(), occurred_at=now
                )
            )
    else:
        done = (
            await session.execute(
                delete(Reaction)
                .where(Reaction.item_id == item_id, Reaction.patient_id == patient_id, Reaction.kind == kind)
                .returning(Reaction.item_id)
            )
        ).scalar_one_or_none() is not None
    if done:
        ranks = on and await _first_today(session, item_id, patient_id, kind)
        await _bump(session, item_id, kind, 1 if on else -1, ranks=ranks)
    return Engagement(item_id, kind, recorded=done)


async def my_reactions(
    session: AsyncSession, patient_id: uuid.UUID, item_ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[str]]:
    rows = await session.execute(
        select(Reaction.item_id, Reaction.kind).where(Reaction.patient_id == patient_id, Reaction.item_id.in_(item_ids))
    )
    out: dict[uuid.UUID, set[str]] = {}
    for item_id, kind in rows:
        out.setdefault(item_id, set()).add(kind)
    return out


async def bookmarks_page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[ContentItem]:
    """My bookmarks, newest first; an item I may no longer read is left out (the access check)."""
    patient_id = actor.require_patient()
    viewer = await load_viewer(session, actor)
    size = page_size(first)
    stmt = (
        select(ContentItem, Reaction.created_at)
        .join(Reaction, Reaction.item_id == ContentItem.id)
        .where(Reaction.patient_id == patient_id, Reaction.kind == EngagementKind.BOOKMARK, readable(viewer))
    )
    if after:
        at, id_ = decode_cursor(after, 2, types=(datetime, uuid.UUID))
        stmt = stmt.where(tuple_(Reaction.created_at, ContentItem.id) < tuple_(at, id_))
    rows = (
        await session.execute(stmt.order_by(Reaction.created_at.desc(), ContentItem.id.desc()).limit(size + 1))
    ).all()
    has_next = len(rows) > size
    rows = rows[:size]
    return Page(
        items=[item for item, _ in rows],
        cursors=[encode_cursor(at, item.id) for item, at in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )


@dataclass(frozen=True)
class DayStats:
    day: date
    views: int
    reads: int
    likes: int
    bookmarks: int
    shares: int


async def stats_by_day(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, *, since: datetime | None = None
) -> list[DayStats]:
    """Per day (group time zone): the item's author, reviewers and admins."""
    actor.require_role(Role.MARKETER, Role.REVIEWER)
    item = await session.get(ContentItem, item_id)
    if item is None:
        raise errors.ItemNotFound(field="itemId")
    if item.author_id != actor.id and not actor.has_role(Role.REVIEWER):
        raise PermissionDenied("只能查看自己撰写内容的数据")
    stmt = (
        select(EngagementEvent.day, EngagementEvent.kind, func.count())
        .where(EngagementEvent.item_id == item_id)
        .group_by(EngagementEvent.day, EngagementEvent.kind)
        .order_by(EngagementEvent.day)
    )
    if since is not None:
        stmt = stmt.where(EngagementEvent.occurred_at >= since)
    days: dict[date, dict[str, int]] = {}
    for day, kind, n in await session.execute(stmt):
        days.setdefault(day, {})[kind] = int(n)
    return [
        DayStats(
            day=d,
            views=k.get("view", 0),
            reads=k.get("read_end", 0),
            likes=k.get("like", 0),
            bookmarks=k.get("bookmark", 0),
            shares=k.get("share", 0),
        )
        for d, k in sorted(days.items())
    ]
