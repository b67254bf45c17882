"""Admins: staff accounts, tiers and earning rules, rewards; and the PHI read audit, where a console
read of health data appears as `console:<root fields>` like an app's read appears as `graphql:...`."""

from __future__ import annotations

import re

from sqlalchemy import select

from core.db import unit_of_work
from loyalty.models import Reward
from patients.models import Staff
from privacy.models import PhiRead
from tests.console.support import console_post, console_sign_in
from tests.factories import make_staff, next_phone
from tests.support import data, gql, patient_session

ADMIN = "admin@console.test"
MANAGER = "hm@console.test"
FILE = """mutation($body: String!) { complaintFile(input: {body: $body}) { errors { code } } }"""


async def test_an_admin_creates_a_staff_account_sets_roles_and_disables_it(client) -> None:
    await make_staff(ADMIN, ["admin"])
    token = await console_sign_in(client, ADMIN)
    made = await console_post(
        client,
        "/console/admin/staff/new",
        token,
        name="钱前台",
        email="qian@console.test",
        password="Front-desk-2026",
        roles="CLINIC_STAFF",
    )
    assert made.status_code == 303
    page = (await client.get("/console/admin/staff")).text
    assert "已创建员工账号 qian@console.test" in page and "钱前台" in page
    async with unit_of_work() as session:
        member = await session.scalar(select(Staff).where(Staff.email == "qian@console.test"))
    assert member is not None
    row = next(row for row in page.split('class="staff-row"')[1:] if "钱前台" in row)
    staff_gid = re.findall(r'name="staffId" value="([^"]+)"', row)[0]
    await client.post(
        "/console/admin/staff/roles",
        data={"csrf_token": token, "staffId": staff_gid, "roles": ["CLINIC_STAFF", "HEALTH_MANAGER"]},
    )
    assert "已更新角色" in (await client.get("/console/admin/staff")).text
    # The new account signs in to the console with the roles it was given.
    other = client.__class__(transport=client._transport, base_url=client.base_url)
    async with other:
        await console_sign_in(other, "qian@console.test", "Front-desk-2026")
        assert "投诉工单" in (await other.get("/console/")).text
        await console_post(client, "/console/admin/staff/active", token, staffId=staff_gid, active="0")
        assert "已停用账号" in (await client.get("/console/admin/staff")).text
        answer = await other.get("/console/")
        assert answer.status_code == 303  # disabled: its console session ends at once
    weak = await console_post(
        client, "/console/admin/staff/new", token, name="弱", email="weak@console.test", password="123", roles="ADMIN"
    )
    assert weak.status_code == 303
    assert "flash error" in (await client.get("/console/admin/staff")).text


async def test_an_admin_edits_tiers_rules_and_rewards(client) -> None:
    await make_staff(ADMIN, ["admin"])
    token = await console_sign_in(client, ADMIN)
    page = (await client.get("/console/admin/tiers")).text
    code = re.search(r'name="code" value="([^"]+)"', page)
    assert code
    await console_post(
        client,
        "/console/admin/tiers/update",
        token,
        code=code.group(1),
        birthdayMultiplier="2",
        priorityBooking="1",
        perks="免费停车\n专属客服",
    )
    page = (await client.get("/console/admin/tiers")).text
    assert "已更新会员等级权益" in page and "免费停车" in page
    made = await console_post(
        client,
        "/console/admin/rewards/new",
        token,
        name="足浴盆",
        category="gift",
        pointsCost="800",
        stock="5",
        description="家用足浴盆",
    )
    assert made.status_code == 303
    page = (await client.get("/console/admin/rewards")).text
    assert "已上架奖品「足浴盆」" in page
    reward_id = re.search(r'name="rewardId" value="([^"]+)"', page)
    assert reward_id
    await console_post(
        client,
        "/console/admin/rewards/update",
        token,
        rewardId=reward_id.group(1),
        name="足浴盆",
        category="gift",
        pointsCost="900",
        stock="4",
        active="0",
    )
    async with unit_of_work() as session:
        reward = await session.scalar(select(Reward).where(Reward.name == "足浴盆"))
    assert reward is not None and reward.points_cost == 900 and reward.active is False


async def test_console_reads_of_health_data_are_in_the_phi_read_audit(client) -> None:
    await make_staff(ADMIN, ["admin"])
    await make_staff(MANAGER, ["health_manager"], name="周健管")
    patient = await patient_session(client, next_phone())
    filed = data(await gql(client, FILE, {"body": "取药窗口排队太久"}, token=patient.access))
    assert filed["complaintFile"]["errors"] == []
    await console_sign_in(client, MANAGER)
    assert "取药窗口排队太久" in (await client.get("/console/care/complaints")).text
    async with unit_of_work() as session:
        reads = list(await session.scalars(select(PhiRead)))
    assert [r.through for r in reads] == ["console:complaints"]
    assert (await client.get("/console/admin/phi")).status_code == 403
    client.cookies.clear()
    await console_sign_in(client, ADMIN)
    page = (await client.get("/console/admin/phi?kind=COMPLAINTS")).text
    assert "周健管" in page and "<code>console:complaints</code>" in page


async def test_an_admin_adds_a_site(client) -> None:
    await make_staff(ADMIN, ["admin"])
    token = await console_sign_in(client, ADMIN)
    await console_post(client, "/console/admin/sites/new", token, code="KN-NEW", name="康宁新院区", kind="CAMPUS")
    page = (await client.get("/console/admin/sites")).text
    assert "已添加院区「康宁新院区」" in page and "KN-NEW" in page
    await console_post(client, "/console/admin/sites/new", token, code="KN-NEW", name="重复", kind="CAMPUS")
    assert "flash error" in (await client.get("/console/admin/sites")).text
