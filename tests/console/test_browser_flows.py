"""The console's work flows in Chromium against a real server with the demo data, with nothing leaving
127.0.0.1: a moderator decides a held post and members then see it; an editor's article blocked by the
compliance check is fixed, approved and scheduled by a reviewer and published by the cron; a marketer's
segment and campaign, approved by a reviewer, with deliveries on its stats page; a care agent answers a
complaint before its clock runs out; the front desk fulfils a voucher.

Background jobs (the content cron, the campaign runner and sender) run their job bodies in this test
process, as a worker would, against the same database.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from playwright.async_api import expect
from sqlalchemy import select

from api.relay import parse_uuid_id
from cli.demo_info import DEMO_PATIENT_PHONE
from core import clock
from core.db import unit_of_work
from tests.console.browser import (
    Watch,
    chromium_browser,
    shot,
    sign_in,
    watched_page,
)
from tests.support import data, gql, patient_session

SHANGHAI = ZoneInfo("Asia/Shanghai")
OTHER_MEMBER_PHONE = "13800000003"  # 控糖达人, also in 糖友互助社群
GROUP = """query { group(slug: "tangyou") { id posts(first: 30) { nodes { id title status } } } }"""
POST = """mutation($g: ID!) { postCreate(input: {groupId: $g, kind: DISCUSSION, title: "血糖仪转让",
  body: "九成新血糖仪低价转让，有需要的加微信详聊"}) { post { id status } errors { code message } } }"""
REWARDS = """{ rewards(first: 20) { nodes { id name pointsCost } } }"""
REDEEM = """mutation($r: ID!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: "browser-voucher-1"}) {
  redemption { voucherCode status } errors { code message } } }"""
CONTENT_LIVE = """query($id: ID!) { contentItem(id: $id) { status live title } }"""


async def _flash(page: Any, text: str) -> None:
    await expect(page.locator("main .flash").first).to_contain_text(text, timeout=15_000)


async def _sign_out(page: Any, base: str) -> None:
    await page.click("#logout")
    await page.wait_for_url(f"{base}/console/login?reason=signed_out")


async def test_a_moderator_decides_a_held_post_and_members_see_it(console_server, demo, chromium) -> None:
    async with httpx.AsyncClient(base_url=console_server) as client:
        author = await patient_session(client, DEMO_PATIENT_PHONE)
        reader = await patient_session(client, OTHER_MEMBER_PHONE)
        group = data(await gql(client, GROUP, token=reader.access))["group"]
        held = data(await gql(client, POST, {"g": group["id"]}, token=author.access))["postCreate"]
        assert held["post"]["status"] == "HELD"
        titles = [p["title"] for p in data(await gql(client, GROUP, token=reader.access))["group"]["posts"]["nodes"]]
        assert "血糖仪转让" not in titles  # held: members do not see it yet

        watch = Watch()
        async with chromium_browser(chromium) as browser:
            page = await watched_page(browser, watch)
            await sign_in(page, console_server, "moderator@demo.kangning.cn")
            await page.click("nav.side >> text=审核队列")
            row = page.locator("tr.queue-item", has_text="血糖仪转让")
            await expect(row.locator("mark.hit")).to_have_text("加微信")
            await shot(page, "moderation-queue")
            await row.locator("button.claim").click()
            await _flash(page, "已认领")
            row = page.locator("tr.queue-item", has_text="血糖仪转让")
            await row.locator('select[name="decision"]').select_option("KEEP")
            await row.locator('input[name="reason"]').fill("二手器械转让，已提醒勿留联系方式")
            await row.locator("form.decide button[type=submit]").click()
            await _flash(page, "已处理")
            await shot(page, "moderation-decided")
            await page.context.close()
        watch.assert_clean()

        posts = data(await gql(client, GROUP, token=reader.access))["group"]["posts"]["nodes"]
        shown = [p for p in posts if p["title"] == "血糖仪转让"]
        assert shown and shown[0]["status"] == "PUBLISHED"  # members see it now


async def test_an_editor_fixes_a_blocked_article_a_reviewer_approves_and_schedules_it_and_it_publishes(
    console_server,
    demo,
    chromium,
) -> None:
    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.click("nav.side >> text=新建内容")
        form = page.locator("#content-form")
        await form.locator('input[name="title"]').fill("控糖新方法")
        await form.locator('textarea[name="body"]').fill("坚持三个月，**根治**糖尿病不是梦。")
        await expect(page.locator("#preview strong")).to_have_text("根治")  # the live preview
        await form.locator("button[type=submit]").click()
        await _flash(page, "已保存草稿")
        action = await page.locator("#content-form").get_attribute("action")
        assert action and action.endswith("/save")
        item_path = action.removesuffix("/save")
        await expect(page.locator("mark.finding")).to_have_text("根治")  # the finding marked on the text
        await page.click("#submit-review")
        await _flash(page, "合规检查未通过")
        await expect(page.locator("#status")).to_have_text("草稿")
        await shot(page, "content-blocked")
        await page.locator('#content-form textarea[name="body"]').fill("坚持三个月，血糖控制明显改善。")
        await page.locator("#content-form button[type=submit]").click()
        await _flash(page, "已保存")
        await expect(page.locator("#compliance")).to_contain_text("未发现违规")
        await page.click("#submit-review")
        await _flash(page, "已提交审核")
        await expect(page.locator("#status")).to_have_text("审核中")
        await _sign_out(page, console_server)

        await sign_in(page, console_server, "reviewer@demo.kangning.cn")
        await page.goto(f"{console_server}{item_path}")
        await page.locator('#review input[name="comment"]').first.fill("表述合规，同意发布")
        await page.click("#approve")
        await _flash(page, "已审核通过")
        at = (clock.now() + timedelta(minutes=30)).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")
        await page.fill('input[name="publishAt"]', at)
        await page.click("#publish")
        await _flash(page, "已安排定时发布")
        await expect(page.locator("#status")).to_have_text("待发布")
        await shot(page, "content-scheduled")
        await page.context.close()
    watch.assert_clean()

    from content import jobs as content_jobs

    item_id = item_path.rsplit("/", 1)[1]
    async with httpx.AsyncClient(base_url=console_server) as client:
        before = data(await gql(client, CONTENT_LIVE, {"id": item_id}))["contentItem"]
        assert before is None or before["live"] is False
        clock.clock.advance(timedelta(minutes=31))  # the cron's clock, in this process
        assert await content_jobs.publish_due() == 1
        after = data(await gql(client, CONTENT_LIVE, {"id": item_id}))["contentItem"]
        assert after == {"status": "PUBLISHED", "live": True, "title": "控糖新方法"}


async def test_a_marketer_builds_a_segment_and_a_campaign_a_reviewer_approves_and_it_delivers(
    console_server,
    demo,
    chromium,
) -> None:
    from campaigns import jobs as campaign_jobs
    from campaigns import runner, sender

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.click("nav.side >> text=人群")
        form = page.locator("#segment-form")
        await form.locator('input[name="conditionCodes"][value="diabetes"]').check()
        count = page.locator("#segment-count .segment-count")
        await expect(count).to_have_text(re.compile(r"^[1-9]\d*$"), timeout=15_000)  # the live count
        shown = int(await count.inner_text())
        await form.locator('input[name="name"]').fill("糖友（浏览器测试）")
        await shot(page, "segment-builder")
        await page.click("#save-segment")
        await _flash(page, "已保存人群")

        await page.click("nav.side >> text=营销活动")
        form = page.locator("#campaign-form")
        await form.locator('input[name="name"]').fill("控糖打卡挑战邀请")
        await form.locator('select[name="segmentId"]').select_option(label="糖友（浏览器测试）")
        await form.locator('input[name="subject"]').fill("控糖打卡挑战")
        await form.locator('textarea[name="body"]').fill("{nickname}您好，21天控糖打卡挑战开始报名啦。")
        await form.locator("button[type=submit]").click()
        await _flash(page, "已创建活动草稿")
        await expect(page.locator("#message-preview")).not_to_contain_text("{nickname}")
        await page.click("#step-submit")
        await _flash(page, "已提交审核")
        campaign_path = (
            "/console/marketing/campaigns/"
            + ((await page.locator("#step-cancel").locator("xpath=..").get_attribute("action") or "").split("/")[-2])
        )
        await _sign_out(page, console_server)

        await sign_in(page, console_server, "reviewer@demo.kangning.cn")
        await page.goto(f"{console_server}{campaign_path}")
        await page.locator('#campaign-review input[name="comment"]').fill("内容合规")
        await page.click("#approve")
        await _flash(page, "已审核通过")

        # What the workers do next, here: start, materialise the audience, send (at noon: no quiet hours).
        campaign_id = parse_uuid_id(campaign_path.rsplit("/", 1)[1], "Campaign")
        assert campaign_id is not None
        clock.clock.freeze(datetime.now(SHANGHAI).replace(hour=12, minute=0) + timedelta(days=1))
        await campaign_jobs.start_due()
        await runner.materialise(campaign_id)
        sent = await sender.send_due("in_app", max_seconds=10)
        assert sent >= 1

        await page.goto(f"{console_server}{campaign_path}")
        delivered = int(await page.locator("#delivered").inner_text())
        assert 1 <= delivered <= shown
        assert await page.locator("tr.delivery-row").count() == sent
        await expect(page.locator("#stats canvas").first).to_be_visible()  # the funnel drawn by ECharts
        await shot(page, "campaign-stats")
        await page.context.close()
    watch.assert_clean()


async def test_a_care_agent_answers_a_complaint_before_its_clock_runs_out(console_server, demo, chromium) -> None:
    from care.models import Complaint

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "manager@demo.kangning.cn")
        await page.click("nav.side >> text=投诉工单")
        complaint = page.locator("section.complaint", has_text="取药排队等太久了")
        await expect(complaint.locator(".clock")).to_contain_text("剩余")  # the 24-hour clock, running
        await shot(page, "complaint-clock")
        await complaint.locator('textarea[name="message"]').fill("非常抱歉，药房已增开窗口，下次取药请走快速通道。")
        await complaint.locator("form.respond button[type=submit]").click()
        await _flash(page, "已回复患者")
        complaint = page.locator("section.complaint", has_text="取药排队等太久了")
        await expect(complaint).to_contain_text("首次回复")
        await page.context.close()
    watch.assert_clean()
    async with unit_of_work() as session:
        answered = await session.scalar(select(Complaint).where(Complaint.body.contains("取药排队")))
    assert answered is not None and answered.first_response_at is not None
    assert answered.first_response_at < answered.due_at


async def test_the_front_desk_fulfils_a_voucher(console_server, demo, chromium) -> None:
    async with httpx.AsyncClient(base_url=console_server) as client:
        member = await patient_session(client, DEMO_PATIENT_PHONE)
        rewards = data(await gql(client, REWARDS, token=member.access))["rewards"]["nodes"]
        reward = min(rewards, key=lambda r: r["pointsCost"])  # 体检套餐9折券: within the demo member's points
        redeemed = data(await gql(client, REDEEM, {"r": reward["id"]}, token=member.access))["rewardRedeem"]
        assert redeemed["errors"] == [], redeemed
        code = redeemed["redemption"]["voucherCode"]

    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "clinic@demo.kangning.cn")
        await page.click("nav.side >> text=查找患者")
        await page.fill('input[name="phone"]', DEMO_PATIENT_PHONE)
        await page.click("main form[action='/console/frontdesk'] button[type=submit]")
        vouchers = page.locator("#vouchers")
        await expect(vouchers).to_contain_text(code)
        await expect(vouchers.locator("tr", has_text=code)).to_contain_text("待核销")
        await page.fill('#fulfil input[name="voucherCode"]', code)
        await page.click("#fulfil button[type=submit]")
        await _flash(page, f"已核销兑换券 {code}")
        await expect(page.locator("#vouchers tr", has_text=code)).to_contain_text("已核销")
        await shot(page, "frontdesk-fulfilled")
        await page.context.close()
    watch.assert_clean()
