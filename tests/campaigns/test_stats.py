"""Attribution (last touch, 30-day window edges) and campaign stats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns import stats
from campaigns.segments import SegmentCriteria
from core import clock
from core.db import unit_of_work
from tests.campaigns.support import REVIEWER, approved_campaign, make_patient, run
from tests.loyalty.support import record_visit

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def test_attribution_window_edges_and_last_touch():
    clock.clock.freeze(T0)
    day30 = await make_patient(consents=[("in_app", "marketing")])
    day31 = await make_patient(consents=[("in_app", "marketing")])
    switched = await make_patient(consents=[("in_app", "marketing")], conditions=["gout"])
    before = await make_patient(consents=[("in_app", "marketing")])
    refunded = await make_patient(consents=[("in_app", "marketing")])
    first = await approved_campaign()
    await run(first)
    clock.clock.advance(timedelta(days=5))
    second = await approved_campaign(SegmentCriteria(conditions=["gout"]))
    await run(second)
    clock.clock.advance(timedelta(days=27))  # T0 + 32 days: every visit below lies in the past
    await record_visit(day30, "v-day30", visited_at=T0 + timedelta(days=30), consultation_fen=10_000)
    await record_visit(day31, "v-day31", visited_at=T0 + timedelta(days=31))
    await record_visit(switched, "v-switched", visited_at=T0 + timedelta(days=10))
    await record_visit(before, "v-before", visited_at=T0 - timedelta(hours=1))
    await record_visit(refunded, "v-refunded", visited_at=T0 + timedelta(days=3))
    await record_visit(refunded, "v-refunded", status="refunded", visited_at=T0 + timedelta(days=3))

    async with unit_of_work() as session:
        found = await stats.stats_for(session, [first, second])
        first_stats = await stats.campaign_stats(session, REVIEWER, first)
        summary = await stats.conversion_summary(session, since=T0 - timedelta(days=1), until=T0 + timedelta(days=40))
    one, two = found[first], found[second]
    assert first_stats == one
    assert (one.audience, one.sent, one.delivered, one.opened) == (5, 5, 5, 0)
    assert one.converted == 1  # day30 only: day31 is outside, `switched` belongs to the last touch
    assert one.conversion_rate == 0.2
    # 50 for the completed visit + 10 for ¥100 self-paid (1 point per ¥10)
    assert one.points_cost == 60
    assert (two.audience, two.delivered, two.converted, two.points_cost) == (1, 1, 1, 50)
    assert [s.campaign_id for s in summary] == [second, first]
    async with unit_of_work() as session:
        none = await stats.conversion_summary(session, since=T0 + timedelta(days=100), until=T0 + timedelta(days=101))
    assert none == []
