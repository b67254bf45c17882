"""The console on a tablet, in Chromium against a real server with the demo data, nothing leaving
127.0.0.1: held upright (768x1024) and on its side (1024x768), every page of the admin's menu and the
busiest detail pages fit the screen's width (nothing wider than the viewport outside a scrolling box),
and the menu works: beside the page when there is room, behind a 菜单 button above it when upright.
Screenshots go to test-output/console/tablet-*.png."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from cli.demo_info import DEMO_PATIENT_PHONE
from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page

UPRIGHT = {"width": 768, "height": 1024}
SIDEWAYS = {"width": 1024, "height": 768}
# Elements sticking out past the viewport's right edge, unless a box of theirs scrolls (a wide table in
# an overflow-x: auto wrapper is how a tablet shows it).
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (["auto", "scroll"].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !scrolls(el)) {
      out.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} right=${Math.round(box.right)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};
}"""


async def _pages(page: Any, base: str) -> list[tuple[str, str]]:
    """(path, screenshot name): the admin's menu, then the detail pages with the widest content."""
    links: list[str] = await page.locator("nav.side a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    pages = [(href, href.removeprefix("/console").strip("/").replace("/", "-") or "home") for href in links]
    pages += [
        (f"/console/frontdesk?phone={DEMO_PATIENT_PHONE}", "frontdesk-patient"),
        (f"/console/marketing/trace?q={DEMO_PATIENT_PHONE}", "marketing-trace-patient"),
        ("/console/marketing/journeys/follow_up_7", "marketing-journey"),
    ]
    for listing, prefix, label in (
        ("/console/marketing/campaigns", "/console/marketing/campaigns/", "marketing-campaign"),
        ("/console/content", "/console/content/", "content-item"),
    ):
        await page.goto(f"{base}{listing}")
        found = await page.locator(f'main a[href^="{prefix}"]').first.get_attribute("href")
        assert found, listing
        pages.append((found, label))
    return pages


async def _fits(page: Any, href: str) -> None:
    found = await page.evaluate(OVERFLOW)
    assert found["scrollWidth"] <= found["width"] and not found["out"], (href, found)


async def test_every_page_fits_a_tablet_and_the_menu_works(console_server, demo, chromium) -> None:
    watch = Watch()
    async with chromium_browser(chromium) as browser:
        for name, viewport in (("upright", UPRIGHT), ("sideways", SIDEWAYS)):
            page = await watched_page(browser, watch)
            await page.set_viewport_size(viewport)
            await sign_in(page, console_server, "admin@demo.kangning.cn")
            await _fits(page, "/console/")
            if viewport is UPRIGHT:
                # Upright: the menu waits behind its button, so the page starts at the top of the screen.
                await expect(page.locator("nav.side")).to_be_hidden()
                await page.click("#menu-toggle")
                await expect(page.locator("#menu-toggle")).to_have_attribute("aria-expanded", "true")
            menu = page.locator("nav.side")
            await expect(menu).to_be_visible()
            await _fits(page, "/console/ (menu open)")
            await shot(page, f"tablet-{name}-menu")
            target = menu.locator("a", has_text="营销活动")
            box = await target.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] and box["height"] >= 24
            await target.click()
            await expect(page.locator("main h1")).to_have_text("营销活动")
            if viewport is UPRIGHT:
                await expect(page.locator("nav.side")).to_be_hidden()  # closed again on the new page

            for href, label in await _pages(page, console_server):
                answer = await page.goto(f"{console_server}{href}")
                assert answer is not None and answer.status == 200, href
                await page.locator("main h1").first.wait_for()
                await _fits(page, href)
                await shot(page, f"tablet-{name}-{label}")
            await page.context.close()
    watch.assert_clean()
