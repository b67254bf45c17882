"""Marketing: a segment built with its live count, a campaign composed, submitted, approved by a reviewer,
sent (the workers' job bodies run here), its stats page with the funnel and the deliveries; the dashboards
as charts and their CSV export."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from api.relay import parse_uuid_id
from campaigns import jobs as campaign_jobs
from campaigns import runner, sender
from core import clock
from core.db import unit_of_work
from patients import service as patient_service
from patients.models import ConsentChannel, ConsentPurpose
from tests.console.support import console_post, console_sign_in
from tests.factories import make_staff, new_member

SHANGHAI = ZoneInfo("Asia/Shanghai")
MARKETER = "mkt@console.test"
REVIEWER = "rev@console.test"


async def _diabetic_members(count: int) -> list[uuid.UUID]:
    from core.identity import SYSTEM

    ids = []
    for _ in range(count):
        member = await new_member()
        async with unit_of_work() as session:
            await patient_service.update_profile(
                session, SYSTEM, patient_service.ProfileChanges(condition_codes=["diabetes"]), patient_id=member
            )
            await patient_service.update_consents(
                session,
                SYSTEM,
                [patient_service.ConsentChange(ConsentChannel.IN_APP.value, ConsentPurpose.MARKETING.value, True)],
                source="front_desk",
                note="测试",
                patient_id=member,
            )
        ids.append(member)
    return ids


async def test_a_segment_a_campaign_its_review_and_its_deliveries(client) -> None:
    # Noon in Shanghai: outside the quiet hours, so the messages go out at once.
    clock.clock.freeze(datetime.now(SHANGHAI).replace(hour=12, minute=0, second=0, microsecond=0))
    await make_staff(MARKETER, ["marketer"])
    await make_staff(REVIEWER, ["reviewer"])
    await _diabetic_members(3)
    await new_member()  # not diabetic
    token = await console_sign_in(client, MARKETER)
    page = (await client.get("/console/marketing/segments")).text
    assert 'id="segment-form"' in page
    count = await client.post(
        "/console/marketing/segments/preview",
        data={"conditionCodes": "diabetes", "kind": "MARKETING"},
        headers={"x-csrf-token": token, "hx-request": "true"},
    )
    assert count.status_code == 200 and '<span class="big segment-count">3</span>' in count.text
    everyone = await client.post(
        "/console/marketing/segments/preview", data={"kind": "CARE"}, headers={"x-csrf-token": token}
    )
    assert '<span class="big segment-count">4</span>' in everyone.text
    assert (await client.post("/console/marketing/segments/preview", data={})).status_code == 403  # no CSRF token
    saved = await console_post(
        client, "/console/marketing/segments/new", token, name="控糖会员", conditionCodes="diabetes", kind="MARKETING"
    )
    assert saved.status_code == 303
    page = (await client.get("/console/marketing/segments")).text
    assert "已保存人群「控糖会员」" in page
    segment_id = re.search(r'name="segmentId" value="([^"]+)"', page)
    assert segment_id

    made = await console_post(
        client,
        "/console/marketing/campaigns/new",
        token,
        name="控糖讲座邀请",
        kind="MARKETING",
        channels="in_app",
        segmentId=segment_id.group(1),
        subject="讲座邀请",
        body="{nickname}您好，周六有控糖讲座，欢迎参加。",
    )
    path = made.headers["location"]
    assert path.startswith("/console/marketing/campaigns/")
    page = (await client.get(path)).text
    assert "已创建活动草稿" in page and 'id="message-preview"' in page and "{nickname}" not in page.split("预览")[1]
    await console_post(client, f"{path}/submit", token)
    page = (await client.get(path)).text
    assert "已提交审核" in page and "待审核" in page and 'id="approve"' not in page  # marketers do not review

    client.cookies.clear()
    token = await console_sign_in(client, REVIEWER)
    assert (await client.get("/console/marketing/dashboards")).status_code == 403  # dashboards: marketing only
    await console_post(client, f"{path}/review", token, decision="approve", comment="同意")
    page = (await client.get(path)).text
    assert "已审核通过" in page and 'id="status">发送中<' in page  # no schedule: it starts at once

    campaign_id = parse_uuid_id(path.rsplit("/", 1)[1], "Campaign")
    assert campaign_id is not None
    await campaign_jobs.start_due()  # what the workers do: start, materialise the audience, send
    await runner.materialise(campaign_id)
    assert await sender.send_due("in_app", max_seconds=5) == 3
    page = (await client.get(path)).text
    assert 'id="delivered">3<' in page
    assert page.count('class="delivery-row"') == 3
    chart = re.search(r'class="chart" data-chart="([^"]+)"', page)
    assert chart
    spec = json.loads(chart.group(1).replace("&#34;", '"').replace("&quot;", '"'))
    assert spec["type"] == "funnel" and spec["series"][0]["data"][0] == {"name": "目标人数", "value": 3}


async def test_dashboards_render_and_export_csv(client) -> None:
    await make_staff(MARKETER, ["marketer"])
    await console_sign_in(client, MARKETER)
    page = await client.get("/console/marketing/dashboards?since=2026-01-01&until=2026-12-31")
    assert page.status_code == 200
    for key in ("return-visits", "lifecycle", "movement", "nps", "referrals", "campaigns", "community", "liability"):
        assert f'id="board-{key}"' in page.text
        assert f"/console/marketing/dashboards/{key}.csv?since=2026-01-01&amp;until=2026-12-31" in page.text
    exported = await client.get("/console/marketing/dashboards/liability.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "可用,待入账,欠扣,30天内到期,90天内到期,有积分会员" and lines[1] == "0,0,0,0,0,0"
    funnel = (await client.get("/console/marketing/dashboards/lifecycle.csv")).content.decode("utf-8-sig")
    assert funnel.splitlines()[0] == "阶段,人数"
    assert (await client.get("/console/marketing/dashboards/unknown.csv")).status_code == 404
    bad = await client.get("/console/marketing/dashboards/nps.csv?since=2026-12-31&until=2020-01-01")
    assert bad.status_code in (200, 400)  # a reversed range: the API's answer, never a 500
