"""The moderation queue: entries as moderators see them (never an anonymous author's identity), paging, and claims."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, audit, errors, wordfilter
from community.errors import CommunityCode as Code
from community.errors import ItemClaimed
from community.models import (
    AnonymousAlias,
    Group,
    ItemReason,
    MemberRole,
    Membership,
    MemberState,
    ModerationItem,
    QueueStatus,
    Report,
)
from community.moderation.items import _get_item, _is_care_staff, _may_handle, _targets
from community.moderation.rules import CLAIM_TTL
from core import clock
from core.errors import DomainError, PermissionDenied
from core.identity import Actor
from core.pagination import Page, decode_cursor, encode_cursor, page_size
from patients import queries as patient_queries


@dataclass
class QueueEntry:
    """A queue item as a moderator sees it. `author_kind`/`author_id` are None for anonymous content:
    an anonymous author is only ever shown by the group alias."""

    item: ModerationItem
    group_name: str
    target_exists: bool
    target_status: str | None
    post_id: uuid.UUID | None
    title: str | None
    excerpt: str
    anonymous: bool
    author_label: str
    author_kind: str | None
    author_id: uuid.UUID | None
    report_count: int
    report_reasons: dict[str, int]
    claimed_by_me: bool
    # The listed words the filter finds in the title and text now (what held it, for a held item).
    filter_hits: list[wordfilter.Match] = field(default_factory=list)


async def _entries(session: AsyncSession, actor: Actor, items: Sequence[ModerationItem]) -> list[QueueEntry]:
    """Queue entries for a page of items in a fixed number of statements."""
    if not items:
        return []
    refs = [(i.target_kind, i.target_id) for i in items]
    targets = await _targets(session, refs)
    group_ids = list({i.group_id for i in items})
    groups = {g.id: g for g in await session.scalars(select(Group).where(Group.id.in_(group_ids)))}
    anonymous_keys = [(t.group_id, t.author_id) for t in targets.values() if t.anonymous]
    aliases: dict[tuple[uuid.UUID, uuid.UUID], int] = {}
    if anonymous_keys:
        rows = await session.execute(
            select(AnonymousAlias.group_id, AnonymousAlias.account_id, AnonymousAlias.number).where(
                tuple_(AnonymousAlias.group_id, AnonymousAlias.account_id).in_(anonymous_keys)
            )
        )
        aliases = {(g, a): n for g, a, n in rows}
    patient_ids = [t.author_id for t in targets.values() if not t.anonymous and t.author_kind == "patient"]
    staff_ids = [t.author_id for t in targets.values() if not t.anonymous and t.author_kind == "staff"]
    patients = await patient_queries.patients_by_ids(session, patient_ids) if patient_ids else {}
    staff = await patient_queries.staff_by_ids(session, staff_ids) if staff_ids else {}
    counts: dict[tuple[str, uuid.UUID], dict[str, int]] = {}
    for kind, tid, reason, n in await session.execute(
        select(Report.target_kind, Report.target_id, Report.reason, func.count())
        .where(tuple_(Report.target_kind, Report.target_id).in_(refs))
        .group_by(Report.target_kind, Report.target_id, Report.reason)
    ):
        counts.setdefault((kind, tid), {})[reason] = int(n)
    word_filter = await wordfilter.load(session)  # compiled once per list version
    out = []
    for item in items:
        group = groups.get(item.group_id)
        prefix = group.alias_prefix if group else "病友"
        t = targets.get((item.target_kind, item.target_id))
        reasons = counts.get((item.target_kind, item.target_id), {})
        if t is None:
            label, kind_, id_ = "（内容已不存在）", None, None
        elif t.anonymous:
            number = aliases.get((t.group_id, t.author_id))
            label, kind_, id_ = f"{prefix}#{number or '----'}", None, None
        elif t.author_kind == "staff":
            s = staff.get(t.author_id)
            label, kind_, id_ = (s.name if s else "工作人员"), "staff", t.author_id
        else:
            p = patients.get(t.author_id)
            label, kind_, id_ = (p.nickname if p else "已注销用户"), "patient", t.author_id
        body = (t.body if t else "").strip()
        screened = f"{(t.title or '') if t else ''}\n{body}"[: wordfilter.MAX_SCAN_LENGTH]
        out.append(
            QueueEntry(
                item=item,
                group_name=group.name if group else "",
                target_exists=t is not None,
                target_status=t.status if t else None,
                post_id=t.post_id if t else None,
                title=t.title if t else None,
                excerpt=body[:140] + ("…" if len(body) > 140 else ""),
                anonymous=bool(t and t.anonymous),
                author_label=label,
                author_kind=kind_,
                author_id=id_,
                report_count=sum(reasons.values()),
                report_reasons=reasons,
                claimed_by_me=item.claimed_by is not None and item.claimed_by == actor.id,
                filter_hits=word_filter.scan(screened).matches if t else [],
            )
        )
    return out


async def entries_for(session: AsyncSession, actor: Actor, items: Sequence[ModerationItem]) -> list[QueueEntry]:
    """Entries of items the caller already authorised (e.g. the item a decision returned)."""
    return await _entries(session, actor, items)


async def items_by_ids(session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]) -> list[QueueEntry | None]:
    """For node lookups: an item the actor may not handle reads as missing."""
    if actor.id is None and not actor.is_system:
        return [None] * len(ids)
    items = {i.id: i for i in await session.scalars(select(ModerationItem).where(ModerationItem.id.in_(ids)))}
    mine = await access.memberships_of(session, actor, list({i.group_id for i in items.values()}))
    allowed = [i for i in items.values() if _may_handle(actor, i, mine.get(i.group_id))]
    entries = {e.item.id: e for e in await _entries(session, actor, allowed)}
    return [entries.get(i) for i in ids]


async def _queue_scope(session: AsyncSession, actor: Actor, group_id: uuid.UUID | None) -> ColumnElement[bool]:
    """Which items this actor may see; PermissionDenied for someone who moderates nothing."""
    if access.is_staff_moderator(actor):
        return true()
    kind, account_id = access.account_of(actor)
    emergency = ModerationItem.reason == ItemReason.EMERGENCY.value
    care = _is_care_staff(actor)
    if group_id is not None:
        _, m = await access.get_group(session, actor, group_id)
        if access.can_moderate(actor, m):
            return true() if care else ~emergency
        if care:
            return emergency
        raise PermissionDenied("仅版主可以查看审核队列")
    moderated = select(Membership.group_id).where(
        Membership.account_kind == kind,
        Membership.account_id == account_id,
        Membership.role.in_([MemberRole.MODERATOR.value, MemberRole.OWNER.value]),
        Membership.state == MemberState.ACTIVE.value,
    )
    moderates_any = bool(await session.scalar(select(moderated.exists())))
    if not moderates_any and not care:
        raise PermissionDenied("仅版主可以查看审核队列")
    scope: ColumnElement[bool] = and_(ModerationItem.group_id.in_(moderated), ~emergency) if moderates_any else false()
    return or_(scope, emergency) if care else scope


async def require_queue_reader(session: AsyncSession, actor: Actor) -> None:
    """Refuses (NotAuthenticated, PermissionDenied) someone who moderates nothing: a live queue for them
    would stay silent forever instead of saying no."""
    actor.require_authenticated()
    await _queue_scope(session, actor, None)


async def queue_page(
    session: AsyncSession,
    actor: Actor,
    *,
    group_id: uuid.UUID | None = None,
    status: str | None = None,
    first: int | None = None,
    after: str | None = None,
) -> Page[QueueEntry]:
    """The queue, most urgent first (priority, then oldest first). `status` None: everything not
    decided yet. Staff moderators see every group; group moderators their groups; the care team
    the emergencies.

    Two sort keys (priority descending, age ascending) do not fit core.pagination.keyset_page's
    single key, so the keyset is written out here with the same cursor encoding and page cap."""
    scope = await _queue_scope(session, actor, group_id)
    size = page_size(first)
    stmt = select(ModerationItem).where(scope)
    if group_id is not None:
        stmt = stmt.where(ModerationItem.group_id == group_id)
    if status is None:
        stmt = stmt.where(ModerationItem.status != QueueStatus.DECIDED.value)
    elif status in {s.value for s in QueueStatus}:
        stmt = stmt.where(ModerationItem.status == status)
    else:
        raise DomainError("队列状态无效", field="status", code=Code.QUEUE_STATUS_INVALID)
    if after:
        priority, created_at, item_id = decode_cursor(after, 3, types=(int, datetime, uuid.UUID))
        stmt = stmt.where(
            or_(
                ModerationItem.priority < priority,
                and_(
                    ModerationItem.priority == priority,
                    tuple_(ModerationItem.created_at, ModerationItem.id) > tuple_(created_at, item_id),
                ),
            )
        )
    stmt = stmt.order_by(ModerationItem.priority.desc(), ModerationItem.created_at.asc(), ModerationItem.id.asc())
    rows = list((await session.scalars(stmt.limit(size + 1))).all())
    has_next = len(rows) > size
    rows = rows[:size]
    entries = await _entries(session, actor, rows)
    return Page(
        items=entries,
        cursors=[encode_cursor(r.priority, r.created_at, r.id) for r in rows],
        has_next_page=has_next,
        has_previous_page=after is not None,
    )


async def claim(session: AsyncSession, actor: Actor, item_id: uuid.UUID, version: int) -> ModerationItem:
    """Take an item to work on. A claim by someone else younger than CLAIM_TTL is respected."""
    item = await _get_item(session, actor, item_id)
    now = clock.now()
    _refuse_foreign_claim(actor, item, now)
    new_version = await session.scalar(
        update(ModerationItem)
        .where(
            ModerationItem.id == item_id,
            ModerationItem.version == version,
            ModerationItem.status != QueueStatus.DECIDED.value,
        )
        .values(
            status=QueueStatus.CLAIMED.value, claimed_by=actor.id, claimed_at=now, version=ModerationItem.version + 1
        )
        .returning(ModerationItem.version)
        .execution_options(synchronize_session=False)
    )
    if new_version is None:
        raise errors.VersionConflict()
    await session.refresh(item)
    await audit.record(
        session,
        actor,
        "moderation_claim",
        target_kind=item.target_kind,
        target_id=item.target_id,
        group_id=item.group_id,
        detail={"item_id": str(item.id), "version": new_version, **_emergency_flag(item)},
    )
    return item


def _refuse_foreign_claim(actor: Actor, item: ModerationItem, now: datetime) -> None:
    if (
        item.status == QueueStatus.CLAIMED
        and item.claimed_by is not None
        and item.claimed_by != actor.id
        and item.claimed_at is not None
        and item.claimed_at > now - CLAIM_TTL
    ):
        raise ItemClaimed()


def _emergency_flag(item: ModerationItem) -> dict[str, Any]:
    return {"emergency": True} if item.reason == ItemReason.EMERGENCY else {}
