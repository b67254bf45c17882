"""GraphQL views of campaigns: segments and their criteria, campaigns, deliveries with explanations."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON

from api.context import BatchFn, Info
from api.identity.types import PatientType
from api.relay import Node, load_nodes, node_fetcher, require_id, to_global_id
from api.views import node_view, related, view
from campaigns import explain, segments, service, stats
from campaigns import models as m
from campaigns.segments import READ_ROLES, ConsentRequirement, SegmentCriteria
from campaigns.stats import CampaignConversion
from patients.queries import patients_by_ids

T = TypeVar("T")
R = TypeVar("R")

CampaignClass = m.CampaignClass
strawberry.enum(CampaignClass, name="CampaignClass")
CampaignStatus = m.CampaignStatus
strawberry.enum(CampaignStatus, name="CampaignStatus")
AudienceKind = m.AudienceKind
strawberry.enum(AudienceKind, name="CampaignAudienceKind")
DeliveryStatus = m.DeliveryStatus
strawberry.enum(DeliveryStatus, name="CampaignDeliveryStatus")


@strawberry.input(description="授权条件：该渠道与用途的授权须已开启")
class ConsentRequirementInput:
    channel: str
    purpose: str


@strawberry.type(name="ConsentRequirement")
class ConsentRequirementType:
    channel: str
    purpose: str


@strawberry.input(description="人群条件：每个已填写的条件都须满足；列表为“任一匹配”；留空表示不限")
class SegmentCriteriaInput:
    stages: list[str] = strawberry.field(default_factory=list, description="生命周期阶段")
    tiers: list[str] = strawberry.field(default_factory=list, description="会员等级编码")
    condition_codes: list[str] = strawberry.field(default_factory=list, description="病种")
    group_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="社群（有效成员）")
    last_visit_before: datetime | None = strawberry.field(default=None, description="最近一次就诊早于")
    last_visit_after: datetime | None = strawberry.field(default=None, description="最近一次就诊不早于")
    visits_since: datetime | None = None
    visits_until: datetime | None = None
    visits_min: int | None = strawberry.field(default=None, description="统计期间内完成就诊次数下限")
    visits_max: int | None = None
    site_ids: list[strawberry.ID] = strawberry.field(default_factory=list, description="所属院区")
    age_min: int | None = None
    age_max: int | None = None
    genders: list[str] = strawberry.field(default_factory=list)
    consents: list[ConsentRequirementInput] = strawberry.field(default_factory=list)
    points_min: int | None = strawberry.field(default=None, description="可用积分下限")
    points_max: int | None = None

    def to_domain(self) -> SegmentCriteria:
        return SegmentCriteria(
            stages=list(self.stages),
            tiers=list(self.tiers),
            conditions=list(self.condition_codes),
            group_ids=[require_id(g, "Group", "criteria.groupIds") for g in self.group_ids],
            last_visit_before=self.last_visit_before,
            last_visit_after=self.last_visit_after,
            visits_since=self.visits_since,
            visits_until=self.visits_until,
            visits_min=self.visits_min,
            visits_max=self.visits_max,
            site_ids=[require_id(s, "Site", "criteria.siteIds") for s in self.site_ids],
            age_min=self.age_min,
            age_max=self.age_max,
            genders=list(self.genders),
            consents=[ConsentRequirement(c.channel, c.purpose) for c in self.consents],
            points_min=self.points_min,
            points_max=self.points_max,
        )


@strawberry.type(name="SegmentCriteria")
class SegmentCriteriaType:
    stages: list[str]
    tiers: list[str]
    condition_codes: list[str]
    group_ids: list[strawberry.ID]
    last_visit_before: datetime | None
    last_visit_after: datetime | None
    visits_since: datetime | None
    visits_until: datetime | None
    visits_min: int | None
    visits_max: int | None
    site_ids: list[strawberry.ID]
    age_min: int | None
    age_max: int | None
    genders: list[str]
    consents: list[ConsentRequirementType]
    points_min: int | None
    points_max: int | None

    @classmethod
    def of(cls, c: SegmentCriteria) -> SegmentCriteriaType:
        return view(
            cls,
            c,
            condition_codes=c.conditions,
            group_ids=[to_global_id("Group", g) for g in c.group_ids],
            site_ids=[to_global_id("Site", s) for s in c.site_ids],
            consents=[ConsentRequirementType(channel=r.channel, purpose=r.purpose) for r in c.consents],
        )


@strawberry.type(name="Segment", description="保存的人群（营销运营与审核可见）")
class SegmentType(Node):
    model: strawberry.Private[m.Segment]

    name: str
    description: str
    criteria: SegmentCriteriaType
    updated_at: datetime

    @classmethod
    def from_model(cls, row: m.Segment) -> SegmentType:
        return node_view(cls, row, criteria=SegmentCriteriaType.of(SegmentCriteria.from_json(row.criteria)))


@strawberry.type(name="SegmentPreview", description="人群预览：人数（已排除屏蔽患者）与样例")
class SegmentPreviewType:
    count: int
    suppressed: int = strawberry.field(description="符合条件但被屏蔽的人数（已故、住院、员工、退订营销）")
    sample_ids: strawberry.Private[list[uuid.UUID]]

    @strawberry.field(description="样例患者（按编号排序的前若干位）")
    async def sample(self, info: Info) -> list[PatientType]:
        found = await info.context.loaders.get(patients_by_ids).load_many(self.sample_ids)
        return [PatientType.from_model(p) for p in found if p is not None]


@strawberry.type(name="CampaignStats", description="活动效果：转化为消息送达后30天内完成就诊（末次触达归因）")
class StatsType:
    audience: int
    sent: int
    delivered: int
    opened: int
    converted: int
    conversion_rate: float
    points_cost: int = strawberry.field(description="归因就诊所获积分（就诊与消费规则，不含已作废）")

    @classmethod
    def of(cls, s: CampaignConversion) -> StatsType:
        return view(cls, s)


async def _campaign_segment(root: CampaignType, info: Info) -> SegmentType | None:
    return await related(info, segments.segments_by_ids, root.model.segment_id, SegmentType.from_model)


@strawberry.type(name="CampaignChannelBody", description="一个渠道单独使用的正文")
class ChannelBodyType:
    channel: str
    body: str


@strawberry.type(name="Campaign", description="营销或关怀活动（员工可见，患者不可见）")
class CampaignType(Node):
    model: strawberry.Private[m.Campaign]

    name: str
    kind: CampaignClass
    status: CampaignStatus
    audience_kind: AudienceKind
    segment: SegmentType | None = strawberry.field(resolver=_campaign_segment)
    event_id: strawberry.ID | None
    event_audience: str | None
    channels: list[str] = strawberry.field(description="渠道顺序：无授权或无联系方式时依次改用下一个")
    subject: str | None
    body: str
    link: str | None
    scheduled_at: datetime | None
    journey_key: str | None = strawberry.field(description="自动旅程的活动：旅程编码与日期")
    created_by: strawberry.ID | None
    reviewed_by: strawberry.ID | None
    reviewed_at: datetime | None
    review_comment: str | None
    criteria_snapshot: JSON | None = strawberry.field(description="开始发送时冻结的人群条件")
    started_at: datetime | None
    finished_at: datetime | None
    audience_count: int = strawberry.field(description="已生成的投递记录数（含跳过）")
    created_at: datetime

    @strawberry.field(description="按渠道单独填写的正文（未列出的渠道使用 body）")
    def channel_bodies(self) -> list[ChannelBodyType]:
        bodies = self.model.channel_bodies or {}
        return [ChannelBodyType(channel=c, body=bodies[c]) for c in self.model.channels if c in bodies]

    @strawberry.field(description="该渠道实际发送的正文模板：渠道单独的正文，否则为 body")
    def body_for(self, channel: str) -> str:
        return self.model.body_for(channel)

    @strawberry.field(description="活动效果（与 campaignStats 相同）")
    async def stats(self, info: Info) -> StatsType | None:
        found = await info.context.load(stats.stats_for, self.model.id)
        return StatsType.of(found) if found else None

    @classmethod
    def from_model(cls, row: m.Campaign) -> CampaignType:
        return node_view(
            cls,
            row,
            kind=m.CampaignClass(row.kind),
            status=m.CampaignStatus(row.status),
            audience_kind=m.AudienceKind(row.audience_kind),
            event_id=to_global_id("Event", row.event_id) if row.event_id else None,
            channels=list(row.channels),
            created_by=to_global_id("Staff", row.created_by) if row.created_by else None,
            reviewed_by=to_global_id("Staff", row.reviewed_by) if row.reviewed_by else None,
            criteria_snapshot=JSON(row.criteria_snapshot) if row.criteria_snapshot is not None else None,
        )


@strawberry.type(name="ConsentSnapshot", description="允许本次发送的授权（发送时的快照）")
class ConsentSnapshotType:
    channel: str
    purpose: str
    given_at: datetime | None
    source: str | None


@strawberry.type(name="CampaignDeliveryExplanation")
class ExplanationType:
    summary: str = strawberry.field(description="一句话说明：为何入选、凭何授权或为何跳过")
    chosen_because: str
    criteria: JSON | None = strawberry.field(description="入选依据：活动冻结的人群条件")
    consent: ConsentSnapshotType | None
    skipped_because: str | None
    channel_because: str = strawberry.field(description="渠道：按活动的渠道顺序选中哪个、跳过了哪些及原因")
    frequency: str | None = strawberry.field(description="频次上限：超限跳过时的条数与上限；已发送时为未超限")
    deferred_until: datetime | None = strawberry.field(
        description="落在患者的免打扰时段时推迟到的时间（未推迟为 null）"
    )
    detail: JSON = strawberry.field(description="原始记录（渠道尝试、发送时复核结果）")


def _explanation(e: explain.Explanation) -> ExplanationType:
    consent = ConsentSnapshotType(**vars(e.consent)) if e.consent else None
    criteria = JSON(e.criteria) if e.criteria is not None else None
    return view(ExplanationType, e, consent=consent, criteria=criteria, detail=JSON(e.detail))


async def _delivery_patient(root: DeliveryType, info: Info) -> PatientType | None:
    return await related(info, patients_by_ids, root.model.patient_id, PatientType.from_model)


@strawberry.type(name="CampaignDelivery", description="一位患者在一次活动中的投递记录与说明")
class DeliveryType(Node):
    model: strawberry.Private[m.Delivery]

    patient: PatientType | None = strawberry.field(resolver=_delivery_patient)
    campaign_id: strawberry.ID
    channel: str | None
    status: DeliveryStatus
    skip_reason: str | None
    not_before: datetime = strawberry.field(description="最早发送时间（免打扰时段会推迟）")
    sent_at: datetime | None
    delivered_at: datetime | None
    opened_at: datetime | None
    clicked_at: datetime | None
    error: str | None

    @classmethod
    def from_model(cls, row: m.Delivery) -> DeliveryType:
        return node_view(
            cls, row, campaign_id=to_global_id("Campaign", row.campaign_id), status=m.DeliveryStatus(row.status)
        )

    @strawberry.field
    async def explanation(self, info: Info) -> ExplanationType:
        campaign = await info.context.load(service.campaigns_by_ids, self.model.campaign_id)
        return _explanation(explain.explain(self.model, campaign))


def can_read(info: Info) -> bool:
    return info.context.actor.has_role(*READ_ROLES)


async def _fetch(info: Info, raw: Sequence[str], fn: BatchFn[uuid.UUID, R], wrap: Callable[[R], T]) -> list[T | None]:
    """Segments, campaigns and deliveries are for the marketing staff (READ_ROLES) only."""
    if not can_read(info):
        return [None] * len(raw)
    return await load_nodes(info, raw, fn, wrap)


@node_fetcher("Segment")
async def _fetch_segments(info: Info, raw: Sequence[str]) -> list[Any]:
    return await _fetch(info, raw, segments.segments_by_ids, SegmentType.from_model)


@node_fetcher("Campaign")
async def _fetch_campaigns(info: Info, raw: Sequence[str]) -> list[Any]:
    return await _fetch(info, raw, service.campaigns_by_ids, CampaignType.from_model)


@node_fetcher("CampaignDelivery")
async def _fetch_deliveries(info: Info, raw: Sequence[str]) -> list[Any]:
    return await _fetch(info, raw, service.deliveries_by_ids, DeliveryType.from_model)
