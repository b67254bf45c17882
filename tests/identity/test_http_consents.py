"""Consent evidence over HTTP with signed-in patients and staff: consentNotices, consentUpdate with the
notice version shown, consentNoticePublish (admins only), consentsToReconfirm, myConsentHistory and
consentHistory (admins only); unknown and outdated versions, null bytes and oversized inputs."""

from __future__ import annotations

import hashlib
from typing import Any

from tests.support import Session, data, gql, patient_session, staff_session

NOTICES = """{ consentNotices { version title body textSha256 purposes changedPurposes purposeLabels publishedAt } }"""
UPDATE = """mutation($input: ConsentUpdateInput!) { consentUpdate(input: $input) {
  patient { consents { channel purpose granted source noticeVersion }
            consentsToReconfirm { purpose purposeLabel channels notice { version title textSha256 } } }
  errors { field code message } } }"""
PUBLISH = """mutation($input: ConsentNoticePublishInput!) { consentNoticePublish(input: $input) {
  notice { version title textSha256 purposes changedPurposes } errors { field code message } } }"""
MINE = """query($first: Int, $after: String) { myConsentHistory(first: $first, after: $after) {
  edges { node { purpose purposeLabel channel granted noticeVersion textSha256 source sourceLabel sourceNote
                 byPatient occurredAt notice { version body } } }
  pageInfo { hasNextPage endCursor } } }"""
HISTORY = """query($id: ID!) { consentHistory(patientId: $id) {
  edges { node { purpose channel granted noticeVersion textSha256 source sourceNote byPatient } } } }"""
ME = """{ me { ... on Patient { consentsToReconfirm { purpose channels notice { version } } } } }"""


def _item(channel: str, purpose: str, version: int, granted: bool = True) -> dict[str, Any]:
    return {"channel": channel, "purpose": purpose, "granted": granted, "noticeVersion": version}


