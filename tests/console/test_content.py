"""Editors and reviewers: an article the compliance check blocks is not sent to review (the finding is
marked on the text), is fixed, submitted, approved by a reviewer, scheduled, and published by the cron."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from content import jobs as content_jobs
from core import clock
from tests.console.support import console_post, console_sign_in
from tests.factories import make_staff
from tests.support import data, gql

EDITOR = "editor@console.test"
REVIEWER = "reviewer@console.test"
LIVE = """query($id: ID!) { contentItem(id: $id) { status live title } }"""


def _item_path(location: str) -> str:
    assert re.fullmatch(r"/console/content/[A-Za-z0-9_-]+", location), location
    return location


async def test_a_blocked_article_is_fixed_approved_scheduled_and_published(client) -> None:
    await make_staff(EDITOR, ["marketer"])
    await make_staff(REVIEWER, ["reviewer"])
    token = await console_sign_in(client, EDITOR)
    assert (await client.get("/console/content/new")).status_code == 200
    preview = await client.post(
        "/console/content/preview", data={"body": "**少食多餐** <script>x()</script>"}, headers={"x-csrf-token": token}
    )
    assert "<strong>少食多餐</strong>" in preview.text and "<script>" not in preview.text
    made = await console_post(
        client,
        "/console/content/new",
        token,
        kind="ARTICLE",
        title="控糖饮食指南",
        summary="三餐怎么吃",
        body="规律饮食。\n本方案可以根治糖尿病。",
        conditionCodes="diabetes",
        topics="饮食, 控糖",
    )
    path = _item_path(made.headers["location"])
    page = (await client.get(path)).text
    assert "已保存草稿" in page and "1 项违规" in page
    assert '<mark class="finding" title=' in page and ">根治</mark>" in page  # marked on the text

    refused = await console_post(client, f"{path}/submit", token)
    assert refused.status_code == 303
    page = (await client.get(path)).text
    assert "合规检查未通过" in page and "草稿" in page  # not sent to review

    await console_post(
        client,
        f"{path}/save",
        token,
        title="控糖饮食指南",
        summary="三餐怎么吃",
        body="规律饮食。\n本方案有助于控制血糖。",
        conditionCodes="diabetes",
        topics="饮食, 控糖",
    )
    page = (await client.get(path)).text
    assert "未发现违规" in page and "与上一版本的差异" not in page  # edited in place: one revision
    await console_post(client, f"{path}/submit", token)
    page = (await client.get(path)).text
    assert "已提交审核" in page and "审核中" in page
    assert (await console_post(client, f"{path}/approve", token)).status_code == 403  # editors do not review

    client.cookies.clear()
    token = await console_sign_in(client, REVIEWER)
    page = (await client.get("/console/content?status=IN_REVIEW")).text
    assert "控糖饮食指南" in page
    page = (await client.get(path)).text
    assert 'id="approve"' in page and 'name="body"' not in page  # reviewers do not edit
    await console_post(client, f"{path}/approve", token, comment="表述合规")
    page = (await client.get(path)).text
    assert "已审核通过" in page and 'id="publish"' in page
    at = (clock.now() + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    await console_post(client, f"{path}/publish", token, publishAt=at)
    page = (await client.get(path)).text
    assert "已安排定时发布" in page and "待发布" in page

    item_id = path.rsplit("/", 1)[1]
    assert await content_jobs.publish_due() == 0  # not yet
    clock.clock.advance(timedelta(hours=2, minutes=1))
    assert await content_jobs.publish_due() == 1
    client.cookies.clear()
    await console_sign_in(client, REVIEWER)
    page = (await client.get(path)).text
    assert "已发布" in page
    item = data(await gql(client, LIVE, {"id": item_id}))["contentItem"]  # a reader (anonymous) sees it
    assert item == {"status": "PUBLISHED", "live": True, "title": "控糖饮食指南"}


async def test_a_rejection_with_a_comment_goes_back_to_the_editor(client) -> None:
    await make_staff(EDITOR, ["marketer"])
    await make_staff(REVIEWER, ["reviewer"])
    token = await console_sign_in(client, EDITOR)
    made = await console_post(
        client, "/console/content/new", token, kind="ARTICLE", title="运动与血糖", body="饭后散步。"
    )
    path = _item_path(made.headers["location"])
    await console_post(client, f"{path}/submit", token)
    client.cookies.clear()
    token = await console_sign_in(client, REVIEWER)
    await console_post(client, f"{path}/reject", token, comment="")  # a comment is required
    assert "flash error" in (await client.get(path)).text
    await console_post(client, f"{path}/reject", token, comment="请补充运动强度建议")
    page = (await client.get(path)).text
    assert "已驳回" in page and "请补充运动强度建议" in page


async def test_the_engagement_of_a_published_article_is_charted(client) -> None:
    from tests.factories import next_phone
    from tests.support import patient_session

    await make_staff(EDITOR, ["marketer"])
    await make_staff(REVIEWER, ["reviewer"])
    token = await console_sign_in(client, EDITOR)
    made = await console_post(
        client, "/console/content/new", token, kind="ARTICLE", title="护眼小知识", body="少看手机。"
    )
    path = _item_path(made.headers["location"])
    await console_post(client, f"{path}/submit", token)
    client.cookies.clear()
    token = await console_sign_in(client, REVIEWER)
    await console_post(client, f"{path}/approve", token)
    await console_post(client, f"{path}/publish", token, publishAt="")
    assert "已发布" in (await client.get(path)).text
    reader = await patient_session(client, next_phone())
    engage = """mutation($id: ID!) { contentEngage(input: {itemId: $id, kind: VIEW}) { errors { code } } }"""
    assert (
        data(await gql(client, engage, {"id": path.rsplit("/", 1)[1]}, token=reader.access))["contentEngage"]["errors"]
        == []
    )
    page = (await client.get(path)).text
    assert 'id="engagement"' in page and "data-chart=" in page
