"""A marketing segment may name a sensitive condition (depression, pregnancy, cancer after surgery),
but that condition matches only patients who gave the separate consent to be chosen by it (PIPL art.
28-29: ConsentPurpose MARKETING_SENSITIVE, in force). Care campaigns match every patient with the
condition. Through the real schema over HTTP with signed-in staff and patients."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from api.relay import parse_uuid_id, to_global_id
from campaigns import runner
from core import clock
from tests.campaigns.support import make_patient, send_all
from tests.campaigns.test_http_lifecycle import APPROVE, CREATE, SEGMENT_CREATE, SEGMENT_UPDATE, SUBMIT
from tests.support import Session, data, gql, patient_session, staff_session

PREVIEW = """query($id: ID, $kind: CampaignClass!, $channels: [String!]) {
  segmentPreview(segmentId: $id, kind: $kind, channels: $channels) { count sample { id } } }"""
DELIVERIES = """query($id: ID!) { campaignDeliveries(campaignId: $id, first: 50) {
  edges { node { status skipReason patient { id } } } } }"""
PROFILE = """mutation($codes: [String!]) { profileUpdate(input: {conditionCodes: $codes}) { errors { code } } }"""
CONSENT = (
    """mutation($items: [ConsentItemInput!]!) { consentUpdate(input: {items: $items}) { errors { field code } } }"""
)
PUBLISH = """mutation($input: ConsentNoticePublishInput!) { consentNoticePublish(input: $input) {
  notice { version } errors { code } } }"""
MARKETING_V, SENSITIVE_V = 2, 3  # the seeded notices (patients/notices.py)
NOON = datetime(2026, 6, 15, 4, 0, tzinfo=UTC)  # outside quiet hours in Asia/Shanghai


async def _segment(client: Any, token: str, name: str, conditions: list[str]) -> str:
    variables = {"input": {"name": name, "criteria": {"conditionCodes": conditions}}}
    created = data(await gql(client, SEGMENT_CREATE, variables, token=token))["segmentCreate"]
    assert created["errors"] == [], created
    return str(created["segment"]["id"])


def _campaign(segment_id: str, kind: str) -> dict[str, Any]:
    body = "{nickname}您好，本月会员活动开始了。"
    return {"name": "会员日", "kind": kind, "channels": ["in_app"], "body": body, "segmentId": segment_id}


async def _reached(client: Any, token: str, segment_id: str, kind: str = "MARKETING") -> set[str]:
    variables = {"id": segment_id, "kind": kind, "channels": ["in_app"] if kind == "MARKETING" else None}
    preview = data(await gql(client, PREVIEW, variables, token=token))["segmentPreview"]
    assert preview["count"] == len(preview["sample"])
    return {p["id"] for p in preview["sample"]}


async def _patient(client: Any, phone: str, conditions: list[str], *, sensitive: bool) -> Session:
    """A signed-in patient with the conditions and in-app marketing consent; the separate consent
    for sensitive marketing only when `sensitive`: given by the patient, under its notice."""
    patient = await patient_session(client, phone)
    assert (
        data(await gql(client, PROFILE, {"codes": conditions}, token=patient.access))["profileUpdate"]["errors"] == []
    )
    items = [{"channel": "IN_APP", "purpose": "MARKETING", "granted": True, "noticeVersion": MARKETING_V}]
    if sensitive:
        items.append(
            {"channel": "IN_APP", "purpose": "MARKETING_SENSITIVE", "granted": True, "noticeVersion": SENSITIVE_V}
        )
    assert data(await gql(client, CONSENT, {"items": items}, token=patient.access))["consentUpdate"]["errors"] == []
    return patient


async def test_a_sensitive_condition_matches_only_patients_with_the_separate_consent(client: Any) -> None:
    clock.clock.freeze(NOON)
    marketer = await staff_session(client, "sens-mkt@example.cn", ["marketer"])
    admin = await staff_session(client, "sens-admin@example.cn", ["admin"])
    plain = await _patient(client, "13911110001", ["diabetes"], sensitive=False)
    without = await _patient(client, "13911110002", ["depression"], sensitive=False)
    with_it = await _patient(client, "13911110003", ["depression"], sensitive=True)
    both = await _patient(client, "13911110004", ["depression", "diabetes"], sensitive=False)
    withdrawn = await _patient(client, "13911110005", ["pregnancy"], sensitive=True)
    off = [{"channel": "IN_APP", "purpose": "MARKETING_SENSITIVE", "granted": False, "noticeVersion": SENSITIVE_V}]
    assert data(await gql(client, CONSENT, {"items": off}, token=withdrawn.access))["consentUpdate"]["errors"] == []

    mixed = await _segment(client, marketer.access, "抑郁症与糖尿病会员", ["depression", "diabetes"])
    sensitive = await _segment(client, marketer.access, "敏感病种会员", ["depression", "pregnancy"])
    # Without the separate consent a sensitive condition never matches; a plain condition still does.
    assert await _reached(client, marketer.access, mixed) == {plain.id, with_it.id, both.id}
    assert await _reached(client, marketer.access, sensitive) == {with_it.id}
    # Care (follow-ups by the care team) is not marketing: every patient with the condition.
    assert await _reached(client, marketer.access, sensitive, "CARE") == {without.id, with_it.id, both.id, withdrawn.id}

    # Creating the marketing campaign is no longer refused; what it reaches is the same set.
    reviewer = await staff_session(client, "sens-rev@example.cn", ["reviewer"])
    created = data(await gql(client, CREATE, {"input": _campaign(sensitive, "MARKETING")}, token=marketer.access))
    assert created["campaignCreate"]["errors"] == []
    campaign_id = created["campaignCreate"]["campaign"]["id"]
    assert data(await gql(client, SUBMIT, {"id": campaign_id}, token=marketer.access))["campaignSubmit"]["errors"] == []
    approved = data(await gql(client, APPROVE, {"id": campaign_id}, token=reviewer.access))["campaignApprove"]
    assert approved["errors"] == [] and approved["campaign"]["status"] == "RUNNING"
    cid = parse_uuid_id(campaign_id, "Campaign")
    assert cid is not None
    await runner.materialise(cid)
    await send_all()
    nodes = data(await gql(client, DELIVERIES, {"id": campaign_id}, token=reviewer.access))["campaignDeliveries"]
    assert [(n["node"]["patient"]["id"], n["node"]["status"]) for n in nodes["edges"]] == [(with_it.id, "DELIVERED")]

    # A segment edited to name a sensitive condition is refused nothing either: it just matches by consent.
    edit = {"input": {"segmentId": mixed, "name": "孕产期会员", "criteria": {"conditionCodes": ["pregnancy"]}}}
    assert data(await gql(client, SEGMENT_UPDATE, edit, token=marketer.access))["segmentUpdate"]["errors"] == []
    assert await _reached(client, marketer.access, mixed) == set()

    # A new notice that changes the separate consent's terms: the old grant stops counting until given again.
    notice = {
        "title": "基于敏感健康信息的个性化推送授权说明（第二版）",
        "body": "第二版：新增依据慢性肾病挑选康复活动。",
        "purposes": ["MARKETING_SENSITIVE"],
        "changedPurposes": ["MARKETING_SENSITIVE"],
    }
    published = data(await gql(client, PUBLISH, {"input": notice}, token=admin.access))["consentNoticePublish"]
    assert published["errors"] == []
    assert await _reached(client, marketer.access, sensitive) == set()
    again = [{"channel": "IN_APP", "purpose": "MARKETING_SENSITIVE", "granted": True, "noticeVersion": SENSITIVE_V}]
    stale = data(await gql(client, CONSENT, {"items": again}, token=with_it.access))["consentUpdate"]
    assert stale["errors"] == [{"field": "items.0.noticeVersion", "code": "CONSENT_NOTICE_OUTDATED"}]
    again[0]["noticeVersion"] = published["notice"]["version"]
    assert data(await gql(client, CONSENT, {"items": again}, token=with_it.access))["consentUpdate"]["errors"] == []
    assert await _reached(client, marketer.access, sensitive) == {with_it.id}


async def test_the_separate_consent_is_needed_however_the_patient_got_the_condition(client: Any) -> None:
    """Patients registered by staff (domain factories): the rule is in the segment's SQL, not the API."""
    marketer = await staff_session(client, "sens-mkt2@example.cn", ["marketer"])
    no = await make_patient(consents=[("in_app", "marketing")], conditions=["breast_cancer_postop"])
    yes = await make_patient(
        consents=[("in_app", "marketing"), ("sms", "marketing_sensitive")], conditions=["breast_cancer_postop"]
    )
    seg = await _segment(client, marketer.access, "术后康复会员", ["breast_cancer_postop"])
    # The separate consent given on any channel counts: it is consent to being chosen by the diagnosis.
    assert await _reached(client, marketer.access, seg) == {_gid(yes)}
    assert _gid(no) not in await _reached(client, marketer.access, seg)


def _gid(patient_id: uuid.UUID) -> str:
    return str(to_global_id("Patient", patient_id))
