"""GraphQL views of content: items, revisions, compliance findings, transitions, stats."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from api.views import Later, node_view, related, view
from content import access, bodies, cards, engagement, service
from content import models as m
from content.compliance import Finding
from content.feed import FeedItem

ContentKind = m.ContentKind
strawberry.enum(ContentKind, name="ContentKind")
ContentStatus = m.ContentStatus
strawberry.enum(ContentStatus, name="ContentItemStatus")
RevisionStatus = m.RevisionStatus
strawberry.enum(RevisionStatus, name="ContentRevisionStatus")
ContentGate = m.Gate
strawberry.enum(ContentGate, name="ContentGate")
FindingSeverity = m.Severity
strawberry.enum(FindingSeverity, name="ComplianceSeverity")


@strawberry.enum(name="ContentEngagementKind")
class EngagementKind(enum.Enum):
    VIEW = "view"
    READ_END = "read_end"
    SHARE = "share"


@strawberry.enum(name="ContentReactionKind")
class ReactionKind(enum.Enum):
    LIKE = "like"
    BOOKMARK = "bookmark"


@strawberry.type(
    name="ComplianceFinding", description="合规检查发现：位置为该字段原文中的字符偏移（从0开始）及行列（从1开始）"
)
class FindingType:
    id: str
    rule: str
    category: str
    severity: FindingSeverity
    field: str | None
    start: int | None
    end: int | None
    line: int | None
    column: int | None
    excerpt: str
    message: str

    @classmethod
    def of(cls, f: Finding) -> FindingType:
        return view(cls, f, severity=m.Severity(f.severity))


@strawberry.type(name="ContentRevision", description="内容的一个版本")
class RevisionType:
    model: strawberry.Private[m.ContentRevision]

    id: strawberry.ID
    number: int
    status: RevisionStatus
    title: str
    summary: str
    body: str = strawberry.field(description="Markdown 原文")
    body_html: str = strawberry.field(description="净化后的 HTML")
    cover_url: str | None
    video_url: str | None
    condition_codes: list[str]
    topics: list[str]
    findings: list[FindingType]
    checked_at: datetime | None
    review_comment: str | None
    acknowledged_findings: list[str]
    created_at: datetime

    @classmethod
    def from_model(cls, row: m.ContentRevision) -> RevisionType:
        return node_view(
            cls,
            row,
            status=m.RevisionStatus(row.status),
            body_html=bodies.body_html(row.id, row.body),
            condition_codes=list(row.condition_codes),
            topics=list(row.topics),
            findings=[FindingType.of(Finding.from_json(f)) for f in row.findings or []],
            acknowledged_findings=list(row.acknowledged or []),
        )


@strawberry.type(name="ContentTransition", description="一次流程变更：谁、何时、从何状态到何状态")
class TransitionType:
    from_status: str | None
    to_status: str
    actor_kind: str
    actor_id: str | None
    comment: str | None
    occurred_at: datetime


@strawberry.type(name="ContentCounts")
class CountsType:
    views: int
    reads: int
    likes: int
    bookmarks: int
    shares: int


@strawberry.type(name="ContentAudience", description="目标人群：每个已设置的维度都须匹配；全部为空表示所有人")
class AudienceType:
    condition_codes: list[str]
    group_ids: list[strawberry.ID]
    tiers: list[str]
    stages: list[str]


async def _reactions(session: AsyncSession, keys: Sequence[tuple[uuid.UUID, uuid.UUID]]) -> dict[Any, Any]:
    by_patient: dict[uuid.UUID, list[uuid.UUID]] = {}
    for patient_id, item_id in keys:
        by_patient.setdefault(patient_id, []).append(item_id)
    out: dict[Any, Any] = {}
    for patient_id, item_ids in by_patient.items():
        found = await engagement.my_reactions(session, patient_id, item_ids)
        for item_id in item_ids:
            out[(patient_id, item_id)] = found.get(item_id, set())
    return out


# Scalars are plain attributes (graphql-core reads them with getattr: no per-field coroutine or Info).
# Revision fields and the viewer's reactions are prefetched for a page of cards (`wrap_page`), or are
# `Later`s through the DataLoaders for an item read on its own (`wrap`).
def _audience(root: ContentItemType) -> AudienceType:
    item = root.model
    return AudienceType(
        condition_codes=list(item.audience_conditions),
        group_ids=[to_global_id("Group", g) for g in item.audience_group_ids],
        tiers=list(item.audience_tiers),
        stages=list(item.audience_stages),
    )


async def _revision_of(root: ContentItemType, info: Info) -> m.ContentRevision | None:
    rev_id = root.model.live_revision_id or (root.model.working_revision_id if root.staff_view else None)
    if rev_id is None:
        return None
    return await info.context.load(service.revisions_by_ids, rev_id)


async def _revision(root: ContentItemType, info: Info) -> RevisionType | None:
    rev = await _revision_of(root, info)
    return RevisionType.from_model(rev) if rev else None


async def _working_revision(root: ContentItemType, info: Info) -> RevisionType | None:
    if not root.staff_view or root.model.working_revision_id is None:
        return None
    return await related(info, service.revisions_by_ids, root.model.working_revision_id, RevisionType.from_model)


async def _revisions(root: ContentItemType, info: Info) -> list[RevisionType]:
    if not root.staff_view:
        return []
    return [RevisionType.from_model(r) for r in await info.context.load_many(service.revisions_by_item, root.model.id)]


async def _transitions(root: ContentItemType, info: Info) -> list[TransitionType]:
    if not root.staff_view:
        return []
    rows = await info.context.load_many(service.transitions_by_item, root.model.id)
    return [view(TransitionType, t, actor_id=str(t.actor_id) if t.actor_id else None) for t in rows]


# Scalars are plain attributes (graphql-core reads them with getattr: no per-field coroutine or Info).
# Revision fields and the viewer's reactions are prefetched for a page of cards (`wrap_page`), or are
# `Later`s through the DataLoaders for an item read on its own (`wrap`). Resolvers are declared in
# place (field order is the SDL's).
@strawberry.type(name="ContentItem", description="健康科普内容：文章、患者故事、视频、公告")
class ContentItemType(Node):
    model: strawberry.Private[m.ContentItem | FeedItem]  # FeedItem: a feed row, the same names
    staff_view: strawberry.Private[bool] = False
    id: strawberry.ID
    kind: ContentKind
    status: ContentStatus = strawberry.field(description="流程状态（工作版本）")
    language: str
    live: bool = strawberry.field(description="是否在线（读者可见的已发布版本）")
    published_at: datetime | None
    publish_at: datetime | None = strawberry.field(description="定时发布时间")
    gate: ContentGate
    gate_min_tier_rank: int | None
    audience: AudienceType = strawberry.field(resolver=_audience)
    counts: CountsType
    revision: RevisionType | None = strawberry.field(
        resolver=_revision, description="读者看到的版本（已发布版本；员工在未发布时看到工作版本）"
    )
    title: str
    summary: str
    body_html: str = strawberry.field(description="净化后的正文 HTML")
    cover_url: str | None
    video_url: str | None
    condition_codes: list[str]
    topics: list[str]
    working_revision: RevisionType | None = strawberry.field(
        resolver=_working_revision, description="工作版本（仅内容运营与审核）"
    )
    revisions: list[RevisionType] = strawberry.field(resolver=_revisions, description="全部版本（仅内容运营与审核）")
    transitions: list[TransitionType] = strawberry.field(
        resolver=_transitions, description="流程记录（仅内容运营与审核）"
    )
    viewer_has_liked: bool = strawberry.field(description="我是否已点赞")
    viewer_has_bookmarked: bool = strawberry.field(description="我是否已收藏")


def _item_fields(item: m.ContentItem | FeedItem, staff_view: bool) -> dict[str, Any]:
    return {
        "model": item,
        "staff_view": staff_view,
        "id": to_global_id("ContentItem", item.id),
        "kind": item.kind,
        "status": item.status,
        "language": item.language,
        "live": item.live_revision_id is not None,
        "published_at": item.published_at,
        "publish_at": item.publish_at,
        "gate": item.gate,
        "gate_min_tier_rank": item.gate_min_tier_rank,
        "counts": CountsType(
            views=item.view_count,
            reads=item.read_count,
            likes=item.like_count,
            bookmarks=item.bookmark_count,
            shares=item.share_count,
        ),
        "condition_codes": list(item.condition_codes),
        "topics": list(item.topics),
    }


async def _mine(info: Info, item_id: uuid.UUID) -> set[str]:
    actor = info.context.actor
    if not actor.is_patient or actor.id is None:
        return set()
    return await info.context.loaders.get(_reactions).load((actor.id, item_id))


def wrap(item: m.ContentItem, info: Info) -> ContentItemType:
    """An item read on its own: revision fields and the viewer's reactions through the DataLoaders."""
    card = ContentItemType(
        **_item_fields(item, access.is_content_staff(info.context.actor)),
        title=None,  # type: ignore[arg-type]
        summary=None,  # type: ignore[arg-type]
        body_html=None,  # type: ignore[arg-type]
        cover_url=None,
        video_url=None,
        viewer_has_liked=None,  # type: ignore[arg-type]
        viewer_has_bookmarked=None,  # type: ignore[arg-type]
    )

    async def title() -> str:
        rev = await _revision_of(card, info)
        return rev.title if rev else item.title

    async def summary() -> str:
        rev = await _revision_of(card, info)
        return rev.summary if rev else ""

    async def body_html() -> str:
        rev = await _revision_of(card, info)
        return bodies.body_html(rev.id, rev.body) if rev else ""

    async def cover_url() -> str | None:
        rev = await _revision_of(card, info)
        return rev.cover_url if rev else None

    async def video_url() -> str | None:
        rev = await _revision_of(card, info)
        return rev.video_url if rev else None

    async def liked() -> bool:
        return "like" in await _mine(info, item.id)

    async def bookmarked() -> bool:
        return "bookmark" in await _mine(info, item.id)

    card.title = Later(title)  # type: ignore[assignment]
    card.summary = Later(summary)  # type: ignore[assignment]
    card.body_html = Later(body_html)  # type: ignore[assignment]
    card.cover_url = Later(cover_url)  # type: ignore[assignment]
    card.video_url = Later(video_url)  # type: ignore[assignment]
    card.viewer_has_liked = Later(liked)  # type: ignore[assignment]
    card.viewer_has_bookmarked = Later(bookmarked)  # type: ignore[assignment]
    return card


