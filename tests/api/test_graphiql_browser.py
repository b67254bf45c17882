"""GraphiQL in a real headless Chromium, with every request off 127.0.0.1 blocked (as on a machine
without internet, or in mainland China when a public CDN is slow or blocked).

strawberry's own page loaded 7 files from unpkg.com and stayed on "Loading..." offline. Here the page
must render, run `{ __typename }` and show the answer while nothing leaves the local server; the
page's Content-Security-Policy must not block anything it needs.

Chromium is Debian's package (Playwright's own browser download cannot reach its host here); as root
the set-up installs it when missing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from api.browser import vendor_missing
from tests.live_server import live_server

CHROMIUM = "/usr/bin/chromium"
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            how = "apt-get update && apt-get install -y chromium"
            pytest.fail(f"{CHROMIUM} is missing: run `{how}` as root, then the tests again")
        # The package lists may be missing or stale on a fresh machine: update them first.
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, check=False)
        done = subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, text=True, check=False)
        if done.returncode != 0 or not Path(CHROMIUM).exists():
            pytest.fail(f"apt-get install -y chromium failed: {done.stderr.strip().splitlines()[-1:]}")
    if vendor_missing():
        pytest.fail(f"GraphiQL files missing in api/static/vendor ({vendor_missing()}): run make venv")
    yield CHROMIUM


async def test_graphiql_runs_a_query_with_nothing_leaving_127_0_0_1(servers, chromium, tmp_path) -> None:
    from playwright.async_api import Route, async_playwright

    left: list[str] = []  # requests that tried to leave the local server
    problems: list[str] = []  # console errors and page errors (a CSP refusal shows here)

    async def only_local(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host == "127.0.0.1":
            await route.continue_()
        else:
            left.append(route.request.url)
            await route.abort()

    OUTPUT.mkdir(exist_ok=True)
    with live_server(servers["database_url"], servers["redis_url"], log_path=tmp_path / "api.log") as base:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            try:
                page = await browser.new_page(viewport={"width": 1400, "height": 900})
                await page.route("**/*", only_local)
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))

                answer = await page.goto(f"{base}/graphql")
                assert answer is not None and answer.status == 200
                assert "script-src 'self'" in (answer.headers.get("content-security-policy") or "")
                editor = page.locator(".graphiql-query-editor .CodeMirror")
                await editor.wait_for(state="visible", timeout=30_000)
                # The features of strawberry's page: the explorer plugin and the headers editor.
                await page.locator('button[aria-label="Show GraphiQL Explorer"]').click()
                await page.locator(".graphiql-explorer-root").first.wait_for(state="visible")
                await page.locator('button[aria-label="Show Documentation Explorer"]').click()
                await page.locator(".graphiql-doc-explorer").first.wait_for(state="visible")
                await page.get_by_text("Headers", exact=True).first.click()

                await page.evaluate(
                    "document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue('{ __typename }')"
                )
                await page.locator(".graphiql-execute-button").click()
                result = page.locator(".graphiql-response .CodeMirror")
                await page.wait_for_function(
                    "() => (document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue() || '')"
                    ".includes('Query')",
                    timeout=15_000,
                )
                text = await result.evaluate("el => el.CodeMirror.getValue()")
                assert '"__typename": "Query"' in text
                await page.screenshot(path=str(OUTPUT / "graphiql.png"))
            finally:
                await browser.close()

    assert left == [], f"requests left 127.0.0.1: {left}"
    assert problems == [], f"browser console errors: {problems}"
