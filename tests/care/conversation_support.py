"""Helpers for care-team conversation tests: staff accounts as actors, home sites, what was paged,
recorded and sent."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select, update

from core.db import unit_of_work
from core.identity import Actor, ActorKind, Role
from core.outbox import OutboxMessage
from oncall.models import Page
from patients.models import Patient
from privacy.models import PhiRead
from tests.factories import make_staff

CRISIS = "我想自杀，活不下去了"


async def staff_member(email: str, roles: list[Role], site: uuid.UUID | None) -> Actor:
    """A staff account (the care team is read from the staff table) and its actor."""
    staff_id = await make_staff(email, roles, site)
    return Actor(kind=ActorKind.STAFF, id=staff_id, roles=frozenset(roles))


async def set_home_site(patient_id: uuid.UUID, site_id: uuid.UUID | None) -> None:
    async with unit_of_work() as session:
        await session.execute(update(Patient).where(Patient.id == patient_id).values(home_site_id=site_id))


async def pages(kind: str) -> list[Page]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(Page).where(Page.kind == kind).order_by(Page.created_at)))


async def phi_reads(patient_id: uuid.UUID, kind: str = "conversations") -> list[PhiRead]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(PhiRead).where(PhiRead.patient_id == patient_id, PhiRead.kind == kind).order_by(PhiRead.read_at)
            )
        )


async def sent_to(recipient: str) -> list[OutboxMessage]:
    async with unit_of_work() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.payload["recipient"].astext == recipient)
                .order_by(OutboxMessage.created_at)
            )
        )


async def count_sent(recipient: str, body: str) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.payload["recipient"].astext == recipient,
                    OutboxMessage.payload["body"].astext == body,
                )
            )
            or 0
        )
