"""No marketing campaign targets a sensitive condition (depression, pregnancy, cancer after surgery):
patients have not given the separate consent that would need (PIPL art. 28-29). Care campaigns may.
Through the real schema over HTTP with signed-in staff."""

from __future__ import annotations

from typing import Any

from tests.campaigns.test_http_lifecycle import APPROVE, CREATE, SEGMENT_CREATE, SEGMENT_UPDATE, SUBMIT
from tests.support import data, gql, staff_session


async def _segment(client: Any, token: str, name: str, conditions: list[str]) -> str:
    variables = {"input": {"name": name, "criteria": {"conditionCodes": conditions}}}
    created = data(await gql(client, SEGMENT_CREATE, variables, token=token))["segmentCreate"]
    assert created["errors"] == [], created
    return str(created["segment"]["id"])


def _campaign(segment_id: str, kind: str) -> dict[str, Any]:
    body = "{nickname}您好，本月会员活动开始了。"
    return {"name": "会员日", "kind": kind, "channels": ["in_app"], "body": body, "segmentId": segment_id}


async def test_marketing_may_not_target_a_sensitive_condition_but_care_may(client: Any) -> None:
    marketer = await staff_session(client, "sens-mkt@example.cn", ["marketer"])
    reviewer = await staff_session(client, "sens-rev@example.cn", ["reviewer"])
    sensitive = await _segment(client, marketer.access, "抑郁症会员", ["depression", "diabetes"])
    plain = await _segment(client, marketer.access, "糖尿病会员", ["diabetes"])

    refused = data(await gql(client, CREATE, {"input": _campaign(sensitive, "MARKETING")}, token=marketer.access))
    errors = refused["campaignCreate"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [("segmentId", "SEGMENT_SENSITIVE_CONDITION")]
    care = data(await gql(client, CREATE, {"input": _campaign(sensitive, "CARE")}, token=marketer.access))
    assert care["campaignCreate"]["errors"] == []

    # A segment edited to a sensitive condition after approval cannot start a marketing campaign.
    created = data(await gql(client, CREATE, {"input": _campaign(plain, "MARKETING")}, token=marketer.access))
    campaign_id = created["campaignCreate"]["campaign"]["id"]
    assert data(await gql(client, SUBMIT, {"id": campaign_id}, token=marketer.access))["campaignSubmit"]["errors"] == []
    edit = {"input": {"segmentId": plain, "name": "糖尿病会员", "criteria": {"conditionCodes": ["pregnancy"]}}}
    assert data(await gql(client, SEGMENT_UPDATE, edit, token=marketer.access))["segmentUpdate"]["errors"] == []
    approved = data(await gql(client, APPROVE, {"id": campaign_id}, token=reviewer.access))["campaignApprove"]
    assert [e["code"] for e in approved["errors"]] == ["SEGMENT_SENSITIVE_CONDITION"]
