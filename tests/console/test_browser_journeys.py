"""In Chromium against a real server with the demo data, nothing leaving 127.0.0.1: a marketer reads the
automated journeys (trigger, steps, channels, message) and the day campaign the 7-day follow-up produced
for a demo member's visit, with its stats, then opens that journey's own page and the day's campaign.

The journey cron, the campaign runner and the sender run their job bodies in this test process, as a
worker would, against the same database (the clock frozen at noon tomorrow: no quiet hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect
from sqlalchemy import select

from cli.demo_info import DEMO_PATIENT_PHONE
from core import clock
from core.db import unit_of_work
from patients.queries import patient_by_phone
from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page
from tests.loyalty.support import record_visit

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_a_marketer_reads_the_journeys_and_what_the_follow_up_produced(console_server, demo, chromium) -> None:
    from campaigns import journeys, runner, sender
    from campaigns.models import Campaign

    noon = datetime.now(SHANGHAI).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock.clock.freeze(noon)
    async with unit_of_work() as session:
        member = await patient_by_phone(session, DEMO_PATIENT_PHONE)
    assert member is not None
    await record_visit(member.id, "BROWSER-JOURNEY-7", visited_at=noon - timedelta(days=7, hours=1))
    assert await journeys.run_journey("follow_up_7") >= 1
    key = f"follow_up_7:{noon.date().isoformat()}"
    async with unit_of_work() as session:
        campaign_id = await session.scalar(select(Campaign.id).where(Campaign.journey_key == key))
    assert campaign_id is not None
    await runner.materialise(campaign_id)
    assert await sender.send_due("in_app", max_seconds=10) >= 1

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.click("nav.side >> text=自动旅程")
        await expect(page.locator("main h1")).to_have_text("自动旅程")
        assert await page.locator("section.journey").count() == len(journeys.JOURNEYS)
        follow_up = page.locator("#journey-follow_up_7")
        await expect(follow_up.locator("ol.steps li").first).to_have_text("触发：完成就诊后第7天，每次就诊随访一次")
        await expect(follow_up).to_contain_text("站内信 → 微信 → 短信")
        day = follow_up.locator("tr.journey-day", has_text=noon.date().isoformat())
        await expect(day).to_contain_text("发送中")
        assert int(await day.locator("td.delivered").inner_text()) >= 1
        await shot(page, "marketing-journeys")

        await follow_up.locator("a.journey-link").click()
        await expect(page.locator("main h1")).to_contain_text("就诊后7天随访")
        await expect(page.locator("section.journey")).to_have_count(1)
        await page.locator("tr.journey-day a").first.click()
        await expect(page.locator("main h1")).to_contain_text(f"就诊后7天随访 {noon.date().isoformat()}")
        await expect(page.locator("tr.delivery-row").first).to_be_visible()
        await shot(page, "marketing-journey-day")
        await page.context.close()
    watch.assert_clean()
