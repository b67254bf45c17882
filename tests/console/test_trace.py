"""Marketing's "why did this patient get this message": find a patient by nickname or phone (masked),
then every campaign delivery and other outreach message with its reasons; the campaign page links each
delivery to it; reviewers and the desk are refused."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

from api.relay import to_global_id
from core import clock
from tests.campaigns.support import approved_campaign, make_patient, run
from tests.console.support import console_sign_in
from tests.factories import make_staff

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
MARKETER = "mkt-trace@console.test"
REVIEWER = "rev-trace@console.test"


async def test_a_marketer_finds_a_patient_and_reads_why_each_message_went_out(client) -> None:
    clock.clock.freeze(NOON)
    patient = await make_patient(consents=[("in_app", "marketing")], nickname="追溯一号", phone="13512345678")
    await make_patient(nickname="追溯二号")
    campaign = await approved_campaign(channels=["sms", "in_app"])
    await run(campaign)
    await make_staff(MARKETER, ["marketer"])
    await console_sign_in(client, MARKETER)

    several = (await client.get("/console/marketing/trace?q=" + quote("追溯"))).text
    assert "找到多位患者" in several and "追溯一号" in several and "追溯二号" in several
    assert "13512345678" not in several
    one = await client.get("/console/marketing/trace?q=" + quote("135 1234 5678"))
    patient_gid = to_global_id("Patient", patient)
    assert one.status_code == 303 and one.headers["location"].endswith(quote(patient_gid, safe=""))
    page = (await client.get(one.headers["location"])).text
    assert "追溯一号 的消息记录" in page and "135****5678" in page and "13512345678" not in page
    assert 'class="trace-row campaign"' in page and "测试活动" in page
    assert "渠道：站内信（短信缺少授权，改用此渠道）" in page
    assert "站内信渠道的营销授权" in page and "发送时未超过营销消息频次上限" in page
    assert "符合人群" in page

    campaign_page = (await client.get(f"/console/marketing/campaigns/{to_global_id('Campaign', campaign)}")).text
    links = re.findall(r'href="/console/marketing/trace\?patient=([^"]+)" class="why-link"', campaign_page)
    assert quote(patient_gid, safe="") in links

    nobody = (await client.get("/console/marketing/trace?q=" + quote("没有这个人"))).text
    assert "没有找到匹配的患者" in nobody
    bad = (await client.get("/console/marketing/trace?patient=nope")).text
    assert "编号无效" in bad


async def test_reviewers_are_refused(client) -> None:
    await make_staff(REVIEWER, ["reviewer"])
    await console_sign_in(client, REVIEWER)
    assert (await client.get("/console/marketing/trace")).status_code == 403
    assert "消息追溯" not in (await client.get("/console/")).text
