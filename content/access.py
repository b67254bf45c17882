"""Who may read which content. THE one access check: every path that shows content to a reader
(GraphQL item lookups, the feed, search, bookmarks, notifications) filters through `readable`.

An item is readable when it is live (published, not archived or taken down) and
- the viewer is content staff (marketer, reviewer, admin), who see every live item; or
- its audience matches the viewer: each targeting dimension that is set (conditions, groups,
  tiers, lifecycle stages) must match at least one of the viewer's values, and
- its gate lets the viewer in: public (anyone), members (signed-in patients), tier (patients of
  the minimum tier rank or higher); and
- a patient story still has its patient's consent (withdrawal also takes the story down at once).
Targeted items are for signed-in patients only: an anonymous reader matches no audience.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from community import access as community_access
from community.models import Membership, MemberState
from content.models import ContentItem, ContentKind, Gate, StoryConsent
from core import clock, rawsql
from core.identity import Actor, ActorKind, Role
from loyalty import lifecycle, tiers
from patients import queries as patient_queries

CONTENT_STAFF = (Role.MARKETER, Role.REVIEWER)
MEMBER_KIND = community_access.account_of(Actor(kind=ActorKind.PATIENT, id=uuid.UUID(int=0)))[0]
ACTIVE_STATES = (MemberState.ACTIVE, MemberState.BANNED)  # a ban that has run out counts (is_active decides)


@dataclass(frozen=True)
class Viewer:
    actor: Actor
    patient_id: uuid.UUID | None = None
    conditions: frozenset[str] = frozenset()
    group_ids: frozenset[uuid.UUID] = frozenset()
    tier_code: str | None = None
    tier_rank: int = 0
    stage: str | None = None
    staff: bool = False
    extra: dict[str, object] = field(default_factory=dict, compare=False)


def is_content_staff(actor: Actor) -> bool:
    return actor.kind is ActorKind.STAFF and actor.has_role(*CONTENT_STAFF)


async def _active_groups(session: AsyncSession, patient_ids: list[uuid.UUID]) -> dict[uuid.UUID, frozenset[uuid.UUID]]:
    """The community groups each patient is an active member of: one indexed read of their own
    memberships (read-only, judged by community's own rule), not a scan of every live item's audience."""
    rows = await session.scalars(
        select(Membership).where(
            Membership.account_kind == MEMBER_KIND,
            Membership.account_id.in_(patient_ids),
            Membership.state.in_(ACTIVE_STATES),
        )
    )
    now = clock.now()
    out: dict[uuid.UUID, set[uuid.UUID]] = {}
    for m in rows:
        if community_access.is_active(m, now):
            out.setdefault(m.account_id, set()).add(m.group_id)
    return {pid: frozenset(groups) for pid, groups in out.items()}


async def load_viewers(session: AsyncSession, patient_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Viewer]:
    """Viewers of many patients at once (notifications); five statements for any number."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return {}
    conditions = await patient_queries.conditions_by_patient(session, ids)
    progress = await tiers.progress_many(session, ids)
    stages = await lifecycle.stages_by_patient(session, ids)
    groups = await _active_groups(session, ids)
    out: dict[uuid.UUID, Viewer] = {}
    for pid in ids:
        tier = progress[pid].current if pid in progress else None
        stage = stages.get(pid)
        out[pid] = Viewer(
            actor=Actor(kind=ActorKind.PATIENT, id=pid),
            patient_id=pid,
            conditions=frozenset(c.code for c in conditions.get(pid, [])),
            group_ids=groups.get(pid, frozenset()),
            tier_code=tier.code if tier else None,
            tier_rank=tier.rank if tier else 0,
            stage=stage.stage if stage else None,
        )
    return out


# One reader's facts in one prepared statement, each part written by the domain that owns its tables
# (patients: conditions; loyalty: the current tier, as `tiers.progress` decides it, and the lifecycle
# stage; community: active groups, by `community.access.is_active`'s rule). $1 patient, $2 now.
_VIEWER_SQL = f"""SELECT c.condition_codes, t.tier_code, t.tier_rank, s.stage, g.group_ids
FROM (SELECT 1) AS one
LEFT JOIN LATERAL ({patient_queries.CONDITION_CODES_SQL}) AS c ON true
LEFT JOIN LATERAL ({tiers.CURRENT_TIER_SQL}) AS t ON true
LEFT JOIN LATERAL ({lifecycle.STAGE_SQL}) AS s ON true
LEFT JOIN LATERAL ({community_access.ACTIVE_GROUP_IDS_SQL}) AS g ON true"""


async def load_viewer(session: AsyncSession, actor: Actor) -> Viewer:
    """The reader of a request: one prepared statement for a patient (the same facts `load_viewers`
    reads in five), none for staff or an anonymous reader."""
    if is_content_staff(actor):
        return Viewer(actor=actor, staff=True)
    if actor.kind is ActorKind.PATIENT and actor.id is not None:
        return viewer_of_row(actor, (await rawsql.fetch(session, _VIEWER_SQL, actor.id, clock.now()))[0])
    return Viewer(actor=actor)


def _dimension(column: Any, values: frozenset[Any]) -> ColumnElement[bool]:
    unset = func.cardinality(column) == 0
    if not values:
        return unset
    return or_(unset, column.overlap(sorted(values)))


def is_live() -> ColumnElement[bool]:
    return and_(ContentItem.live_revision_id.is_not(None), ContentItem.archived_at.is_(None))


def readable(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL condition an item must meet to be shown to `viewer` (see the module docstring)."""
    if viewer.staff:
        return is_live()
    if viewer.patient_id is None:
        gate = ContentItem.gate == Gate.PUBLIC
    else:
        gate = or_(
            ContentItem.gate.in_([Gate.PUBLIC, Gate.MEMBERS]),
            and_(ContentItem.gate == Gate.TIER, func.coalesce(ContentItem.gate_min_tier_rank, 0) <= viewer.tier_rank),
        )
    consent = or_(
        ContentItem.kind != ContentKind.STORY,
        exists().where(
            StoryConsent.item_id == ContentItem.id,
            StoryConsent.patient_id == ContentItem.story_patient_id,
            StoryConsent.withdrawn_at.is_(None),
        ),
    )
    return and_(
        is_live(),
        gate,
        consent,
        _dimension(ContentItem.audience_conditions, viewer.conditions),
        _dimension(ContentItem.audience_group_ids, viewer.group_ids),
        _dimension(ContentItem.audience_tiers, frozenset({viewer.tier_code}) if viewer.tier_code else frozenset()),
        _dimension(ContentItem.audience_stages, frozenset({viewer.stage}) if viewer.stage else frozenset()),
    )


# `readable` as SQL text for the prepared hot reads (content.feed), on the alias `i`, with named
# parameters (:name, numbered by the statement that embeds it). The same rule as above, clause by clause
# (an unset dimension is written `= '{}'`, which the planner estimates from the column's statistics, where
# `cardinality(...) = 0` gets a default 0.5% each and the four of them made it sort every live item
# instead of reading the feed_rank index); tests/test_content_reading.py holds every path to it.
_LIVE_SQL = "i.live_revision_id IS NOT NULL AND i.archived_at IS NULL"
_CONSENT_SQL = (
    "(i.kind <> 'story' OR EXISTS (SELECT 1 FROM content_story_consents sc"
    " WHERE sc.item_id = i.id AND sc.patient_id = i.story_patient_id AND sc.withdrawn_at IS NULL))"
)
_ANONYMOUS_SQL = (
    f"{_LIVE_SQL} AND i.gate = 'public' AND {_CONSENT_SQL} AND i.audience_conditions = '{{}}'"
    " AND i.audience_group_ids = '{}' AND i.audience_tiers = '{}'"
    " AND i.audience_stages = '{}'"
)
_PATIENT_SQL = (
    f"{_LIVE_SQL}"
    " AND (i.gate IN ('public', 'members') OR (i.gate = 'tier' AND coalesce(i.gate_min_tier_rank, 0) <= :tier_rank))"
    f" AND {_CONSENT_SQL}"
    " AND (i.audience_conditions = '{}' OR i.audience_conditions && :conditions)"
    " AND (i.audience_group_ids = '{}' OR i.audience_group_ids && :group_ids)"
    " AND (i.audience_tiers = '{}' OR i.audience_tiers && :tiers)"
    " AND (i.audience_stages = '{}' OR i.audience_stages && :stages)"
)


# For a statement that reads the patient viewer itself: `_VIEWER_SQL` as a CTE `v` (:patient_id, :now)
# and `readable` over its columns instead of parameters, so the facts and the check are one snapshot.
VIEWER_CTE_SQL = _VIEWER_SQL.replace("$1", ":patient_id").replace("$2", ":now")
VIEWER_VALUES_SQL = {
    "conditions": "(SELECT v.condition_codes FROM v)",
    "group_ids": "(SELECT v.group_ids FROM v)",
    "tier_rank": "(SELECT coalesce(v.tier_rank, 0) FROM v)",
    "tiers": "(SELECT CASE WHEN v.tier_code IS NULL THEN '{}' ELSE ARRAY[v.tier_code] END FROM v)",
    "stages": "(SELECT CASE WHEN v.stage IS NULL THEN '{}' ELSE ARRAY[v.stage] END FROM v)",
}
READABLE_BY_V_SQL = rawsql.inline(_PATIENT_SQL, VIEWER_VALUES_SQL)


def viewer_of_row(actor: Actor, row: Any) -> Viewer:
    """The Viewer of a patient from the columns condition_codes, tier_code, tier_rank, stage, group_ids."""
    return Viewer(
        actor=actor,
        patient_id=actor.id,
        conditions=frozenset(row[0] or ()),
        group_ids=frozenset(row[4] or ()),
        tier_code=row[1],
        tier_rank=row[2] or 0,
        stage=row[3],
    )


def readable_sql(viewer: Viewer) -> tuple[str, dict[str, Any]]:
    """`readable(viewer)` as a SQL condition on `content_items i` and its parameter values. The text
    depends only on the kind of viewer (staff, anonymous, patient), so it is prepared once."""
    if viewer.staff:
        return _LIVE_SQL, {}
    if viewer.patient_id is None:
        return _ANONYMOUS_SQL, {}
    return _PATIENT_SQL, {
        "tier_rank": viewer.tier_rank,
        "conditions": sorted(viewer.conditions),
        "group_ids": sorted(viewer.group_ids),
        "tiers": [viewer.tier_code] if viewer.tier_code else [],
        "stages": [viewer.stage] if viewer.stage else [],
    }


async def readable_items(
    session: AsyncSession, viewer: Viewer, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ContentItem]:
    """The items among `ids` the viewer may read (the rest are simply absent)."""
    if not ids:
        return {}
    rows = await session.scalars(select(ContentItem).where(ContentItem.id.in_(list(ids)), readable(viewer)))
    return {i.id: i for i in rows}


async def can_read(session: AsyncSession, viewer: Viewer, item_id: uuid.UUID) -> bool:
    return bool(await session.scalar(select(true()).where(ContentItem.id == item_id, readable(viewer))))


async def readers_among(session: AsyncSession, item_id: uuid.UUID, patient_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    """Which of these patients may read the item: the filter every notification about it must pass."""
    viewers = await load_viewers(session, patient_ids)
    out = []
    for pid, viewer in viewers.items():
        if await can_read(session, viewer, item_id):
            out.append(pid)
    return out


__all__ = ["Viewer", "can_read", "load_viewer", "load_viewers", "readable", "readable_items", "readers_among"]
