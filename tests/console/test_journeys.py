"""Marketing's journeys page: every journey with its trigger, steps, channels and message, and the day
campaigns each produced with their stats (and a total); one journey's own page; other roles refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from campaigns import journeys
from core import clock
from tests.campaigns.support import make_patient
from tests.console.support import console_sign_in
from tests.factories import make_staff
from tests.loyalty.support import record_visit

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
MARKETER = "mkt-journeys@console.test"
DESK = "desk-journeys@console.test"


async def test_the_journeys_with_their_steps_and_the_day_campaigns_they_produced(client) -> None:
    clock.clock.freeze(NOON)
    visited = await make_patient()
    await record_visit(visited, "j-visit", visited_at=NOON - timedelta(days=7, hours=1))
    assert await journeys.run_journey("follow_up_7") == 1
    await make_staff(MARKETER, ["marketer"])
    await console_sign_in(client, MARKETER)

    page = (await client.get("/console/marketing/journeys")).text
    for journey in journeys.JOURNEYS.values():
        assert f'id="journey-{journey.code}"' in page and journey.name in page
    assert "触发：完成就诊后第7天，每次就诊随访一次" in page
    assert "站内信 → 微信 → 短信" in page and "关怀" in page
    assert '<tr class="journey-day">' in page and ">2026-06-15</a>" in page
    assert "合计（所列日期）" in page and page.count("尚未触发过。") == len(journeys.JOURNEYS) - 1

    one = (await client.get("/console/marketing/journeys/follow_up_7")).text
    assert "就诊后7天随访" in one and "返回全部旅程" in one and 'id="journey-birthday"' not in one
    assert (await client.get("/console/marketing/journeys/nope")).status_code == 404


async def test_other_roles_are_refused(client) -> None:
    await make_staff(DESK, ["clinic_staff"])
    await console_sign_in(client, DESK)
    assert (await client.get("/console/marketing/journeys")).status_code == 403
    assert "自动旅程" not in (await client.get("/console/")).text
