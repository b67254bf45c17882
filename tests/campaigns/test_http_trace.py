"""patientMessageTrace and patients(name:) over HTTP with signed-in staff: a marketer finds a patient by
nickname (phone masked) and reads every message to them with its why (segment, consent, channel
fallback, frequency cap, quiet hours) and the other messages the outreach policy let out; care staff
find by real name too; reviewers, the desk and patients are refused; hostile input gets typed errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from api.relay import to_global_id
from core import clock
from core.channels import ChannelName, Message
from core.db import unit_of_work
from messaging import outreach
from messaging.outreach import MessageClass, Notice
from tests.campaigns.support import approved_campaign, make_patient, run, send_all
from tests.support import data, gql, patient_session, staff_session

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)
LATE = datetime(2026, 6, 17, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai
FIND = """query($name: String, $phone: String) { patients(name: $name, phone: $phone, first: 5) {
  nodes { id nickname phone realName } } }"""
TRACE = """query($p: ID!, $first: Int, $after: String) {
  patientMessageTrace(patientId: $p, first: $first, after: $after) {
  nodes { at kind messageClass channel source policy campaign { name }
    delivery { status skipReason channel notBefore sentAt
      explanation { summary chosenBecause channelBecause frequency deferredUntil skippedBecause
        consent { channel purpose source } } } }
  pageInfo { hasNextPage endCursor } } }"""


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def test_a_marketer_finds_a_patient_and_reads_why_each_message_went_out(client) -> None:
    clock.clock.freeze(NOON)
    patient = await make_patient(consents=[("in_app", "marketing")], nickname="追踪糖友", real_name="赵一一")
    await run(await approved_campaign(channels=["sms", "in_app"]))
    message = Message(ChannelName.IN_APP, str(patient), "您有积分即将过期", subject="积分提醒")
    async with unit_of_work() as session:
        await outreach.notify(session, MessageClass.NOTICE, [Notice(patient, message, "points_expiring:http-1")])
    await run(await approved_campaign())
    clock.clock.freeze(LATE)
    late = await approved_campaign()
    await run(late)
    clock.clock.freeze(datetime(2026, 6, 18, 0, 1, tzinfo=UTC))
    await send_all("in_app")  # past the quiet hours: the third marketing message in a week is capped

    marketer = await staff_session(client, "mkt-trace@example.com", ["marketer"])
    found = data(await gql(client, FIND, {"name": "追踪糖"}, token=marketer.access))["patients"]["nodes"]
    assert [(p["nickname"], p["realName"]) for p in found] == [("追踪糖友", None)]
    assert "****" in found[0]["phone"]
    assert data(await gql(client, FIND, {"name": "赵一一"}, token=marketer.access))["patients"]["nodes"] == []
    assert found[0]["id"] == to_global_id("Patient", patient)

    nodes = data(await gql(client, TRACE, {"p": found[0]["id"]}, token=marketer.access))["patientMessageTrace"]["nodes"]
    assert [n["kind"] for n in nodes] == ["CAMPAIGN", "CAMPAIGN", "OUTREACH", "CAMPAIGN"]
    capped, second, notice, first = nodes
    assert capped["delivery"]["skipReason"] == "frequency_cap" and capped["campaign"]["name"] == "测试活动"
    why = capped["delivery"]["explanation"]
    assert why["frequency"] == "近期已收到2条营销消息，达到上限2条，未发送"
    assert why["deferredUntil"] == "2026-06-18T00:00:00+00:00"  # 22:30 fell in the quiet hours
    assert why["chosenBecause"].startswith("符合人群") and why["skippedBecause"] == "超过营销消息频次上限"
    assert second["delivery"]["explanation"]["frequency"] == "发送时未超过营销消息频次上限"
    assert second["delivery"]["explanation"]["channelBecause"] == "渠道：站内信（活动的首选渠道）"
    assert notice["source"] == "积分即将过期提醒" and notice["delivery"] is None and notice["campaign"] is None
    assert notice["messageClass"] == "notice" and "服务授权" in notice["policy"]
    fallback = first["delivery"]["explanation"]
    assert fallback["channelBecause"] == "渠道：站内信（短信缺少授权，改用此渠道）"
    assert fallback["consent"] == {"channel": "in_app", "purpose": "marketing", "source": "import"}
    assert fallback["deferredUntil"] is None

    page = data(await gql(client, TRACE, {"p": found[0]["id"], "first": 3}, token=marketer.access))
    rest = data(
        await gql(
            client,
            TRACE,
            {"p": found[0]["id"], "first": 3, "after": page["patientMessageTrace"]["pageInfo"]["endCursor"]},
            token=marketer.access,
        )
    )
    assert page["patientMessageTrace"]["pageInfo"]["hasNextPage"]
    assert [n["at"] for n in rest["patientMessageTrace"]["nodes"]] == [first["at"]]

    desk = await staff_session(client, "desk-trace@example.com", ["clinic_staff"])
    by_real_name = data(await gql(client, FIND, {"name": "赵一一"}, token=desk.access))["patients"]["nodes"]
    assert [p["realName"] for p in by_real_name] == ["赵一一"]


async def test_others_are_refused_and_hostile_input_gets_typed_errors(client) -> None:
    clock.clock.freeze(NOON)
    patient = to_global_id("Patient", await make_patient())
    marketer = await staff_session(client, "mkt-trace2@example.com", ["marketer"])
    for roles in (["reviewer"], ["clinic_staff"], ["doctor"]):
        other = await staff_session(client, f"{roles[0]}-trace@example.com", roles)
        assert _codes(await gql(client, TRACE, {"p": patient}, token=other.access)) == ["PERMISSION_DENIED"]
    member = await patient_session(client, "13700000201")
    assert _codes(await gql(client, TRACE, {"p": member.id}, token=member.access)) == ["PERMISSION_DENIED"]
    assert _codes(await gql(client, TRACE, {"p": patient})) == ["NOT_AUTHENTICATED"]
    assert _codes(await gql(client, FIND, {"name": "x"}, token=member.access)) == ["PERMISSION_DENIED"]

    bad: list[tuple[str, dict[str, Any], str]] = [
        (TRACE, {"p": "nope"}, "ID_INVALID"),
        (TRACE, {"p": to_global_id("Campaign", "0" * 32)}, "ID_INVALID"),
        (TRACE, {"p": to_global_id("Patient", "00000000-0000-0000-0000-000000000000")}, "PATIENT_NOT_FOUND"),
        (TRACE, {"p": "UGF0aWVudDo\u0000"}, "INVALID_STRING"),
        (TRACE, {"p": patient, "first": 1000}, "PAGE_SIZE_INVALID"),
        (TRACE, {"p": patient, "after": "x" * 3000}, "CURSOR_INVALID"),
        (FIND, {"name": " "}, "NAME_LENGTH"),
        (FIND, {"name": "名" * 51}, "NAME_LENGTH"),
        (FIND, {"name": "a\u0000b"}, "INVALID_STRING"),
    ]
    for query, variables, code in bad:
        assert _codes(await gql(client, query, variables, token=marketer.access)) == [code], variables
    like = data(await gql(client, FIND, {"name": "%_"}, token=marketer.access))["patients"]["nodes"]
    assert like == []  # wildcards are plain characters
