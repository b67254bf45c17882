"""Loyalty queries: tiers, rules, rewards, my redemptions and referrals, liability."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.loyalty.points_types import PointsEntryType, TierType
from api.loyalty.types import LoyaltyLiability, RedemptionType, ReferralType, RewardType
from api.relay import Connection, parse_uuid_id, read_page
from api.views import view
from core.errors import NotFound
from loyalty import models, service, tiers, visibility


@strawberry.type(description="积分规则")
class EarningRule:
    code: str
    name: str
    description: str
    points: int
    fen_per_point: int | None
    daily_cap: int | None
    monthly_cap: int | None
    pending_days: int
    excluded_categories: list[str]
    active: bool
    updated_at: datetime

    @classmethod
    def of(cls, r: models.EarningRule) -> EarningRule:
        return view(cls, r, excluded_categories=list(r.excluded_categories or []))


@strawberry.type
class LoyaltyQuery:
    @strawberry.field(description="会员等级及权益")
    async def tiers(self, info: Info) -> list[TierType]:
        async with info.context.db.read() as session:
            return [TierType.of(t) for t in await tiers.all_tiers(session)]

    @strawberry.field(description="积分规则（员工可见）")
    async def earning_rules(self, info: Info) -> list[EarningRule]:
        visibility.require_earning_rules_reader(info.context.actor)
        async with info.context.db.read() as session:
            return [EarningRule.of(r) for r in await service.all_rules(session)]

    @strawberry.field(description="积分商城：当前可兑换的奖品，按所需积分从低到高")
    async def rewards(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        category: str | None = None,
        include_inactive: bool = False,
    ) -> Connection[RewardType]:
        return await read_page(
            info,
            lambda s, a: service.rewards_page(
                s, a, first=first, after=after, category=category, include_inactive=include_inactive
            ),
            RewardType.from_model,
        )

    @strawberry.field(description="我的兑换记录")
    async def my_redemptions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[RedemptionType]:
        return await read_page(
            info, lambda s, a: service.redemptions_page(s, a, first=first, after=after), RedemptionType.from_model
        )

    @strawberry.field(description="我推荐的好友")
    async def my_referrals(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ReferralType]:
        return await read_page(
            info, lambda s, a: service.referrals_page(s, a, first=first, after=after), ReferralType.from_model
        )

    @strawberry.field(description="积分流水：默认本人；员工可传 patientId 查看患者的流水")
    async def points_history(
        self, info: Info, patient_id: strawberry.ID | None = None, first: int | None = 20, after: str | None = None
    ) -> Connection[PointsEntryType]:
        actor = info.context.actor
        if patient_id is None:
            target = actor.require_patient()
        else:
            parsed = parse_uuid_id(str(patient_id), "Patient")
            if parsed is None:
                raise NotFound("患者不存在", field="patientId")
            target = parsed
        return await read_page(
            info, lambda s, a: service.history(s, a, target, first=first, after=after), PointsEntryType.from_model
        )

    @strawberry.field(description="积分负债：未兑换的可用、待入账积分与即将到期积分（运营与管理员）")
    async def loyalty_liability(self, info: Info) -> LoyaltyLiability:
        value = await info.context.read(service.liability)
        return view(LoyaltyLiability, value)
