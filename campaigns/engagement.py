"""Opens and clicks reported by messaging (outbox topic "message.engaged") move deliveries forward.

The payload carries the source_ref the sender gave messaging (f"campaign_delivery:{id}"). States
only move forward (sent < delivered < opened < clicked); a click implies an open; a repeat changes
nothing. Other source_refs (surveys, notices) are not ours and are ignored.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import case, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns.models import Delivery, DeliveryStatus
from core import outbox

TOPIC = "message.engaged"
PREFIX = "campaign_delivery:"
_RANK = {DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.OPENED: 3, DeliveryStatus.CLICKED: 4}


async def record(session: AsyncSession, source_ref: str, kind: str, at: datetime) -> bool:
    if not source_ref.startswith(PREFIX) or kind not in ("opened", "clicked"):
        return False
    try:
        delivery_id = uuid.UUID(source_ref.removeprefix(PREFIX))
    except ValueError:
        return False
    movable = [s.value for s, rank in _RANK.items() if rank < _RANK[DeliveryStatus(kind)]]
    values: dict[str, object] = {"opened_at": func.coalesce(Delivery.opened_at, at)}
    if kind == "clicked":
        values["clicked_at"] = func.coalesce(Delivery.clicked_at, at)
    values["status"] = case((Delivery.status.in_(movable), kind), else_=Delivery.status)
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status.in_([s.value for s in _RANK]))
        .values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


@outbox.handler(TOPIC)
async def _on_engaged(session: AsyncSession, row: outbox.OutboxMessage) -> None:
    payload = row.payload
    at = datetime.fromisoformat(payload["at"]) if payload.get("at") else row.created_at
    await record(session, str(payload.get("source_ref", "")), str(payload.get("kind", "")), at)
