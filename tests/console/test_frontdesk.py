"""The front desk page: find a patient by phone, see points, tier and vouchers, fulfil a voucher by code,
record a visit, and (admins) adjust points with a reason; all through the GraphQL mutations."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from api.relay import parse_uuid_id, to_global_id
from core.db import unit_of_work
from loyalty.models import Redemption, Visit
from tests.console.support import console_post, console_sign_in
from tests.factories import make_site, make_staff, next_phone
from tests.loyalty.support import give_points, make_reward
from tests.support import data, gql, patient_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

DESK = "desk@console.test"
ADMIN = "admin@console.test"
REDEEM = """mutation($r: ID!, $k: String!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: $k}) {
  redemption { voucherCode } errors { code } } }"""


async def _member_with_voucher(client) -> tuple[str, str, str]:
    phone = next_phone()
    member = await patient_session(client, phone)
    member_id = parse_uuid_id(member.id, "Patient")
    assert member_id is not None
    await give_points(member_id, 1000)
    reward = await make_reward(cost=300)
    variables = {"r": to_global_id("Reward", reward), "k": "desk-k-1"}
    redeemed = data(await gql(client, REDEEM, variables, token=member.access))
    return phone, member.id, redeemed["rewardRedeem"]["redemption"]["voucherCode"]


async def test_the_desk_finds_the_patient_and_fulfils_their_voucher(client) -> None:
    site = await make_site("KN-D1")
    await make_staff(DESK, ["clinic_staff"], site_id=site)
    phone, _, code = await _member_with_voucher(client)
    token = await console_sign_in(client, DESK)
    page = (await client.get(f"/console/frontdesk?phone={phone}")).text
    assert 'id="available">700<' in page
    assert code in page and "待核销" in page
    assert 'name="amount"' not in page  # adjusting points is for admins
    sites = re.findall(r'<option value="([^"]+)" selected>', page)
    assert to_global_id("Site", site) in sites  # the desk's own site is preselected
    site_gid = to_global_id("Site", site)
    done = await console_post(
        client, "/console/frontdesk/fulfil", token, voucherCode=code.lower(), siteId=site_gid, phone=phone
    )
    assert done.status_code == 303 and done.headers["location"] == f"/console/frontdesk?phone={phone}"
    page = (await client.get(done.headers["location"])).text
    assert f"已核销兑换券 {code}" in page and "已核销" in page
    async with unit_of_work() as session:
        status = await session.scalar(select(Redemption.status).where(Redemption.voucher_code == code))
    assert status == "fulfilled"
    # A second time: the API's answer is shown.
    await console_post(client, "/console/frontdesk/fulfil", token, voucherCode=code, siteId=to_global_id("Site", site))
    assert "flash error" in (await client.get("/console/frontdesk")).text


async def test_the_desk_records_a_visit_and_an_admin_adjusts_points(client) -> None:
    site = await make_site("KN-D2")
    await make_staff(DESK, ["clinic_staff"], site_id=site)
    await make_staff(ADMIN, ["admin"])
    phone, member_id, _ = await _member_with_voucher(client)
    token = await console_sign_in(client, DESK)
    page = (await client.get(f"/console/frontdesk?phone={phone}")).text
    external_id = re.search(r'name="externalId" value="([^"]+)"', page)
    assert external_id
    visit = {
        "patientId": member_id,
        "siteId": to_global_id("Site", site),
        "externalId": external_id.group(1),
        "department": "内分泌科",
        "visitedAt": "2026-03-01T09:30",
        "phone": phone,
    }
    fields = {
        **visit,
        "csrf_token": token,
        "category": ["registration", "consultation", "drug"],
        "selfPaid": ["10", "120.5", ""],
        "insured": ["", "30", ""],
    }
    answer = await client.post("/console/frontdesk/visit", data=fields)
    assert answer.status_code == 303
    assert "已记录就诊" in (await client.get(answer.headers["location"])).text
    async with unit_of_work() as session:
        recorded = await session.scalar(select(Visit).where(Visit.external_id == external_id.group(1)))
    assert recorded is not None and recorded.department == "内分泌科"
    assert recorded.self_paid_fen == 13050 and recorded.insured_fen == 3000
    bad = await client.post("/console/frontdesk/visit", data={**fields, "selfPaid": ["十元", "", ""]})
    assert bad.status_code == 303
    assert "金额格式不正确" in (await client.get("/console/frontdesk")).text
    # Adjusting points: refused for the desk, done by an admin with a reason.
    assert (
        await console_post(client, "/console/frontdesk/adjust", token, patientId=member_id, amount="50", reason="补录")
    ).status_code == 403
    client.cookies.clear()
    admin_token = await console_sign_in(client, ADMIN)
    page = (await client.get(f"/console/frontdesk?phone={phone}")).text
    key = re.search(r'name="idempotencyKey" value="([^"]+)"', page)
    assert key and 'name="amount"' in page
    for _ in range(2):  # a double submit posts once (the same idempotency key)
        await console_post(
            client,
            "/console/frontdesk/adjust",
            admin_token,
            patientId=member_id,
            amount="50",
            reason="活动补发",
            idempotencyKey=key.group(1),
            phone=phone,
        )
    page = (await client.get(f"/console/frontdesk?phone={phone}")).text
    assert "已调整积分 +50：活动补发" in page and 'id="available">750<' in page
