"""Compose per channel in the console: a body of its own for SMS beside the common one, previewed per
channel for a sample patient while typing (the lock-screen rule shown on the SMS text that would name
the condition), saved, and shown on the campaign's page with each channel's preview."""

from __future__ import annotations

from datetime import UTC, datetime

from api.relay import to_global_id
from core import clock
from tests.campaigns.support import make_patient, segment
from tests.console.support import console_post, console_sign_in
from tests.factories import make_staff

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
MARKETER = "mkt-compose@console.test"
IN_APP = "{nickname}您好，糖尿病友控糖讲座本周六开讲。"
SMS = "{nickname}您好，本周六健康讲座开讲，详情见App。"


async def test_compose_preview_and_save_a_body_per_channel(client) -> None:
    clock.clock.freeze(NOON)
    await make_patient(consents=[("sms", "marketing")], nickname="预览样例")
    seg = to_global_id("Segment", await segment())
    await make_staff(MARKETER, ["marketer"])
    token = await console_sign_in(client, MARKETER)
    page = (await client.get("/console/marketing/campaigns")).text
    assert 'name="body_sms"' in page and 'name="body_wechat"' in page and 'id="compose-preview"' in page

    form = {"segmentId": seg, "kind": "MARKETING", "channels": ["sms", "in_app"], "subject": "讲座", "body": IN_APP}
    headers = {"x-csrf-token": token}
    shared = (await client.post("/console/marketing/campaigns/preview", data=form, headers=headers)).text
    assert shared.count('class="channel-preview"') == 2 and "预览样例您好" in shared
    assert "短信和微信消息会显示在锁屏上，不得出现病种或诊断名称「糖尿病」" in shared  # the SMS falls back
    own = (
        await client.post("/console/marketing/campaigns/preview", data={**form, "body_sms": SMS}, headers=headers)
    ).text
    assert "锁屏" not in own and "单独正文" in own and "本周六健康讲座开讲" in own and "糖尿病友控糖讲座" in own
    assert (await client.post("/console/marketing/campaigns/preview", data=form)).status_code == 403  # no CSRF

    refused = await console_post(client, "/console/marketing/campaigns/new", token, name="控糖讲座", **form)
    assert refused.headers["location"] == "/console/marketing/campaigns"
    assert "不得出现病种或诊断名称" in (await client.get("/console/marketing/campaigns")).text
    made = await console_post(client, "/console/marketing/campaigns/new", token, name="控糖讲座", body_sms=SMS, **form)
    path = made.headers["location"]
    assert path.startswith("/console/marketing/campaigns/")
    detail = (await client.get(path)).text
    assert "已创建活动草稿" in detail and "短信正文</span> " + SMS in detail
    assert detail.count('class="channel-preview"') == 2 and 'id="message-preview"' in detail
