"""Tier benefit rules through the real schema over HTTP: everyone reads the tiers with their rules and
the text derived from them; only an admin changes them (typed codes for bad input); the monthly
voucher reaches the member's redemptions."""

from __future__ import annotations

import uuid
from typing import Any

from api.relay import to_global_id
from core import clock
from core.db import unit_of_work
from core.identity import Role
from loyalty import benefits, rewards
from loyalty.models import MemberTier
from tests.factories import staff
from tests.loyalty.support import make_reward
from tests.support import data, gql, signed_in_patient, staff_session

TIERS = "{ tiers { code benefits birthdayMultiplier priorityBooking perks monthlyVoucherRewardId } }"
UPDATE = """mutation($input: TierBenefitsUpdateInput!) { tierBenefitsUpdate(input: $input) {
  tier { code benefits birthdayMultiplier priorityBooking perks monthlyVoucherRewardId } errors { field code } } }"""
MY_REDEMPTIONS = "{ myRedemptions(first: 5) { edges { node { points status voucherCode reward { name } } } } }"


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


def codes(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def test_tiers_show_their_rules_and_only_an_admin_changes_them(client: Any) -> None:
    tiers = {t["code"]: t for t in data(await gql(client, TIERS))["tiers"]}
    assert tiers["silver"] == {
        "code": "silver",
        "benefits": ["优先预约：挂号与活动候补优先", "生日双倍积分", "体检套餐95折"],
        "birthdayMultiplier": 2,
        "priorityBooking": True,
        "perks": ["体检套餐95折"],
        "monthlyVoucherRewardId": None,
    }
    assert tiers["standard"]["birthdayMultiplier"] == 1 and not tiers["standard"]["priorityBooking"]

    async with unit_of_work() as session:
        reward = await rewards.create_reward(
            session,
            staff(Role.MARKETER),
            rewards.RewardInput(
                name="免费专家问诊券", description="", category="service_voucher", points_cost=300, stock=None
            ),
        )
    reward_gid = to_global_id("Reward", reward.id)
    change = {"code": "gold", "birthdayMultiplier": 3, "monthlyVoucherRewardId": reward_gid, "perks": ["体检套餐9折"]}

    admin = await staff_session(client, _email("admin"), ["admin"])
    marketer = await staff_session(client, _email("mkt"), ["marketer"])
    patient, _ = await signed_in_patient(client)
    for who in (marketer, patient):
        refused = data(await gql(client, UPDATE, {"input": change}, token=who.access))["tierBenefitsUpdate"]
        assert refused["tier"] is None and [c for _, c in codes(refused)] == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, UPDATE, {"input": change}))["tierBenefitsUpdate"]
    assert [c for _, c in codes(anonymous)] == ["NOT_AUTHENTICATED"]

    limited = to_global_id("Reward", await make_reward(stock=3))
    for bad, expected in (
        ({"code": "gold", "birthdayMultiplier": 9}, [("birthdayMultiplier", "OUT_OF_RANGE")]),
        ({"code": "gold", "perks": ["折" * 5000]}, [("perks", "PERKS_INVALID")]),
        ({"code": "gold", "perks": ["零\u200b宽"]}, [("perks", "PERKS_INVALID")]),
        ({"code": "gold", "perks": ["一"] * 11}, [("perks", "PERKS_INVALID")]),
        ({"code": "gold", "monthlyVoucherRewardId": "nonsense"}, [("monthlyVoucherRewardId", "ID_INVALID")]),
        ({"code": "gold", "monthlyVoucherRewardId": limited}, [("monthlyVoucherRewardId", "VOUCHER_REWARD_LIMITED")]),
        (
            {"code": "gold", "monthlyVoucherRewardId": to_global_id("Reward", uuid.uuid4())},
            [("monthlyVoucherRewardId", "REWARD_NOT_FOUND")],
        ),
        ({"code": "platinum", "birthdayMultiplier": 2}, [("code", "TIER_UNKNOWN")]),
        ({"code": "x" * 10_000}, [("code", "TIER_UNKNOWN")]),
    ):
        answer = data(await gql(client, UPDATE, {"input": bad}, token=admin.access))["tierBenefitsUpdate"]
        assert answer["tier"] is None and codes(answer) == expected, (bad, answer)
    nul = await gql(client, UPDATE, {"input": {"code": "gold", "perks": ["体检\x00"]}}, token=admin.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING"

    done = data(await gql(client, UPDATE, {"input": change}, token=admin.access))["tierBenefitsUpdate"]
    assert done["errors"] == []
    assert done["tier"]["benefits"] == [
        "优先预约：挂号与活动候补优先",
        "生日三倍积分",
        "每月赠送「免费专家问诊券」1张",
        "体检套餐9折",
    ]
    assert done["tier"]["monthlyVoucherRewardId"] == reward_gid
    gold = {t["code"]: t for t in data(await gql(client, TIERS))["tiers"]}["gold"]
    assert gold == done["tier"]

    # The monthly job gives the gold member their voucher, free; it is in their redemptions.
    member, member_id = await signed_in_patient(client)
    now = clock.now()
    async with unit_of_work() as session:
        session.add(
            MemberTier(patient_id=member_id, tier_code="gold", qualifying_points=3000, since=now, evaluated_at=now)
        )
    assert await benefits.issue_monthly_vouchers() == 1
    mine = data(await gql(client, MY_REDEMPTIONS, token=member.access))["myRedemptions"]["edges"]
    assert [(e["node"]["points"], e["node"]["status"], e["node"]["reward"]["name"]) for e in mine] == [
        (0, "ISSUED", "免费专家问诊券")
    ]
    history = "{ pointsHistory(first: 5) { edges { node { kind amount memo } } } }"
    entries = data(await gql(client, history, token=member.access))["pointsHistory"]["edges"]
    assert entries[0]["node"]["amount"] == 0 and entries[0]["node"]["memo"].startswith("会员权益：免费专家问诊券")

    cleared = data(
        await gql(client, UPDATE, {"input": {"code": "gold", "clearMonthlyVoucher": True}}, token=admin.access)
    )["tierBenefitsUpdate"]
    assert cleared["tier"]["monthlyVoucherRewardId"] is None
    assert "每月赠送「免费专家问诊券」1张" not in cleared["tier"]["benefits"]
