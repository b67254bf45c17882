"""In Chromium against a real server with the demo data, nothing leaving 127.0.0.1: a marketer types a
demo member's nickname into the finder and reads why each message reached them (the demo's diabetes
lecture invitation: the segment it matched, the consent it went out under, the channel, the cap), then
follows the same question from the campaign's delivery list.

The campaign runner and the sender run their job bodies in this test process, as a worker would, against
the same database (the clock frozen at noon tomorrow: no quiet hours)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from playwright.async_api import expect
from sqlalchemy import select

from core import clock
from core.db import unit_of_work
from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page

SHANGHAI = ZoneInfo("Asia/Shanghai")
LECTURE = "联合国糖尿病日·控糖公益讲座邀请"


async def test_a_marketer_finds_a_member_and_reads_why_each_message_reached_them(
    console_server, demo, chromium
) -> None:
    from campaigns import runner, sender
    from campaigns.models import Campaign

    clock.clock.freeze(datetime.now(SHANGHAI).replace(hour=12, minute=0) + timedelta(days=1))
    async with unit_of_work() as session:
        lecture = await session.scalar(select(Campaign.id).where(Campaign.name == LECTURE))
    assert lecture is not None
    await runner.materialise(lecture)
    assert await sender.send_due("in_app", max_seconds=10) >= 1

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.click("nav.side >> text=消息追溯")
        await page.fill('#trace-find input[name="q"]', "糖友小王")
        await page.click("#trace-find button[type=submit]")
        await expect(page.locator("#trace h2")).to_contain_text("糖友小王 的消息记录")
        await expect(page.locator("#trace h2 .phone")).to_have_text("138****0001")
        row = page.locator("tr.trace-row.campaign", has_text=LECTURE)
        await expect(row).to_contain_text("符合人群「糖友（站内信）」的条件")
        await expect(row).to_contain_text("渠道：站内信（活动的首选渠道）")
        await expect(row).to_contain_text("站内信渠道的营销授权")
        await expect(row).to_contain_text("发送时未超过营销消息频次上限")
        await expect(row.locator(".tag")).to_have_text("已送达")
        await shot(page, "marketing-trace")

        await row.locator("a").first.click()  # the campaign, then back through its delivery list
        await expect(page.locator("main h1")).to_contain_text(LECTURE)
        await page.locator("tr.delivery-row", has_text="糖友小王").locator("a.why-link").click()
        await expect(page.locator("#trace h2")).to_contain_text("糖友小王 的消息记录")
        await page.context.close()
    watch.assert_clean()
