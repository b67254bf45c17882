"""In Chromium against a real server with the demo data, nothing leaving 127.0.0.1: a marketer composes a
campaign for SMS and in-app; the live preview shows each channel's text for a sample member and flags
the SMS that would name the condition on a lock screen; an SMS body of its own clears it; the saved
campaign shows its SMS body and each channel's preview."""

from __future__ import annotations

from playwright.async_api import expect

from tests.console.browser import Watch, chromium_browser, shot, sign_in, watched_page

IN_APP = "{nickname}您好，糖尿病友控糖讲座本周六开讲，欢迎报名。"
SMS = "{nickname}您好，本周六健康讲座开讲，详情请打开App查看。"


async def test_a_marketer_composes_per_channel_with_a_live_preview(console_server, demo, chromium) -> None:
    watch = Watch()
    async with chromium_browser(chromium) as browser:
        page = await watched_page(browser, watch)
        await sign_in(page, console_server, "marketer@demo.kangning.cn")
        await page.click("nav.side >> text=营销活动")
        form = page.locator("#campaign-form")
        await form.locator('input[name="name"]').fill("控糖讲座（分渠道）")
        await form.locator('input[name="channels"][value="sms"]').check()
        await form.locator('select[name="segmentId"]').select_option(label="糖友（站内信）")
        await form.locator('input[name="subject"]').fill("讲座邀请")
        await form.locator('textarea[name="body"]').fill(IN_APP)
        preview = page.locator("#compose-preview")
        sms = preview.locator('.channel-preview[data-channel="sms"]')
        in_app = preview.locator('.channel-preview[data-channel="in_app"]')
        await expect(sms.locator(".issue")).to_contain_text("不得出现病种或诊断名称「糖尿病」", timeout=15_000)
        await expect(in_app.locator(".preview")).to_contain_text("糖尿病友控糖讲座")
        await expect(in_app.locator(".preview")).not_to_contain_text("{nickname}")
        await shot(page, "compose-sms-flagged")

        await form.locator('textarea[name="body_sms"]').fill(SMS)
        await expect(sms.locator(".issue")).to_have_count(0, timeout=15_000)
        await expect(sms).to_contain_text("单独正文")
        await expect(sms.locator(".preview")).to_contain_text("本周六健康讲座开讲")
        await shot(page, "compose-per-channel")
        await form.locator("button[type=submit]").click()
        await expect(page.locator("main .flash").first).to_contain_text("已创建活动草稿", timeout=15_000)
        await expect(page.locator("p.own-body")).to_contain_text(SMS)
        await expect(page.locator("#message-preview .channel-preview")).to_have_count(2)
        await expect(page.locator('#message-preview .channel-preview[data-channel="sms"] .issue')).to_have_count(0)
        await shot(page, "campaign-per-channel")
        await page.context.close()
    watch.assert_clean()
