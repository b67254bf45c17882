"""Helpers of the notification tests: run the fan-out as a worker would, read someone's notifications
straight from the table, name people, set levels and preferences."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update

from community import groups
from community.models import Membership
from core.db import unit_of_work
from core.identity import Actor
from patients.models import Patient
from social import fanout, notifications
from social.models import Notification, NotifyRun
from tests.social.support import account_of


async def drain() -> int:
    """Every unfinished run, run to its end as the worker's job does; the notifications created."""
    total = 0
    while True:
        async with unit_of_work() as session:
            ids = list(
                await session.scalars(
                    select(NotifyRun.id).where(NotifyRun.status != "done").order_by(NotifyRun.created_at)
                )
            )
        if not ids:
            return total
        for run_id in ids:
            total += await fanout.run(run_id)


async def notes_of(actor: Actor, kind: str | None = None) -> list[Notification]:
    """The person's notifications as stored (oldest first), of one kind if given."""
    account = account_of(actor)
    stmt = select(Notification).where(
        Notification.recipient_kind == account.kind, Notification.recipient_id == account.id
    )
    if kind is not None:
        stmt = stmt.where(Notification.kind == kind)
    async with unit_of_work() as session:
        return list(await session.scalars(stmt.order_by(Notification.created_at, Notification.id)))


async def all_notes() -> list[Notification]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(Notification)))


async def nickname(actor: Actor, name: str) -> None:
    async with unit_of_work() as session:
        await session.execute(update(Patient).where(Patient.id == actor.id).values(nickname=name))


async def set_level(actor: Actor, group_id: uuid.UUID, level: str) -> None:
    async with unit_of_work() as session:
        await groups.set_notification_level(session, actor, group_id, level)


async def set_pref(actor: Actor, kind: str, channel: str, enabled: bool) -> None:
    async with unit_of_work() as session:
        await notifications.update_preferences(session, actor, [notifications.Change(kind, channel, enabled)])


async def membership_state(group_id: uuid.UUID, actor: Actor, state: str) -> None:
    async with unit_of_work() as session:
        await session.execute(
            update(Membership)
            .where(Membership.group_id == group_id, Membership.account_id == actor.id)
            .values(state=state)
        )
