"""Campaign queries (staff: marketing and review): segments, preview, campaigns, deliveries, stats."""

from __future__ import annotations

import strawberry

from api.campaigns.types import (
    CampaignClass,
    CampaignStatus,
    CampaignType,
    DeliveryStatus,
    DeliveryType,
    SegmentCriteriaInput,
    SegmentPreviewType,
    SegmentType,
    StatsType,
)
from api.context import Info
from api.relay import Connection, read_page, require_id
from campaigns import segments, service, stats
from campaigns.models import CampaignClass as DomainClass


@strawberry.type
class CampaignQuery:
    @strawberry.field(description="已保存的人群，按名称排序")
    async def segments(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[SegmentType]:
        return await read_page(
            info, lambda s, a: segments.segments_page(s, a, first=first, after=after), SegmentType.from_model
        )

    @strawberry.field(description="人群预览：按条件（或已保存人群）计算人数与样例；屏蔽规则总是生效")
    async def segment_preview(
        self,
        info: Info,
        criteria: SegmentCriteriaInput | None = None,
        segment_id: strawberry.ID | None = None,
        kind: CampaignClass = DomainClass.MARKETING,
        channels: list[str] | None = None,
    ) -> SegmentPreviewType:
        async with info.context.db.read() as session:
            if segment_id is not None:
                seg = await segments.get_segment(
                    session, info.context.actor, require_id(segment_id, "Segment", "segmentId")
                )
                domain = segments.SegmentCriteria.from_json(seg.criteria)
            else:
                domain = (criteria or SegmentCriteriaInput()).to_domain()
            result = await segments.preview(
                session, info.context.actor, domain, kind=kind.value, channels=list(channels or [])
            )
        return SegmentPreviewType(count=result.count, suppressed=result.suppressed, sample_ids=result.sample)

    @strawberry.field(
        description="营销与关怀活动，最新在前（患者不可见）；journey 为自动旅程编码时只看该旅程每天的活动"
    )
    async def campaigns(
        self,
        info: Info,
        status: CampaignStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
        journey: str | None = None,
    ) -> Connection[CampaignType]:
        return await read_page(
            info,
            lambda s, a: service.campaigns_page(
                s, a, status=status.value if status else None, first=first, after=after, journey=journey
            ),
            CampaignType.from_model,
        )

    @strawberry.field(description="一次活动的投递记录（含说明），按患者编号排序")
    async def campaign_deliveries(
        self,
        info: Info,
        campaign_id: strawberry.ID,
        status: DeliveryStatus | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[DeliveryType]:
        raw = require_id(campaign_id, "Campaign", "campaignId")
        return await read_page(
            info,
            lambda s, a: service.deliveries_page(
                s, a, raw, status=status.value if status else None, first=first, after=after
            ),
            DeliveryType.from_model,
        )

    @strawberry.field(description="活动效果：人数、发送、送达、打开、转化、转化率与积分成本")
    async def campaign_stats(self, info: Info, campaign_id: strawberry.ID) -> StatsType | None:
        raw = require_id(campaign_id, "Campaign", "campaignId")
        found = await info.context.read(stats.campaign_stats, raw)
        return StatsType.of(found) if found else None
