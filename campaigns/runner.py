"""The campaign runner: materialise a running campaign's audience into deliveries, batch by batch.

One transaction per batch (like community/invitations.py):
1. lock the campaign row (a second copy of the job waits, then continues from the advanced cursor);
2. read the next `batch_size` audience patients after the cursor, ordered by id, with the
   suppression reason computed in the same SQL (campaigns/segments.py);
3. one INSERT ... SELECT (`_INSERT`) chooses each patient's channel: the first of the campaign's
   channels with consent for the campaign's purpose (care -> "service", marketing -> "marketing")
   and an address; patients without one, and suppressed ones, get a skipped row (suppressed,
   no_consent, no_address) so every audience member is explained; ON CONFLICT (campaign_id,
   patient_id) DO NOTHING keeps one delivery per patient, ever;
4. advance the cursor; at the end mark the campaign materialised and wake the channel senders.

A run killed anywhere and run again, or two runs at once, therefore give each patient exactly one
delivery row, and the senders (campaigns/sender.py) send each row at most once.
Quiet hours: a delivery created during the patient's local quiet hours gets `not_before` = the end
of them; it is deferred, never dropped (messaging/outreach.py, the one policy the senders apply again).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import sender
from campaigns.config import get_campaign_settings
from campaigns.models import AudienceKind, Campaign, CampaignStatus, DeliveryStatus
from campaigns.segments import campaign_audience
from core import clock, jobs
from core.db import after_commit, unit_of_work
from core.ids import new_id
from messaging.outreach import get_outreach_settings, purpose_of
from patients.consents import in_force_sql
from patients.models import Patient

MATERIALISE = jobs.register("campaigns.materialise", "Materialise a running campaign's audience into deliveries")
_NIL = uuid.UUID(int=0)


async def enqueue_materialise(campaign_id: uuid.UUID) -> bool:
    return await MATERIALISE.enqueue(str(campaign_id), key=(campaign_id,))


async def materialise_batch(campaign_id: uuid.UUID, *, batch_size: int | None = None) -> tuple[int, bool]:
    """One batch in one transaction: (deliveries created, whether the audience is exhausted)."""
    async with unit_of_work() as session:
        created, done, channels = await _batch(session, campaign_id, batch_size or get_campaign_settings().batch_size)
        if channels:

            async def wake() -> None:
                for channel in channels:
                    await sender.enqueue_send(channel)

            after_commit(session, wake)
    return created, done


async def _batch(session: AsyncSession, campaign_id: uuid.UUID, size: int) -> tuple[int, bool, set[str]]:
    campaign = await session.scalar(select(Campaign).where(Campaign.id == campaign_id).with_for_update())
    if campaign is None or campaign.status != CampaignStatus.RUNNING or campaign.materialised_at is not None:
        return 0, True, set()
    now = clock.now()
    page = (
        campaign_audience(campaign, now)
        .add_columns(Patient.phone, Patient.email, Patient.timezone)
        .where(Patient.id > (campaign.cursor or _NIL))
        .order_by(Patient.id)
        .limit(size)
    )
    rows = (await session.execute(page)).all()
    if not rows:
        campaign.materialised_at = now
        return 0, True, set()
    ids = [r.patient_id for r in rows]
    quiet = get_outreach_settings()
    inserted = (
        await session.execute(
            _INSERT,
            {
                "ids": ids,
                "suppressed": [r.suppressed for r in rows],
                "new_ids": [new_id() for _ in rows],
                "phones": [r.phone for r in rows],
                "emails": [r.email for r in rows],
                "timezones": [r.timezone for r in rows],
                "campaign_id": campaign.id,
                "kind": campaign.kind,
                "purpose": purpose_of(campaign.kind),
                "channels": list(campaign.channels),
                "why": json.dumps(_why(campaign), ensure_ascii=False),
                "now": now,
                "quiet_on": quiet.quiet_start_hour != quiet.quiet_end_hour,
                "quiet_start": quiet.quiet_start_hour,
                "quiet_end": quiet.quiet_end_hour,
            },
        )
    ).all()
    done = len(rows) < size
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(
            cursor=ids[-1],
            audience_count=Campaign.audience_count + len(inserted),
            materialised_at=now if done else None,
        )
    )
    channels = {c for c, s in inserted if s == DeliveryStatus.QUEUED and c is not None}
    return len(inserted), done, channels


# One statement per batch, all in SQL (the page of audience ids and their suppression reason comes in
# as arrays): per patient, the first channel of the campaign's order with a granted consent for the
# campaign's purpose and an address; what was tried before it; the consent snapshot; quiet hours in
# the patient's zone. Skips are rows too (suppressed, no_consent, no_address), so every audience
# member is explained. Python never loops over patients here. Consent: patients.consents.in_force_sql.
_INSERT = text(
    f"""
    INSERT INTO campaign_deliveries
        (id, campaign_id, patient_id, kind, channel, status, skip_reason, reason, consent, not_before, created_at)
    SELECT a.new_id, CAST(:campaign_id AS uuid), a.patient_id, CAST(:kind AS text), chosen.ch,
           CASE WHEN chosen.ch IS NULL THEN 'skipped' ELSE 'queued' END,
           CASE WHEN a.suppressed IS NOT NULL THEN 'suppressed'
                WHEN chosen.ch IS NOT NULL THEN NULL
                WHEN tried.any_consent THEN 'no_address'
                ELSE 'no_consent' END,
           CASE WHEN a.suppressed IS NOT NULL
                    THEN CAST(:why AS jsonb) || jsonb_build_object('suppressed', a.suppressed)
                WHEN tried.tried IS NOT NULL THEN CAST(:why AS jsonb) || jsonb_build_object('tried', tried.tried)
                ELSE CAST(:why AS jsonb) END,
           CASE WHEN chosen.ch IS NOT NULL
                THEN jsonb_build_object('channel', chosen.ch, 'purpose', CAST(:purpose AS text),
                                        'given_at', chosen.changed_at, 'source', chosen.source,
                                        'notice_version', chosen.notice_version) END,
           CASE WHEN chosen.ch IS NOT NULL AND CAST(:quiet_on AS boolean) AND (
                    CASE WHEN CAST(:quiet_start AS int) > CAST(:quiet_end AS int)
                         THEN a.hour >= CAST(:quiet_start AS int) OR a.hour < CAST(:quiet_end AS int)
                         ELSE a.hour >= CAST(:quiet_start AS int) AND a.hour < CAST(:quiet_end AS int) END)
                THEN (CAST(a.local_now AS date) + CASE WHEN a.hour >= CAST(:quiet_end AS int) THEN 1 ELSE 0 END
                      + make_time(CAST(:quiet_end AS int), 0, 0)) AT TIME ZONE a.timezone
                ELSE CAST(:now AS timestamptz) END,
           CAST(:now AS timestamptz)
    FROM (
        SELECT u.*, l.local_now, extract(hour FROM l.local_now) AS hour
        FROM unnest(CAST(:ids AS uuid[]), CAST(:suppressed AS text[]), CAST(:new_ids AS uuid[]),
                    CAST(:phones AS text[]), CAST(:emails AS text[]), CAST(:timezones AS text[]))
             AS u(patient_id, suppressed, new_id, phone, email, timezone)
        CROSS JOIN LATERAL (SELECT CAST(:now AS timestamptz) AT TIME ZONE u.timezone AS local_now) AS l
    ) AS a
    -- the first channel (in the campaign's order) with a granted consent and an address
    LEFT JOIN LATERAL (
        SELECT c.ch, c.pos, k.source, k.changed_at, k.notice_version
        FROM unnest(CAST(:channels AS text[])) WITH ORDINALITY AS c(ch, pos)
        JOIN consents k ON k.patient_id = a.patient_id AND k.channel = c.ch
                       AND k.purpose = CAST(:purpose AS text) AND {in_force_sql("k")}
        WHERE a.suppressed IS NULL
          AND CASE c.ch WHEN 'sms' THEN coalesce(a.phone, '') <> ''
                        WHEN 'email' THEN coalesce(a.email, '') <> ''
                        ELSE true END  -- in-app: the account; WeChat: messaging's dev openid
        ORDER BY c.pos
        LIMIT 1
    ) AS chosen ON true
    -- the channels passed over before it (all of them when none fit), for the explanation
    LEFT JOIN LATERAL (
        SELECT bool_or(k.patient_id IS NOT NULL) AS any_consent,
               jsonb_agg(jsonb_build_object('channel', c.ch,
                                            'missing', CASE WHEN k.patient_id IS NULL THEN 'consent' ELSE 'address' END)
                         ORDER BY c.pos) AS tried
        FROM unnest(CAST(:channels AS text[])) WITH ORDINALITY AS c(ch, pos)
        LEFT JOIN consents k ON k.patient_id = a.patient_id AND k.channel = c.ch
                            AND k.purpose = CAST(:purpose AS text) AND {in_force_sql("k")}
        WHERE a.suppressed IS NULL AND c.pos < coalesce(chosen.pos, 2147483647)
        HAVING count(*) > 0
    ) AS tried ON true
    ON CONFLICT (campaign_id, patient_id) DO NOTHING
    RETURNING channel, status
    """
)


def _why(campaign: Campaign) -> dict[str, Any]:
    """Why a patient is in the audience (the criteria themselves are on the campaign, frozen)."""
    if campaign.audience_kind == AudienceKind.SEGMENT:
        snap = campaign.criteria_snapshot or {}
        return {"audience": "segment", "segment": snap.get("segment_name")}
    if campaign.audience_kind == AudienceKind.EVENT:
        return {"audience": "event", "event_id": str(campaign.event_id), "which": campaign.event_audience}
    return {"audience": "journey", "journey": (campaign.journey_key or "").split(":")[0]}


async def materialise(campaign_id: uuid.UUID, *, batch_size: int | None = None) -> int:
    """Job `campaigns.materialise`: batch after batch until the audience is exhausted or the campaign
    is paused/cancelled. Resumable from the cursor, so a retry continues where a crash stopped it."""
    total = 0
    while True:
        created, done = await materialise_batch(campaign_id, batch_size=batch_size)
        total += created
        if done:
            return total


async def running_unmaterialised(session: AsyncSession) -> list[uuid.UUID]:
    return list(
        await session.scalars(
            select(Campaign.id).where(Campaign.status == CampaignStatus.RUNNING, Campaign.materialised_at.is_(None))
        )
    )
