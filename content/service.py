"""Content editing and its workflow: draft -> in review -> approved or rejected -> scheduled ->
published -> archived, with revisions (a published item is edited through a new draft revision;
the published one stays live until the new one is published) and every step recorded.

Marketers write; reviewers approve or reject, never their own work; the compliance check runs on
submit and again on approval. Publishing (now, or by the scheduler at its time) copies the
revision onto the item's live columns and emits `content.published` through the outbox.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from content import compliance, errors, search
from content.errors import ContentCode as Code
from content.models import (
    ContentItem,
    ContentKind,
    ContentRevision,
    ContentStatus,
    ContentTransition,
    Gate,
    RevisionStatus,
    StoryConsent,
)
from core import clock, outbox
from core.errors import CoreCode, Validator
from core.identity import SYSTEM, Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from loyalty import tiers
from loyalty.models import LifecycleStage
from patients import queries as patient_queries
from social import notify

PUBLISHED_TOPIC = "content.published"
AUTHOR_ROLES = (Role.MARKETER,)
REVIEW_ROLES = (Role.REVIEWER,)


@outbox.handler(PUBLISHED_TOPIC)
async def _on_published(session: AsyncSession, message: outbox.OutboxMessage) -> None:
    """`content.published` is the contract for later consumers (notifications, campaigns). The first
    publication tells the patients whose conditions it is for (social/notify.py: a run, fanned out by a
    worker through this domain's one access check)."""
    if message.payload.get("first"):
        await notify.content_published(session, uuid.UUID(message.payload["item_id"]))


@dataclass(frozen=True)
class ContentInput:
    kind: str
    title: str
    summary: str = ""
    body: str = ""
    cover_url: str | None = None
    video_url: str | None = None
    language: str = "zh-CN"
    condition_codes: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    audience_conditions: list[str] = field(default_factory=list)
    audience_group_ids: list[uuid.UUID] = field(default_factory=list)
    audience_tiers: list[str] = field(default_factory=list)
    audience_stages: list[str] = field(default_factory=list)
    gate: str = Gate.PUBLIC
    gate_min_tier_rank: int | None = None
    story_patient_id: uuid.UUID | None = None


def _url_ok(url: str | None) -> bool:
    return url is None or (url.startswith(("https://", "http://")) and len(url) <= 500)


async def _validate(session: AsyncSession, data: ContentInput) -> None:
    v = Validator()
    v.check(data.kind in {k.value for k in ContentKind}, "kind", Code.CONTENT_KIND_INVALID, "内容类型无效")
    v.check(0 < len(data.title.strip()) <= 120, "title", Code.CONTENT_TITLE_INVALID, "标题长度需在1到120个字符之间")
    v.check(len(data.summary) <= 500, "summary", Code.CONTENT_SUMMARY_TOO_LONG, "摘要不能超过500个字符")
    v.check(len(data.body) <= 50_000, "body", Code.CONTENT_BODY_TOO_LONG, "正文不能超过50000个字符")
    v.check(_url_ok(data.cover_url), "coverUrl", Code.CONTENT_URL_INVALID, "封面地址需为 http(s) 链接")
    v.check(_url_ok(data.video_url), "videoUrl", Code.CONTENT_URL_INVALID, "视频地址需为 http(s) 链接")
    if data.kind == ContentKind.VIDEO:
        v.check(bool(data.video_url), "videoUrl", Code.CONTENT_VIDEO_URL_REQUIRED, "视频内容需填写视频地址")
    v.check(0 < len(data.language) <= 16, "language", Code.CONTENT_LANGUAGE_INVALID, "语言代码无效")
    known = {c.code for c in await patient_queries.list_conditions(session)}
    v.check(set(data.condition_codes) <= known, "conditionCodes", CoreCode.CONDITION_UNKNOWN, "病种不存在")
    v.check(set(data.audience_conditions) <= known, "audienceConditions", CoreCode.CONDITION_UNKNOWN, "病种不存在")
    v.check(
        len(data.topics) <= 10 and all(0 < len(t) <= 30 for t in data.topics),
        "topics",
        Code.CONTENT_TOPICS_INVALID,
        "话题最多10个，每个不超过30个字符",
    )
    tier_list = await tiers.all_tiers(session)
    v.check(
        set(data.audience_tiers) <= {t.code for t in tier_list},
        "audienceTiers",
        CoreCode.TIER_UNKNOWN,
        "会员等级不存在",
    )
    v.check(
        set(data.audience_stages) <= {s.value for s in LifecycleStage},
        "audienceStages",
        Code.STAGE_UNKNOWN,
        "生命周期阶段不存在",
    )
    v.check(data.gate in {g.value for g in Gate}, "gate", Code.CONTENT_GATE_INVALID, "访问限制无效")
    if data.gate == Gate.TIER:
        v.check(
            data.gate_min_tier_rank is not None and data.gate_min_tier_rank in {t.rank for t in tier_list},
            "gateMinTierRank",
            Code.CONTENT_GATE_TIER_REQUIRED,
            "按等级限制访问时需指定最低会员等级",
        )
    if data.story_patient_id is not None:
        found = await patient_queries.patients_by_ids(session, [data.story_patient_id])
        v.check(bool(found), "storyPatientId", CoreCode.PATIENT_NOT_FOUND, "患者不存在")
    v.raise_if_any()


def _apply(rev: ContentRevision, data: ContentInput) -> None:
    rev.title = data.title.strip()
    rev.summary = data.summary.strip()
    rev.body = data.body
    rev.cover_url = data.cover_url
    rev.video_url = data.video_url
    rev.condition_codes = sorted(set(data.condition_codes))
    rev.topics = list(dict.fromkeys(t.strip() for t in data.topics))
    rev.audience_conditions = sorted(set(data.audience_conditions))
    rev.audience_group_ids = sorted(set(data.audience_group_ids))
    rev.audience_tiers = sorted(set(data.audience_tiers))
    rev.audience_stages = sorted(set(data.audience_stages))
    rev.gate = data.gate
    rev.gate_min_tier_rank = data.gate_min_tier_rank if data.gate == Gate.TIER else None
    rev.findings = []
    rev.checked_at = None
    rev.acknowledged = []


def _record(
    session: AsyncSession,
    item: ContentItem,
    actor: Actor,
    to_status: str,
    *,
    from_status: str | None,
    comment: str | None = None,
) -> None:
    session.add(
        ContentTransition(
            id=new_id(),
            item_id=item.id,
            revision_id=item.working_revision_id,
            from_status=from_status,
            to_status=to_status,
            actor_kind=actor.kind.value,
            actor_id=actor.id,
            comment=comment,
            occurred_at=clock.now(),
        )
    )


async def _locked(session: AsyncSession, item_id: uuid.UUID) -> ContentItem:
    item = await session.scalar(select(ContentItem).where(ContentItem.id == item_id).with_for_update())
    if item is None:
        raise errors.ItemNotFound(field="itemId")
    return item


async def _working(session: AsyncSession, item: ContentItem) -> ContentRevision:
    rev = await session.get(ContentRevision, item.working_revision_id)
    assert rev is not None
    return rev


def _require(item: ContentItem, *allowed: ContentStatus) -> None:
    if item.status not in allowed:
        raise errors.InvalidTransition()


async def create_item(session: AsyncSession, actor: Actor, data: ContentInput) -> ContentItem:
    actor.require_role(*AUTHOR_ROLES)
    author_id = actor.require_authenticated()
    await _validate(session, data)
    now = clock.now()
    item = ContentItem(
        id=new_id(),
        kind=data.kind,
        language=data.language,
        author_id=author_id,
        status=ContentStatus.DRAFT,
        story_patient_id=data.story_patient_id,
        created_at=now,
        updated_at=now,
    )
    rev = ContentRevision(id=new_id(), item_id=item.id, number=1, status=RevisionStatus.DRAFT, editor_id=author_id)
    _apply(rev, data)
    item.working_revision_id = rev.id
    session.add(item)
    await session.flush()
    session.add(rev)
    _record(session, item, actor, ContentStatus.DRAFT, from_status=None)
    return item


async def update_item(session: AsyncSession, actor: Actor, item_id: uuid.UUID, data: ContentInput) -> ContentRevision:
    """Edit a draft or rejected revision in place; editing a published item starts a new draft
    revision and leaves the published one live."""
    actor.require_role(*AUTHOR_ROLES)
    editor_id = actor.require_authenticated()
    item = await _locked(session, item_id)
    _require(item, ContentStatus.DRAFT, ContentStatus.REJECTED, ContentStatus.PUBLISHED)
    if data.kind != item.kind:
        raise errors.InvalidTransition("内容类型创建后不能修改", field="kind")
    await _validate(session, data)
    before = item.status
    if item.status == ContentStatus.PUBLISHED:
        number = await session.scalar(
            select(func.max(ContentRevision.number)).where(ContentRevision.item_id == item.id)
        )
        rev = ContentRevision(
            id=new_id(), item_id=item.id, number=(number or 0) + 1, status=RevisionStatus.DRAFT, editor_id=editor_id
        )
        _apply(rev, data)
        session.add(rev)
        item.working_revision_id = rev.id
        comment: str | None = f"新建修订版本 {rev.number}，已发布版本保持上线"
    else:
        rev = await _working(session, item)
        _apply(rev, data)
        rev.editor_id = editor_id
        rev.status = RevisionStatus.DRAFT
        comment = None
    item.status = ContentStatus.DRAFT
    item.story_patient_id = data.story_patient_id
    item.language = data.language
    if before != ContentStatus.DRAFT or comment:
        _record(session, item, actor, ContentStatus.DRAFT, from_status=before, comment=comment)
    return rev


async def _check(session: AsyncSession, item: ContentItem, rev: ContentRevision) -> list[compliance.Finding]:
    findings = await compliance.check(
        session,
        compliance.Subject(
            kind=item.kind,
            title=rev.title,
            summary=rev.summary,
            body=rev.body,
            story_patient_id=item.story_patient_id,
            item_id=item.id,
        ),
    )
    rev.findings = [f.to_json() for f in findings]
    rev.checked_at = clock.now()
    return findings


async def check_working(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> list[compliance.Finding]:
    """The compliance findings of the working revision as it stands, stored nowhere: an editor checks
    before submitting (submitting runs the check again and keeps the report for the reviewer)."""
    actor.require_role(*AUTHOR_ROLES, *REVIEW_ROLES)
    item = await session.get(ContentItem, item_id)
    if item is None:
        raise errors.ItemNotFound(field="itemId")
    rev = await _working(session, item)
    return await compliance.check(
        session,
        compliance.Subject(
            kind=item.kind,
            title=rev.title,
            summary=rev.summary,
            body=rev.body,
            story_patient_id=item.story_patient_id,
            item_id=item.id,
        ),
    )


async def submit(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> list[compliance.Finding]:
    """Into review. The compliance report is stored on the revision for the reviewer."""
    actor.require_role(*AUTHOR_ROLES)
    item = await _locked(session, item_id)
    _require(item, ContentStatus.DRAFT, ContentStatus.REJECTED)
    rev = await _working(session, item)
    findings = await _check(session, item, rev)
    before = item.status
    item.status = ContentStatus.IN_REVIEW
    rev.status = RevisionStatus.IN_REVIEW
    blocks = sum(1 for f in findings if f.severity == "block")
    warns = len(findings) - blocks
    _record(
        session,
        item,
        actor,
        ContentStatus.IN_REVIEW,
        from_status=before,
        comment=f"合规检查：{blocks}项违规，{warns}项提醒",
    )
    return findings


def _require_reviewer(actor: Actor, item: ContentItem, rev: ContentRevision) -> None:
    actor.require_role(*REVIEW_ROLES)
    if actor.id is not None and actor.id in {item.author_id, rev.editor_id}:
        raise errors.SelfApproval()


async def approve(
    session: AsyncSession,
    actor: Actor,
    item_id: uuid.UUID,
    *,
    comment: str | None = None,
    acknowledged: list[str] | None = None,
) -> ContentItem:
    """Only reviewers, never on their own item. The check runs again: a block finding refuses,
    every warning must be acknowledged by its id."""
    item = await _locked(session, item_id)
    rev = await _working(session, item)
    _require_reviewer(actor, item, rev)
    _require(item, ContentStatus.IN_REVIEW)
    findings = await _check(session, item, rev)
    blocking = [f for f in findings if f.severity == "block"]
    if blocking:
        raise errors.ComplianceBlocked(f"内容存在{len(blocking)}项违规，不能通过审核：{blocking[0].message}")
    warned = {f.id for f in findings if f.severity == "warn"}
    acked = set(acknowledged or [])
    missing = warned - acked
    if missing:
        raise errors.WarningsNotAcknowledged(f"还有{len(missing)}项合规提醒未确认", field="acknowledgedFindings")
    rev.acknowledged = sorted(warned)
    rev.reviewer_id = actor.id
    rev.review_comment = comment
    rev.status = RevisionStatus.APPROVED
    item.status = ContentStatus.APPROVED
    note = comment or ""
    if warned:
        note = f"{note}（已确认{len(warned)}项提醒）".strip()
    _record(session, item, actor, ContentStatus.APPROVED, from_status=ContentStatus.IN_REVIEW, comment=note or None)
    return item


async def reject(session: AsyncSession, actor: Actor, item_id: uuid.UUID, *, comment: str) -> ContentItem:
    """Only reviewers, never on their own item (a rejection is a review decision like an approval)."""
    item = await _locked(session, item_id)
    rev = await _working(session, item)
    _require_reviewer(actor, item, rev)
    _require(item, ContentStatus.IN_REVIEW)
    v = Validator()
    v.check(0 < len(comment.strip()) <= 2000, "comment", Code.CONTENT_COMMENT_REQUIRED, "驳回时请填写审核意见")
    v.raise_if_any()
    rev.status = RevisionStatus.REJECTED
    rev.reviewer_id = actor.id
    rev.review_comment = comment.strip()
    item.status = ContentStatus.REJECTED
    _record(session, item, actor, ContentStatus.REJECTED, from_status=ContentStatus.IN_REVIEW, comment=comment.strip())
    return item


async def publish(
    session: AsyncSession, actor: Actor, item_id: uuid.UUID, *, at: datetime | None = None
) -> ContentItem:
    """An approved item goes live now, or is scheduled for `at` (the scheduler publishes it)."""
    actor.require_role(*AUTHOR_ROLES, *REVIEW_ROLES)
    item = await _locked(session, item_id)
    _require(item, ContentStatus.APPROVED, ContentStatus.SCHEDULED)
    now = clock.now()
    if at is not None and at > now:
        before = item.status
        item.status = ContentStatus.SCHEDULED
        item.publish_at = at
        (await _working(session, item)).status = RevisionStatus.SCHEDULED
        _record(
            session, item, actor, ContentStatus.SCHEDULED, from_status=before, comment=f"定时发布：{at.isoformat()}"
        )
        return item
    await _go_live(session, item, actor)
    return item


async def _go_live(session: AsyncSession, item: ContentItem, actor: Actor) -> None:
    rev = await _working(session, item)
    if item.kind == ContentKind.STORY and not await compliance.has_story_consent(
        session, item.id, item.story_patient_id
    ):
        raise errors.ConsentMissing()
    now = clock.now()
    first = item.live_revision_id is None and item.published_at is None
    if item.live_revision_id is not None and item.live_revision_id != rev.id:
        previous = await session.get(ContentRevision, item.live_revision_id)
        if previous is not None:
            previous.status = RevisionStatus.SUPERSEDED
    before = item.status
    rev.status = RevisionStatus.PUBLISHED
    item.status = ContentStatus.PUBLISHED
    item.live_revision_id = rev.id
    item.publish_at = None
    item.published_at = item.published_at or now
    item.archived_at = None
    item.archive_reason = None
    item.title = rev.title
    item.condition_codes = list(rev.condition_codes)
    item.topics = list(rev.topics)
    item.audience_conditions = list(rev.audience_conditions)
    item.audience_group_ids = list(rev.audience_group_ids)
    item.audience_tiers = list(rev.audience_tiers)
    item.audience_stages = list(rev.audience_stages)
    item.gate = rev.gate
    item.gate_min_tier_rank = rev.gate_min_tier_rank
    item.search_vector = await search.document_vector(rev.title, rev.summary, rev.body)
    _record(session, item, actor, ContentStatus.PUBLISHED, from_status=before)
    await outbox.emit(
        session,
        PUBLISHED_TOPIC,
        {"item_id": str(item.id), "revision_id": str(rev.id), "kind": item.kind, "first": first},
    )


async def publish_due(session: AsyncSession, *, limit: int = 100) -> list[uuid.UUID]:
    """Publish every scheduled item whose time has come. Rows are locked and skipped when another
    worker holds them, and the status is re-checked under the lock: each is published once."""
    now = clock.now()
    items = list(
        await session.scalars(
            select(ContentItem)
            .where(ContentItem.status == ContentStatus.SCHEDULED, ContentItem.publish_at <= now)
            .order_by(ContentItem.publish_at, ContentItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    published = []
    for item in items:
        try:
            async with session.begin_nested():
                await _go_live(session, item, SYSTEM)
        except errors.ConsentMissing:
            item.status = ContentStatus.ARCHIVED
            item.archived_at = now
            item.archive_reason = "consent_missing"
            _record(
                session,
                item,
                SYSTEM,
                ContentStatus.ARCHIVED,
                from_status=ContentStatus.SCHEDULED,
                comment="缺少患者授权，未发布",
            )
            continue
        published.append(item.id)
    return published


async def _take_down(session: AsyncSession, item: ContentItem, actor: Actor, *, reason: str, comment: str) -> None:
    before = item.status
    if item.live_revision_id is not None:
        live = await session.get(ContentRevision, item.live_revision_id)
        if live is not None:
            live.status = RevisionStatus.ARCHIVED
    item.status = ContentStatus.ARCHIVED
    item.live_revision_id = None
    item.publish_at = None
    item.archived_at = clock.now()
    item.archive_reason = reason
    _record(session, item, actor, ContentStatus.ARCHIVED, from_status=before, comment=comment)


async def archive(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> ContentItem:
    actor.require_role(*AUTHOR_ROLES, *REVIEW_ROLES)
    item = await _locked(session, item_id)
    if item.status == ContentStatus.ARCHIVED:
        raise errors.InvalidTransition("内容已归档")
    await _take_down(session, item, actor, reason="archived", comment="归档下线")
    return item


# --- patient story consent --------------------------------------------------------------------


async def _story_for_subject(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> tuple[ContentItem, uuid.UUID]:
    patient_id = actor.require_patient()
    item = await _locked(session, item_id)
    if item.kind != ContentKind.STORY or item.story_patient_id != patient_id:
        raise errors.NotStorySubject()
    return item, patient_id


async def grant_story_consent(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> StoryConsent:
    item, patient_id = await _story_for_subject(session, actor, item_id)
    consent = await session.get(StoryConsent, (item.id, patient_id))
    now = clock.now()
    if consent is None:
        consent = StoryConsent(item_id=item.id, patient_id=patient_id, granted_at=now)
        session.add(consent)
    elif consent.withdrawn_at is not None:
        consent.granted_at, consent.withdrawn_at = now, None
    return consent


async def withdraw_story_consent(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> StoryConsent:
    """Takes the story down everywhere at once (the access check also requires the consent)."""
    item, patient_id = await _story_for_subject(session, actor, item_id)
    consent = await session.get(StoryConsent, (item.id, patient_id))
    if consent is None:
        consent = StoryConsent(item_id=item.id, patient_id=patient_id, granted_at=clock.now())
        session.add(consent)
    consent.withdrawn_at = clock.now()
    if item.status != ContentStatus.ARCHIVED:
        await _take_down(session, item, actor, reason="consent_withdrawn", comment="当事患者撤回授权，已下线")
    return consent


# --- staff reads ------------------------------------------------------------------------------


async def get_for_staff(session: AsyncSession, actor: Actor, item_id: uuid.UUID) -> ContentItem:
    actor.require_role(*AUTHOR_ROLES, *REVIEW_ROLES)
    item = await session.get(ContentItem, item_id)
    if item is None:
        raise errors.ItemNotFound(field="itemId")
    return item


async def staff_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None,
    mine: bool,
    first: int | None,
    after: str | None,
) -> Page[ContentItem]:
    """The editors' and reviewers' list (every state), newest change first."""
    actor.require_role(*AUTHOR_ROLES, *REVIEW_ROLES)
    stmt = select(ContentItem)
    if status:
        stmt = stmt.where(ContentItem.status == status)
    if mine:
        stmt = stmt.where(ContentItem.author_id == actor.id)
    return await keyset_page(
        session, stmt, sort=ContentItem.updated_at, id_=ContentItem.id, first=first, after=after, descending=True
    )


async def revisions_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, ContentRevision]:
    return {r.id: r for r in await session.scalars(select(ContentRevision).where(ContentRevision.id.in_(ids)))}


async def revisions_by_item(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ContentRevision]]:
    out: dict[uuid.UUID, list[ContentRevision]] = {}
    rows = await session.scalars(
        select(ContentRevision).where(ContentRevision.item_id.in_(ids)).order_by(ContentRevision.number)
    )
    for r in rows:
        out.setdefault(r.item_id, []).append(r)
    return out


async def transitions_by_item(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[ContentTransition]]:
    out: dict[uuid.UUID, list[ContentTransition]] = {}
    rows = await session.scalars(
        select(ContentTransition)
        .where(ContentTransition.item_id.in_(ids))
        .order_by(ContentTransition.occurred_at, ContentTransition.id)
    )
    for t in rows:
        out.setdefault(t.item_id, []).append(t)
    return out


async def items_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, ContentItem]:
    """Every state, for content staff only (callers check the role)."""
    return {i.id: i for i in await session.scalars(select(ContentItem).where(ContentItem.id.in_(ids)))}
