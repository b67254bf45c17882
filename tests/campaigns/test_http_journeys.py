"""journeys and campaigns(journey:) over HTTP with signed-in staff: the journeys with their triggers and
steps, each journey's day campaigns with their stats (Campaign.stats); other staff and patients are
refused; an unknown or hostile journey code gets JOURNEY_UNKNOWN."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from api.relay import parse_uuid_id
from campaigns import journeys
from core import clock
from tests.campaigns.support import make_patient, run
from tests.loyalty.support import record_visit
from tests.support import data, gql, patient_session, staff_session

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
JOURNEYS = """{ journeys { code name kind trigger steps channels subject body } }"""
DAYS = """query($j: String, $first: Int) { campaigns(journey: $j, first: $first) {
  nodes { id name journeyKey status stats { audience sent delivered opened converted conversionRate } }
  pageInfo { hasNextPage } } }"""


def _codes(result: dict) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_staff_read_the_journeys_and_the_campaigns_each_produced(client) -> None:
    clock.clock.freeze(NOON)
    visited = await make_patient()
    await record_visit(visited, "j-visit", visited_at=NOON - timedelta(days=7, hours=1))
    await make_patient(birth_date=date(1980, 6, 15), consents=[("in_app", "marketing")])
    assert await journeys.run_journey("follow_up_7") == 1
    reviewer = await staff_session(client, "rev-journeys@example.com", ["reviewer"])
    listed = data(await gql(client, DAYS, {"j": "follow_up_7"}, token=reviewer.access))["campaigns"]["nodes"]
    assert len(listed) == 1
    campaign_id = parse_uuid_id(listed[0]["id"], "Campaign")
    assert campaign_id is not None
    await run(campaign_id)

    marketer = await staff_session(client, "mkt-journeys@example.com", ["marketer"])
    found = data(await gql(client, JOURNEYS, token=marketer.access))["journeys"]
    assert [j["code"] for j in found] == list(journeys.JOURNEYS)
    follow_up = next(j for j in found if j["code"] == "follow_up_7")
    assert follow_up["name"] == "就诊后7天随访" and follow_up["kind"] == "CARE"
    assert follow_up["trigger"] == "完成就诊后第7天，每次就诊随访一次"
    assert follow_up["steps"][0] == "触发：完成就诊后第7天，每次就诊随访一次"
    assert follow_up["channels"] == ["in_app", "wechat", "sms"] and "{nickname}" in follow_up["body"]

    days = data(await gql(client, DAYS, {"j": "follow_up_7", "first": 5}, token=marketer.access))["campaigns"]
    (day,) = days["nodes"]
    assert day["journeyKey"] == "follow_up_7:2026-06-15" and day["name"] == "就诊后7天随访 2026-06-15"
    assert day["stats"]["audience"] == 1 and day["stats"]["delivered"] == 1
    assert data(await gql(client, DAYS, {"j": "birthday"}, token=marketer.access))["campaigns"]["nodes"] == []


async def test_others_are_refused_and_unknown_journeys_get_a_typed_error(client) -> None:
    clock.clock.freeze(NOON)
    marketer = await staff_session(client, "mkt-journeys2@example.com", ["marketer"])
    for roles in (["clinic_staff"], ["doctor"], ["moderator"]):
        other = await staff_session(client, f"{roles[0]}-journeys@example.com", roles)
        assert _codes(await gql(client, JOURNEYS, token=other.access)) == ["PERMISSION_DENIED"]
        assert _codes(await gql(client, DAYS, {"j": "birthday"}, token=other.access)) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, "13700000101")
    assert _codes(await gql(client, JOURNEYS, token=patient.access)) == ["PERMISSION_DENIED"]
    assert _codes(await gql(client, JOURNEYS)) == ["NOT_AUTHENTICATED"]
    for code, expected in (
        ("nope", "JOURNEY_UNKNOWN"),
        ("birthday%", "JOURNEY_UNKNOWN"),
        ("x" * 5000, "JOURNEY_UNKNOWN"),
        ("birth\u0000day", "INVALID_STRING"),
    ):
        assert _codes(await gql(client, DAYS, {"j": code}, token=marketer.access)) == [expected], code
