"""The moderators' pages: the queue with the word-filter hit and report weights, claim and decide, emergencies
on top, join requests, mute/ban/unban. Every action goes through the GraphQL mutations as the signed-in
moderator (the audit log records the staff member)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import select

from api.relay import to_global_id
from community import groups, posts
from community.models import AuditEntry, Membership, Post
from core.db import unit_of_work
from tests.console.support import console_post, console_sign_in
from tests.factories import as_patient, make_group, make_staff, member_of, new_member

MODERATOR = "mod@console.test"


async def _held_post(group_id: uuid.UUID, author: uuid.UUID, body: str = "有需要的加微信详聊") -> uuid.UUID:
    async with unit_of_work() as session:
        created = await posts.create_post(
            session, as_patient(author), group_id=group_id, kind="discussion", title="求助", body=body
        )
    return created.item.id


async def _post_status(post_id: uuid.UUID) -> str:
    async with unit_of_work() as session:
        post = await session.get(Post, post_id)
        assert post is not None
        return str(post.status)


def _item_form(html: str) -> tuple[str, str]:
    found = re.search(r'name="itemId" value="([^"]+)"><input type="hidden" name="version" value="(\d+)"', html)
    assert found, "no queue item form"
    return found.group(1), found.group(2)


async def test_a_moderator_claims_and_keeps_a_held_post_which_is_then_published(client) -> None:
    staff_id = await make_staff(MODERATOR, ["moderator"])
    group = await make_group()
    author = await member_of(group)
    post_id = await _held_post(group, author)
    assert await _post_status(post_id) == "held"

    token = await console_sign_in(client, MODERATOR)
    page = await client.get("/console/moderation")
    assert page.status_code == 200
    assert '<mark class="hit">加微信</mark>' in page.text  # the word that held it
    assert "举报 0 次" in page.text
    item_id, version = _item_form(page.text)
    claimed = await console_post(client, "/console/moderation/claim", token, itemId=item_id, version=version)
    assert claimed.status_code == 303
    page = await client.get("/console/moderation")
    assert "已认领，请处理" in page.text
    item_id, version = _item_form(page.text)
    decided = await console_post(
        client, "/console/moderation/decide", token, itemId=item_id, version=version, decision="KEEP", reason=""
    )
    assert decided.status_code == 303
    assert "已处理" in (await client.get("/console/moderation")).text
    assert await _post_status(post_id) == "published"
    async with unit_of_work() as session:
        rows = await session.execute(
            select(AuditEntry.actor_kind, AuditEntry.actor_id).where(AuditEntry.target_id == post_id)
        )
        actors = {(kind, actor) for kind, actor in rows}
    assert ("staff", staff_id) in actors  # recorded as the signed-in moderator


async def test_a_decision_without_a_reason_shows_the_api_error(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    group = await make_group()
    await _held_post(group, await member_of(group))
    token = await console_sign_in(client, MODERATOR)
    page = await client.get("/console/moderation")
    item_id, version = _item_form(page.text)
    await console_post(client, "/console/moderation/claim", token, itemId=item_id, version=version)
    item_id, version = _item_form((await client.get("/console/moderation")).text)
    await console_post(
        client, "/console/moderation/decide", token, itemId=item_id, version=version, decision="HIDE", reason=""
    )
    assert "请填写处理理由" in (await client.get("/console/moderation")).text


async def test_emergencies_are_shown_on_top(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    group = await make_group()
    author = await member_of(group)
    await _held_post(group, author)
    await _held_post(group, await member_of(group), body="胸口剧痛喘不上气，不想活了")
    await console_sign_in(client, MODERATOR)
    page = (await client.get("/console/moderation")).text
    assert 'id="emergencies"' in page
    assert page.index('id="emergencies"') < page.index('id="queue"')
    emergency_panel = page[page.index('id="emergencies"') : page.index('id="queue"')]
    assert "不想活了" in emergency_panel


async def test_join_requests_are_approved_and_refused(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    group = await make_group(join_policy="approval")
    asking, other = await new_member(), await new_member()
    async with unit_of_work() as session:
        await groups.join(session, as_patient(asking), group, note="我也是糖友")
        await groups.join(session, as_patient(other), group, note="广告")
    token = await console_sign_in(client, MODERATOR)
    page = (await client.get("/console/moderation/requests")).text
    assert "我也是糖友" in page and "广告" in page
    ids = re.findall(r'name="membershipId" value="([^"]+)"', page)
    assert len(ids) == 2
    notes = {m: page[page.index(m) - 800 : page.index(m)] for m in ids}
    approve_id = next(m for m, before in notes.items() if "我也是糖友" in before)
    refuse_id = next(m for m in ids if m != approve_id)
    await console_post(client, "/console/moderation/requests/decide", token, membershipId=approve_id, approve="1")
    await console_post(
        client, "/console/moderation/requests/decide", token, membershipId=refuse_id, approve="0", reason="疑似广告"
    )
    async with unit_of_work() as session:
        states = {
            m.account_id: m.state for m in await session.scalars(select(Membership).where(Membership.group_id == group))
        }
    assert states[asking] == "active"
    assert states.get(other) in (None, "rejected", "left")
    assert "没有待审核的入群申请" in (await client.get("/console/moderation/requests")).text


async def test_a_member_is_muted_then_banned_then_unbanned(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    group = await make_group()
    author = await member_of(group)
    token = await console_sign_in(client, MODERATOR)
    group_gid, author_gid = to_global_id("Group", group), to_global_id("Patient", author)
    form = await client.get(f"/console/moderation/members?groupId={group_gid}&accountId={author_gid}&label=糖友1")
    assert "处理成员：糖友1" in form.text
    muted = await console_post(
        client,
        "/console/moderation/members/restrict",
        token,
        groupId=group_gid,
        accountId=author_gid,
        action="mute",
        days="3",
        reason="刷屏",
    )
    assert muted.status_code == 303
    page = (await client.get("/console/moderation/members")).text
    assert "已禁言" in page and "刷屏" in page and "禁言</span> 至" in page
    await console_post(
        client,
        "/console/moderation/members/restrict",
        token,
        groupId=group_gid,
        accountId=author_gid,
        action="ban",
        reason="多次违规",
    )
    page = (await client.get("/console/moderation/members")).text
    assert "封禁</span> 永久" in page
    membership_id = re.search(r'name="membershipId" value="([^"]+)"', page)
    assert membership_id
    await console_post(
        client,
        "/console/moderation/members/restrict",
        token,
        membershipId=membership_id.group(1),
        action="lift",
        reason="申诉通过",
    )
    page = (await client.get("/console/moderation/members")).text
    assert "已解除禁言和封禁" in page
    async with unit_of_work() as session:
        state = await session.scalar(
            select(Membership.state).where(Membership.group_id == group, Membership.account_id == author)
        )
    assert state == "left"  # a lifted ban lets them join again (community/moderation/restrictions.py)
    # A restriction without a reason is refused by the API, and the page says why.
    await console_post(
        client,
        "/console/moderation/members/restrict",
        token,
        groupId=group_gid,
        accountId=author_gid,
        action="mute",
        days="3",
        reason="",
    )
    assert "flash error" in (await client.get("/console/moderation/members")).text


async def test_the_live_counter_and_the_audit_log_with_filters(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    group = await make_group()
    await _held_post(group, await member_of(group))
    await _held_post(group, await member_of(group), body="胸口剧痛喘不上气")
    token = await console_sign_in(client, MODERATOR)
    count = await client.get("/console/moderation/count", headers={"hx-request": "true"})
    assert "待认领 <strong>2</strong> 条" in count.text and "紧急 1" in count.text
    page = (await client.get("/console/moderation")).text
    item_id, version = _item_form(page)
    await console_post(client, "/console/moderation/claim", token, itemId=item_id, version=version)
    item_id, version = _item_form((await client.get("/console/moderation")).text)
    await console_post(
        client, "/console/moderation/decide", token, itemId=item_id, version=version, decision="HIDE", reason="引流"
    )
    audit = (await client.get("/console/moderation/audit")).text
    assert "审核：隐藏" in audit and "引流" in audit and "认领" in audit
    only = (await client.get("/console/moderation/audit?action=moderate_hide")).text
    assert only.count('class="audit-row"') == 1
    assert (await client.get("/console/moderation/words")).status_code == 403  # the word list is the admins'


async def test_an_admin_manages_the_word_list(client) -> None:
    await make_staff("admin@console.test", ["admin"])
    token = await console_sign_in(client, "admin@console.test")
    await console_post(client, "/console/moderation/words/add", token, word="代写病历", category="BLOCK", note="测试")
    page = (await client.get("/console/moderation/words?category=BLOCK")).text
    assert "已添加敏感词" in page and "代写病历" in page
    row = next(r for r in page.split('class="word-row"')[1:] if "代写病历" in r)
    word_id = re.search(r'name="wordId" value="([^"]+)"', row)
    assert word_id
    await console_post(client, "/console/moderation/words/remove", token, wordId=word_id.group(1))
    page = (await client.get("/console/moderation/words?category=BLOCK")).text
    assert "已停用敏感词" in page and "代写病历" not in page
    await console_post(client, "/console/moderation/words/exception-add", token, phrase="想死你们了")
    assert "想死你们了" in (await client.get("/console/moderation/words")).text
    await console_post(client, "/console/moderation/words/add", token, word="", category="HOLD")
    assert "flash error" in (await client.get("/console/moderation/words")).text
