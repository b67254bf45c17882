"""GraphQL views of loyalty: rewards, redemptions, referrals, visits, liability."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import SiteType, site_of
from api.relay import Node, load_nodes, node_fetcher
from api.views import node_view, related
from loyalty import models
from loyalty.rewards import CATEGORIES
from loyalty.service import rewards_by_ids
from loyalty.visits import ITEM_CATEGORIES
from patients import queries as patient_queries

RedemptionStatus = models.RedemptionStatus
strawberry.enum(RedemptionStatus, name="RedemptionStatus")
ReferralStatus = models.ReferralStatus
strawberry.enum(ReferralStatus, name="ReferralStatus")
VisitStatus = models.VisitStatus
strawberry.enum(VisitStatus, name="VisitStatus")


@strawberry.type(name="Reward", description="积分商城奖品")
class RewardType(Node):
    model: strawberry.Private[models.Reward]

    name: str
    description: str
    category: str
    category_label: str
    points_cost: int
    stock: int | None = strawberry.field(description="剩余库存；null 表示不限量")
    tier_required: str | None
    per_member_limit: int | None
    valid_from: datetime | None
    valid_to: datetime | None
    active: bool

    @classmethod
    def from_model(cls, row: models.Reward) -> RewardType:
        return node_view(cls, row, category_label=CATEGORIES.get(row.category, row.category))


async def _redemption_reward(root: RedemptionType, info: Info) -> RewardType | None:
    return await related(info, rewards_by_ids, root.model.reward_id, RewardType.from_model)


@strawberry.type(name="Redemption", description="兑换记录与兑换券")
class RedemptionType(Node):
    model: strawberry.Private[models.Redemption]

    reward: RewardType | None = strawberry.field(resolver=_redemption_reward)
    points: int
    status: RedemptionStatus
    voucher_code: str = strawberry.field(description="到院出示的兑换码")
    created_at: datetime
    expires_at: datetime
    fulfilled_at: datetime | None

    @classmethod
    def from_model(cls, row: models.Redemption) -> RedemptionType:
        return node_view(cls, row, status=models.RedemptionStatus(row.status))


async def _referral_referee_nickname(root: ReferralType, info: Info) -> str | None:
    referee = await info.context.load(patient_queries.patients_by_ids, root.model.referee_id)
    return referee.nickname if referee else None


@strawberry.type(name="Referral", description="我推荐的好友")
class ReferralType:
    model: strawberry.Private[models.Referral]

    id: strawberry.ID
    status: ReferralStatus
    reject_reason: str | None = strawberry.field(description="未通过的原因代码")
    referee_nickname: str | None = strawberry.field(resolver=_referral_referee_nickname, description="好友昵称")
    created_at: datetime
    converted_at: datetime | None
    rewarded_at: datetime | None

    @classmethod
    def from_model(cls, row: models.Referral) -> ReferralType:
        return node_view(cls, row, status=models.ReferralStatus(row.status))


@strawberry.type
class VisitItem:
    category: str
    category_label: str
    self_paid_fen: int
    insured_fen: int


@strawberry.type(name="Visit", description="就诊记录")
class VisitType(Node):
    model: strawberry.Private[models.Visit]

    external_id: str
    visited_at: datetime
    status: VisitStatus
    department: str
    self_paid_fen: int
    insured_fen: int
    items: list[VisitItem]

    @classmethod
    def from_model(cls, row: models.Visit) -> VisitType:
        return node_view(
            cls,
            row,
            status=models.VisitStatus(row.status),
            items=[
                VisitItem(
                    category=i["category"],
                    category_label=ITEM_CATEGORIES.get(i["category"], i["category"]),
                    self_paid_fen=int(i.get("self_paid_fen", 0)),
                    insured_fen=int(i.get("insured_fen", 0)),
                )
                for i in row.items
            ],
        )

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.model.site_id)


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
    return await load_nodes(info, raw, rewards_by_ids, RewardType.from_model)
