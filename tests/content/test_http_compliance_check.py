"""contentComplianceCheck over HTTP: the findings of the working revision as it stands, before submitting;
nothing changes (the status stays, no report is stored); authors and reviewers only."""

from __future__ import annotations

from typing import Any

from tests.factories import next_phone
from tests.support import data, gql, patient_session, staff_session

CREATE = """mutation($body: String!) { contentCreate(input: {kind: ARTICLE, title: "控糖饮食", body: $body}) {
  item { id } errors { code } } }"""
CHECK = """query($id: ID!) { contentComplianceCheck(itemId: $id) { id severity field start end excerpt message } }"""
ITEM = """query($id: ID!) { contentItem(id: $id) { status workingRevision { findings { id } checkedAt } } }"""


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_the_check_finds_a_forbidden_claim_and_changes_nothing(client) -> None:
    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    body = "坚持服用本品可以根治糖尿病。"
    made = data(await gql(client, CREATE, {"body": body}, token=marketer.access))["contentCreate"]
    item_id = made["item"]["id"]
    findings = data(await gql(client, CHECK, {"id": item_id}, token=marketer.access))["contentComplianceCheck"]
    blocking = [f for f in findings if f["severity"] == "BLOCK"]
    assert blocking and blocking[0]["field"] == "body"
    assert body[blocking[0]["start"] : blocking[0]["end"]] == "根治"
    item = data(await gql(client, ITEM, {"id": item_id}, token=marketer.access))["contentItem"]
    assert item["status"] == "DRAFT" and item["workingRevision"]["checkedAt"] is None

    reviewer = await staff_session(client, "rev@example.cn", ["reviewer"])
    assert data(await gql(client, CHECK, {"id": item_id}, token=reviewer.access))["contentComplianceCheck"]
    clean = data(await gql(client, CREATE, {"body": "规律监测血糖，合理饮食。"}, token=marketer.access))
    checked = await gql(client, CHECK, {"id": clean["contentCreate"]["item"]["id"]}, token=marketer.access)
    assert data(checked)["contentComplianceCheck"] == []


async def test_the_check_is_refused_to_others_and_for_bad_ids(client) -> None:
    marketer = await staff_session(client, "mkt@example.cn", ["marketer"])
    made = data(await gql(client, CREATE, {"body": "规律监测血糖。"}, token=marketer.access))["contentCreate"]
    item_id = made["item"]["id"]
    moderator = await staff_session(client, "mod@example.cn", ["moderator"])
    assert _codes(await gql(client, CHECK, {"id": item_id}, token=moderator.access)) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, next_phone())
    assert _codes(await gql(client, CHECK, {"id": item_id}, token=patient.access)) == ["PERMISSION_DENIED"]
    assert _codes(await gql(client, CHECK, {"id": item_id})) == ["NOT_AUTHENTICATED"]
    for bad in ("not-an-id", "Q29udGVudEl0ZW06MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw", "x\x00"):
        codes = _codes(await gql(client, CHECK, {"id": bad}, token=marketer.access))
        assert codes and "INTERNAL_ERROR" not in codes, (bad, codes)
