"""In Chromium against a real server with the demo data, nothing leaving 127.0.0.1: an editor opens an
article with three revisions (published twice, edited again), sees the last two compared, picks the
first and the third from the list and reads their diff."""

from __future__ import annotations

from playwright.async_api import expect
from sqlalchemy import select

from api.relay import to_global_id
from core.db import unit_of_work
from patients.models import Staff
from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page
from tests.console.revisions_support import three_revisions


async def test_an_editor_compares_any_two_revisions(console_server, demo, chromium) -> None:
    async with unit_of_work() as session:
        staff = {s.email: s.id for s in await session.scalars(select(Staff))}
    item = await three_revisions(staff["marketer@demo.kangning.cn"], staff["reviewer@demo.kangning.cn"])

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.goto(f"{console_server}/console/content/{to_global_id('ContentItem', item)}")
        await expect(page.locator("tr.revision-row")).to_have_count(3)
        await expect(page.locator("#diff-title")).to_have_text("第 2 版与第 3 版的差异")
        await page.get_by_label("旧 第 1 版").check()
        await page.get_by_label("新 第 3 版").check()
        await page.click("#compare")
        await expect(page.locator("#diff-title")).to_have_text("第 1 版与第 3 版的差异")
        await expect(page.locator("#diff")).to_contain_text("第一版")
        await expect(page.locator("#diff")).to_contain_text("饭后散步二十分钟")
        await page.locator("#revisions").scroll_into_view_if_needed()
        await shot(page, "content-revision-diff")

        await page.get_by_label("旧 第 3 版").check()
        await page.click("#compare")  # the same revision twice: nothing to compare
        await expect(page.locator("#revisions .flash.error")).to_contain_text("请选择两个不同的版本")
        await page.context.close()
    watch.assert_clean()
