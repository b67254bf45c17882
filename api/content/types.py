"""GraphQL views of content: items, revisions, compliance findings, transitions, stats."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from content import access, engagement, service
from content import models as m
from content.compliance import Finding
from core.text import render_markdown

ContentKind = strawberry.enum(m.ContentKind, name="ContentKind")
ContentStatus = strawberry.enum(m.ContentStatus, name="ContentItemStatus")
RevisionStatus = strawberry.enum(m.RevisionStatus, name="ContentRevisionStatus")
ContentGate = strawberry.enum(m.Gate, name="ContentGate")
FindingSeverity = strawberry.enum(m.Severity, name="ComplianceSeverity")


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
    severity: FindingSeverity  # type: ignore[valid-type]
    field: str | None
    start: int | None
    end: int | None
    line: int | None
    column: int | None
    excerpt: str
    message: str

    @classmethod
    def of(cls, f: Finding) -> FindingType:
        return cls(
            id=f.id,
            rule=f.rule,
            category=f.category,
            severity=m.Severity(f.severity),
            field=f.field,
            start=f.start,
            end=f.end,
            line=f.line,
            column=f.column,
            excerpt=f.excerpt,
            message=f.message,
        )


@strawberry.type(name="ContentRevision", description="内容的一个版本")
class RevisionType:
    model: strawberry.Private[m.ContentRevision]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ContentRevision", self.model.id)

    @strawberry.field
    def number(self) -> int:
        return self.model.number

    @strawberry.field
    def status(self) -> RevisionStatus:  # type: ignore[valid-type]
        return m.RevisionStatus(self.model.status)

    @strawberry.field
    def title(self) -> str:
        return self.model.title

    @strawberry.field
    def summary(self) -> str:
        return self.model.summary

    @strawberry.field(description="Markdown 原文")
    def body(self) -> str:
        return self.model.body

    @strawberry.field(description="净化后的 HTML")
    def body_html(self) -> str:
        return render_markdown(self.model.body)

    @strawberry.field
    def cover_url(self) -> str | None:
        return self.model.cover_url

    @strawberry.field
    def video_url(self) -> str | None:
        return self.model.video_url

    @strawberry.field
    def condition_codes(self) -> list[str]:
        return list(self.model.condition_codes)

    @strawberry.field
    def topics(self) -> list[str]:
        return list(self.model.topics)

    @strawberry.field
    def findings(self) -> list[FindingType]:
        return [FindingType.of(Finding.from_json(f)) for f in self.model.findings or []]

    @strawberry.field
    def checked_at(self) -> datetime | None:
        return self.model.checked_at

    @strawberry.field
    def review_comment(self) -> str | None:
        return self.model.review_comment

    @strawberry.field
    def acknowledged_findings(self) -> list[str]:
        return list(self.model.acknowledged or [])

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at


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


@strawberry.type(name="ContentItem", description="健康科普内容：文章、患者故事、视频、公告")
class ContentItemType(Node):
    model: strawberry.Private[m.ContentItem]
    staff_view: strawberry.Private[bool] = False

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ContentItem", self.model.id)

    @strawberry.field
    def kind(self) -> ContentKind:  # type: ignore[valid-type]
        return m.ContentKind(self.model.kind)

    @strawberry.field(description="流程状态（工作版本）")
    def status(self) -> ContentStatus:  # type: ignore[valid-type]
        return m.ContentStatus(self.model.status)

    @strawberry.field
    def language(self) -> str:
        return self.model.language

    @strawberry.field(description="是否在线（读者可见的已发布版本）")
    def live(self) -> bool:
        return self.model.live_revision_id is not None

    @strawberry.field
    def published_at(self) -> datetime | None:
        return self.model.published_at

    @strawberry.field(description="定时发布时间")
    def publish_at(self) -> datetime | None:
        return self.model.publish_at

    @strawberry.field
    def gate(self) -> ContentGate:  # type: ignore[valid-type]
        return m.Gate(self.model.gate)

    @strawberry.field
    def gate_min_tier_rank(self) -> int | None:
        return self.model.gate_min_tier_rank

    @strawberry.field
    def audience(self) -> AudienceType:
        return AudienceType(
            condition_codes=list(self.model.audience_conditions),
            group_ids=[to_global_id("Group", g) for g in self.model.audience_group_ids],
            tiers=list(self.model.audience_tiers),
            stages=list(self.model.audience_stages),
        )

    @strawberry.field
    def counts(self) -> CountsType:
        i = self.model
        return CountsType(
            views=i.view_count, reads=i.read_count, likes=i.like_count, bookmarks=i.bookmark_count, shares=i.share_count
        )

    async def _revision(self, info: Info) -> m.ContentRevision | None:
        rev_id = self.model.live_revision_id or (self.model.working_revision_id if self.staff_view else None)
        if rev_id is None:
            return None
        return await info.context.load(service.revisions_by_ids, rev_id)  # type: ignore[no-any-return]

    @strawberry.field(description="读者看到的版本（已发布版本；员工在未发布时看到工作版本）")
    async def revision(self, info: Info) -> RevisionType | None:
        rev = await self._revision(info)
        return RevisionType(model=rev) if rev else None

    @strawberry.field
    async def title(self, info: Info) -> str:
        rev = await self._revision(info)
        return rev.title if rev else self.model.title

    @strawberry.field
    async def summary(self, info: Info) -> str:
        rev = await self._revision(info)
        return rev.summary if rev else ""

    @strawberry.field(description="净化后的正文 HTML")
    async def body_html(self, info: Info) -> str:
        rev = await self._revision(info)
        return render_markdown(rev.body) if rev else ""

    @strawberry.field
    async def cover_url(self, info: Info) -> str | None:
        rev = await self._revision(info)
        return rev.cover_url if rev else None

    @strawberry.field
    async def video_url(self, info: Info) -> str | None:
        rev = await self._revision(info)
        return rev.video_url if rev else None

    @strawberry.field
    def condition_codes(self) -> list[str]:
        return list(self.model.condition_codes)

    @strawberry.field
    def topics(self) -> list[str]:
        return list(self.model.topics)

    @strawberry.field(description="工作版本（仅内容运营与审核）")
    async def working_revision(self, info: Info) -> RevisionType | None:
        if not self.staff_view or self.model.working_revision_id is None:
            return None
        rev = await info.context.load(service.revisions_by_ids, self.model.working_revision_id)
        return RevisionType(model=rev) if rev else None

    @strawberry.field(description="全部版本（仅内容运营与审核）")
    async def revisions(self, info: Info) -> list[RevisionType]:
        if not self.staff_view:
            return []
        return [RevisionType(model=r) for r in await info.context.load_many(service.revisions_by_item, self.model.id)]

    @strawberry.field(description="流程记录（仅内容运营与审核）")
    async def transitions(self, info: Info) -> list[TransitionType]:
        if not self.staff_view:
            return []
        rows = await info.context.load_many(service.transitions_by_item, self.model.id)
        return [
            TransitionType(
                from_status=t.from_status,
                to_status=t.to_status,
                actor_kind=t.actor_kind,
                actor_id=str(t.actor_id) if t.actor_id else None,
                comment=t.comment,
                occurred_at=t.occurred_at,
            )
            for t in rows
        ]

    @strawberry.field(description="我是否已点赞")
    async def viewer_has_liked(self, info: Info) -> bool:
        return "like" in await self._mine(info)

    @strawberry.field(description="我是否已收藏")
    async def viewer_has_bookmarked(self, info: Info) -> bool:
        return "bookmark" in await self._mine(info)

    async def _mine(self, info: Info) -> set[str]:
        actor = info.context.actor
        if not actor.is_patient or actor.id is None:
            return set()
        return await info.context.loaders.get(_reactions).load((actor.id, self.model.id))  # type: ignore[no-any-return]


def wrap(item: m.ContentItem, info: Info) -> ContentItemType:
    return ContentItemType(model=item, staff_view=access.is_content_staff(info.context.actor))


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

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("ComplianceTerm", self.model.id)

    @strawberry.field
    def pattern(self) -> str:
        return self.model.pattern

    @strawberry.field
    def match(self) -> str:
        return self.model.match

    @strawberry.field
    def category(self) -> str:
        return self.model.category

    @strawberry.field
    def severity(self) -> FindingSeverity:  # type: ignore[valid-type]
        return m.Severity(self.model.severity)

    @strawberry.field
    def note(self) -> str:
        return self.model.note

    @strawberry.field
    def allowed_contexts(self) -> list[str]:
        return list(self.model.allowed_contexts or [])

    @strawberry.field
    def active(self) -> bool:
        return self.model.active
