"""The console in a real headless Chromium against a real `portal serve` with the demo data.

Chromium is Debian's package, installed by the GraphiQL test's `chromium` fixture when missing (as root,
after apt-get update). Every page runs with each request that is not for 127.0.0.1 aborted and recorded
(nothing may load from a CDN), and with the browser's console errors recorded (a CSP refusal shows there):
both lists must stay empty. Screenshots go to test-output/console/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.browser import VENDOR_DIR
from cli.demo_info import DEMO_PASSWORD
from tests.live_server import live_server

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "console"
# A 1366x768 laptop (the brief's smallest screen), less the browser's own bars.
VIEWPORT = {"width": 1366, "height": 768}
CONSOLE_VENDOR = ("htmx.min.js", "echarts.min.js")


def _chinese_font() -> None:
    """Screenshots of a Chinese console need a font with the glyphs (a bare Debian has none): as root,
    a small one is installed once; otherwise the pages still work and the screenshots show boxes."""
    listed = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True, check=False)
    if listed.stdout.strip() or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    subprocess.run(["apt-get", "update"], capture_output=True, check=False)
    subprocess.run(["apt-get", "install", "-y", "fonts-wqy-microhei"], capture_output=True, check=False)


# One server per test process for every browser module here: it holds no state of its own between
# tests (each test seeds the demo data and the clean-up empties the tables), and starting one took 4-8 s.
@pytest.fixture(scope="session")
def console_server(servers: dict[str, str], chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = [name for name in CONSOLE_VENDOR if not (VENDOR_DIR / name).is_file()]
    if missing:
        pytest.fail(f"console files missing in api/static/vendor ({missing}): run make venv")
    _chinese_font()
    log = tmp_path_factory.mktemp("console") / "api.log"
    with live_server(servers["database_url"], servers["redis_url"], log_path=log) as base:
        yield base


@pytest.fixture
async def demo() -> None:
    """The demo data (cli/demo.py), as `portal seed-demo` loads it; the per-test clean-up removes it."""
    from cli.demo import seed_demo

    await seed_demo()


@dataclass
class Watch:
    left: list[str] = field(default_factory=list)  # requests that tried to leave 127.0.0.1
    problems: list[str] = field(default_factory=list)  # console errors and page errors

    def assert_clean(self) -> None:
        assert self.left == [], f"requests left 127.0.0.1: {self.left}"
        assert self.problems == [], f"browser console errors: {self.problems}"


@asynccontextmanager
async def chromium_browser(executable: str) -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            await browser.close()


async def watched_page(browser: Any, watch: Watch) -> Any:
    """A page in a fresh context (its own cookies) with the network outside 127.0.0.1 blocked."""
    from playwright.async_api import Route

    context = await browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")

    async def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            await route.continue_()
        else:
            watch.left.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_local)
    page = await context.new_page()
    page.on("console", lambda m: watch.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: watch.problems.append(str(e)))
    return page


async def sign_in(page: Any, base: str, email: str, password: str = DEMO_PASSWORD) -> None:
    await page.goto(f"{base}/console/login")
    await page.fill('input[name="email"]', email)
    await page.fill('input[name="password"]', password)
    await page.click('button[type="submit"]')
    await page.wait_for_url(f"{base}/console")
    await page.locator(".topbar .who").wait_for()


async def shot(page: Any, name: str) -> str:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return str(path)
