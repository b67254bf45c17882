"""Opens and clicks: recorded once per delivery and reported as `message.engaged` outbox events.

In-app: marking a message read is an open, following its link a click. E-mail: the open pixel
`/t/o/{token}` and the tracked link `/t/c/{token}`. A click implies an open (a mail client that
blocks images still lets the patient click). Campaigns handle the topic (delivery states, stats).
The token is the delivery id with an HMAC, so a guessed or altered token is rejected without a
table of tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, outbox
from core.settings import get_settings
from messaging.models import MessageDelivery

ENGAGED_TOPIC = "message.engaged"
Kind = Literal["opened", "clicked"]
_MAC_BYTES = 12


def _mac(raw: bytes) -> bytes:
    key = get_settings().secret_key.encode()
    return hmac.new(key, b"message-track:" + raw, hashlib.sha256).digest()[:_MAC_BYTES]


def token_for(delivery_id: uuid.UUID) -> str:
    raw = delivery_id.bytes
    return base64.urlsafe_b64encode(raw + _mac(raw)).decode().rstrip("=")


def delivery_from_token(token: str) -> uuid.UUID | None:
    try:
        blob = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode())
    except (binascii.Error, ValueError):
        return None
    raw, mac = blob[:16], blob[16:]
    if len(raw) != 16 or not hmac.compare_digest(mac, _mac(raw)):
        return None
    return uuid.UUID(bytes=raw)


def tracked_link_url(delivery_id: uuid.UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/t/c/{token_for(delivery_id)}"


def open_pixel_url(delivery_id: uuid.UUID) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/t/o/{token_for(delivery_id)}"


async def _mark(session: AsyncSession, source_ref: str, kind: Kind, at: datetime) -> bool:
    column = MessageDelivery.opened_at if kind == "opened" else MessageDelivery.clicked_at
    marked = await session.scalar(
        update(MessageDelivery)
        .where(MessageDelivery.source_ref == source_ref, column.is_(None))
        .values({column.key: at})
        .returning(MessageDelivery.id)
    )
    if marked is None:
        return False  # already recorded, or not a tracked delivery
    await outbox.emit(session, ENGAGED_TOPIC, {"source_ref": source_ref, "kind": kind, "at": at.isoformat()})
    return True


async def record(session: AsyncSession, source_ref: str, kind: Kind) -> bool:
    """Record an open or a click (first time only); True when something new was recorded."""
    at = clock.now()
    opened = await _mark(session, source_ref, "opened", at)
    if kind == "opened":
        return opened
    return await _mark(session, source_ref, "clicked", at) or opened


async def record_by_token(session: AsyncSession, token: str, kind: Kind) -> MessageDelivery | None:
    """For the tracking routes: the delivery behind `token` (None if the token is not ours)."""
    delivery_id = delivery_from_token(token)
    if delivery_id is None:
        return None
    delivery = await session.scalar(select(MessageDelivery).where(MessageDelivery.id == delivery_id))
    if delivery is not None:
        await record(session, delivery.source_ref, kind)
    return delivery