async def wrap_page(items: Sequence[m.ContentItem], info: Info) -> dict[uuid.UUID, ContentItemType]:
    """Cards for a page of items: revision fields and the viewer's reactions in one prefetching statement
    (content.cards) instead of a DataLoader round per field; the body stays a `Later` (only on demand)."""
    actor = info.context.actor
    staff = access.is_content_staff(actor)
    patient_id = actor.id if actor.is_patient else None
    async with info.context.db.read() as session:
        found = await cards.cards(session, [i.id for i in items], patient_id=patient_id, staff=staff)
    out: dict[uuid.UUID, ContentItemType] = {}
    for item in items:
        row = found.get(item.id)
        rev = row if row is not None and row["title"] is not None else None
        mine = (row["mine"] if row is not None else None) or ()
        card = ContentItemType(
            **_item_fields(item, staff),
            title=rev["title"] if rev is not None else item.title,
            summary=rev["summary"] if rev is not None else "",
            body_html=None,  # type: ignore[arg-type]
            cover_url=rev["cover_url"] if rev is not None else None,
            video_url=rev["video_url"] if rev is not None else None,
            viewer_has_liked="like" in mine,
            viewer_has_bookmarked="bookmark" in mine,
        )
        card.body_html = Later(_body_of(card, info))  # type: ignore[assignment]
        out[item.id] = card
    return out


