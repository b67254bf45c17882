"""Campaigns over GraphQL: the marketer/reviewer flow, payload errors, explanations, stats, access."""

from __future__ import annotations

from datetime import UTC, datetime

from api.relay import to_global_id
from core import clock
from tests.campaigns.support import make_patient, send_all
from tests.support import count_statements, data, gql, patient_session, staff_session

NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)

SEGMENT_CREATE = """mutation($input: SegmentCreateInput!) { segmentCreate(input: $input) {
  segment { id name criteria { stages consents { channel purpose } } } errors { field code message } } }"""
PREVIEW = """query($id: ID, $channels: [String!]) { segmentPreview(segmentId: $id, channels: $channels) {
  count suppressed sample { id } } }"""
CREATE = """mutation($input: CampaignInput!) { campaignCreate(input: $input) {
  campaign { id status channels } errors { field code message } } }"""
DELIVERIES = """query($id: ID!, $first: Int) { campaignDeliveries(campaignId: $id, first: $first) {
  edges { node { id status channel skipReason patient { id nickname }
    explanation { summary chosenBecause skippedBecause criteria consent { channel purpose givenAt source } } } }
  pageInfo { hasNextPage } } }"""
STATS = """query($id: ID!) { campaignStats(campaignId: $id) {
  audience sent delivered opened converted conversionRate pointsCost } }"""


def _step(name: str, extra: str = "") -> str:
    return f"""mutation($id: ID!) {{ {name}(input: {{campaignId: $id{extra}}}) {{
      campaign {{ id status }} errors {{ field code message }} }} }}"""


