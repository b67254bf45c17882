"""Per-channel bodies over HTTP with signed-in staff: campaignCreate and campaignUpdate take
channelBodies, Campaign answers channelBodies and bodyFor(channel); the lock-screen rule, template
variables, unused or repeated channels, oversized bodies and null bytes get typed payload errors;
reviewers and patients may not compose."""

from __future__ import annotations

from typing import Any

from tests.support import data, gql, patient_session, staff_session

SEGMENT_CREATE = """mutation($input: SegmentCreateInput!) { segmentCreate(input: $input) {
  segment { id } errors { code } } }"""
CREATE = """mutation($input: CampaignInput!) { campaignCreate(input: $input) {
  campaign { id body channelBodies { channel body } sms: bodyFor(channel: "sms") inApp: bodyFor(channel: "in_app") }
  errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $c: CampaignInput!) { campaignUpdate(input: {campaignId: $id, campaign: $c}) {
  campaign { id channelBodies { channel body } } errors { field code message } } }"""
ONE = """query($id: ID!) { node(id: $id) { ... on Campaign {
  channelBodies { channel body } wechat: bodyFor(channel: "wechat") } } }"""
IN_APP = "{nickname}您好，糖尿病友控糖讲座本周六开讲。"
SMS = "{nickname}您好，本周六健康讲座开讲，详情见App。"


def _issues(payload: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["field"], e["code"]) for e in payload["errors"]}


def _input(segment: str, bodies: list[dict[str, str]], channels: list[str] | None = None, **kw: Any) -> dict[str, Any]:
    return {
        "name": "控糖讲座",
        "kind": "MARKETING",
        "channels": channels or ["sms", "in_app"],
        "body": kw.get("body", IN_APP),
        "segmentId": segment,
        "channelBodies": bodies,
    }


async def test_compose_per_channel_and_read_it_back(client) -> None:
    marketer = await staff_session(client, "mkt-bodies@example.com", ["marketer"])
    segment = data(
        await gql(client, SEGMENT_CREATE, {"input": {"name": "全部会员", "criteria": {}}}, token=marketer.access)
    )["segmentCreate"]["segment"]["id"]
    created = data(
        await gql(client, CREATE, {"input": _input(segment, [{"channel": "sms", "body": SMS}])}, token=marketer.access)
    )["campaignCreate"]
    assert created["errors"] == [], created
    campaign = created["campaign"]
    assert campaign["channelBodies"] == [{"channel": "sms", "body": SMS}]
    assert campaign["sms"] == SMS and campaign["inApp"] == IN_APP and campaign["body"] == IN_APP

    reviewer = await staff_session(client, "rev-bodies@example.com", ["reviewer"])
    read = data(await gql(client, ONE, {"id": campaign["id"]}, token=reviewer.access))["node"]
    assert read == {"channelBodies": [{"channel": "sms", "body": SMS}], "wechat": IN_APP}
    updated = data(
        await gql(
            client,
            UPDATE,
            {"id": campaign["id"], "c": _input(segment, [{"channel": "in_app", "body": "站内信专用正文"}], body=SMS)},
            token=marketer.access,
        )
    )["campaignUpdate"]
    assert updated["errors"] == [] and updated["campaign"]["channelBodies"] == [
        {"channel": "in_app", "body": "站内信专用正文"}
    ]
    refused = data(await gql(client, CREATE, {"input": _input(segment, [])}, token=reviewer.access))["campaignCreate"]
    assert refused["campaign"] is None and _issues(refused) == {(None, "PERMISSION_DENIED")}
    patient = await patient_session(client, "13700000301")
    refused = data(await gql(client, CREATE, {"input": _input(segment, [])}, token=patient.access))["campaignCreate"]
    assert _issues(refused) == {(None, "PERMISSION_DENIED")}


async def test_bad_bodies_get_typed_errors(client) -> None:
    marketer = await staff_session(client, "mkt-bodies2@example.com", ["marketer"])
    segment = data(
        await gql(client, SEGMENT_CREATE, {"input": {"name": "全部会员2", "criteria": {}}}, token=marketer.access)
    )["segmentCreate"]["segment"]["id"]
    cases: list[tuple[list[dict[str, str]], tuple[str, str]]] = [
        ([], ("body", "TEMPLATE_CONDITION_NAME")),  # SMS falls back to a body naming the condition
        ([{"channel": "sms", "body": "糖尿病复诊提醒"}], ("channelBodies.sms", "TEMPLATE_CONDITION_NAME")),
        ([{"channel": "sms", "body": "{diagnosis}您好"}], ("channelBodies.sms", "TEMPLATE_UNKNOWN_VARIABLE")),
        (
            [{"channel": "wechat", "body": SMS}, {"channel": "sms", "body": SMS}],
            ("channelBodies.wechat", "CHANNEL_BODY_UNUSED"),
        ),
        (
            [{"channel": "sms", "body": SMS}, {"channel": "sms", "body": SMS}],
            ("channelBodies.sms", "CHANNEL_DUPLICATE"),
        ),
        ([{"channel": "pager", "body": SMS}, {"channel": "sms", "body": SMS}], ("channelBodies", "CHANNEL_INVALID")),
        ([{"channel": "sms", "body": "短" * 1001}], ("channelBodies.sms", "BODY_LENGTH")),
        ([{"channel": "sms", "body": "  "}], ("channelBodies.sms", "BODY_LENGTH")),
    ]
    for bodies, expected in cases:
        payload = data(await gql(client, CREATE, {"input": _input(segment, bodies)}, token=marketer.access))
        assert expected in _issues(payload["campaignCreate"]), (bodies, payload)
        assert payload["campaignCreate"]["campaign"] is None
    null_byte = await gql(
        client, CREATE, {"input": _input(segment, [{"channel": "sms", "body": "a\u0000b"}])}, token=marketer.access
    )
    assert null_byte["errors"][0]["extensions"]["code"] == "INVALID_STRING"
