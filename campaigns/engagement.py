"""Opens and clicks reported by messaging (outbox topic "message.engaged") move deliveries forward,
and so do provider receipts (topic "message.status": an SMS SENT until its receipt says delivered
or failed, a WeChat message that fell back to the inbox).

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


STATUS_TOPIC = "message.status"


async def record_status(session: AsyncSession, source_ref: str, status: str, at: datetime, error: str | None) -> bool:
    """SENT -> DELIVERED (delivered_at: what stats count) or SENT -> FAILED; anything else stays."""
    if not source_ref.startswith(PREFIX) or status not in ("delivered", "failed"):
        return False
    try:
        delivery_id = uuid.UUID(source_ref.removeprefix(PREFIX))
    except ValueError:
        return False
    values: dict[str, object] = (
        {"status": DeliveryStatus.DELIVERED, "delivered_at": at}
        if status == "delivered"
        else {"status": DeliveryStatus.FAILED, "failed_at": at, "error": (error or "")[:200] or None}
    )
    result = await session.execute(
        update(Delivery).where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENT).values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


@outbox.handler(STATUS_TOPIC)
async def _on_status(session: AsyncSession, row: outbox.OutboxMessage) -> None:
    payload = row.payload
    at = datetime.fromisoformat(payload["at"]) if payload.get("at") else row.created_at
    await record_status(
        session, str(payload.get("source_ref", "")), str(payload.get("status", "")), at, payload.get("error")
    )
