"""Channel senders: take due queued deliveries of one channel and hand them to messaging.

Each batch is one transaction that claims its rows with FOR UPDATE SKIP LOCKED, so several workers
share the queue and never take the same row; a row leaves `queued` in the same transaction that
delivered it, and messaging's `deliver` is idempotent per source_ref, so a crash between the two
re-sends nothing. Before sending, each row is checked again against the one outreach policy
(messaging/outreach.py), because time passed since it was materialised: suppression and consent
(withdrawn since?) skip it, consent always winning; the frequency cap of its class (counted across
campaigns, journeys, invitations and notices) skips it; the patient's quiet hours move `not_before`
to their end (deferred, not dropped). The patients of a batch are locked first, so two senders
(other channels, an invitation run) cannot both pass the cap for the same patient.
Throughput per channel is capped by a per-second counter in Redis shared by all workers.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns.config import get_campaign_settings
from campaigns.models import Campaign, CampaignClass, CampaignStatus, Delivery, DeliveryStatus, JourneyOccasion
from community.models import Event
from core import clock, jobs, queue
from core.channels import ChannelName
from core.db import unit_of_work
from core.settings import get_settings
from loyalty.models import Account
from messaging import outreach, templates
from messaging.delivery import Outgoing, deliver
from messaging.outreach import MessageClass, Verdict, zone
from patients.models import Patient

SEND = jobs.register("campaigns.send", "Send due campaign deliveries of one channel, throttled")
SENT_STATES = (DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.OPENED, DeliveryStatus.CLICKED)


async def enqueue_send(channel: str) -> bool:
    return await SEND.enqueue(channel, key=(channel,))


async def reserve(channel: str, want: int) -> int:
    """Take up to `want` send slots of the current second for `channel` (0: wait for the next one)."""
    rate = get_campaign_settings().rate(channel)
    pool = await queue.get_pool()
    key = f"portal:campaigns:rate:{channel}:{int(time.time())}"
    # INCRBY and EXPIRE in one MULTI: a worker killed between two separate commands would leave a
    # counter without expiry behind for good.
    async with pool.pipeline(transaction=True) as pipe:
        pipe.incrby(key, want)
        pipe.expire(key, 5)
        used = int((await pipe.execute())[0])
    return max(0, min(want, rate - (used - want)))


async def send_due(channel: str, *, max_seconds: float = 50.0, limit: int | None = None) -> int:
    """Job `campaigns.send`: batches until nothing is due, `limit` rows were handled, or time is up."""
    settings = get_campaign_settings()
    started = time.monotonic()
    total = 0
    while time.monotonic() - started < max_seconds and (limit is None or total < limit):
        want = min(settings.send_batch_size, settings.rate(channel), *([limit - total] if limit else []))
        granted = await reserve(channel, want)
        if granted == 0:
            await asyncio.sleep(1.0 - (time.time() % 1.0) + 0.001)
            continue
        async with unit_of_work() as session:
            handled = await send_batch(session, channel, granted)
        total += handled
        if handled < granted:
            break
    return total


async def send_batch(session: AsyncSession, channel: str, size: int) -> int:
    now = clock.now()
    claimed = (
        await session.execute(
            select(Delivery.id, Delivery.patient_id, Delivery.campaign_id, Delivery.kind, Delivery.reason)
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.channel == channel,
                Delivery.status == DeliveryStatus.QUEUED,
                Delivery.not_before <= now,
                Campaign.status == CampaignStatus.RUNNING,
            )
            .order_by(Delivery.not_before)
            .limit(size)
            .with_for_update(of=Delivery, skip_locked=True)
        )
    ).all()
    if not claimed:
        return 0
    patient_ids = sorted({r.patient_id for r in claimed})
    await outreach.lock(session, patient_ids)
    campaigns = {
        c.id: c
        for c in await session.scalars(select(Campaign).where(Campaign.id.in_({r.campaign_id for r in claimed})))
    }
    policy = await outreach.recipients(session, patient_ids, now)
    facts = await _facts(session, patient_ids)
    extras = await _journey_extras(session, list(claimed), campaigns)
    sends = outreach.Sends()
    updates: list[dict[str, Any]] = []
    for row in claimed:
        campaign = campaigns[row.campaign_id]
        f = facts[row.patient_id]
        r = policy[row.patient_id]
        message_class = MessageClass(row.kind)
        decision = outreach.decide(r, message_class, channel, now)
        if decision.verdict == Verdict.SKIP:
            assert decision.reason is not None
            updates.append(_skip(row, decision.reason.value, decision.detail))
            continue
        if decision.verdict == Verdict.DEFER:
            updates.append({"id": row.id, "not_before": decision.until})
            continue
        variables = _variables(campaign, f, extras.get((row.campaign_id, row.patient_id), {}))
        outgoing = Outgoing(
            channel=ChannelName(channel),
            patient_id=row.patient_id,
            subject=templates.render(campaign.subject, variables, field="subject") if campaign.subject else None,
            body=templates.render(campaign.body_for(channel), variables),
            link=campaign.link,
            source_ref=f"campaign_delivery:{row.id}",
            kind="marketing" if row.kind == CampaignClass.MARKETING else "notice",
        )
        result = await deliver(session, outgoing)
        at = clock.now()
        if result.status == "failed":
            updates.append(
                {"id": row.id, "status": DeliveryStatus.FAILED, "failed_at": at, "error": (result.error or "")[:200]}
            )
            continue
        sends.add(r, message_class, channel, outgoing.source_ref, at)  # later rows of this batch count it
        # Only a delivery known to have arrived counts as delivered: a provider's acceptance (queued,
        # sent) waits for its receipt (engagement.record_status), a development recorder reached nobody.
        delivered = result.status == "delivered"
        updates.append(
            {
                "id": row.id,
                "status": DeliveryStatus.DELIVERED if delivered else DeliveryStatus.SENT,
                "sent_at": at,
                "delivered_at": at if delivered else None,
            }
        )
    await sends.flush(session)
    await _write(session, updates)
    return len(claimed)


def _skip(row: Any, reason: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": DeliveryStatus.SKIPPED,
        "skip_reason": reason,
        "reason": {**(row.reason or {}), "at_send": detail},
    }


async def _write(session: AsyncSession, updates: list[dict[str, Any]]) -> None:
    """Bulk UPDATE by primary key, one executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for u in updates:
        groups.setdefault(tuple(sorted(u)), []).append(u)
    for rows in groups.values():
        await session.execute(update(Delivery), rows)


