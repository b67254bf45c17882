"""Notices about events (seat offers, lapsed offers, reminders, cancellations) and times as users read them.

A notice is claimed in `community_notices_sent` first (insert ... on conflict do nothing returning)
and sent through the outbox only when the claim was new, so a retried or overlapping cron never sends
one twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community.models import NoticeSent
from core import clock
from core.channels import ChannelName, Message
from core.settings import get_settings
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from social import notify


def local_text(at: datetime) -> str:
    """A time as users read it: Asia/Shanghai by default."""
    return at.astimezone(ZoneInfo(get_settings().default_timezone)).strftime("%m月%d日 %H:%M")


async def claim_notices(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """The keys not claimed before (by anyone, ever): send a notice only for these."""
    if not keys:
        return set()
    now = clock.now()
    claimed = await session.scalars(
        insert(NoticeSent)
        .values([{"key": k, "created_at": now} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(NoticeSent.key)
    )
    return set(claimed)


async def send_notice(
    session: AsyncSession, key: str, patient_id: uuid.UUID, subject: str, body: str, *, event_id: uuid.UUID
) -> bool:
    """One in-app notice to one patient (and into their notification centre), once per key."""
    if not await claim_notices(session, [key]):
        return False
    message = Message(ChannelName.IN_APP, str(patient_id), body, subject=subject)
    await outreach.notify(session, MessageClass.NOTICE, [Notice(patient_id, message, key)])
    await notify.event_notices(session, event_id=event_id, notices=[(patient_id, key, subject, body)])
    return True
