"""GraphQL views of loyalty: rewards, redemptions, referrals, visits, liability."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import SiteType
from api.relay import Node, node_fetcher, to_global_id
from loyalty import models
from loyalty.rewards import CATEGORIES
from loyalty.service import rewards_by_ids
from loyalty.visits import ITEM_CATEGORIES
from patients import queries as patient_queries

RedemptionStatus = strawberry.enum(models.RedemptionStatus, name="RedemptionStatus")
ReferralStatus = strawberry.enum(models.ReferralStatus, name="ReferralStatus")
VisitStatus = strawberry.enum(models.VisitStatus, name="VisitStatus")


@strawberry.type(name="Reward", description="积分商城奖品")
class RewardType(Node):
    model: strawberry.Private[models.Reward]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Reward", self.model.id)

    @strawberry.field
    def name(self) -> str:
        return self.model.name

    @strawberry.field
    def description(self) -> str:
        return self.model.description

    @strawberry.field
    def category(self) -> str:
        return self.model.category

    @strawberry.field
    def category_label(self) -> str:
        return CATEGORIES.get(self.model.category, self.model.category)

    @strawberry.field
    def points_cost(self) -> int:
        return self.model.points_cost

    @strawberry.field(description="剩余库存；null 表示不限量")
    def stock(self) -> int | None:
        return self.model.stock

    @strawberry.field
    def tier_required(self) -> str | None:
        return self.model.tier_required

    @strawberry.field
    def per_member_limit(self) -> int | None:
        return self.model.per_member_limit

    @strawberry.field
    def valid_from(self) -> datetime | None:
        return self.model.valid_from

    @strawberry.field
    def valid_to(self) -> datetime | None:
        return self.model.valid_to

    @strawberry.field
    def active(self) -> bool:
        return self.model.active


@strawberry.type(name="Redemption", description="兑换记录与兑换券")
class RedemptionType(Node):
    model: strawberry.Private[models.Redemption]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Redemption", self.model.id)

    @strawberry.field
    async def reward(self, info: Info) -> RewardType | None:
        reward = await info.context.load(rewards_by_ids, self.model.reward_id)
        return RewardType(model=reward) if reward else None

    @strawberry.field
    def points(self) -> int:
        return self.model.points

    @strawberry.field
    def status(self) -> RedemptionStatus:  # type: ignore[valid-type]
        return models.RedemptionStatus(self.model.status)

    @strawberry.field(description="到院出示的兑换码")
    def voucher_code(self) -> str:
        return self.model.voucher_code

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def expires_at(self) -> datetime:
        return self.model.expires_at

    @strawberry.field
    def fulfilled_at(self) -> datetime | None:
        return self.model.fulfilled_at


@strawberry.type(name="Referral", description="我推荐的好友")
class ReferralType:
    model: strawberry.Private[models.Referral]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Referral", self.model.id)

    @strawberry.field
    def status(self) -> ReferralStatus:  # type: ignore[valid-type]
        return models.ReferralStatus(self.model.status)

    @strawberry.field(description="未通过的原因代码")
    def reject_reason(self) -> str | None:
        return self.model.reject_reason

    @strawberry.field(description="好友昵称")
    async def referee_nickname(self, info: Info) -> str | None:
        referee = await info.context.load(patient_queries.patients_by_ids, self.model.referee_id)
        return referee.nickname if referee else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def converted_at(self) -> datetime | None:
        return self.model.converted_at

    @strawberry.field
    def rewarded_at(self) -> datetime | None:
        return self.model.rewarded_at


@strawberry.type
class VisitItem:
    category: str
    category_label: str
    self_paid_fen: int
    insured_fen: int


@strawberry.type(name="Visit", description="就诊记录")
class VisitType(Node):
    model: strawberry.Private[models.Visit]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Visit", self.model.id)

    @strawberry.field
    def external_id(self) -> str:
        return self.model.external_id

    @strawberry.field
    def visited_at(self) -> datetime:
        return self.model.visited_at

    @strawberry.field
    def status(self) -> VisitStatus:  # type: ignore[valid-type]
        return models.VisitStatus(self.model.status)

    @strawberry.field
    def department(self) -> str:
        return self.model.department

    @strawberry.field
    def self_paid_fen(self) -> int:
        return self.model.self_paid_fen

    @strawberry.field
    def insured_fen(self) -> int:
        return self.model.insured_fen

    @strawberry.field
    def items(self) -> list[VisitItem]:
        return [
            VisitItem(
                category=i["category"],
                category_label=ITEM_CATEGORIES.get(i["category"], i["category"]),
                self_paid_fen=int(i.get("self_paid_fen", 0)),
                insured_fen=int(i.get("insured_fen", 0)),
            )
            for i in self.model.items
        ]

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        site = await info.context.load(patient_queries.sites_by_ids, self.model.site_id)
        return SiteType(model=site) if site else None


@strawberry.type(description="积分负债（未兑换积分）")
class LoyaltyLiability:
    available: int
    pending: int
    owed: int
    expiring_30_days: int
    expiring_90_days: int
    members_with_points: int


@node_fetcher("Reward")
async def _fetch_rewards(info: Info, raw: Sequence[str]) -> list[Any]:
    ids = []
    for r in raw:
        try:
            ids.append(uuid.UUID(r))
        except ValueError:
            ids.append(None)
    found = await info.context.loaders.get(rewards_by_ids).load_many([i for i in ids if i])
    by_id = {i: m for i, m in zip([i for i in ids if i], found, strict=True)}
    return [RewardType(model=by_id[i]) if i and by_id.get(i) else None for i in ids]
