"""Campaign and segment root fields over HTTP with signed-in staff: segments, segmentUpdate,
segmentDelete, campaignUpdate, campaignReject, campaignResume, campaignCancel (who may, who may not,
malformed ids and wrong states)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support import Session, data, gql, patient_session, staff_session

SEGMENT_CREATE = """mutation($input: SegmentCreateInput!) { segmentCreate(input: $input) {
  segment { id name } errors { field code message } } }"""
SEGMENT_UPDATE = """mutation($input: SegmentUpdateInput!) { segmentUpdate(input: $input) {
  segment { id name description criteria { stages } } errors { field code message } } }"""
SEGMENT_DELETE = """mutation($id: ID!) { segmentDelete(input: {segmentId: $id}) {
  deleted errors { field code message } } }"""
SEGMENTS = """query($first: Int) { segments(first: $first) { edges { node { id name } } pageInfo { hasNextPage } } }"""
CREATE = """mutation($input: CampaignInput!) { campaignCreate(input: $input) {
  campaign { id status } errors { field code message } } }"""
UPDATE = """mutation($id: ID!, $c: CampaignInput!) { campaignUpdate(input: {campaignId: $id, campaign: $c}) {
  campaign { id status name body reviewedBy } errors { field code message } } }"""
REJECT = """mutation($id: ID!, $comment: String) { campaignReject(input: {campaignId: $id, comment: $comment}) {
  campaign { id status reviewComment reviewedBy } errors { field code message } } }"""


def _step(name: str) -> str:
    return f"""mutation($id: ID!) {{ {name}(input: {{campaignId: $id}}) {{
      campaign {{ id status startedAt finishedAt }} errors {{ field code message }} }} }}"""


APPROVE = _step("campaignApprove")
SUBMIT = _step("campaignSubmit")
PAUSE = _step("campaignPause")
RESUME = _step("campaignResume")
CANCEL = _step("campaignCancel")


def _codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


async def _segment(client: Any, marketer: Session, name: str = "复诊会员") -> str:
    created = data(
        await gql(
            client,
            SEGMENT_CREATE,
            {"input": {"name": name, "criteria": {"stages": ["acquisition"]}}},
            token=marketer.access,
        )
    )["segmentCreate"]
    assert created["errors"] == [], created
    return created["segment"]["id"]


def _campaign_input(segment_id: str, *, name: str = "会员日", scheduled: bool = False) -> dict[str, Any]:
    value: dict[str, Any] = {
        "name": name,
        "kind": "MARKETING",
        "channels": ["in_app"],
        "body": "{nickname}您好，会员日活动开始了。",
        "segmentId": segment_id,
    }
    if scheduled:
        value["scheduledAt"] = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    return value


async def _draft(client: Any, marketer: Session, segment_id: str, **kw: Any) -> str:
    created = data(await gql(client, CREATE, {"input": _campaign_input(segment_id, **kw)}, token=marketer.access))[
        "campaignCreate"
    ]
    assert created["errors"] == [], created
    return created["campaign"]["id"]


async def _pending(client: Any, marketer: Session, segment_id: str, **kw: Any) -> str:
    cid = await _draft(client, marketer, segment_id, **kw)
    submitted = data(await gql(client, SUBMIT, {"id": cid}, token=marketer.access))["campaignSubmit"]
    assert submitted["errors"] == [] and submitted["campaign"]["status"] == "PENDING_REVIEW", submitted
    return cid


async def _approved_scheduled(client: Any, marketer: Session, reviewer: Session, segment_id: str) -> str:
    cid = await _pending(client, marketer, segment_id, scheduled=True)
    approved = data(await gql(client, APPROVE, {"id": cid}, token=reviewer.access))["campaignApprove"]
    assert approved["errors"] == [] and approved["campaign"]["status"] == "APPROVED", approved
    return cid


# --- segments ---------------------------------------------------------------------------------------


async def test_segments_listed_for_marketing_and_review_staff_not_for_patients(client, unique_phone):
    marketer = await staff_session(client, "seg-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "seg-rev@example.com", ["reviewer"])
    first = await _segment(client, marketer, "A人群")
    second = await _segment(client, marketer, "B人群")

    for who in (marketer, reviewer):
        page = data(await gql(client, SEGMENTS, {"first": 1}, token=who.access))["segments"]
        assert [e["node"]["id"] for e in page["edges"]] == [first] and page["pageInfo"]["hasNextPage"] is True
    full = data(await gql(client, SEGMENTS, {"first": 10}, token=reviewer.access))["segments"]
    assert [e["node"]["id"] for e in full["edges"]] == [first, second]

    patient = await patient_session(client, unique_phone)
    denied = await gql(client, SEGMENTS, {"first": 5}, token=patient.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED" and denied["data"] is None
    doctor = await staff_session(client, "seg-doc@example.com", ["doctor"])
    denied = await gql(client, SEGMENTS, {"first": 5}, token=doctor.access)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = await gql(client, SEGMENTS, {"first": 5})
    assert anonymous["errors"][0]["extensions"]["code"] == "NOT_AUTHENTICATED"


async def test_segment_update_by_marketer_only_with_checked_input(client, unique_phone):
    marketer = await staff_session(client, "upd-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "upd-rev@example.com", ["reviewer"])
    seg = await _segment(client, marketer, "原名")
    await _segment(client, marketer, "已用名")

    updated = data(
        await gql(
            client,
            SEGMENT_UPDATE,
            {"input": {"segmentId": seg, "name": "新名", "description": "说明", "criteria": {"stages": ["loyalty"]}}},
            token=marketer.access,
        )
    )["segmentUpdate"]
    assert updated == {
        "segment": {"id": seg, "name": "新名", "description": "说明", "criteria": {"stages": ["loyalty"]}},
        "errors": [],
    }

    denied = data(
        await gql(client, SEGMENT_UPDATE, {"input": {"segmentId": seg, "name": "改名"}}, token=reviewer.access)
    )["segmentUpdate"]
    assert denied["segment"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, unique_phone)
    denied = data(
        await gql(client, SEGMENT_UPDATE, {"input": {"segmentId": seg, "name": "改名"}}, token=patient.access)
    )["segmentUpdate"]
    assert _codes(denied) == ["PERMISSION_DENIED"]

    clash = data(
        await gql(client, SEGMENT_UPDATE, {"input": {"segmentId": seg, "name": "已用名"}}, token=marketer.access)
    )["segmentUpdate"]
    assert clash["segment"] is None and _codes(clash) == ["SEGMENT_NAME_TAKEN"]
    bad_stage = data(
        await gql(
            client,
            SEGMENT_UPDATE,
            {"input": {"segmentId": seg, "criteria": {"stages": ["nonsense"]}}},
            token=marketer.access,
        )
    )["segmentUpdate"]
    assert "STAGE_INVALID" in _codes(bad_stage)
    malformed = data(
        await gql(client, SEGMENT_UPDATE, {"input": {"segmentId": "not-an-id", "name": "x人群"}}, token=marketer.access)
    )["segmentUpdate"]
    assert malformed["errors"] == [{"field": "segmentId", "code": "ID_INVALID", "message": "编号无效"}]
    own_name = data(
        await gql(client, SEGMENT_UPDATE, {"input": {"segmentId": seg, "name": "新名"}}, token=marketer.access)
    )["segmentUpdate"]
    assert own_name["errors"] == []  # keeping its own name is no clash

    names = data(await gql(client, SEGMENTS, {"first": 10}, token=marketer.access))["segments"]
    assert sorted(e["node"]["name"] for e in names["edges"]) == ["已用名", "新名"]


async def test_segment_delete_refused_while_in_use_and_for_other_roles(client, unique_phone):
    marketer = await staff_session(client, "del-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "del-rev@example.com", ["reviewer"])
    used = await _segment(client, marketer, "在用人群")
    free = await _segment(client, marketer, "空闲人群")
    cid = await _draft(client, marketer, used)

    in_use = data(await gql(client, SEGMENT_DELETE, {"id": used}, token=marketer.access))["segmentDelete"]
    assert in_use["deleted"] is False and _codes(in_use) == ["SEGMENT_IN_USE"]
    denied = data(await gql(client, SEGMENT_DELETE, {"id": free}, token=reviewer.access))["segmentDelete"]
    assert denied["deleted"] is False and _codes(denied) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, unique_phone)
    denied = data(await gql(client, SEGMENT_DELETE, {"id": free}, token=patient.access))["segmentDelete"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, SEGMENT_DELETE, {"id": cid}, token=marketer.access))["segmentDelete"]
    assert malformed["errors"][0]["code"] == "ID_INVALID"  # a campaign's id is no segment's

    deleted = data(await gql(client, SEGMENT_DELETE, {"id": free}, token=marketer.access))["segmentDelete"]
    assert deleted == {"deleted": True, "errors": []}
    again = data(await gql(client, SEGMENT_DELETE, {"id": free}, token=marketer.access))["segmentDelete"]
    assert _codes(again) == ["SEGMENT_NOT_FOUND"]

    # Once its campaign is cancelled the segment may go.
    assert data(await gql(client, CANCEL, {"id": cid}, token=marketer.access))["campaignCancel"]["errors"] == []
    deleted = data(await gql(client, SEGMENT_DELETE, {"id": used}, token=marketer.access))["segmentDelete"]
    assert deleted == {"deleted": True, "errors": []}


# --- campaigns --------------------------------------------------------------------------------------


async def test_campaign_update_sends_an_approved_campaign_back_to_draft(client, unique_phone):
    marketer = await staff_session(client, "cu-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "cu-rev@example.com", ["reviewer"])
    seg = await _segment(client, marketer)
    cid = await _approved_scheduled(client, marketer, reviewer, seg)

    changed = _campaign_input(seg, name="会员日（改）", scheduled=True)
    updated = data(await gql(client, UPDATE, {"id": cid, "c": changed}, token=marketer.access))["campaignUpdate"]
    assert updated["errors"] == []
    assert updated["campaign"] == {
        "id": cid,
        "status": "DRAFT",
        "name": "会员日（改）",
        "body": changed["body"],
        "reviewedBy": None,
    }

    denied = data(await gql(client, UPDATE, {"id": cid, "c": changed}, token=reviewer.access))["campaignUpdate"]
    assert denied["campaign"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, unique_phone)
    denied = data(await gql(client, UPDATE, {"id": cid, "c": changed}, token=patient.access))["campaignUpdate"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, UPDATE, {"id": "garbage", "c": changed}, token=marketer.access))[
        "campaignUpdate"
    ]
    assert malformed["errors"] == [{"field": "campaignId", "code": "ID_INVALID", "message": "编号无效"}]
    bad_segment = data(
        await gql(client, UPDATE, {"id": cid, "c": {**changed, "segmentId": "garbage"}}, token=marketer.access)
    )["campaignUpdate"]
    assert bad_segment["errors"][0]["code"] == "ID_INVALID" and bad_segment["errors"][0]["field"] == "segmentId"
    empty_channels = data(
        await gql(client, UPDATE, {"id": cid, "c": {**changed, "channels": []}}, token=marketer.access)
    )["campaignUpdate"]
    assert "CHANNELS_EMPTY" in _codes(empty_channels)

    # A cancelled campaign is final: no more edits.
    assert data(await gql(client, CANCEL, {"id": cid}, token=marketer.access))["campaignCancel"]["errors"] == []
    final = data(await gql(client, UPDATE, {"id": cid, "c": changed}, token=marketer.access))["campaignUpdate"]
    assert _codes(final) == ["CAMPAIGN_WRONG_STATUS"]


async def test_campaign_reject_by_reviewer_needs_a_comment(client, unique_phone):
    marketer = await staff_session(client, "rj-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "rj-rev@example.com", ["reviewer"])
    seg = await _segment(client, marketer)
    cid = await _pending(client, marketer, seg)

    denied = data(await gql(client, REJECT, {"id": cid, "comment": "不行"}, token=marketer.access))["campaignReject"]
    assert denied["campaign"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, unique_phone)
    denied = data(await gql(client, REJECT, {"id": cid, "comment": "不行"}, token=patient.access))["campaignReject"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
    no_comment = data(await gql(client, REJECT, {"id": cid, "comment": "  "}, token=reviewer.access))["campaignReject"]
    assert no_comment["campaign"] is None and no_comment["errors"][0]["code"] == "COMMENT_REQUIRED"
    assert no_comment["errors"][0]["field"] == "comment"
    missing = data(await gql(client, REJECT, {"id": cid}, token=reviewer.access))["campaignReject"]
    assert _codes(missing) == ["COMMENT_REQUIRED"]
    malformed = data(await gql(client, REJECT, {"id": "x", "comment": "不行"}, token=reviewer.access))["campaignReject"]
    assert _codes(malformed) == ["ID_INVALID"]

    rejected = data(await gql(client, REJECT, {"id": cid, "comment": " 文案需修改 "}, token=reviewer.access))[
        "campaignReject"
    ]
    assert rejected["errors"] == []
    assert rejected["campaign"] == {
        "id": cid,
        "status": "DRAFT",
        "reviewComment": "文案需修改",
        "reviewedBy": reviewer.id,
    }
    again = data(await gql(client, REJECT, {"id": cid, "comment": "再驳回"}, token=reviewer.access))["campaignReject"]
    assert _codes(again) == ["CAMPAIGN_WRONG_STATUS"]

    # An admin may review, but never a campaign of their own.
    admin = await staff_session(client, "rj-admin@example.com", ["admin"])
    own = await _pending(client, admin, seg, name="管理员活动")
    refused = data(await gql(client, REJECT, {"id": own, "comment": "自己驳回"}, token=admin.access))["campaignReject"]
    assert _codes(refused) == ["CAMPAIGN_OWN_APPROVAL"]
    by_reviewer = data(await gql(client, REJECT, {"id": own, "comment": "请修改"}, token=reviewer.access))
    assert by_reviewer["campaignReject"]["campaign"]["status"] == "DRAFT"


async def test_campaign_resume_only_a_paused_campaign(client, unique_phone):
    marketer = await staff_session(client, "rs-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "rs-rev@example.com", ["reviewer"])
    seg = await _segment(client, marketer)
    cid = await _approved_scheduled(client, marketer, reviewer, seg)

    not_paused = data(await gql(client, RESUME, {"id": cid}, token=marketer.access))["campaignResume"]
    assert not_paused["campaign"] is None and _codes(not_paused) == ["CAMPAIGN_WRONG_STATUS"]
    paused = data(await gql(client, PAUSE, {"id": cid}, token=reviewer.access))["campaignPause"]
    assert paused["errors"] == [] and paused["campaign"]["status"] == "PAUSED"

    patient = await patient_session(client, unique_phone)
    denied = data(await gql(client, RESUME, {"id": cid}, token=patient.access))["campaignResume"]
    assert denied["campaign"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    doctor = await staff_session(client, "rs-doc@example.com", ["doctor"])
    denied = data(await gql(client, RESUME, {"id": cid}, token=doctor.access))["campaignResume"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, RESUME, {"id": cid}))["campaignResume"]
    assert _codes(anonymous) == ["NOT_AUTHENTICATED"]
    malformed = data(await gql(client, RESUME, {"id": seg}, token=marketer.access))["campaignResume"]
    assert malformed["errors"] == [{"field": "campaignId", "code": "ID_INVALID", "message": "编号无效"}]

    # Never started (scheduled in a month): resuming makes it approved again, waiting for its time.
    resumed = data(await gql(client, RESUME, {"id": cid}, token=reviewer.access))["campaignResume"]
    assert resumed["errors"] == []
    assert resumed["campaign"] == {"id": cid, "status": "APPROVED", "startedAt": None, "finishedAt": None}


async def test_campaign_cancel_is_final(client, unique_phone):
    marketer = await staff_session(client, "cc-mkt@example.com", ["marketer"])
    reviewer = await staff_session(client, "cc-rev@example.com", ["reviewer"])
    seg = await _segment(client, marketer)
    by_marketer = await _draft(client, marketer, seg, name="草稿活动")
    by_reviewer = await _approved_scheduled(client, marketer, reviewer, seg)

    patient = await patient_session(client, unique_phone)
    denied = data(await gql(client, CANCEL, {"id": by_marketer}, token=patient.access))["campaignCancel"]
    assert denied["campaign"] is None and _codes(denied) == ["PERMISSION_DENIED"]
    moderator = await staff_session(client, "cc-mod@example.com", ["moderator"])
    denied = data(await gql(client, CANCEL, {"id": by_marketer}, token=moderator.access))["campaignCancel"]
    assert _codes(denied) == ["PERMISSION_DENIED"]
    malformed = data(await gql(client, CANCEL, {"id": "bm9wZQ=="}, token=marketer.access))["campaignCancel"]
    assert _codes(malformed) == ["ID_INVALID"]

    cancelled = data(await gql(client, CANCEL, {"id": by_marketer}, token=marketer.access))["campaignCancel"]
    assert cancelled["errors"] == [] and cancelled["campaign"]["status"] == "CANCELLED"
    assert cancelled["campaign"]["finishedAt"] is not None
    cancelled = data(await gql(client, CANCEL, {"id": by_reviewer}, token=reviewer.access))["campaignCancel"]
    assert cancelled["errors"] == [] and cancelled["campaign"]["status"] == "CANCELLED"

    again = data(await gql(client, CANCEL, {"id": by_marketer}, token=marketer.access))["campaignCancel"]
    assert _codes(again) == ["CAMPAIGN_WRONG_STATUS"]
    no_resume = data(await gql(client, RESUME, {"id": by_reviewer}, token=marketer.access))["campaignResume"]
    assert _codes(no_resume) == ["CAMPAIGN_WRONG_STATUS"]
