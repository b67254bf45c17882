"""Helpers for community tests: staff actors, groups, members."""

from __future__ import annotations

import uuid
from datetime import timedelta

from community import groups
from core import clock
from core.db import unit_of_work
from core.identity import Actor, ActorKind, Role
from tests.loyalty_support import as_patient, new_member

__all__ = ["as_patient", "make_group", "member_of", "new_member", "staff"]


def staff(*roles: Role) -> Actor:
    return Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset(roles))


MODERATOR = staff(Role.MODERATOR)


async def make_group(
    slug: str,
    *,
    visibility: str = "public",
    join_policy: str = "open",
    allow_anonymous: bool = False,
    alias_prefix: str = "糖友",
) -> uuid.UUID:
    async with unit_of_work() as session:
        group = await groups.create_group(
            session,
            MODERATOR,
            groups.GroupInput(
                slug=slug,
                name=f"测试群{slug}",
                visibility=visibility,
                join_policy=join_policy,
                condition_code="diabetes",
                allow_anonymous=allow_anonymous,
                alias_prefix=alias_prefix,
            ),
        )
    return group.id


async def member_of(group_id: uuid.UUID, patient_id: uuid.UUID | None = None, *, veteran: bool = True) -> uuid.UUID:
    """A patient who joined the group (admitted by a moderator if the group needs approval).
    Veterans joined a month ago, so the new-member posting limits do not apply to them."""
    patient_id = patient_id or await new_member()
    async with unit_of_work() as session:
        m = await groups.join(session, as_patient(patient_id), group_id)
        if m.state == "pending":
            await groups.decide_request(session, MODERATOR, m.id, approve=True)
        if veteran:
            m.joined_at = clock.now() - timedelta(days=30)
    return patient_id
