"""Content mutations: editing, the review workflow, publishing, story consent, engagement and
the compliance word list. Each maps input to a content service call; rules live there."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.content.types import (
    ContentGate,
    ContentItemType,
    ContentKind,
    EngagementKind,
    FindingType,
    ReactionKind,
    TermType,
    wrap,
)
from api.context import Info
from api.error_types import ContentError
from api.mutations import ModelPayload, ValuePayload, mutate, on_id
from api.relay import optional_id, require_id
from content import compliance, engagement, service
from content.compliance import Finding
from content.models import ContentItem, Gate
from core.identity import Actor


@strawberry.input
class ContentInput:
    kind: ContentKind
    title: str
    summary: str = ""
    body: str = strawberry.field(default="", description="Markdown")
    cover_url: str | None = None
    video_url: str | None = None
    language: str = "zh-CN"
    condition_codes: list[str] = strawberry.field(default_factory=list, description="病种标签")
    topics: list[str] = strawberry.field(default_factory=list, description="话题标签")
    audience_conditions: list[str] = strawberry.field(default_factory=list)
    audience_group_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    audience_tiers: list[str] = strawberry.field(default_factory=list)
    audience_stages: list[str] = strawberry.field(default_factory=list)
    gate: ContentGate = Gate.PUBLIC
    gate_min_tier_rank: int | None = None
    story_patient_id: strawberry.ID | None = None

    def to_domain(self) -> service.ContentInput:
        return service.ContentInput(
            kind=self.kind.value,
            title=self.title,
            summary=self.summary,
            body=self.body,
            cover_url=self.cover_url,
            video_url=self.video_url,
            language=self.language,
            condition_codes=list(self.condition_codes),
            topics=list(self.topics),
            audience_conditions=list(self.audience_conditions),
            audience_group_ids=[require_id(g, "Group", "audienceGroupIds") for g in self.audience_group_ids],
            audience_tiers=list(self.audience_tiers),
            audience_stages=list(self.audience_stages),
            gate=self.gate.value,
            gate_min_tier_rank=self.gate_min_tier_rank,
            story_patient_id=optional_id(self.story_patient_id, "Patient", "storyPatientId"),
        )


@strawberry.input
class ContentUpdateInput:
    item_id: strawberry.ID
    content: ContentInput


@strawberry.input
class ContentItemInput:
    item_id: strawberry.ID


@strawberry.input
class ContentApproveInput:
    item_id: strawberry.ID
    comment: str | None = None
    acknowledged_findings: list[str] = strawberry.field(default_factory=list, description="已确认的提醒编号")


@strawberry.input
class ContentRejectInput:
    item_id: strawberry.ID
    comment: str


@strawberry.input
class ContentPublishInput:
    item_id: strawberry.ID
    publish_at: datetime | None = strawberry.field(default=None, description="为空或已过去则立即发布")


@strawberry.input
class ContentEngageInput:
    item_id: strawberry.ID
    kind: EngagementKind


@strawberry.input
class ContentReactInput:
    item_id: strawberry.ID
    kind: ReactionKind
    on: bool = True


@strawberry.input
class ComplianceTermInput:
    pattern: str
    match: str = "word"
    category: str = "forbidden_claim"
    severity: str = "block"
    note: str = ""
    allowed_contexts: list[str] = strawberry.field(default_factory=list)


@strawberry.input
class ComplianceTermDeactivateInput:
    term_id: strawberry.ID


@strawberry.type
class ContentItemPayload:
    item: ContentItemType | None = None
    errors: list[ContentError]

    @classmethod
    def of(cls, v: ContentItem, info: Info) -> ContentItemPayload:
        return cls(item=wrap(v, info), errors=[])


@strawberry.type
class ContentSubmitPayload:
    item: ContentItemType | None = None
    findings: list[FindingType] = strawberry.field(default_factory=list)
    errors: list[ContentError]

    @classmethod
    def of(cls, v: tuple[ContentItem, list[Finding]], info: Info) -> ContentSubmitPayload:
        item, findings = v
        return cls(item=wrap(item, info), findings=[FindingType.of(f) for f in findings], errors=[])


@strawberry.type
class StoryConsentPayload(ValuePayload):
    granted: bool | None = None
    errors: list[ContentError]


@strawberry.type
class ContentEngagePayload:
    recorded: bool = False
    points_awarded: int = 0
    item: ContentItemType | None = None
    errors: list[ContentError]

    @classmethod
    def of(cls, v: engagement.Engagement, _info: Info) -> ContentEngagePayload:
        return cls(recorded=v.recorded, points_awarded=v.points_awarded, errors=[])


@strawberry.type
class ComplianceTermPayload(ModelPayload):
    term: TermType | None = None
    errors: list[ContentError]


@strawberry.type
class ContentMutation:
    @strawberry.mutation(description="新建内容草稿（市场运营）")
    async def content_create(self, info: Info, input: ContentInput) -> ContentItemPayload:
        return await mutate(info, ContentItemPayload, lambda s, a: service.create_item(s, a, input.to_domain()))

    @strawberry.mutation(description="修改内容；已发布内容会生成新的草稿版本，原版本保持上线")
    async def content_update(self, info: Info, input: ContentUpdateInput) -> ContentItemPayload:
        async def work(s: AsyncSession, a: Actor) -> ContentItem:
            item_id = require_id(input.item_id, "ContentItem", "itemId")
            await service.update_item(s, a, item_id, input.content.to_domain())
            return await service.get_for_staff(s, a, item_id)

        return await mutate(info, ContentItemPayload, work)

    @strawberry.mutation(description="提交审核，返回合规检查结果")
    async def content_submit(self, info: Info, input: ContentItemInput) -> ContentSubmitPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[ContentItem, list[compliance.Finding]]:
            item_id = require_id(input.item_id, "ContentItem", "itemId")
            findings = await service.submit(s, a, item_id)
            return await service.get_for_staff(s, a, item_id), findings

        return await mutate(info, ContentSubmitPayload, work)

    @strawberry.mutation(description="审核通过（内容审核，不能审核自己的内容；提醒项需逐条确认）")
    async def content_approve(self, info: Info, input: ContentApproveInput) -> ContentItemPayload:
        return await mutate(
            info,
            ContentItemPayload,
            on_id(
                service.approve,
                input.item_id,
                "ContentItem",
                "itemId",
                comment=input.comment,
                acknowledged=list(input.acknowledged_findings),
            ),
        )

    @strawberry.mutation(description="驳回（内容审核，须填写意见）")
    async def content_reject(self, info: Info, input: ContentRejectInput) -> ContentItemPayload:
        return await mutate(
            info,
            ContentItemPayload,
            on_id(service.reject, input.item_id, "ContentItem", "itemId", comment=input.comment),
        )

    @strawberry.mutation(description="发布已通过审核的内容：立即或定时")
    async def content_publish(self, info: Info, input: ContentPublishInput) -> ContentItemPayload:
        return await mutate(
            info,
            ContentItemPayload,
            on_id(service.publish, input.item_id, "ContentItem", "itemId", at=input.publish_at),
        )

    @strawberry.mutation(description="归档下线")
    async def content_archive(self, info: Info, input: ContentItemInput) -> ContentItemPayload:
        return await mutate(info, ContentItemPayload, on_id(service.archive, input.item_id, "ContentItem", "itemId"))

    @strawberry.mutation(description="当事患者授权发布自己的故事")
    async def content_story_consent_grant(self, info: Info, input: ContentItemInput) -> StoryConsentPayload:
        async def work(s: AsyncSession, a: Actor) -> bool:
            await service.grant_story_consent(s, a, require_id(input.item_id, "ContentItem", "itemId"))
            return True  # granted

        return await mutate(info, StoryConsentPayload, work)

    @strawberry.mutation(description="当事患者撤回授权：故事立即在所有位置下线")
    async def content_story_consent_withdraw(self, info: Info, input: ContentItemInput) -> StoryConsentPayload:
        async def work(s: AsyncSession, a: Actor) -> bool:
            await service.withdraw_story_consent(s, a, require_id(input.item_id, "ContentItem", "itemId"))
            return False  # no longer granted

        return await mutate(info, StoryConsentPayload, work)

    @strawberry.mutation(description="记录浏览、读完或分享；读完文章按规则奖励积分（每日上限）")
    async def content_engage(self, info: Info, input: ContentEngageInput) -> ContentEngagePayload:
        return await mutate(
            info,
            ContentEngagePayload,
            on_id(engagement.record, input.item_id, "ContentItem", "itemId", input.kind.value),
        )

    @strawberry.mutation(description="点赞或收藏（on=false 取消）")
    async def content_react(self, info: Info, input: ContentReactInput) -> ContentEngagePayload:
        return await mutate(
            info,
            ContentEngagePayload,
            on_id(engagement.react, input.item_id, "ContentItem", "itemId", input.kind.value, on=input.on),
        )

    @strawberry.mutation(description="新增合规词条（管理员）")
    async def compliance_term_add(self, info: Info, input: ComplianceTermInput) -> ComplianceTermPayload:
        data = compliance.TermInput(
            pattern=input.pattern,
            match=input.match,
            category=input.category,
            severity=input.severity,
            note=input.note,
            allowed_contexts=tuple(input.allowed_contexts),
        )
        return await mutate(info, ComplianceTermPayload, lambda s, a: compliance.add_term(s, a, data))

    @strawberry.mutation(description="停用合规词条（管理员）")
    async def compliance_term_deactivate(
        self, info: Info, input: ComplianceTermDeactivateInput
    ) -> ComplianceTermPayload:
        return await mutate(
            info, ComplianceTermPayload, on_id(compliance.deactivate_term, input.term_id, "ComplianceTerm", "termId")
        )