def wrap_feed(items: Sequence[FeedItem], info: Info) -> list[ContentItemType]:
    """Cards for a feed page: its one statement already brought the card fields (content.feed)."""
    staff = access.is_content_staff(info.context.actor)
    out = []
    for item in items:
        has_rev = item.card_title is not None
        mine = item.mine or ()
        card = ContentItemType(
            **_item_fields(item, staff),
            title=item.card_title if item.card_title is not None else item.title,
            summary=(item.card_summary or "") if has_rev else "",  # a revision's summary is NOT NULL
            body_html=None,  # type: ignore[arg-type]
            cover_url=item.card_cover_url if has_rev else None,
            video_url=item.card_video_url if has_rev else None,
            viewer_has_liked="like" in mine,
            viewer_has_bookmarked="bookmark" in mine,
        )
        card.body_html = Later(_body_of(card, info))  # type: ignore[assignment]
        out.append(card)
    return out


def _body_of(card: ContentItemType, info: Info) -> Callable[[], Awaitable[str]]:
    async def body_html() -> str:
        rev = await _revision_of(card, info)
        return bodies.body_html(rev.id, rev.body) if rev else ""

    return body_html


async def fetch_items(info: Info, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, m.ContentItem]:
    """Content staff see every item (drafts too); everyone else only what the access check allows."""
    actor = info.context.actor
    async with info.context.db.read() as session:
        if access.is_content_staff(actor):
            return await service.items_by_ids(session, list(ids))
        viewer = await access.load_viewer(session, actor)
        return await access.readable_items(session, viewer, list(ids))


@node_fetcher("ContentItem")
async def _fetch_nodes(info: Info, raw: Sequence[str]) -> list[ContentItemType | None]:
    ids = raw_uuids(raw)
    found = await fetch_items(info, [i for i in ids if i is not None])
    return [wrap(found[i], info) if i is not None and i in found else None for i in ids]


@strawberry.type(name="ContentSearchHit")
class SearchHitType:
    item: ContentItemType
    title_highlight: str = strawberry.field(description="标题，命中词以 <em> 标出（已转义）")
    snippet: str = strawberry.field(description="摘要或正文片段，命中词以 <em> 标出（已转义）")


@strawberry.type(name="ContentDayStats")
class DayStatsType:
    day: date
    views: int
    reads: int
    likes: int
    bookmarks: int
    shares: int


@strawberry.type(name="ComplianceTerm", description="合规词库条目")
class TermType:
    model: strawberry.Private[m.ComplianceTerm]

    id: strawberry.ID
    pattern: str
    match: str
    category: str
    severity: FindingSeverity
    note: str
    allowed_contexts: list[str]
    active: bool

    @classmethod
    def from_model(cls, row: m.ComplianceTerm) -> TermType:
        return node_view(cls, row, severity=m.Severity(row.severity), allowed_contexts=list(row.allowed_contexts or []))
