"""Campaign stats and attribution (last touch).

A completed visit (status completed now, i.e. not refunded) converts for the campaign of the
patient's LATEST delivered campaign message before it, if that message was delivered at most
`attribution_days` (default 30) days before the visit: delivered_at <= visited_at <=
delivered_at + 30 days. Each visit converts for at most one campaign; a campaign's `converted` counts
distinct patients with at least one such visit.

Points cost: the points awarded to those patients through the attributed visits themselves (the
visit's lots: completed-visit and spend rules, source_ref "visit:<id>", voided lots excluded). Points
the campaign did not cause (check-ins, referrals) are not counted.

All of it is one set-based query over loyalty's `visits` and `ledger_lots`, read-only.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns.config import get_campaign_settings
from campaigns.segments import READ_ROLES
from core.identity import Actor


@dataclass(frozen=True)
class CampaignConversion:
    campaign_id: uuid.UUID
    name: str
    audience: int
    sent: int
    delivered: int
    opened: int
    converted: int
    conversion_rate: float  # converted / delivered (0 when nothing was delivered)
    points_cost: int


_STATS = text(
    """
    WITH chosen AS (
        SELECT id, name FROM campaigns WHERE id = ANY(CAST(:ids AS uuid[]))
    ),
    counts AS (
        SELECT d.campaign_id,
               count(*) AS audience,
               count(d.sent_at) AS sent,
               count(d.delivered_at) AS delivered,
               count(d.opened_at) AS opened
        FROM campaign_deliveries d JOIN chosen c ON c.id = d.campaign_id
        GROUP BY d.campaign_id
    ),
    touched AS (
        SELECT DISTINCT d.patient_id FROM campaign_deliveries d JOIN chosen c ON c.id = d.campaign_id
        WHERE d.delivered_at IS NOT NULL
    ),
    attributed AS (
        SELECT v.id AS visit_id, v.patient_id, last.campaign_id
        FROM visits v
        JOIN touched t ON t.patient_id = v.patient_id
        CROSS JOIN LATERAL (
            SELECT d.campaign_id FROM campaign_deliveries d
            WHERE d.patient_id = v.patient_id AND d.delivered_at IS NOT NULL
              AND d.delivered_at <= v.visited_at
              AND d.delivered_at >= v.visited_at - make_interval(days => :days)
            ORDER BY d.delivered_at DESC, d.id DESC
            LIMIT 1
        ) AS last
        WHERE v.status = 'completed'
    ),
    conversions AS (
        SELECT a.campaign_id, count(DISTINCT a.patient_id) AS converted,
               coalesce(sum(p.points), 0) AS points_cost
        FROM attributed a
        LEFT JOIN LATERAL (
            SELECT sum(l.amount) AS points FROM ledger_lots l
            WHERE l.patient_id = a.patient_id AND l.source_ref = 'visit:' || a.visit_id::text
              AND l.status <> 'voided'
        ) AS p ON true
        WHERE a.campaign_id IN (SELECT id FROM chosen)
        GROUP BY a.campaign_id
    )
    SELECT c.id, c.name,
           coalesce(n.audience, 0) AS audience, coalesce(n.sent, 0) AS sent,
           coalesce(n.delivered, 0) AS delivered, coalesce(n.opened, 0) AS opened,
           coalesce(v.converted, 0) AS converted, coalesce(v.points_cost, 0) AS points_cost
    FROM chosen c
    LEFT JOIN counts n ON n.campaign_id = c.id
    LEFT JOIN conversions v ON v.campaign_id = c.id
    """
)


async def stats_for(session: AsyncSession, campaign_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CampaignConversion]:
    if not campaign_ids:
        return {}
    days = get_campaign_settings().attribution_days
    rows = await session.execute(_STATS, {"ids": list(campaign_ids), "days": days})
    out: dict[uuid.UUID, CampaignConversion] = {}
    for r in rows:
        delivered = int(r.delivered)
        out[r.id] = CampaignConversion(
            campaign_id=r.id,
            name=r.name,
            audience=int(r.audience),
            sent=int(r.sent),
            delivered=delivered,
            opened=int(r.opened),
            converted=int(r.converted),
            conversion_rate=round(int(r.converted) / delivered, 4) if delivered else 0.0,
            points_cost=int(r.points_cost),
        )
    return out


async def campaign_stats(session: AsyncSession, actor: Actor, campaign_id: uuid.UUID) -> CampaignConversion | None:
    actor.require_role(*READ_ROLES)
    return (await stats_for(session, [campaign_id])).get(campaign_id)


async def conversion_summary(session: AsyncSession, *, since: datetime, until: datetime) -> list[CampaignConversion]:
    """For dashboards (no actor: the caller authorises): every campaign started in [since, until),
    newest first. Journeys start one campaign per journey and day."""
    ids = list(
        await session.scalars(
            text(
                "SELECT id FROM campaigns WHERE started_at >= :since AND started_at < :until "
                "ORDER BY started_at DESC, id DESC"
            ),
            {"since": since, "until": until},
        )
    )
    found = await stats_for(session, ids)
    return [found[i] for i in ids if i in found]
