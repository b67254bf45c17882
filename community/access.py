"""Who may see and do what in a group. Every community service asks here; nothing else decides.

Membership of a disease group is health data: a secret group, its members and anyone's membership
in it are invisible to outsiders; for members-only and private groups outsiders see the group card
but no posts and no member list.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import errors
from community.models import Group, GroupVisibility, MemberRole, Membership, MemberState
from core import clock, rawsql
from core.identity import Actor, ActorKind, Role

STAFF_MODERATOR_ROLES = (Role.MODERATOR,)
STAFF_EXPERT_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)


@dataclass(slots=True)
class GroupRow:
    """A group as a hot read path loads it: the columns of `Group` under the same names, no ORM."""

    id: uuid.UUID
    slug: str
    name: str
    condition_code: str | None
    description: str
    rules_text: str
    cover_url: str | None
    visibility: str
    join_policy: str
    allow_anonymous: bool
    alias_prefix: str
    member_count: int
    join_question: str | None


@dataclass(slots=True)
class MemberRow:
    """The viewer's membership as the access rules read it (the columns of `Membership` they use)."""

    group_id: uuid.UUID
    role: str
    state: str
    muted_until: datetime | None
    banned_until: datetime | None
    notification_level: str


AnyGroup = Group | GroupRow
AnyMember = Membership | MemberRow


class Visible(Protocol):
    """What the visibility rules read of a group (a `Group`, a `GroupRow`, or a candidate row)."""

    @property
    def visibility(self) -> str: ...


_GROUP_COLUMNS = (
    "g.id, g.slug, g.name, g.condition_code, g.description, g.rules_text, g.cover_url, g.visibility, "
    "g.join_policy, g.allow_anonymous, g.alias_prefix, g.member_count, g.join_question"
)
# The group and the viewer's membership in one statement ($2/$3 NULL for an anonymous viewer).
_GROUP_BY_SLUG_SQL = f"""
SELECT {_GROUP_COLUMNS}, m.role, m.state, m.muted_until, m.banned_until, m.notification_level
FROM community_groups g
LEFT JOIN community_memberships m ON m.group_id = g.id AND m.account_kind = $2 AND m.account_id = $3
WHERE g.slug = $1
"""


def viewer_account(actor: Actor) -> tuple[str | None, uuid.UUID | None]:
    """(kind, id) of a signed-in patient or staff member; (None, None) for anyone else."""
    if actor.id is None or actor.kind not in (ActorKind.PATIENT, ActorKind.STAFF):
        return None, None
    return ("staff" if actor.kind is ActorKind.STAFF else "patient"), actor.id


async def group_by_slug(session: AsyncSession, actor: Actor, slug: str) -> tuple[GroupRow, MemberRow | None]:
    """The group and the viewer's membership as plain rows, in one prepared statement; a group the
    actor may not know of does not exist (the same rule as `get_group`)."""
    kind, account_id = viewer_account(actor)
    rows = await rawsql.fetch(session, _GROUP_BY_SLUG_SQL, slug, kind, account_id)
    if not rows:
        raise errors.GroupNotFound()
    r = rows[0]
    group = GroupRow(*r[:13])
    m = None if r[14] is None else MemberRow(group.id, r[13], r[14], r[15], r[16], r[17])
    if not can_see_group(actor, group, m):
        raise errors.GroupNotFound()
    return group, m


def account_of(actor: Actor) -> tuple[str, uuid.UUID]:
    """The (kind, id) a membership, post or reaction of this actor is stored under."""
    account_id = actor.require_authenticated()
    return ("staff" if actor.kind is ActorKind.STAFF else "patient"), account_id


async def membership(
    session: AsyncSession, group_id: uuid.UUID, actor: Actor, *, lock: bool = False
) -> Membership | None:
    if actor.id is None or actor.kind not in (ActorKind.PATIENT, ActorKind.STAFF):
        return None
    kind, account_id = account_of(actor)
    stmt = select(Membership).where(
        Membership.group_id == group_id, Membership.account_kind == kind, Membership.account_id == account_id
    )
    if lock:
        stmt = stmt.with_for_update()
    return await session.scalar(stmt)


async def memberships_of(
    session: AsyncSession, actor: Actor, group_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Membership]:
    if actor.id is None or actor.kind not in (ActorKind.PATIENT, ActorKind.STAFF) or not group_ids:
        return {}
    kind, account_id = account_of(actor)
    rows = await session.scalars(
        select(Membership).where(
            Membership.group_id.in_(group_ids), Membership.account_kind == kind, Membership.account_id == account_id
        )
    )
    return {m.group_id: m for m in rows}


# A read-only SQL fragment for other domains' one-statement reads (content.access.load_viewer composes
# it as a LATERAL subquery): the groups patient $1 is an active member of at $2, by `is_active`'s rule
# (active, or a ban that has run out), as group_ids ('{}' for none). Served by ix_memberships_account.
ACTIVE_GROUP_IDS_SQL = """SELECT coalesce(array_agg(group_id), '{}') AS group_ids FROM community_memberships
WHERE account_kind = 'patient' AND account_id = $1
  AND (state = 'active' OR (state = 'banned' AND banned_until <= $2))"""


