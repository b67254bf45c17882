"""In Chromium against a real server with the demo data, nothing leaving 127.0.0.1: a health manager reads
the satisfaction survey's results (responses, NPS, the score question drawn as a chart, the comment
question) and the responses with the patient masked, then narrows them to the detractors."""

from __future__ import annotations

import re

import httpx
from playwright.async_api import expect

from cli.demo_info import DEMO_PATIENT_PHONE
from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page
from tests.support import data, gql, patient_session

PENDING = """{ mySurveys(pending: true, first: 5) { nodes { id } } }"""
ANSWER = """mutation($id: ID!) { surveyAnswer(input: {surveyId: $id, score: 10, comment: "护士很细心，流程清楚"}) {
  survey { id } errors { code message } } }"""


async def test_a_health_manager_reads_survey_results_and_masked_answers(console_server, demo, chromium) -> None:
    async with httpx.AsyncClient(base_url=console_server) as client:
        member = await patient_session(client, DEMO_PATIENT_PHONE)
        pending = data(await gql(client, PENDING, token=member.access))["mySurveys"]["nodes"]
        assert pending, "the demo member has a survey for a recent visit"
        answered = data(await gql(client, ANSWER, {"id": pending[0]["id"]}, token=member.access))["surveyAnswer"]
        assert answered["errors"] == [], answered

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "manager@demo.kangning.cn")
        await page.click("nav.side >> text=满意度调查")
        await expect(page.locator("main h1")).to_have_text("满意度调查")
        responses = int(await page.locator("#survey-responses").inner_text())
        assert responses >= 2
        await expect(page.locator("#question-score")).to_contain_text(f"作答 {responses} 人")
        await expect(page.locator("#question-comment")).to_contain_text("意见与建议")
        await expect(page.locator("#question-score canvas").first).to_be_visible()  # drawn by ECharts
        rows = page.locator("tr.survey-row")
        await expect(rows.filter(has_text="护士很细心")).to_have_count(1)
        masked = await rows.filter(has_text="护士很细心").locator(".phone").inner_text()
        assert re.fullmatch(r"\d{3}\*{4}\d{4}", masked) and masked != DEMO_PATIENT_PHONE
        await shot(page, "care-surveys")

        await page.select_option('#survey-filter select[name="band"]', "detractors")
        await page.click("#survey-filter button[type=submit]")
        await expect(rows.filter(has_text="取药排队等太久了")).to_have_count(1)
        await expect(rows.filter(has_text="护士很细心")).to_have_count(0)
        await shot(page, "care-surveys-detractors")
        await page.context.close()
    watch.assert_clean()