async def _facts(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Per patient, the template variables' sources: timezone, nickname, points balance."""
    rows = await session.execute(
        select(Patient.id, Patient.timezone, Patient.nickname, func.coalesce(Account.balance, 0).label("points"))
        .outerjoin(Account, (Account.patient_id == Patient.id) & (Account.kind == "available"))
        .where(Patient.id.in_(ids))
    )
    return {r.id: {"timezone": r.timezone, "nickname": r.nickname, "points": int(r.points)} for r in rows}


async def _journey_extras(
    session: AsyncSession, claimed: list[Any], campaigns: dict[uuid.UUID, Campaign]
) -> dict[tuple[uuid.UUID, uuid.UUID], dict[str, str]]:
    journey_ids = [c.id for c in campaigns.values() if c.journey_key is not None]
    out: dict[tuple[uuid.UUID, uuid.UUID], dict[str, str]] = {}
    event_ids = {c.event_id for c in campaigns.values() if c.event_id is not None}
    titles = (
        dict((await session.execute(select(Event.id, Event.title).where(Event.id.in_(event_ids)))).all())
        if event_ids
        else {}
    )
    for row in claimed:
        campaign = campaigns[row.campaign_id]
        if campaign.event_id in titles:
            out[(row.campaign_id, row.patient_id)] = {"event_title": titles[campaign.event_id]}
    if journey_ids:
        for cid, pid, extra in await session.execute(
            select(JourneyOccasion.campaign_id, JourneyOccasion.patient_id, JourneyOccasion.extra).where(
                JourneyOccasion.campaign_id.in_(journey_ids),
                JourneyOccasion.patient_id.in_({r.patient_id for r in claimed}),
            )
        ):
            out.setdefault((cid, pid), {}).update({k: str(v) for k, v in (extra or {}).items()})
    return out


def _variables(campaign: Campaign, f: dict[str, Any], extra: dict[str, str]) -> dict[str, str]:
    local = clock.now().astimezone(zone(f["timezone"]))
    values = {name: "" for name in templates.VARIABLES}
    values.update(
        {
            "nickname": f["nickname"],
            "brand": get_settings().brand_name,
            "points": str(f["points"]),
            "link": campaign.link or "",
            "date": local.strftime("%Y年%m月%d日"),
        }
    )
    values.update(extra)
    return values


async def channels_with_due(session: AsyncSession) -> list[str]:
    rows = await session.scalars(
        select(Delivery.channel)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.not_before <= clock.now(),
            Campaign.status == CampaignStatus.RUNNING,
        )
        .group_by(Delivery.channel)
    )
    return [c for c in rows if c]
