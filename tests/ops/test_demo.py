"""`make run` loads the demo once: the whole seed runs through the real services and is idempotent."""

from __future__ import annotations

from sqlalchemy import func, select

from campaigns.models import Campaign
from care.models import Complaint, Survey
from cli.demo import seed_demo
from community import credentials
from community.models import Group
from content.models import ContentItem
from core.db import unit_of_work
from loyalty.models import Visit
from patients.models import Patient, Staff


async def _count(model) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_demo_seed_loads_once_across_domains():
    assert await seed_demo(if_empty=True) is True
    counts = {m.__tablename__: await _count(m) for m in (Patient, Visit, Group, ContentItem)}
    assert counts["patients"] >= 12 and counts["visits"] >= 10 and counts["community_groups"] >= 5
    assert counts["content_items"] >= 28
    async with unit_of_work() as session:
        campaign_states = set(await session.scalars(select(Campaign.status)))
        complaints = await session.scalar(select(func.count()).select_from(Complaint))
        surveys = await session.scalar(select(func.count()).select_from(Survey))
    assert campaign_states == {"running", "pending_review"}
    assert surveys >= 2 and complaints == 1
    async with unit_of_work() as session:  # the demo clinicians are verified: the doctor shows as an expert
        clinicians = list(await session.scalars(select(Staff.id).where(Staff.email.like("%@demo.kangning.cn"))))
        experts = await credentials.experts_now(session, clinicians)
    assert sum(experts.values()) == 2
    assert await seed_demo(if_empty=True) is False
    assert {m.__tablename__: await _count(m) for m in (Patient, Visit, Group, ContentItem)} == counts
