"""In Chromium against a real server with the demo data: every demo role signs in and out; the cookie is
out of reach of scripts; a wrong role, a patient's token and a POST without the CSRF token are refused;
every page of the admin's menu loads with nothing leaving 127.0.0.1 and no console error."""

from __future__ import annotations

import httpx

from cli.demo_info import DEMO_PATIENT_PHONE, DEMO_STAFF
from tests.console.browser import (
    Watch,
    chromium_browser,
    shot,
    sign_in,
    watched_page,
)
from tests.support import patient_session

# The menu entry each demo role must see (and one it must not), by the role's code.
EXPECTED_MENU = {
    "admin": ("员工账号", None),
    "moderator": ("审核队列", "员工账号"),
    "marketer": ("人群", "审核队列"),
    "reviewer": ("内容列表", "审核队列"),
    "clinic_staff": ("查找患者", "审核队列"),
    "doctor": ("健康预警", "审核队列"),
    "health_manager": ("投诉工单", "审核队列"),
}


async def test_every_demo_role_signs_in_and_out(console_server, demo, chromium) -> None:
    watch = Watch()
    async with chromium_browser(chromium) as browser:
        for email, name, roles in DEMO_STAFF:
            page = await watched_page(browser, watch)
            await sign_in(page, console_server, email)
            assert name in await page.locator(".topbar .who").inner_text()
            menu = await page.locator("nav.side").inner_text()
            shown, hidden = EXPECTED_MENU[roles[0]]
            assert shown in menu, (email, menu)
            if hidden:
                assert hidden not in menu, (email, menu)
            cookies = {c["name"]: c for c in await page.context.cookies()}
            session = cookies["kn_console"]
            assert session["httpOnly"] and session["sameSite"] == "Strict" and session["path"] == "/console"
            assert "kn_console" not in await page.evaluate("document.cookie")  # out of reach of scripts
            await shot(page, f"home-{roles[0]}")
            await page.click("#logout")
            await page.wait_for_url(f"{console_server}/console/login?reason=signed_out")
            assert "已退出登录" in await page.content()
            await page.goto(f"{console_server}/console/")
            assert page.url.startswith(f"{console_server}/console/login")
            await page.context.close()
    watch.assert_clean()


async def test_wrong_role_patient_token_and_missing_csrf_are_refused(console_server, demo, chromium) -> None:
    watch = Watch()
    async with httpx.AsyncClient(base_url=console_server) as client:
        patient = await patient_session(client, DEMO_PATIENT_PHONE)
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "clinic@demo.kangning.cn")
        answer = await page.goto(f"{console_server}/console/moderation")
        assert answer is not None and answer.status == 403
        assert "无权访问" in await page.content()
        await shot(page, "refused-wrong-role")
        # A POST from this signed-in browser without the CSRF token (as another site would send it).
        refused = await page.request.post(f"{console_server}/console/logout", form={"x": "1"})
        assert refused.status == 403 and "安全令牌" in await refused.text()
        await page.goto(f"{console_server}/console/")
        assert "吴前台" in await page.content()  # the refused POST did not sign anyone out
        await page.context.close()

        page = await watched_page(browser, watch)
        await page.context.set_extra_http_headers({"authorization": f"Bearer {patient.access}"})
        answer = await page.goto(f"{console_server}/console/moderation")
        assert answer is not None and page.url.startswith(f"{console_server}/console/login")
        assert "员工登录" in await page.content()
        await page.context.close()
    # The 403 answers are expected: Chromium logs each refused document load as a console error.
    watch.problems = [p for p in watch.problems if "403" not in p]
    watch.assert_clean()


async def test_every_page_loads_with_the_network_blocked(console_server, demo, chromium) -> None:
    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "admin@demo.kangning.cn")
        links = await page.locator("nav.side a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
        assert len(links) > 3
        for href in links:
            answer = await page.goto(f"{console_server}{href}")
            assert answer is not None and answer.status == 200, href
            await page.locator("main h1").first.wait_for()
            await shot(page, "admin" + href.replace("/console", "").replace("/", "-").rstrip("-") or "admin-home")
        await page.context.close()
    watch.assert_clean()
