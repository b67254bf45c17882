"""The content console through the real schema over HTTP with real signed-in staff and patients:
editing, approving, publishing and archiving items, patients' consent to their own stories, the
editors' list and stats, and the compliance word list. Each for the role that may, refused (with
its typed code) for those who may not, and with malformed ids and oversized input."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from api.relay import to_global_id
from core import clock
from tests.factories import next_phone
from tests.support import Session, data, gql, patient_session, staff_session

CREATE = """mutation($kind: ContentKind!, $title: String!, $story: ID) {
  contentCreate(input: {kind: $kind, title: $title, summary: "饮食与运动", body: "规律监测血糖，合理饮食。",
    storyPatientId: $story}) { item { id status } errors { field code } } }"""
UPDATE = """mutation($i: ID!, $kind: ContentKind!, $title: String!) {
  contentUpdate(input: {itemId: $i, content: {kind: $kind, title: $title, body: "每天步行30分钟。"}}) {
    item { id status title live } errors { field code } } }"""
SUBMIT = "mutation($i: ID!) { contentSubmit(input: {itemId: $i}) { item { status } errors { code } } }"
APPROVE = """mutation($i: ID!) { contentApprove(input: {itemId: $i, comment: "通过"}) {
  item { id status } errors { field code } } }"""
PUBLISH = """mutation($i: ID!, $at: DateTime) { contentPublish(input: {itemId: $i, publishAt: $at}) {
  item { id status live publishAt } errors { field code } } }"""
ARCHIVE = """mutation($i: ID!) { contentArchive(input: {itemId: $i}) {
  item { id status live } errors { field code } } }"""
GRANT = """mutation($i: ID!) { contentStoryConsentGrant(input: {itemId: $i}) { granted errors { field code } } }"""
WITHDRAW = """mutation($i: ID!) { contentStoryConsentWithdraw(input: {itemId: $i}) {
  granted errors { field code } } }"""
ITEM = """query($i: ID!) { contentItem(id: $i) { id status live } }"""
ITEMS = """query($status: ContentItemStatus, $mine: Boolean!) {
  contentItems(status: $status, mine: $mine, first: 100) { nodes { id status title } } }"""
STATS = """query($i: ID!) { contentStats(itemId: $i) { day views reads likes bookmarks shares } }"""
ENGAGE = """mutation($i: ID!) { contentEngage(input: {itemId: $i, kind: VIEW}) { recorded errors { code } } }"""
TERMS = "query { complianceTerms { id pattern severity active } }"
TERM_ADD = """mutation($p: String!, $match: String! = "word", $sev: String! = "block", $note: String! = "") {
  complianceTermAdd(input: {pattern: $p, match: $match, severity: $sev, note: $note}) {
    term { id pattern match severity active } errors { field code } } }"""
TERM_OFF = """mutation($i: ID!) { complianceTermDeactivate(input: {termId: $i}) {
  term { id pattern active } errors { field code } } }"""

BAD_ID = "not-a-global-id"


def codes(payload: dict[str, Any]) -> list[str]:
    return [e["code"] for e in payload["errors"]]


def error_codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def _email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.cn"


async def _create(client: Any, author: Session, *, kind: str = "ARTICLE", story: str | None = None) -> str:
    title = f"控糖饮食{uuid.uuid4().hex[:6]}"
    made = data(await gql(client, CREATE, {"kind": kind, "title": title, "story": story}, token=author.access))
    assert made["contentCreate"]["errors"] == [], made
    return str(made["contentCreate"]["item"]["id"])


async def _approved(client: Any, author: Session, reviewer: Session, **kw: Any) -> str:
    item_id = await _create(client, author, **kw)
    submitted = data(await gql(client, SUBMIT, {"i": item_id}, token=author.access))["contentSubmit"]
    assert submitted["errors"] == [] and submitted["item"]["status"] == "IN_REVIEW", submitted
    approved = data(await gql(client, APPROVE, {"i": item_id}, token=reviewer.access))["contentApprove"]
    assert approved["errors"] == [] and approved["item"]["status"] == "APPROVED", approved
    return item_id


async def _published(client: Any, author: Session, reviewer: Session) -> str:
    item_id = await _approved(client, author, reviewer)
    published = data(await gql(client, PUBLISH, {"i": item_id}, token=author.access))["contentPublish"]
    assert published["errors"] == [] and published["item"]["live"] is True, published
    return item_id


async def _team(client: Any) -> tuple[Session, Session]:
    return (
        await staff_session(client, _email("mkt"), ["marketer"]),
        await staff_session(client, _email("rev"), ["reviewer"]),
    )


# --- contentUpdate --------------------------------------------------------------------------------


async def test_content_update_by_a_marketer_not_by_a_reviewer_or_a_patient(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _create(client, marketer)
    edited = data(
        await gql(client, UPDATE, {"i": item_id, "kind": "ARTICLE", "title": "运动控糖"}, token=marketer.access)
    )
    assert edited["contentUpdate"]["errors"] == []
    assert (
        edited["contentUpdate"]["item"]["title"] == "运动控糖" and edited["contentUpdate"]["item"]["status"] == "DRAFT"
    )

    by_reviewer = data(
        await gql(client, UPDATE, {"i": item_id, "kind": "ARTICLE", "title": "改"}, token=reviewer.access)
    )
    assert codes(by_reviewer["contentUpdate"]) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, next_phone())
    by_patient = data(await gql(client, UPDATE, {"i": item_id, "kind": "ARTICLE", "title": "改"}, token=patient.access))
    assert codes(by_patient["contentUpdate"]) == ["PERMISSION_DENIED"]

    too_long = data(
        await gql(client, UPDATE, {"i": item_id, "kind": "ARTICLE", "title": "长" * 121}, token=marketer.access)
    )
    assert codes(too_long["contentUpdate"]) == ["CONTENT_TITLE_INVALID"]
    assert too_long["contentUpdate"]["errors"][0]["field"] == "title"
    other_kind = data(
        await gql(client, UPDATE, {"i": item_id, "kind": "VIDEO", "title": "视频"}, token=marketer.access)
    )
    assert codes(other_kind["contentUpdate"]) == ["CONTENT_INVALID_TRANSITION"]
    missing = to_global_id("ContentItem", uuid.uuid4())
    gone = data(await gql(client, UPDATE, {"i": missing, "kind": "ARTICLE", "title": "标题"}, token=marketer.access))
    assert codes(gone["contentUpdate"]) == ["CONTENT_NOT_FOUND"]
    bad = data(await gql(client, UPDATE, {"i": BAD_ID, "kind": "ARTICLE", "title": "标题"}, token=marketer.access))
    assert codes(bad["contentUpdate"]) == ["ID_INVALID"] and bad["contentUpdate"]["errors"][0]["field"] == "itemId"


async def test_editing_a_published_item_starts_a_draft_and_the_live_version_stays(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _published(client, marketer, reviewer)
    edited = data(
        await gql(client, UPDATE, {"i": item_id, "kind": "ARTICLE", "title": "新版标题"}, token=marketer.access)
    )
    assert edited["contentUpdate"]["errors"] == []
    assert edited["contentUpdate"]["item"]["status"] == "DRAFT" and edited["contentUpdate"]["item"]["live"] is True


# --- contentApprove -------------------------------------------------------------------------------


async def test_content_approve_by_another_reviewer_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _create(client, marketer)
    draft = data(await gql(client, APPROVE, {"i": item_id}, token=reviewer.access))["contentApprove"]
    assert codes(draft) == ["CONTENT_INVALID_TRANSITION"]  # not submitted yet
    assert data(await gql(client, SUBMIT, {"i": item_id}, token=marketer.access))["contentSubmit"]["errors"] == []

    by_author = data(await gql(client, APPROVE, {"i": item_id}, token=marketer.access))["contentApprove"]
    assert codes(by_author) == ["PERMISSION_DENIED"] and by_author["item"] is None
    patient = await patient_session(client, next_phone())
    by_patient = data(await gql(client, APPROVE, {"i": item_id}, token=patient.access))["contentApprove"]
    assert codes(by_patient) == ["PERMISSION_DENIED"]

    both = await staff_session(client, _email("both"), ["marketer", "reviewer"])
    own_id = await _create(client, both)
    assert data(await gql(client, SUBMIT, {"i": own_id}, token=both.access))["contentSubmit"]["errors"] == []
    own = data(await gql(client, APPROVE, {"i": own_id}, token=both.access))["contentApprove"]
    assert codes(own) == ["CONTENT_SELF_APPROVAL"]

    approved = data(await gql(client, APPROVE, {"i": item_id}, token=reviewer.access))["contentApprove"]
    assert approved["errors"] == [] and approved["item"]["status"] == "APPROVED"
    bad = data(await gql(client, APPROVE, {"i": BAD_ID}, token=reviewer.access))["contentApprove"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "itemId"


# --- contentPublish -------------------------------------------------------------------------------


async def test_content_publish_now_or_later_by_content_staff_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _approved(client, marketer, reviewer)
    patient = await patient_session(client, next_phone())
    by_patient = data(await gql(client, PUBLISH, {"i": item_id}, token=patient.access))["contentPublish"]
    assert codes(by_patient) == ["PERMISSION_DENIED"]
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    by_doctor = data(await gql(client, PUBLISH, {"i": item_id}, token=doctor.access))["contentPublish"]
    assert codes(by_doctor) == ["PERMISSION_DENIED"]
    assert data(await gql(client, ITEM, {"i": item_id}, token=patient.access))["contentItem"] is None

    later = (clock.now() + timedelta(days=2)).isoformat()
    scheduled = data(await gql(client, PUBLISH, {"i": item_id, "at": later}, token=marketer.access))["contentPublish"]
    assert scheduled["errors"] == [] and scheduled["item"]["status"] == "SCHEDULED"
    assert scheduled["item"]["live"] is False and scheduled["item"]["publishAt"] is not None
    now = data(await gql(client, PUBLISH, {"i": item_id}, token=reviewer.access))["contentPublish"]
    assert now["errors"] == [] and now["item"]["status"] == "PUBLISHED" and now["item"]["live"] is True
    seen = data(await gql(client, ITEM, {"i": item_id}, token=patient.access))["contentItem"]
    assert seen is not None and seen["live"] is True

    again = data(await gql(client, PUBLISH, {"i": item_id}, token=marketer.access))["contentPublish"]
    assert codes(again) == ["CONTENT_INVALID_TRANSITION"]
    draft_id = await _create(client, marketer)
    draft = data(await gql(client, PUBLISH, {"i": draft_id}, token=marketer.access))["contentPublish"]
    assert codes(draft) == ["CONTENT_INVALID_TRANSITION"]  # never without review
    bad = data(await gql(client, PUBLISH, {"i": BAD_ID}, token=marketer.access))["contentPublish"]
    assert codes(bad) == ["ID_INVALID"]


# --- contentArchive -------------------------------------------------------------------------------


async def test_content_archive_by_content_staff_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _published(client, marketer, reviewer)
    patient = await patient_session(client, next_phone())
    by_patient = data(await gql(client, ARCHIVE, {"i": item_id}, token=patient.access))["contentArchive"]
    assert codes(by_patient) == ["PERMISSION_DENIED"]
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    by_moderator = data(await gql(client, ARCHIVE, {"i": item_id}, token=moderator.access))["contentArchive"]
    assert codes(by_moderator) == ["PERMISSION_DENIED"]

    archived = data(await gql(client, ARCHIVE, {"i": item_id}, token=marketer.access))["contentArchive"]
    assert archived["errors"] == [] and archived["item"]["status"] == "ARCHIVED" and archived["item"]["live"] is False
    assert data(await gql(client, ITEM, {"i": item_id}, token=patient.access))["contentItem"] is None
    twice = data(await gql(client, ARCHIVE, {"i": item_id}, token=reviewer.access))["contentArchive"]
    assert codes(twice) == ["CONTENT_INVALID_TRANSITION"]
    bad = data(await gql(client, ARCHIVE, {"i": to_global_id("Post", uuid.uuid4())}, token=marketer.access))
    assert codes(bad["contentArchive"]) == ["ID_INVALID"]


# --- contentStoryConsentGrant / Withdraw ----------------------------------------------------------


async def test_story_consent_granted_and_withdrawn_by_the_story_patient_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    subject = await patient_session(client, next_phone())
    item_id = await _create(client, marketer, kind="STORY", story=subject.id)
    assert data(await gql(client, SUBMIT, {"i": item_id}, token=marketer.access))["contentSubmit"]["errors"] == []
    unconsented = data(await gql(client, APPROVE, {"i": item_id}, token=reviewer.access))["contentApprove"]
    assert codes(unconsented) == ["CONTENT_COMPLIANCE_BLOCKED"]  # no story goes out without consent

    other = await patient_session(client, next_phone())
    by_other = data(await gql(client, GRANT, {"i": item_id}, token=other.access))["contentStoryConsentGrant"]
    assert codes(by_other) == ["CONTENT_NOT_STORY_SUBJECT"] and by_other["granted"] is None
    by_marketer = data(await gql(client, GRANT, {"i": item_id}, token=marketer.access))["contentStoryConsentGrant"]
    assert codes(by_marketer) == ["PERMISSION_DENIED"]
    anonymous = data(await gql(client, GRANT, {"i": item_id}))["contentStoryConsentGrant"]
    assert codes(anonymous) == ["NOT_AUTHENTICATED"]

    granted = data(await gql(client, GRANT, {"i": item_id}, token=subject.access))["contentStoryConsentGrant"]
    assert granted == {"granted": True, "errors": []}
    approved = data(await gql(client, APPROVE, {"i": item_id}, token=reviewer.access))["contentApprove"]
    assert approved["errors"] == [] and approved["item"]["status"] == "APPROVED"
    published = data(await gql(client, PUBLISH, {"i": item_id}, token=marketer.access))["contentPublish"]
    assert published["errors"] == [] and published["item"]["live"] is True

    by_other = data(await gql(client, WITHDRAW, {"i": item_id}, token=other.access))["contentStoryConsentWithdraw"]
    assert codes(by_other) == ["CONTENT_NOT_STORY_SUBJECT"]
    by_reviewer = data(await gql(client, WITHDRAW, {"i": item_id}, token=reviewer.access))
    assert codes(by_reviewer["contentStoryConsentWithdraw"]) == ["PERMISSION_DENIED"]
    withdrawn = data(await gql(client, WITHDRAW, {"i": item_id}, token=subject.access))["contentStoryConsentWithdraw"]
    assert withdrawn == {"granted": False, "errors": []}
    taken_down = data(await gql(client, ITEM, {"i": item_id}, token=marketer.access))["contentItem"]
    assert taken_down["status"] == "ARCHIVED" and taken_down["live"] is False

    article_id = await _create(client, marketer)  # not a story: nobody's consent to give
    not_story = data(await gql(client, GRANT, {"i": article_id}, token=subject.access))["contentStoryConsentGrant"]
    assert codes(not_story) == ["CONTENT_NOT_STORY_SUBJECT"]
    bad = data(await gql(client, WITHDRAW, {"i": BAD_ID}, token=subject.access))["contentStoryConsentWithdraw"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "itemId"


# --- contentItems ---------------------------------------------------------------------------------


async def test_content_items_for_content_staff_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    mine = await _create(client, marketer)
    other_marketer = await staff_session(client, _email("mkt2"), ["marketer"])
    theirs = await _create(client, other_marketer)
    submitted = data(await gql(client, SUBMIT, {"i": theirs}, token=other_marketer.access))["contentSubmit"]
    assert submitted["errors"] == []

    own = data(await gql(client, ITEMS, {"mine": True}, token=marketer.access))["contentItems"]["nodes"]
    assert [n["id"] for n in own] == [mine]
    everything = data(await gql(client, ITEMS, {"mine": False}, token=marketer.access))["contentItems"]["nodes"]
    assert {mine, theirs} <= {n["id"] for n in everything}
    in_review = data(await gql(client, ITEMS, {"mine": False, "status": "IN_REVIEW"}, token=reviewer.access))
    ids = [n["id"] for n in in_review["contentItems"]["nodes"]]
    assert theirs in ids and mine not in ids
    assert all(n["status"] == "IN_REVIEW" for n in in_review["contentItems"]["nodes"])

    patient = await patient_session(client, next_phone())
    moderator = await staff_session(client, _email("mod"), ["moderator"])
    for token in (patient.access, moderator.access):
        denied = await gql(client, ITEMS, {"mine": False}, token=token)
        assert denied["data"] is None and error_codes(denied) == ["PERMISSION_DENIED"]
    assert error_codes(await gql(client, ITEMS, {"mine": False})) == ["NOT_AUTHENTICATED"]


# --- contentStats ---------------------------------------------------------------------------------


async def test_content_stats_for_the_author_and_reviewers_only(client: Any) -> None:
    marketer, reviewer = await _team(client)
    item_id = await _published(client, marketer, reviewer)
    reader = await patient_session(client, next_phone())
    viewed = data(await gql(client, ENGAGE, {"i": item_id}, token=reader.access))["contentEngage"]
    assert viewed["errors"] == [] and viewed["recorded"] is True

    by_author = data(await gql(client, STATS, {"i": item_id}, token=marketer.access))["contentStats"]
    assert sum(d["views"] for d in by_author) == 1
    by_reviewer = data(await gql(client, STATS, {"i": item_id}, token=reviewer.access))["contentStats"]
    assert by_reviewer == by_author

    other_marketer = await staff_session(client, _email("mkt2"), ["marketer"])
    for token in (other_marketer.access, reader.access):
        denied = await gql(client, STATS, {"i": item_id}, token=token)
        assert denied["data"] is None and error_codes(denied) == ["PERMISSION_DENIED"]
    missing = await gql(client, STATS, {"i": to_global_id("ContentItem", uuid.uuid4())}, token=reviewer.access)
    assert error_codes(missing) == ["CONTENT_NOT_FOUND"]
    bad = await gql(client, STATS, {"i": BAD_ID}, token=reviewer.access)
    assert error_codes(bad) == ["ID_INVALID"]


# --- complianceTerms, complianceTermAdd, complianceTermDeactivate ---------------------------------


async def test_compliance_terms_added_listed_and_deactivated_by_the_right_roles(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    marketer, reviewer = await _team(client)
    pattern = f"包治百病{uuid.uuid4().hex[:6]}"

    for token in (reviewer.access, marketer.access):
        refused = data(await gql(client, TERM_ADD, {"p": pattern}, token=token))["complianceTermAdd"]
        assert codes(refused) == ["PERMISSION_DENIED"] and refused["term"] is None
    added = data(await gql(client, TERM_ADD, {"p": pattern, "sev": "warn"}, token=admin.access))["complianceTermAdd"]
    assert added["errors"] == []
    assert added["term"]["pattern"] == pattern and added["term"]["severity"] == "WARN" and added["term"]["active"]
    term_id = added["term"]["id"]
    twice = data(await gql(client, TERM_ADD, {"p": pattern}, token=admin.access))["complianceTermAdd"]
    assert codes(twice) == ["CONTENT_TERM_EXISTS"]

    for token in (marketer.access, reviewer.access):
        listed = data(await gql(client, TERMS, token=token))["complianceTerms"]
        assert {"id": term_id, "pattern": pattern, "severity": "WARN", "active": True} in listed
    patient = await patient_session(client, next_phone())
    doctor = await staff_session(client, _email("doc"), ["doctor"])
    for token in (patient.access, doctor.access):
        denied = await gql(client, TERMS, token=token)
        assert denied["data"] is None and error_codes(denied) == ["PERMISSION_DENIED"]

    by_marketer = data(await gql(client, TERM_OFF, {"i": term_id}, token=marketer.access))["complianceTermDeactivate"]
    assert codes(by_marketer) == ["PERMISSION_DENIED"]
    off = data(await gql(client, TERM_OFF, {"i": term_id}, token=admin.access))["complianceTermDeactivate"]
    assert off["errors"] == [] and off["term"] == {"id": term_id, "pattern": pattern, "active": False}
    missing = to_global_id("ComplianceTerm", uuid.uuid4())
    gone = data(await gql(client, TERM_OFF, {"i": missing}, token=admin.access))["complianceTermDeactivate"]
    assert codes(gone) == ["CONTENT_NOT_FOUND"] and gone["errors"][0]["field"] == "termId"
    bad = data(await gql(client, TERM_OFF, {"i": BAD_ID}, token=admin.access))["complianceTermDeactivate"]
    assert codes(bad) == ["ID_INVALID"] and bad["errors"][0]["field"] == "termId"


async def test_compliance_term_add_bad_inputs(client: Any) -> None:
    admin = await staff_session(client, _email("admin"), ["admin"])
    cases = [
        ({"p": "药" * 201}, "TERM_INVALID"),
        ({"p": "   "}, "TERM_INVALID"),
        ({"p": "(根治", "match": "regex"}, "TERM_REGEX_INVALID"),
        ({"p": "根治X", "match": "fuzzy"}, "TERM_MATCH_INVALID"),
        ({"p": "根治Y", "sev": "fatal"}, "TERM_SEVERITY_INVALID"),
        ({"p": "根治Z", "note": "注" * 201}, "TERM_NOTE_TOO_LONG"),
    ]
    for variables, code in cases:
        refused = data(await gql(client, TERM_ADD, variables, token=admin.access))["complianceTermAdd"]
        assert codes(refused) == [code], variables
        assert refused["term"] is None
