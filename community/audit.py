"""The one append-only audit log of moderator actions (a database trigger refuses edits)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from community.models import AuditEntry
from core import clock
from core.identity import Actor
from core.ids import new_id


async def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_kind: str,
    target_id: uuid.UUID,
    group_id: uuid.UUID | None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        id=new_id(),
        actor_kind=actor.kind.value,
        actor_id=actor.id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        group_id=group_id,
        reason=(reason or None) and reason[:300],
        detail=detail or {},
        created_at=clock.now(),
    )
    session.add(entry)
    return entry
