"""GraphQL views of a member's points, tier and lifecycle; mixed into the Patient type."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.context import Info
from api.relay import Connection, Node, read_page, to_global_id
from api.views import node_view, view
from loyalty import benefits, lifecycle, models, referrals, service, tiers, visibility
from loyalty.service import rewards_by_ids

if TYPE_CHECKING:
    from api.loyalty.types import RedemptionType

LifecycleStage = models.LifecycleStage
strawberry.enum(LifecycleStage, name="LifecycleStage")
PointsEntryKind = models.EntryKind
strawberry.enum(PointsEntryKind, name="PointsEntryKind")


@strawberry.type
class ExpiringPoints:
    amount: int
    expires_at: datetime


@strawberry.type(description="积分余额")
class PointsBalance:
    available: int
    pending: int = strawberry.field(description="冷静期内、尚未入账的积分")
    owed: int = strawberry.field(description="退费后欠扣的积分，后续获得的积分优先抵扣")
    lifetime_earned: int
    expiring_soon: list[ExpiringPoints] = strawberry.field(description="90天内到期的积分（按日期汇总）")

    @classmethod
    def of(cls, s: service.PointsSummary) -> PointsBalance:
        return view(
            cls, s, expiring_soon=[ExpiringPoints(amount=e.amount, expires_at=e.expires_at) for e in s.expiring_soon]
        )


async def _benefit_texts(info: Info, tier: models.Tier) -> list[str]:
    reward_id = tier.monthly_voucher_reward_id
    reward = await info.context.load(rewards_by_ids, reward_id) if reward_id else None
    return benefits.benefit_texts(tier, reward.name if reward else None)


@strawberry.type(name="Tier", description="会员等级")
class TierType:
    model: strawberry.Private[models.Tier]

    code: str
    name: str
    rank: int
    min_points: int = strawberry.field(description="近12个月获得积分达到此值即可升级")
    birthday_multiplier: int = strawberry.field(description="生日当天获得积分的倍数（1 表示无此权益）")
    priority_booking: bool = strawberry.field(description="优先预约：挂号与活动候补优先")
    perks: list[str] = strawberry.field(description="其他权益（到院由工作人员兑现，仅作说明）")
    monthly_voucher_reward_id: strawberry.ID | None = strawberry.field(
        description="每月赠送一张的权益券（奖品编号）；null 表示无此权益"
    )

    @classmethod
    def of(cls, t: models.Tier) -> TierType:
        reward = t.monthly_voucher_reward_id
        return view(
            cls,
            t,
            model=t,
            perks=list(t.perks or []),
            monthly_voucher_reward_id=to_global_id("Reward", reward) if reward else None,
        )

    @strawberry.field(description="会员权益说明：由权益规则生成，再加其他权益")
    async def benefits(self, info: Info) -> list[str]:
        return await _benefit_texts(info, self.model)


@strawberry.type
class TierProgress:
    qualifying_points: int = strawberry.field(description="近12个月获得的积分")
    next_tier: TierType | None
    points_to_next: int
    grace_until: datetime | None = strawberry.field(description="降级宽限期截止时间")


@strawberry.type
class MemberTier:
    tier: TierType
    progress: TierProgress

    @strawberry.field
    def name(self) -> str:
        return self.tier.name

    @strawberry.field(description="会员权益说明")
    async def benefits(self, info: Info) -> list[str]:
        return await _benefit_texts(info, self.tier.model)

    @strawberry.field(description="优先预约：挂号与活动候补优先")
    def priority_booking(self) -> bool:
        return self.tier.priority_booking

    @classmethod
    def of(cls, p: tiers.Progress) -> MemberTier:
        return cls(
            tier=TierType.of(p.current),
            progress=view(TierProgress, p, next_tier=TierType.of(p.next) if p.next else None),
        )


@strawberry.type(name="PointsEntry", description="积分流水")
class PointsEntryType(Node):
    model: strawberry.Private[models.Entry]

    kind: PointsEntryKind
    amount: int = strawberry.field(description="对可用或待入账积分的变动")
    memo: str
    rule_code: str | None
    created_at: datetime

    @classmethod
    def from_model(cls, row: models.Entry) -> PointsEntryType:
        return node_view(cls, row, kind=models.EntryKind(row.kind))


@strawberry.type
class LifecycleChange:
    from_stage: LifecycleStage | None
    to_stage: LifecycleStage
    reason: str
    changed_at: datetime


# --- batch loaders (per request, via Context.load) -------------------------------------------


async def summaries_by_patient(session: Any, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, service.PointsSummary]:
    return await service.summaries(session, ids)


async def progress_by_patient(session: Any, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tiers.Progress]:
    return await tiers.progress_many(session, list(ids))


# --- the loyalty fields of Patient ------------------------------------------------------------


@strawberry.type
class PatientLoyaltyFields:
    """Mixed into Patient: what a member (and care staff) see of their loyalty status."""

    model: strawberry.Private[Any]

    @strawberry.field(description="积分（本人与诊疗、前台员工可见）")
    async def points(self, info: Info) -> PointsBalance | None:
        if not visibility.sees_points(info.context.actor, self.model.id):
            return None
        return PointsBalance.of(await info.context.load_found(summaries_by_patient, self.model.id))

    @strawberry.field(description="会员等级与升级进度")
    async def tier(self, info: Info) -> MemberTier | None:
        if not visibility.sees_points(info.context.actor, self.model.id):
            return None
        return MemberTier.of(await info.context.load_found(progress_by_patient, self.model.id))

    @strawberry.field(description="我的推荐码（仅本人可见）")
    async def referral_code(self, info: Info) -> str | None:
        if not visibility.sees_referral_code(info.context.actor, self.model.id):
            return None
        return await info.context.load(referrals.codes_by_patient, self.model.id)

    @strawberry.field(description="生命周期阶段（员工与本人可见）")
    async def lifecycle_stage(self, info: Info) -> LifecycleStage | None:
        if not visibility.sees_lifecycle_stage(info.context.actor, self.model.id):
            return None
        row = await info.context.load(lifecycle.stages_by_patient, self.model.id)
        return models.LifecycleStage(row.stage) if row else models.LifecycleStage.ACQUISITION

    @strawberry.field(description="生命周期变化历史（员工可见）")
    async def lifecycle_history(self, info: Info) -> list[LifecycleChange]:
        if not visibility.sees_lifecycle_history(info.context.actor, self.model.id):
            return []
        rows = await info.context.load_many(lifecycle.history_by_patient, self.model.id)
        return [
            LifecycleChange(
                from_stage=models.LifecycleStage(r.from_stage) if r.from_stage else None,
                to_stage=models.LifecycleStage(r.to_stage),
                reason=r.reason,
                changed_at=r.changed_at,
            )
            for r in rows
        ]

    @strawberry.field(description="兑换券，最新在前（本人与门诊前台可见；其他人得到 PERMISSION_DENIED）")
    async def redemptions(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[Annotated[RedemptionType, strawberry.lazy("api.loyalty.types")]]:
        # api.loyalty.types imports api.identity.types, which mixes these fields into Patient: imported here.
        from api.loyalty.types import RedemptionType  # noqa: PLC0415

        return await read_page(
            info,
            lambda s, a: service.patient_redemptions_page(s, a, self.model.id, first=first, after=after),
            RedemptionType.from_model,
        )

    @strawberry.field(description="积分流水（本人与诊疗、前台员工可见）")
    async def points_history(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[PointsEntryType]:
        return await read_page(
            info,
            lambda s, a: service.history(s, a, self.model.id, first=first, after=after),
            PointsEntryType.from_model,
        )
