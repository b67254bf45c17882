"""Loyalty queries: tiers, rules, rewards, my redemptions and referrals, liability."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.context import Info
from api.loyalty.points_types import PointsEntryType, TierType
from api.loyalty.types import LoyaltyLiability, RedemptionType, ReferralType, RewardType
from api.relay import Connection, connection, parse_uuid_id
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
        async with info.context.db.read() as session:
            page = await service.rewards_page(
                session,
                info.context.actor,
                first=first,
                after=after,
                category=category,
                include_inactive=include_inactive,
            )
        return connection(page, RewardType.from_model)

    @strawberry.field(description="我的兑换记录")
    async def my_redemptions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[RedemptionType]:
        async with info.context.db.read() as session:
            page = await service.redemptions_page(session, info.context.actor, first=first, after=after)
        return connection(page, RedemptionType.from_model)

    @strawberry.field(description="我推荐的好友")
    async def my_referrals(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ReferralType]:
        async with info.context.db.read() as session:
            page = await service.referrals_page(session, info.context.actor, first=first, after=after)
        return connection(page, ReferralType.from_model)

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
        async with info.context.db.read() as session:
            page = await service.history(session, actor, target, first=first, after=after)
        return connection(page, PointsEntryType.from_model)

    @strawberry.field(description="积分负债：未兑换的可用、待入账积分与即将到期积分（运营与管理员）")
    async def loyalty_liability(self, info: Info) -> LoyaltyLiability:
        async with info.context.db.read() as session:
            value = await service.liability(session, info.context.actor)
        return LoyaltyLiability(
            available=value.available,
            pending=value.pending,
            owed=value.owed,
            expiring_30_days=value.expiring_30_days,
            expiring_90_days=value.expiring_90_days,
            members_with_points=value.members_with_points,
        )
