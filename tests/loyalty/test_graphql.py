"""Loyalty through GraphQL: the member's view, redemption, staff operations and their permissions."""

from __future__ import annotations

from api.relay import parse_uuid_id, to_global_id
from core import clock
from core.db import unit_of_work
from tests.factories import check_ledger_invariants
from tests.loyalty.support import days, give_points, make_reward, record_visit, site_id
from tests.support import count_statements, data, gql, patient_session, staff_session

ME = """{ me { ... on Patient { referralCode lifecycleStage
  points { available pending owed lifetimeEarned expiringSoon { amount expiresAt } }
  tier { name benefits progress { qualifyingPoints pointsToNext nextTier { name } graceUntil } }
  pointsHistory(first: 5) { edges { node { kind amount memo } } } } } }"""
REDEEM = """mutation($r: ID!, $k: String!) { rewardRedeem(input: {rewardId: $r, idempotencyKey: $k}) {
  redemption { id voucherCode status points reward { name } } errors { field code message } } }"""


def _uuid(global_id: str, type_name: str = "Patient"):
    value = parse_uuid_id(global_id, type_name)
    assert value is not None
    return value


async def test_member_sees_points_tier_and_referral_code(client, unique_phone):
    s = await patient_session(client, unique_phone)
    await record_visit(_uuid(s.id), "G-1", consultation_fen=12_000)
    me = data(await gql(client, ME, token=s.access))["me"]
    assert len(me["referralCode"]) == 8 and me["lifecycleStage"] == "CONVERSION"
    assert me["points"] == {"available": 0, "pending": 62, "owed": 0, "lifetimeEarned": 62, "expiringSoon": []}
    assert me["tier"]["name"] == "普通会员" and me["tier"]["progress"]["nextTier"]["name"] == "银卡"
    assert me["tier"]["progress"]["pointsToNext"] == 1000 - 62
    assert [e["node"]["kind"] for e in me["pointsHistory"]["edges"]] == ["EARN", "EARN"]
    tiers = data(await gql(client, "{ tiers { code name benefits } }"))["tiers"]
    assert [t["name"] for t in tiers] == ["普通会员", "银卡", "金卡", "钻石卡"]


async def test_redeem_through_graphql_and_list_my_redemptions(client, unique_phone):
    s = await patient_session(client, unique_phone)
    await give_points(_uuid(s.id), 500)
    reward = to_global_id("Reward", await make_reward(cost=120, stock=2))
    listed = data(await gql(client, "{ rewards(first: 10) { edges { node { id name pointsCost stock } } } }"))
    assert [e["node"]["id"] for e in listed["rewards"]["edges"]] == [reward]
    r = data(await gql(client, REDEEM, {"r": reward, "k": "gql-key-0001"}, token=s.access))["rewardRedeem"]
    assert r["errors"] == [] and r["redemption"]["status"] == "ISSUED" and r["redemption"]["reward"]["name"] == "血糖仪"
    again = data(await gql(client, REDEEM, {"r": reward, "k": "gql-key-0001"}, token=s.access))["rewardRedeem"]
    assert again["redemption"]["id"] == r["redemption"]["id"]
    anonymous = data(await gql(client, REDEEM, {"r": reward, "k": "gql-key-0002"}))["rewardRedeem"]
    assert anonymous["errors"][0]["code"] == "NOT_AUTHENTICATED"
    bad_id = data(await gql(client, REDEEM, {"r": "nonsense", "k": "gql-key-0003"}, token=s.access))["rewardRedeem"]
    assert bad_id["errors"][0]["code"] == "ID_INVALID"
    mine = data(await gql(client, "{ myRedemptions { edges { node { voucherCode points } } } }", token=s.access))
    assert mine["myRedemptions"]["edges"][0]["node"]["points"] == 120
    clerk = await staff_session(client, "clerk@example.cn", ["clinic_staff"])
    fulfil = """mutation($c: String!, $s: ID!) { redemptionFulfil(input: {voucherCode: $c, siteId: $s}) {
      redemption { status } errors { code } } }"""
    site = to_global_id("Site", await site_id())
    denied = data(await gql(client, fulfil, {"c": r["redemption"]["voucherCode"], "s": site}, token=s.access))
    assert denied["redemptionFulfil"]["errors"][0]["code"] == "PERMISSION_DENIED"
    done = data(await gql(client, fulfil, {"c": r["redemption"]["voucherCode"], "s": site}, token=clerk.access))
    assert done["redemptionFulfil"] == {"redemption": {"status": "FULFILLED"}, "errors": []}
    await check_ledger_invariants()


