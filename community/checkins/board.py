"""Group boards: who checked in to a group on a date, as nicknames and a count, never a value."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, errors
from community.checkins.dates import local_date
from community.checkins.rules import MAX_BOARD_MEMBERS
from community.models import CheckIn, Membership, MemberState
from core import clock
from core.identity import Actor
from patients import queries as patient_queries
from privacy import reads
from privacy.models import PhiKind


@dataclass(frozen=True)
class BoardMember:
    nickname: str


@dataclass(frozen=True)
class Board:
    """Who checked in in a group on a date: names and a count, never a value."""

    date: date
    count: int
    members: list[BoardMember]


async def _viewer_today(session: AsyncSession, actor: Actor) -> date:
    tz: str | None = None
    if actor.is_patient and actor.id is not None:
        patient = (await patient_queries.patients_by_ids(session, [actor.id])).get(actor.id)
        tz = patient.timezone if patient is not None else None
    return local_date(clock.now(), tz)


async def group_board(
    session: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    on: date | None = None,
    *,
    limit: int = MAX_BOARD_MEMBERS,
) -> Board:
    """Members who checked in to the group on a date (default: the viewer's today), earliest first.

    Only for those who may read the group and see its members. Shows nicknames and the count of
    people, never a kind or a value; check-ins of people no longer active in the group are left out.
    """
    group, m = await access.require_reader(session, actor, group_id)
    if not access.can_see_members(actor, group, m):
        raise errors.NotMember()
    day = on or await _viewer_today(session, actor)
    people = (
        select(CheckIn.patient_id)
        .join(
            Membership,
            and_(
                Membership.group_id == CheckIn.group_id,
                Membership.account_kind == "patient",
                Membership.account_id == CheckIn.patient_id,
                Membership.state == MemberState.ACTIVE,
            ),
        )
        .where(CheckIn.group_id == group_id, CheckIn.local_date == day)
        .group_by(CheckIn.patient_id)
    )
    count = await session.scalar(select(func.count()).select_from(people.subquery())) or 0
    size = max(1, min(limit, MAX_BOARD_MEMBERS))
    ids = list(await session.scalars(people.order_by(func.min(CheckIn.created_at), CheckIn.patient_id).limit(size)))
    # No values, but who checked in to a condition's group that day is check-in data too.
    await reads.record_reads(session, actor, PhiKind.CHECKINS, ids)
    names = await patient_queries.patients_by_ids(session, ids) if ids else {}
    members = [BoardMember(nickname=names[i].nickname) for i in ids if i in names]
    return Board(date=day, count=int(count), members=members)
