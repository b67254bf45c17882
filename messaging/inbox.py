"""The patient's in-app inbox: newest first, an unread count, read marks and live delivery.

Only the patient reads their own inbox; another patient's message is "not found", never
"forbidden", so ids cannot be probed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, pubsub
from core.identity import Actor
from core.ids import new_id
from core.pagination import Page, keyset_page
from messaging import engagement, errors
from messaging.models import InboxMessage

_inbox = cast(Table, InboxMessage.__table__)
# Built once (campaigns put thousands of messages per batch); columns come from the parameters.
_PUT = insert(_inbox).on_conflict_do_nothing(index_elements=["source_ref"]).returning(_inbox.c.id)


def inbox_channel(patient_id: uuid.UUID) -> str:
    return f"inbox:{patient_id}"


async def put(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    subject: str | None,
    body: str,
    link: str | None,
    source_ref: str,
    tracked: bool,
    message_id: uuid.UUID | None = None,
) -> uuid.UUID | None:
    """Insert once per source_ref; the subscriber hears of it after commit. None if already there."""
    row = {
        "id": message_id or new_id(),
        "patient_id": patient_id,
        "source_ref": source_ref,
        "subject": subject,
        "body": body,
        "link": link,
        "tracked": tracked,
        "created_at": clock.now(),
    }
    message_id = (await session.execute(_PUT, row)).scalar()
    if message_id is not None:
        _publish_after_commit(session, patient_id, message_id)
    return message_id


def _publish_after_commit(session: AsyncSession, patient_id: uuid.UUID, message_id: uuid.UUID) -> None:
    pubsub.publish_batch_after_commit(
        session, [(inbox_channel(patient_id), json.dumps({"message_id": str(message_id)}))]
    )


async def page(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None, unread_only: bool = False
) -> Page[InboxMessage]:
    patient_id = actor.require_patient()
    stmt = select(InboxMessage).where(InboxMessage.patient_id == patient_id)
    if unread_only:
        stmt = stmt.where(InboxMessage.read_at.is_(None))
    return await keyset_page(
        session, stmt, sort=InboxMessage.created_at, id_=InboxMessage.id, first=first, after=after, descending=True
    )


async def unread_count(session: AsyncSession, actor: Actor) -> int:
    patient_id = actor.require_patient()
    count = await session.scalar(
        select(func.count())
        .select_from(InboxMessage)
        .where(InboxMessage.patient_id == patient_id, InboxMessage.read_at.is_(None))
    )
    return int(count or 0)


async def messages_by_ids(
    session: AsyncSession, actor: Actor, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, InboxMessage]:
    """The actor's own messages among `ids` (others are simply absent)."""
    if not actor.is_patient or actor.id is None or not ids:
        return {}
    rows = await session.scalars(
        select(InboxMessage).where(InboxMessage.id.in_(ids), InboxMessage.patient_id == actor.id)
    )
    return {m.id: m for m in rows}


async def _own(session: AsyncSession, actor: Actor, message_id: uuid.UUID) -> InboxMessage:
    patient_id = actor.require_patient()
    message = await session.scalar(
        select(InboxMessage)
        .where(InboxMessage.id == message_id, InboxMessage.patient_id == patient_id)
        .with_for_update()
    )
    if message is None:
        raise errors.InboxMessageNotFound(field="id")
    return message


async def mark_read(session: AsyncSession, actor: Actor, message_id: uuid.UUID) -> InboxMessage:
    """Reading is an open; marking twice changes nothing and reports nothing twice."""
    message = await _own(session, actor, message_id)
    if message.read_at is None:
        message.read_at = clock.now()
        if message.tracked:
            await engagement.record(session, message.source_ref, "opened")
    return message


async def mark_all_read(session: AsyncSession, actor: Actor) -> int:
    patient_id = actor.require_patient()
    rows = (
        await session.execute(
            update(InboxMessage)
            .where(InboxMessage.patient_id == patient_id, InboxMessage.read_at.is_(None))
            .values(read_at=clock.now())
            .returning(InboxMessage.source_ref, InboxMessage.tracked)
        )
    ).all()
    for source_ref, tracked in rows:
        if tracked:
            await engagement.record(session, source_ref, "opened")
    return len(rows)


async def open_link(session: AsyncSession, actor: Actor, message_id: uuid.UUID) -> InboxMessage:
    """Following the message's link: a click (and an open, if it was still unread)."""
    message = await _own(session, actor, message_id)
    if not message.link:
        raise errors.NoLink(field="id")
    now = clock.now()
    message.read_at = message.read_at or now
    if message.clicked_at is None:
        message.clicked_at = now
        if message.tracked:
            await engagement.record(session, message.source_ref, "clicked")
    return message