async def test_marketer_and_reviewer_flow_with_explanations_stats_and_access(client):
    clock.clock.freeze(NOON)
    marketer = await staff_session(client, "mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "rev@example.com", ["reviewer"])
    reached = [await make_patient(consents=[("sms", "marketing")]) for _ in range(3)]
    await make_patient()  # no SMS marketing consent: skipped, explained
    await make_patient(consents=[("sms", "marketing")], deceased=True)

    seg = data(
        await gql(
            client,
            SEGMENT_CREATE,
            {"input": {"name": "短信会员", "criteria": {"stages": ["acquisition"]}}},
            token=marketer.access,
        )
    )["segmentCreate"]
    assert seg["errors"] == [] and seg["segment"]["criteria"]["stages"] == ["acquisition"]
    preview = data(await gql(client, PREVIEW, {"id": seg["segment"]["id"], "channels": ["sms"]}, token=marketer.access))
    assert preview["segmentPreview"]["count"] == 3 and preview["segmentPreview"]["suppressed"] == 1
    assert len(preview["segmentPreview"]["sample"]) == 3

    bad = data(
        await gql(
            client,
            CREATE,
            {
                "input": {
                    "name": "控糖",
                    "kind": "MARKETING",
                    "channels": ["sms"],
                    "body": "糖尿病讲座",
                    "segmentId": seg["segment"]["id"],
                }
            },
            token=marketer.access,
        )
    )["campaignCreate"]
    assert bad["campaign"] is None and bad["errors"][0]["code"] == "TEMPLATE_CONDITION_NAME"
    assert "锁屏" in bad["errors"][0]["message"]
    created = data(
        await gql(
            client,
            CREATE,
            {
                "input": {
                    "name": "会员日",
                    "kind": "MARKETING",
                    "channels": ["sms", "in_app"],
                    "body": "{nickname}您好，会员日活动开始了。",
                    "segmentId": seg["segment"]["id"],
                }
            },
            token=marketer.access,
        )
    )["campaignCreate"]
    assert created["errors"] == [] and created["campaign"]["status"] == "DRAFT"
    cid = created["campaign"]["id"]

    send = data(await gql(client, _step("campaignSendNow"), {"id": cid}, token=marketer.access))["campaignSendNow"]
    assert send["errors"][0]["code"] == "CAMPAIGN_NOT_APPROVED" and "审批" in send["errors"][0]["message"]
    data(await gql(client, _step("campaignSubmit"), {"id": cid}, token=marketer.access))
    denied = data(await gql(client, _step("campaignApprove"), {"id": cid}, token=marketer.access))["campaignApprove"]
    assert denied["errors"][0]["code"] == "PERMISSION_DENIED"
    approved = data(await gql(client, _step("campaignApprove"), {"id": cid}, token=reviewer.access))
    assert approved["campaignApprove"] == {"campaign": {"id": cid, "status": "RUNNING"}, "errors": []}

    from api.relay import parse_uuid_id
    from campaigns import runner

    await runner.materialise(parse_uuid_id(cid, "Campaign"))
    await send_all()

    with count_statements() as small:
        page = data(await gql(client, DELIVERIES, {"id": cid, "first": 2}, token=reviewer.access))
    with count_statements() as big:
        full = data(await gql(client, DELIVERIES, {"id": cid, "first": 20}, token=reviewer.access))
    assert small.count == big.count  # DataLoaders: the page size does not add statements
    assert page["campaignDeliveries"]["pageInfo"]["hasNextPage"] is True
    nodes = [e["node"] for e in full["campaignDeliveries"]["edges"]]
    assert len(nodes) == 5
    # The development SMS recorder reached nobody: sent, never delivered (only a receipt says so).
    sent = [n for n in nodes if n["status"] == "SENT"]
    assert {n["patient"]["id"] for n in sent} == {to_global_id("Patient", p) for p in reached}
    assert all(n["channel"] == "sms" for n in sent)
    explanation = sent[0]["explanation"]
    assert explanation["consent"]["channel"] == "sms" and explanation["consent"]["purpose"] == "marketing"
    assert explanation["consent"]["source"] == "import" and "短信会员" in explanation["chosenBecause"]
    assert explanation["criteria"]["stages"] == ["acquisition"]
    skipped = {n["skipReason"]: n["explanation"]["skippedBecause"] for n in nodes if n["status"] == "SKIPPED"}
    assert skipped["no_consent"].startswith("未获得") and "sms缺少授权" in skipped["no_consent"]
    assert skipped["suppressed"] == "已屏蔽：患者已故"

    stats = data(await gql(client, STATS, {"id": cid}, token=marketer.access))["campaignStats"]
    assert stats == {
        "audience": 5,
        "sent": 3,
        "delivered": 0,
        "opened": 0,
        "converted": 0,
        "conversionRate": 0.0,
        "pointsCost": 0,
    }

    # Patients see no campaigns, no deliveries, and not another patient's messages.
    patient = await patient_session(client, "13900000077")
    for query, variables in (
        ("{ campaigns { edges { node { id } } } }", {}),
        (DELIVERIES, {"id": cid, "first": 5}),
        (STATS, {"id": cid}),
    ):
        result = await gql(client, query, variables, token=patient.access)
        assert result["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    node = data(await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": cid}, token=patient.access))
    assert node["node"] is None
    delivery_id = nodes[0]["id"]
    node = data(
        await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": delivery_id}, token=patient.access)
    )
    assert node["node"] is None
    inbox = data(await gql(client, "{ myInbox { edges { node { id } } } }", token=patient.access))
    assert inbox["myInbox"]["edges"] == []
    pause = data(await gql(client, _step("campaignPause"), {"id": cid}, token=patient.access))["campaignPause"]
    assert pause["errors"][0]["code"] == "PERMISSION_DENIED"


async def test_suppression_mutation_roles(client):
    marketer = await staff_session(client, "mkt2@example.com", ["marketer"])
    doctor = await staff_session(client, "doc@example.com", ["doctor"])
    patient = await make_patient()
    pid = to_global_id("Patient", patient)
    mutation = """mutation($input: PatientSuppressionInput!) { patientSuppressionSet(input: $input) {
      patient { id } errors { code } } }"""
    ok = data(
        await gql(client, mutation, {"input": {"patientId": pid, "marketingOptOut": True}}, token=marketer.access)
    )
    assert ok["patientSuppressionSet"] == {"patient": {"id": pid}, "errors": []}
    no = data(await gql(client, mutation, {"input": {"patientId": pid, "deceased": True}}, token=marketer.access))
    assert no["patientSuppressionSet"]["errors"] == [{"code": "PERMISSION_DENIED"}]
    yes = data(await gql(client, mutation, {"input": {"patientId": pid, "admitted": True}}, token=doctor.access))
    assert yes["patientSuppressionSet"]["errors"] == []
