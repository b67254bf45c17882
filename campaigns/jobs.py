"""Bodies of the campaign jobs and crons (workers/settings.py maps names to them)."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select, update

from campaigns import engagement, runner, sender, service  # noqa: F401  (engagement registers its handler)
from campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from core import clock, jobs
from core.db import unit_of_work

TICK = jobs.register("campaigns.tick", "Start due campaigns, finish done ones, wake runners and senders")


async def start_due(*, limit: int = 50) -> int:
    """Approved campaigns whose time has come start (row locks: two workers start each one once)."""
    now = clock.now()
    async with unit_of_work() as session:
        due = list(
            await session.scalars(
                select(Campaign)
                .where(
                    Campaign.status == CampaignStatus.APPROVED,
                    (Campaign.scheduled_at.is_(None)) | (Campaign.scheduled_at <= now),
                )
                .order_by(Campaign.scheduled_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for campaign in due:
            await service.start(session, campaign)
    return len(due)


async def finish_done() -> int:
    """Running campaigns fully materialised with nothing left queued are completed."""
    async with unit_of_work() as session:
        result = await session.execute(
            update(Campaign)
            .where(
                Campaign.status == CampaignStatus.RUNNING,
                Campaign.materialised_at.is_not(None),
                ~exists().where(Delivery.campaign_id == Campaign.id, Delivery.status == DeliveryStatus.QUEUED),
            )
            .values(status=CampaignStatus.COMPLETED, finished_at=clock.now())
        )
    return int(getattr(result, "rowcount", 0) or 0)


async def tick() -> dict[str, int]:
    """Cron `campaigns.tick` (every minute, and at start-up): a worker that was down catches up; the
    runner's and senders' job ids are deterministic, so waking them twice is harmless."""
    started = await start_due()
    async with unit_of_work() as session:
        pending: list[uuid.UUID] = await runner.running_unmaterialised(session)
        channels = await sender.channels_with_due(session)
    for campaign_id in pending:
        await runner.enqueue_materialise(campaign_id)
    for channel in channels:
        await sender.enqueue_send(channel)
    finished = await finish_done()
    return {"started": started, "materialising": len(pending), "channels": len(channels), "finished": finished}