async def _update(client: Any, who: Session, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return data(await gql(client, UPDATE, {"input": {"items": items, **extra}}, token=who.access))["consentUpdate"]


async def test_notices_grants_history_and_reconfirmation(client: Any) -> None:
    # The current notices are public (shown before registration), each with the hash of its text.
    notices = data(await gql(client, NOTICES))["consentNotices"]
    assert [(n["version"], n["purposes"]) for n in notices] == [
        (1, ["SERVICE"]),
        (2, ["MARKETING"]),
        (3, ["MARKETING_SENSITIVE"]),
    ]
    assert all(n["textSha256"] == hashlib.sha256(n["body"].encode()).hexdigest() for n in notices)
    assert notices[2]["purposeLabels"] == ["基于敏感健康信息的个性化推送"]
    by_purpose = {n["purposes"][0]: n for n in notices}

    patient = await patient_session(client, "13922220001")
    granted = await _update(
        client, patient, [_item("SMS", "MARKETING", 2), _item("IN_APP", "MARKETING", 2)], source="WECHAT"
    )
    assert granted["errors"] == [] and granted["patient"]["consentsToReconfirm"] == []
    states = {(c["channel"], c["purpose"]): (c["noticeVersion"], c["source"]) for c in granted["patient"]["consents"]}
    assert states[("SMS", "MARKETING")] == (2, "wechat")

    history = data(await gql(client, MINE, {"first": 2}, token=patient.access))["myConsentHistory"]
    newest = history["edges"][0]["node"]
    assert newest["purpose"] == "MARKETING" and newest["granted"] is True and newest["noticeVersion"] == 2
    assert newest["textSha256"] == by_purpose["MARKETING"]["textSha256"]
    assert (newest["source"], newest["sourceLabel"], newest["byPatient"]) == ("WECHAT", "微信", True)
    assert newest["notice"]["body"] == by_purpose["MARKETING"]["body"]
    assert history["pageInfo"]["hasNextPage"] is True
    rest = data(await gql(client, MINE, {"first": 5, "after": history["pageInfo"]["endCursor"]}, token=patient.access))
    oldest = rest["myConsentHistory"]["edges"][-1]["node"]
    assert (oldest["purpose"], oldest["source"], oldest["noticeVersion"]) == ("SERVICE", "REGISTRATION", 1)

    # An admin publishes a new marketing notice; only MARKETING changed.
    admin = await staff_session(client, "notice-admin@example.cn", ["admin"])
    body = "营销推送授权说明第二版：新增微信订阅消息推送。"
    notice = {
        "title": "营销推送授权说明（第二版）",
        "body": body,
        "purposes": ["MARKETING"],
        "changedPurposes": ["MARKETING"],
    }
    published = data(await gql(client, PUBLISH, {"input": notice}, token=admin.access))["consentNoticePublish"]
    assert published["errors"] == []
    assert published["notice"] == {
        "version": 4,
        "title": "营销推送授权说明（第二版）",
        "textSha256": hashlib.sha256(body.encode()).hexdigest(),
        "purposes": ["MARKETING"],
        "changedPurposes": ["MARKETING"],
    }
    current = data(await gql(client, NOTICES))["consentNotices"]
    assert [n["version"] for n in current] == [1, 3, 4]

    # The patient is asked again, for the channels they had granted.
    me = data(await gql(client, ME, token=patient.access))["me"]
    assert me["consentsToReconfirm"] == [
        {"purpose": "MARKETING", "channels": ["IN_APP", "SMS"], "notice": {"version": 4}}
    ]
    outdated = await _update(client, patient, [_item("SMS", "MARKETING", 2)])
    assert outdated["patient"] is None
    assert [(e["field"], e["code"]) for e in outdated["errors"]] == [
        ("items.0.noticeVersion", "CONSENT_NOTICE_OUTDATED")
    ]
    again = await _update(client, patient, [_item("SMS", "MARKETING", 4), _item("IN_APP", "MARKETING", 4, False)])
    assert again["errors"] == [] and again["patient"]["consentsToReconfirm"] == []

    # Admins read anyone's history; the front desk records a paper form with its number.
    desk = await staff_session(client, "notice-desk@example.cn", ["clinic_staff"])
    paper = await _update(
        client,
        desk,
        [_item("EMAIL", "SERVICE", 1)],
        source="FRONT_DESK",
        sourceNote="门诊纸质授权书 No.0042",
        patientId=patient.id,
    )
    assert paper["errors"] == []
    rows = data(await gql(client, HISTORY, {"id": patient.id}, token=admin.access))["consentHistory"]["edges"]
    assert [(r["node"]["channel"], r["node"]["granted"], r["node"]["noticeVersion"]) for r in rows[:3]] == [
        ("EMAIL", True, 1),
        ("SMS", True, 4),  # one answer's items share a time: then the last recorded first
        ("IN_APP", False, 4),
    ]
    assert (rows[0]["node"]["source"], rows[0]["node"]["sourceNote"], rows[0]["node"]["byPatient"]) == (
        "FRONT_DESK",
        "门诊纸质授权书 No.0042",
        False,
    )
    assert rows[1]["node"]["textSha256"] == hashlib.sha256(body.encode()).hexdigest()


async def test_who_may_not_and_bad_inputs(client: Any) -> None:
    patient = await patient_session(client, "13922220002")
    other = await patient_session(client, "13922220003")
    marketer = await staff_session(client, "notice-mkt@example.cn", ["marketer"])
    doctor = await staff_session(client, "notice-doc@example.cn", ["doctor"])

    # The history: own only for patients, any for admins, nobody else.
    for who in (other, marketer, doctor):
        denied = await gql(client, HISTORY, {"id": patient.id}, token=who.access)
        assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED" and denied["data"] is None
    anonymous = await gql(client, MINE)
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"
    staff_mine = await gql(client, MINE, token=marketer.access)
    assert staff_mine["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    malformed = await gql(client, HISTORY, {"id": "not-an-id"}, token=marketer.access)
    assert malformed["errors"][0]["extensions"]["code"] == "ID_INVALID"
    # Another patient's reconfirmations are not theirs to see.
    other_view = await gql(client, "query($id: ID!) { node(id: $id) { id } }", {"id": patient.id}, token=other.access)
    assert other_view["data"]["node"] is None

    # Publishing: admins only.
    notice = {"title": "说明", "body": "正文", "purposes": ["MARKETING"], "changedPurposes": ["MARKETING"]}
    for who in (patient, marketer, doctor):
        refused = data(await gql(client, PUBLISH, {"input": notice}, token=who.access))["consentNoticePublish"]
        assert refused["notice"] is None and [e["code"] for e in refused["errors"]] == ["PERMISSION_DENIED"]
    anonymous_publish = data(await gql(client, PUBLISH, {"input": notice}))["consentNoticePublish"]
    assert [e["code"] for e in anonymous_publish["errors"]] == ["NOT_AUTHENTICATED"]
    admin = await staff_session(client, "notice-admin2@example.cn", ["admin"])
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"body": "字" * 20_001}, "body", "CONSENT_NOTICE_BODY_LENGTH"),
        ({"title": "题" * 101}, "title", "CONSENT_NOTICE_TITLE_LENGTH"),
        ({"purposes": [], "changedPurposes": []}, "purposes", "CONSENT_NOTICE_PURPOSES_EMPTY"),
        ({"changedPurposes": ["SERVICE"]}, "changedPurposes", "CONSENT_NOTICE_CHANGED_NOT_COVERED"),
    ]
    for change, field, code in cases:
        bad = data(await gql(client, PUBLISH, {"input": {**notice, **change}}, token=admin.access))
        assert [(e["field"], e["code"]) for e in bad["consentNoticePublish"]["errors"]] == [(field, code)]
    nul = await gql(client, PUBLISH, {"input": {**notice, "body": "正文\x00"}}, token=admin.access)
    assert nul["errors"][0]["extensions"]["code"] == "INVALID_STRING" and nul["data"] is None
    assert [n["version"] for n in data(await gql(client, NOTICES))["consentNotices"]] == [1, 2, 3]  # nothing published

    # Consent answers: the version must exist, fit the purpose and be current; the source must fit.
    for items, extra, expected in [
        ([_item("SMS", "MARKETING", 999)], {}, [("items.0.noticeVersion", "CONSENT_NOTICE_UNKNOWN")]),
        ([_item("SMS", "MARKETING", 1)], {}, [("items.0.noticeVersion", "CONSENT_NOTICE_WRONG_PURPOSE")]),
        ([_item("SMS", "MARKETING", 2)], {"source": "FRONT_DESK"}, [("source", "CONSENT_SOURCE_INVALID")]),
        ([_item("SMS", "MARKETING", 2)], {"sourceNote": "备" * 101}, [("sourceNote", "CONSENT_NOTE_LENGTH")]),
        ([_item("SMS", "MARKETING", -(2**31))], {}, [("items.0.noticeVersion", "CONSENT_NOTICE_UNKNOWN")]),
    ]:
        result = await _update(client, patient, items, **extra)
        assert [(e["field"], e["code"]) for e in result["errors"]] == expected, result
    staff_claims_app = await _update(client, doctor, [_item("SMS", "SERVICE", 1)], source="APP", patientId=patient.id)
    assert [e["code"] for e in staff_claims_app["errors"]] == ["CONSENT_SOURCE_INVALID"]
    nul_note = await gql(
        client, UPDATE, {"input": {"items": [_item("SMS", "MARKETING", 2)], "sourceNote": "\x00"}}, token=patient.access
    )
    assert nul_note["errors"][0]["extensions"]["code"] == "INVALID_STRING"
    missing = await gql(
        client,
        """mutation { consentUpdate(input: {items: [{channel: SMS, purpose: MARKETING, granted: true}]}) {
          errors { code } } }""",
        token=patient.access,
    )
    assert missing["errors"][0]["extensions"]["code"] == "BAD_REQUEST"  # the version is required
    huge = await gql(client, UPDATE, {"input": {"items": [_item("SMS", "MARKETING", 2**40)]}}, token=patient.access)
    assert huge["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    # Nothing of the refused answers was recorded: only the registration default.
    history = data(await gql(client, MINE, token=patient.access))["myConsentHistory"]["edges"]
    assert [(e["node"]["purpose"], e["node"]["source"]) for e in history] == [("SERVICE", "REGISTRATION")]
