"""What the clinic front desk reads over HTTP: patients(phone:) finds the member in front of them (any
written form of the number), and Patient.redemptions lists that member's vouchers, for the member
themself and clinic staff only (others get PERMISSION_DENIED)."""

from __future__ import annotations

from typing import Any

import pytest

from api.relay import parse_uuid_id, to_global_id
from tests.factories import next_phone
from tests.loyalty.support import give_points, make_reward
from tests.support import data, gql, patient_session, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

FIND = """query($phone: String) { patients(phone: $phone, first: 5) { nodes { id nickname phone
  points { available } } } }"""
VOUCHERS = """query($phone: String!) { patients(phone: $phone) { nodes { id
  redemptions(first: 10) { nodes { voucherCode status points reward { name } } } } } }"""
MY_VOUCHERS = """{ me { ... on Patient { redemptions { nodes { voucherCode status } } } } }"""
REDEEM = """mutation($r: ID!, $k: String!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: $k}) {
  redemption { id voucherCode status } errors { field code message } } }"""


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_the_front_desk_finds_a_patient_by_phone_and_sees_their_vouchers(client) -> None:
    phone = next_phone()
    member = await patient_session(client, phone)
    other = await patient_session(client, next_phone())
    member_id = parse_uuid_id(member.id, "Patient")
    assert member_id is not None
    await give_points(member_id, 1000)
    reward_id = await make_reward(cost=300)
    redeemed = data(
        await gql(client, REDEEM, {"r": to_global_id("Reward", reward_id), "k": "front-desk-1"}, token=member.access)
    )["rewardRedeem"]
    assert redeemed["errors"] == []
    code = redeemed["redemption"]["voucherCode"]

    desk = await staff_session(client, "desk@example.cn", ["clinic_staff"])
    for written in (phone, f"+86 {phone[:3]} {phone[3:7]} {phone[7:]}", f"86-{phone}"):
        found = data(await gql(client, FIND, {"phone": written}, token=desk.access))["patients"]["nodes"]
        assert [n["id"] for n in found] == [member.id]
    assert found[0]["points"]["available"] == 700
    assert data(await gql(client, FIND, {"phone": next_phone()}, token=desk.access))["patients"]["nodes"] == []
    vouchers = data(await gql(client, VOUCHERS, {"phone": phone}, token=desk.access))["patients"]["nodes"][0]
    assert vouchers["redemptions"]["nodes"] == [
        {"voucherCode": code, "status": "ISSUED", "points": 300, "reward": {"name": "血糖仪"}}
    ]
    mine = data(await gql(client, MY_VOUCHERS, token=member.access))["me"]["redemptions"]["nodes"]
    assert [v["voucherCode"] for v in mine] == [code]
    theirs = data(await gql(client, MY_VOUCHERS, token=other.access))["me"]["redemptions"]["nodes"]
    assert theirs == []

    # Staff who do not fulfil vouchers may find the patient but not read their vouchers.
    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    refused = await gql(client, VOUCHERS, {"phone": phone}, token=marketer.access)
    assert _codes(refused) == ["PERMISSION_DENIED"]


async def test_a_malformed_phone_is_refused_and_patients_may_not_search(client) -> None:
    desk = await staff_session(client, "desk@example.cn", ["clinic_staff"])
    for bad in ("12345", "1" * 40, "138-abcd-0000", "1380000\x000001"):
        answer = await gql(client, FIND, {"phone": bad}, token=desk.access)
        assert answer["data"] is None
        assert _codes(answer) in (["PHONE_INVALID"], ["INVALID_STRING"]), (bad, answer)
    patient = await patient_session(client, next_phone())
    assert _codes(await gql(client, FIND, {"phone": next_phone()}, token=patient.access)) == ["PERMISSION_DENIED"]
    anonymous = await gql(client, FIND, {"phone": next_phone()})
    assert _codes(anonymous) in (["NOT_AUTHENTICATED"], ["PERMISSION_DENIED"])