def is_active(m: AnyMember | None, now: datetime | None = None) -> bool:
    if m is None or m.state not in (MemberState.ACTIVE, MemberState.BANNED):
        return False
    if m.state == MemberState.BANNED:
        now = now or clock.now()
        return m.banned_until is not None and m.banned_until <= now  # the ban has run out
    return True


def is_staff_moderator(actor: Actor) -> bool:
    return actor.has_role(*STAFF_MODERATOR_ROLES)


def can_moderate(actor: Actor, m: AnyMember | None) -> bool:
    """Group moderators and owners, and staff with the moderator role (admins hold every role)."""
    return is_staff_moderator(actor) or (
        is_active(m) and m is not None and m.role in (MemberRole.MODERATOR, MemberRole.OWNER)
    )


def can_see_group(actor: Actor, group: Visible, m: AnyMember | None) -> bool:
    """Whether the group exists at all for this viewer (secret groups are unlisted)."""
    if group.visibility != GroupVisibility.SECRET:
        return True
    return is_staff_moderator(actor) or (m is not None and m.state in (MemberState.ACTIVE, MemberState.INVITED))


def can_read_posts(actor: Actor, group: Visible, m: AnyMember | None) -> bool:
    if group.visibility == GroupVisibility.PUBLIC:
        return True
    return is_staff_moderator(actor) or is_active(m)


def can_see_members(actor: Actor, group: AnyGroup, m: AnyMember | None) -> bool:
    return can_read_posts(actor, group, m) and (
        group.visibility != GroupVisibility.SECRET or is_active(m) or is_staff_moderator(actor)
    )


async def get_group(session: AsyncSession, actor: Actor, group_id: uuid.UUID) -> tuple[Group, Membership | None]:
    """The group and the actor's membership; a group the actor may not know of does not exist."""
    group = await session.get(Group, group_id)
    if group is None:
        raise errors.GroupNotFound()
    m = await membership(session, group_id, actor)
    if not can_see_group(actor, group, m):
        raise errors.GroupNotFound()
    return group, m


async def require_reader(session: AsyncSession, actor: Actor, group_id: uuid.UUID) -> tuple[Group, Membership | None]:
    group, m = await get_group(session, actor, group_id)
    check_reader(actor, group, m)
    return group, m


def check_reader(actor: Actor, group: AnyGroup, m: AnyMember | None) -> None:
    """The read check of every post path, for a group and membership already loaded."""
    if not can_read_posts(actor, group, m):
        raise errors.NotMember()


async def require_participant(
    session: AsyncSession, actor: Actor, group_id: uuid.UUID, *, crisis: bool = False
) -> tuple[Group, Membership]:
    """An active member who may post or comment now: not muted, not banned. A member writing a crisis
    text passes a mute or a ban: the text is kept visible to its author and staff only, and help comes."""
    group, m = await get_group(session, actor, group_id)
    now = clock.now()
    if m is None or m.state in (MemberState.PENDING, MemberState.INVITED, MemberState.LEFT, MemberState.REJECTED):
        raise errors.NotMember()
    if crisis:
        return group, m
    if m.state == MemberState.BANNED and (m.banned_until is None or m.banned_until > now):
        raise errors.MemberBanned()
    if m.muted_until is not None and m.muted_until > now:
        until = m.muted_until.astimezone(clock.local_now("Asia/Shanghai").tzinfo).strftime("%Y-%m-%d %H:%M")
        raise errors.MemberMuted(f"您已被禁言至{until}，暂时不能发言")
    return group, m


# `readable_group_ids`' candidates with the viewer's membership ($1/$2 NULL for an anonymous viewer):
# the public groups and the viewer's own, or every group for staff moderators.
_CANDIDATES_SQL = """
SELECT g.id, g.visibility, m.role, m.state, m.muted_until, m.banned_until, m.notification_level
FROM community_groups g
LEFT JOIN community_memberships m ON m.group_id = g.id AND m.account_kind = $1 AND m.account_id = $2
"""
_CANDIDATES = {
    "own": f"{_CANDIDATES_SQL}WHERE g.visibility = '{GroupVisibility.PUBLIC.value}' OR m.group_id IS NOT NULL",
    "all": _CANDIDATES_SQL,
}


@dataclass(slots=True)
class _Candidate:
    id: uuid.UUID
    visibility: str


async def readable_group_ids(session: AsyncSession, actor: Actor) -> list[uuid.UUID]:
    """The groups whose posts the viewer may read, by `can_see_group` and `can_read_posts` for each
    candidate (the public groups and the viewer's own; every group for staff moderators): the filter of
    every read across groups (post search, bookmarks, the following feed). One prepared statement of
    plain rows: it runs on every such request."""
    kind, account_id = viewer_account(actor)
    sql = _CANDIDATES["all" if is_staff_moderator(actor) else "own"]
    readable: list[uuid.UUID] = []
    for r in await rawsql.fetch(session, sql, kind, account_id):
        group = _Candidate(r[0], r[1])
        m = None if r[3] is None else MemberRow(r[0], r[2], r[3], r[4], r[5], r[6])
        if can_see_group(actor, group, m) and can_read_posts(actor, group, m):
            readable.append(r[0])
    return readable
