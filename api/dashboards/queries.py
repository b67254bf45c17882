"""Dashboards for marketing (marketers and admins): each field maps one dashboards service call.

Ranges are local calendar dates (Asia/Shanghai), both inclusive; definitions in dashboards/service.py.
"""

from __future__ import annotations

import uuid
from datetime import date

import strawberry

from api.context import Info
from api.identity.types import SiteType, site_of
from api.loyalty.types import LoyaltyLiability
from api.relay import optional_id, to_global_id
from api.views import view
from dashboards import service

DashboardPeriod = service.Period
strawberry.enum(DashboardPeriod, name="DashboardPeriod")


@strawberry.type(description="复诊率：本期在该院区有完成就诊的患者中，此前N天内（任一院区）已有完成就诊者的占比")
class ReturnVisitRate:
    period: date = strawberry.field(description="周一或每月1日")
    site_id: strawberry.Private[uuid.UUID | None]
    patients: int
    returning: int
    rate: float

    @strawberry.field(description="院区；null 为全部院区（每位患者每期只计一次）")
    async def site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.site_id)


@strawberry.type(description="生命周期阶段人数（当前）")
class LifecycleStageCount:
    stage: str
    patients: int


@strawberry.type(
    description="生命周期阶段变化：该期内从 fromStage 变为 toStage 的次数（fromStage 为 null 表示新患者的首个阶段）"
)
class LifecycleMovement:
    period: date
    from_stage: str | None
    to_stage: str
    changes: int


@strawberry.type(description="月度 NPS = 100 ×（推荐者9-10分 − 贬损者0-6分）/ 作答数")
class NpsMonth:
    month: date
    answers: int
    promoters: int
    passives: int
    detractors: int
    nps: float


@strawberry.type(description="推荐转化（按推荐注册月份）：已转化 /（推荐总数 − 被拒绝）")
class ReferralConversionMonth:
    month: date
    referrals: int
    rejected: int
    converted: int
    conversion_rate: float


@strawberry.type(description="社区活跃（每周）：发帖、评论或打卡的患者数及各项次数")
class CommunityActivityWeek:
    week: date
    active_members: int
    posts: int
    comments: int
    checkins: int


@strawberry.type(description="营销活动转化（活动开始日期在范围内，最新在前）")
class CampaignConversionRow:
    campaign_id: strawberry.ID
    name: str
    audience: int
    sent: int
    delivered: int
    opened: int
    converted: int
    conversion_rate: float = strawberry.field(description="转化数 / 送达数")
    points_cost: int = strawberry.field(description="活动带来的积分奖励成本")


def _site(value: strawberry.ID | None) -> uuid.UUID | None:
    return optional_id(value, "Site", "siteId")


@strawberry.type
class DashboardQuery:
    @strawberry.field(description="复诊率，按周或月、按院区（运营与管理员）")
    async def dashboard_return_visit_rate(
        self,
        info: Info,
        period: DashboardPeriod,
        since: date,
        until: date,
        site_id: strawberry.ID | None = None,
        window_days: int = service.DEFAULT_WINDOW_DAYS,
    ) -> list[ReturnVisitRate]:
        rows = await info.context.read(
            service.return_visit_rate,
            period=service.Period(period.value),
            since=since,
            until=until,
            site_id=_site(site_id),
            window_days=window_days,
        )
        return [view(ReturnVisitRate, r) for r in rows]

    @strawberry.field(description="生命周期漏斗：各阶段当前人数（运营与管理员）")
    async def dashboard_lifecycle_funnel(self, info: Info) -> list[LifecycleStageCount]:
        rows = await info.context.read(service.lifecycle_funnel)
        return [LifecycleStageCount(stage=r.stage, patients=r.patients) for r in rows]

    @strawberry.field(description="生命周期阶段流动，按周或月（运营与管理员）")
    async def dashboard_lifecycle_movement(
        self,
        info: Info,
        period: DashboardPeriod,
        since: date,
        until: date,
    ) -> list[LifecycleMovement]:
        rows = await info.context.read(
            service.lifecycle_movement, period=service.Period(period.value), since=since, until=until
        )
        return [view(LifecycleMovement, r) for r in rows]

    @strawberry.field(description="NPS 月度趋势（运营与管理员）")
    async def dashboard_nps_trend(
        self, info: Info, since: date, until: date, site_id: strawberry.ID | None = None
    ) -> list[NpsMonth]:
        rows = await info.context.read(service.nps_trend, since=since, until=until, site_id=_site(site_id))
        return [view(NpsMonth, r) for r in rows]

    @strawberry.field(description="推荐转化，按月（运营与管理员）")
    async def dashboard_referral_conversion(
        self, info: Info, since: date, until: date
    ) -> list[ReferralConversionMonth]:
        rows = await info.context.read(service.referral_conversion, since=since, until=until)
        return [view(ReferralConversionMonth, r) for r in rows]

    @strawberry.field(description="社区活跃度，按周（运营与管理员）")
    async def dashboard_community_activity(self, info: Info, since: date, until: date) -> list[CommunityActivityWeek]:
        rows = await info.context.read(service.community_activity, since=since, until=until)
        return [view(CommunityActivityWeek, r) for r in rows]

    @strawberry.field(description="营销活动转化（运营与管理员）")
    async def dashboard_campaign_conversion(self, info: Info, since: date, until: date) -> list[CampaignConversionRow]:
        rows = await info.context.read(service.campaign_conversion, since=since, until=until)
        return [view(CampaignConversionRow, r, campaign_id=to_global_id("Campaign", r.campaign_id)) for r in rows]

    @strawberry.field(description="积分负债（运营与管理员）")
    async def dashboard_points_liability(self, info: Info) -> LoyaltyLiability:
        value = await info.context.read(service.points_liability)
        return view(LoyaltyLiability, value)
