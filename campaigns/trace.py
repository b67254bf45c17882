"""Why did this patient get this message: every campaign delivery (sent, deferred or skipped, with the
reason the runner and the sender recorded) and every other message the outreach policy let out to one
patient (invitations, event notices, points reminders: messaging/outreach_log.py), newest first.

For the marketing staff (marketers and admins). Deliveries of a campaign chosen by condition tell the
reader the patient has one of those conditions: those reads are recorded in the PHI read audit, as the
campaign's delivery list records them (service.deliveries_page).

One page merges the two sources by (time, id): each is read strictly after the cursor, `first + 1` rows
of each, and the newest `first` of both are kept, so the pages are stable however the two interleave.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns.models import Campaign, Delivery
from core.errors import CoreCode, NotFound
from core.identity import Actor, Role
from core.pagination import Page, decode_cursor, encode_cursor, page_size
from messaging import outreach_log
from patients.queries import patients_by_ids
from privacy import reads
from privacy.models import PhiKind

TRACE_ROLES = (Role.MARKETER,)  # admins hold every role


@dataclass(frozen=True)
class Entry:
    at: datetime
    id: uuid.UUID
    delivery: Delivery | None = None
    sent: outreach_log.Sent | None = None


async def _deliveries(
    session: AsyncSession, patient_id: uuid.UUID, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Delivery]:
    stmt = select(Delivery).where(Delivery.patient_id == patient_id)
    if before is not None:
        at, last = before
        stmt = stmt.where(or_(Delivery.created_at < at, and_(Delivery.created_at == at, Delivery.id < last)))
    return list(await session.scalars(stmt.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit)))


async def patient_trace(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, first: int | None, after: str | None
) -> Page[Entry]:
    actor.require_role(*TRACE_ROLES)
    size = page_size(first)
    before = None
    if after:
        at, last = decode_cursor(after, 2, types=(datetime, uuid.UUID))
        before = (at, last)
    if patient_id not in await patients_by_ids(session, [patient_id]):
        raise NotFound("患者不存在", field="patientId", code=CoreCode.PATIENT_NOT_FOUND)
    entries = [Entry(d.created_at, d.id, delivery=d) for d in await _deliveries(session, patient_id, before, size + 1)]
    sends = await outreach_log.sends_before(session, patient_id, before=before, limit=size + 1)
    entries += [Entry(s.at, s.id, sent=s) for s in sends]
    entries.sort(key=lambda e: (e.at, e.id), reverse=True)
    page = entries[:size]
    campaign_ids = {e.delivery.campaign_id for e in page if e.delivery is not None}
    if campaign_ids:
        campaigns = await session.scalars(select(Campaign).where(Campaign.id.in_(campaign_ids)))
        if any((c.criteria_snapshot or {}).get("conditions") for c in campaigns):
            await reads.record_reads(session, actor, PhiKind.CONDITIONS, [patient_id])
    return Page(
        items=page,
        cursors=[encode_cursor(e.at, e.id) for e in page],
        has_next_page=len(entries) > size,
        has_previous_page=after is not None,
    )