async def test_patient_may_not_adjust_points_or_read_others(client, unique_phone):
    alice = await patient_session(client, unique_phone)
    bob = await patient_session(client, "13700005678")
    adjust = """mutation($p: ID!) { pointsAdjust(input: {patientId: $p, amount: 100, reason: "补发积分",
      idempotencyKey: "adjust-key-01"}) { entry { amount } errors { code } } }"""
    r = data(await gql(client, adjust, {"p": alice.id}, token=alice.access))["pointsAdjust"]
    assert r["errors"][0]["code"] == "PERMISSION_DENIED"
    history = "query($p: ID) { pointsHistory(patientId: $p) { edges { node { amount } } } }"
    r = await gql(client, history, {"p": bob.id}, token=alice.access)
    assert r["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    liability = await gql(client, "{ loyaltyLiability { available } }", token=alice.access)
    assert liability["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    admin = await staff_session(client, "boss@example.cn", ["admin"])
    r = data(await gql(client, adjust, {"p": alice.id}, token=admin.access))["pointsAdjust"]
    assert r == {"entry": {"amount": 100}, "errors": []}
    desk = await staff_session(client, "desk@example.cn", ["clinic_staff"])
    seen = data(await gql(client, history, {"p": alice.id}, token=desk.access))["pointsHistory"]["edges"]
    assert [e["node"]["amount"] for e in seen] == [100]
    totals = data(
        await gql(client, "{ loyaltyLiability { available pending membersWithPoints } }", token=admin.access)
    )["loyaltyLiability"]
    assert totals == {"available": 100, "pending": 0, "membersWithPoints": 1}


async def test_visit_record_mutation_and_rule_update(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    clerk = await staff_session(client, "clerk2@example.cn", ["clinic_staff"])
    site = to_global_id("Site", await site_id())
    record = """mutation($p: ID!, $s: ID!, $at: DateTime!) { visitRecord(input: {externalId: "DESK-1",
      patientId: $p, siteId: $s, department: "内分泌科", visitedAt: $at,
      items: [{category: "consultation", selfPaidFen: 5000}]}) {
        result visit { status department } errors { code } } }"""
    variables = {"p": patient.id, "s": site, "at": clock.now().isoformat()}
    denied = data(await gql(client, record, variables, token=patient.access))["visitRecord"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    ok = data(await gql(client, record, variables, token=clerk.access))["visitRecord"]
    assert ok == {"result": "created", "visit": {"status": "COMPLETED", "department": "内分泌科"}, "errors": []}
    again = data(await gql(client, record, variables, token=clerk.access))["visitRecord"]
    assert again["result"] == "unchanged"
    admin = await staff_session(client, "root@example.cn", ["admin"])
    update = """mutation { earningRuleUpdate(input: {code: "visit_completed", points: 80, pendingDays: 3}) {
      rule { points pendingDays } errors { code } } }"""
    assert (
        data(await gql(client, update, token=clerk.access))["earningRuleUpdate"]["errors"][0]["code"]
        == "PERMISSION_DENIED"
    )
    assert data(await gql(client, update, token=admin.access))["earningRuleUpdate"] == {
        "rule": {"points": 80, "pendingDays": 3},
        "errors": [],
    }


async def test_patient_list_with_loyalty_fields_keeps_statement_count_flat(client):
    from core.identity import SYSTEM
    from patients import service

    ids = []
    async with unit_of_work() as session:
        for i in range(24):
            p, _ = await service.register_patient(session, SYSTEM, phone=f"1366000{i:04d}")
            ids.append(p.id)
    for i, pid in enumerate(ids[:6]):
        await record_visit(pid, f"SC-{i}", consultation_fen=10_000)
    clock.clock.advance(days(1))
    desk = await staff_session(client, "desk2@example.cn", ["clinic_staff", "doctor"])
    query = """query($n: Int!) { patients(first: $n) { edges { node { nickname lifecycleStage
      points { available pending expiringSoon { amount } } tier { name progress { pointsToNext } } } } } }"""
    counts = []
    for n in (3, 24):
        with count_statements() as counter:
            d = data(await gql(client, query, {"n": n}, token=desk.access))
        assert len(d["patients"]["edges"]) == n
        counts.append(counter.count)
    assert counts[0] == counts[1], counts
