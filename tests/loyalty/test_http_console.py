"""Loyalty root fields over HTTP with signed-in actors: rewardCreate and rewardUpdate (marketing),
redemptionCancel (the member or the clinic desk), earningRules (staff who answer about points, and
marketing) and myReferrals (the member's own)."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import parse_uuid_id, to_global_id
from tests.factories import next_phone
from tests.loyalty.support import balances, give_points, make_reward, record_visit, stock_of
from tests.support import REQUEST_CODE, data, gql, last_code, patient_session, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

REWARD_FIELDS = "id name description category pointsCost stock tierRequired perMemberLimit validFrom validTo active"
CREATE = f"""mutation($input: RewardInput!) {{ rewardCreate(input: $input) {{
  reward {{ {REWARD_FIELDS} }} errors {{ field code message }} }} }}"""
UPDATE = f"""mutation($id: ID!, $input: RewardInput!) {{ rewardUpdate(input: {{rewardId: $id, reward: $input}}) {{
  reward {{ {REWARD_FIELDS} }} errors {{ field code message }} }} }}"""
REDEEM = """mutation($r: ID!, $k: String!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: $k}) {
  redemption { id status points } errors { field code message } } }"""
CANCEL = """mutation($id: ID!) { redemptionCancel(input: {redemptionId: $id}) {
  redemption { id status points } errors { field code message } } }"""
RULES = "{ earningRules { code name points pendingDays active } }"
REFERRALS = """query($first: Int) { myReferrals(first: $first) {
  edges { node { status rejectReason refereeNickname convertedAt } } pageInfo { hasNextPage } } }"""


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def _uuid(global_id: str, type_name: str = "Patient"):
    value = parse_uuid_id(global_id, type_name)
    assert value is not None
    return value


def _reward(**overrides: Any) -> dict[str, Any]:
    return {"name": "体检套餐", "category": "checkup", "pointsCost": 800, "stock": 10, **overrides}


async def test_reward_create_by_marketing_with_checked_input(client, unique_phone):
    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    created = data(
        await gql(
            client,
            CREATE,
            {"input": _reward(description=" 含血常规 ", perMemberLimit=1, name="  体检套餐 ")},
            token=marketer.access,
        )
    )["rewardCreate"]
    assert created["errors"] == []
    reward = created["reward"]
    assert {k: v for k, v in reward.items() if k != "id"} == {
        "name": "体检套餐",
        "description": "含血常规",
        "category": "checkup",
        "pointsCost": 800,
        "stock": 10,
        "tierRequired": None,
        "perMemberLimit": 1,
        "validFrom": None,
        "validTo": None,
        "active": True,
    }
    listed = data(await gql(client, "{ rewards(first: 10) { edges { node { id } } } }"))["rewards"]["edges"]
    assert [e["node"]["id"] for e in listed] == [reward["id"]]

    patient = await patient_session(client, unique_phone)
    clerk = await staff_session(client, "clerk@example.cn", ["clinic_staff"])
    for who in (patient, clerk):
        denied = data(await gql(client, CREATE, {"input": _reward()}, token=who.access))["rewardCreate"]
        assert denied["reward"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, CREATE, {"input": _reward()}))["rewardCreate"]
    assert _codes(anonymous) == ["NOT_AUTHENTICATED"]

    bad = data(
        await gql(
            client,
            CREATE,
            {
                "input": _reward(
                    name=" ",
                    category="cash",
                    pointsCost=0,
                    stock=-1,
                    perMemberLimit=0,
                    voucherValidDays=0,
                    validFrom="2026-06-02T00:00:00+08:00",
                    validTo="2026-06-01T00:00:00+08:00",
                    tierRequired="platinum-x",
                )
            },
            token=marketer.access,
        )
    )["rewardCreate"]
    assert bad["reward"] is None
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("name", "NAME_LENGTH"),
        ("category", "CATEGORY_INVALID"),
        ("pointsCost", "COST_INVALID"),
        ("stock", "STOCK_INVALID"),
        ("perMemberLimit", "LIMIT_INVALID"),
        ("voucherValidDays", "VALIDITY_INVALID"),
        ("validTo", "VALIDITY_RANGE"),
        ("tierRequired", "TIER_UNKNOWN"),
    }
    listed = data(await gql(client, "{ rewards(first: 10) { edges { node { id } } } }"))["rewards"]["edges"]
    assert len(listed) == 1  # nothing half-made


async def test_reward_update_by_marketing_only(client, unique_phone):
    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    reward_id = to_global_id("Reward", await make_reward(cost=100, stock=5))
    tiers = data(await gql(client, "{ tiers { code } }"))["tiers"]
    gold = tiers[-1]["code"]

    updated = data(
        await gql(
            client,
            UPDATE,
            {
                "id": reward_id,
                "input": _reward(name="血糖仪（新款）", category="gift", pointsCost=150, stock=None, tierRequired=gold),
            },
            token=marketer.access,
        )
    )["rewardUpdate"]
    assert updated["errors"] == []
    assert updated["reward"]["id"] == reward_id
    assert updated["reward"]["name"] == "血糖仪（新款）" and updated["reward"]["pointsCost"] == 150
    assert updated["reward"]["stock"] is None and updated["reward"]["tierRequired"] == gold

    hidden = data(await gql(client, UPDATE, {"id": reward_id, "input": _reward(active=False)}, token=marketer.access))[
        "rewardUpdate"
    ]
    assert hidden["errors"] == [] and hidden["reward"]["active"] is False
    shop = data(await gql(client, "{ rewards(first: 10) { edges { node { id } } } }"))["rewards"]["edges"]
    assert shop == []

    patient = await patient_session(client, unique_phone)
    reviewer = await staff_session(client, "rev@example.cn", ["reviewer"])
    for who in (patient, reviewer):
        denied = data(await gql(client, UPDATE, {"id": reward_id, "input": _reward()}, token=who.access))
        assert denied["rewardUpdate"]["reward"] is None and _codes(denied["rewardUpdate"]) == ["PERMISSION_DENIED"]

    malformed = data(await gql(client, UPDATE, {"id": "reward-1", "input": _reward()}, token=marketer.access))
    assert malformed["rewardUpdate"]["errors"] == [{"field": "rewardId", "code": "ID_INVALID", "message": "编号无效"}]
    unknown = to_global_id("Reward", _uuid(patient.id))
    missing = data(await gql(client, UPDATE, {"id": unknown, "input": _reward()}, token=marketer.access))
    assert _codes(missing["rewardUpdate"]) == ["REWARD_NOT_FOUND"]
    invalid = data(await gql(client, UPDATE, {"id": reward_id, "input": _reward(pointsCost=-5)}, token=marketer.access))
    assert _codes(invalid["rewardUpdate"]) == ["COST_INVALID"]


async def test_redemption_cancel_by_the_member_or_the_clinic_desk(client, unique_phone):
    alice = await patient_session(client, unique_phone)
    bob = await patient_session(client, next_phone())
    await give_points(_uuid(alice.id), 500)
    reward_uuid = await make_reward(cost=120, stock=3)
    reward = to_global_id("Reward", reward_uuid)

    async def redeem(key: str) -> str:
        r = data(await gql(client, REDEEM, {"r": reward, "k": key}, token=alice.access))["rewardRedeem"]
        assert r["errors"] == [] and r["redemption"]["status"] == "ISSUED", r
        return r["redemption"]["id"]

    first = await redeem("cancel-key-0001")
    second = await redeem("cancel-key-0002")
    assert (await balances(_uuid(alice.id)))["available"] == 500 - 240
    assert await stock_of(reward_uuid) == 1

    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    for who in (bob, marketer):
        denied = data(await gql(client, CANCEL, {"id": first}, token=who.access))["redemptionCancel"]
        assert denied["redemption"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, CANCEL, {"id": reward}, token=alice.access))["redemptionCancel"]
    assert malformed["errors"] == [{"field": "redemptionId", "code": "ID_INVALID", "message": "编号无效"}]
    unknown = to_global_id("Redemption", reward_uuid)
    missing = data(await gql(client, CANCEL, {"id": unknown}, token=alice.access))["redemptionCancel"]
    assert _codes(missing) == ["REDEMPTION_NOT_FOUND"]
    for target in (first, unknown):  # anonymous: told to sign in, whether the voucher exists or not
        anonymous = data(await gql(client, CANCEL, {"id": target}))["redemptionCancel"]
        assert _codes(anonymous) == ["NOT_AUTHENTICATED"]

    mine = data(await gql(client, CANCEL, {"id": first}, token=alice.access))["redemptionCancel"]
    assert mine == {"redemption": {"id": first, "status": "CANCELLED", "points": 120}, "errors": []}
    assert (await balances(_uuid(alice.id)))["available"] == 500 - 120
    assert await stock_of(reward_uuid) == 2
    again = data(await gql(client, CANCEL, {"id": first}, token=alice.access))["redemptionCancel"]
    assert _codes(again) == ["REDEMPTION_NOT_OPEN"]

    clerk = await staff_session(client, "clerk@example.cn", ["clinic_staff"])
    by_desk = data(await gql(client, CANCEL, {"id": second}, token=clerk.access))["redemptionCancel"]
    assert by_desk["errors"] == [] and by_desk["redemption"]["status"] == "CANCELLED"
    assert (await balances(_uuid(alice.id)))["available"] == 500
    assert await stock_of(reward_uuid) == 3


async def test_earning_rules_for_points_staff_and_marketing(client, unique_phone):
    for email, roles in (
        ("mkt@example.cn", ["marketer"]),
        ("clerk@example.cn", ["clinic_staff"]),
        ("hm@example.cn", ["health_manager"]),
        ("doc@example.cn", ["doctor"]),
        ("admin@example.cn", ["admin"]),
    ):
        staff = await staff_session(client, email, roles)
        rules = data(await gql(client, RULES, token=staff.access))["earningRules"]
        assert rules, email
        codes = [r["code"] for r in rules]
        assert len(codes) == len(set(codes)) and "survey_completed" in codes

    patient = await patient_session(client, unique_phone)
    moderator = await staff_session(client, "mod@example.cn", ["moderator"])
    reviewer = await staff_session(client, "rev@example.cn", ["reviewer"])
    for who in (patient, moderator, reviewer):
        denied = await gql(client, RULES, token=who.access)
        assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED" and denied["data"] is None
    anonymous = await gql(client, RULES)
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_my_referrals_lists_the_friends_i_referred(client, unique_phone):
    referrer = await patient_session(client, unique_phone)
    me = data(await gql(client, "{ me { ... on Patient { referralCode } } }", token=referrer.access))["me"]
    code = me["referralCode"]
    assert data(await gql(client, REFERRALS, {"first": 5}, token=referrer.access))["myReferrals"]["edges"] == []

    friend_phone = next_phone()
    await gql(client, REQUEST_CODE, {"phone": friend_phone})
    sign_in = """mutation($phone: String!, $code: String!, $ref: String) {
      authSignIn(input: {phone: $phone, code: $code, referralCode: $ref}) {
        patient { id } tokens { accessToken } errors { code } } }"""
    joined = data(
        await gql(client, sign_in, {"phone": friend_phone, "code": await last_code(friend_phone), "ref": code})
    )["authSignIn"]
    assert joined["errors"] == []
    friend = _uuid(joined["patient"]["id"])

    page = data(await gql(client, REFERRALS, {"first": 5}, token=referrer.access))["myReferrals"]
    assert [e["node"]["status"] for e in page["edges"]] == ["ATTRIBUTED"]
    assert page["edges"][0]["node"]["convertedAt"] is None and page["pageInfo"]["hasNextPage"] is False
    await record_visit(friend, "REF-HTTP-1", consultation_fen=10_000)
    page = data(await gql(client, REFERRALS, {"first": 5}, token=referrer.access))["myReferrals"]
    assert page["edges"][0]["node"]["status"] == "CONVERTED" and page["edges"][0]["node"]["convertedAt"]

    # The friend referred nobody; staff have no referrals of their own; nobody signed in is refused.
    friend_token = joined["tokens"]["accessToken"]
    assert data(await gql(client, REFERRALS, {"first": 5}, token=friend_token))["myReferrals"]["edges"] == []
    clerk = await staff_session(client, "clerk@example.cn", ["clinic_staff"])
    denied = await gql(client, REFERRALS, {"first": 5}, token=clerk.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED" and denied["data"] is None
    anonymous = await gql(client, REFERRALS, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
