"""Loyalty mutations: visits, rewards and redemptions, adjustments, earning rules."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import LoyaltyError
from api.loyalty.points_types import PointsEntryType, TierType
from api.loyalty.queries import EarningRule
from api.loyalty.types import RedemptionType, RewardType, VisitStatus, VisitType
from api.mutations import ModelPayload, mutate, on_id, perform_at_once
from api.relay import parse_uuid_id, require_id
from core.identity import Actor
from loyalty import benefits, earning, rewards, service, visits
from loyalty.models import EarningRule as EarningRuleRow
from loyalty.models import Tier
from loyalty.models import VisitStatus as VisitStatusModel


@strawberry.input
class VisitItemInput:
    category: str = strawberry.field(description="registration/consultation/exam/lab/imaging/drug/therapy/...")
    self_paid_fen: int = 0
    insured_fen: int = 0


@strawberry.input
class VisitRecordInput:
    external_id: str
    site_id: strawberry.ID
    department: str
    visited_at: datetime
    items: list[VisitItemInput]
    patient_id: strawberry.ID | None = None
    phone: str | None = None
    status: VisitStatus = VisitStatusModel.COMPLETED


@strawberry.type
class VisitRecordPayload:
    visit: VisitType | None = None
    result: str | None = strawberry.field(default=None, description="created / unchanged / refunded")
    errors: list[LoyaltyError]

    @classmethod
    def of(cls, v: visits.VisitOutcome, _info: Info) -> VisitRecordPayload:
        return cls(visit=VisitType.from_model(v.visit), result=v.result, errors=[])


@strawberry.input
class RewardInput:
    name: str
    category: str = strawberry.field(description="gift / service_voucher / discount / checkup")
    points_cost: int
    description: str = ""
    stock: int | None = strawberry.field(default=None, description="null 表示不限量")
    tier_required: str | None = None
    per_member_limit: int | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    voucher_valid_days: int = 90
    active: bool = True

    def to_domain(self) -> rewards.RewardInput:
        return rewards.RewardInput(
            name=self.name,
            description=self.description,
            category=self.category,
            points_cost=self.points_cost,
            stock=self.stock,
            tier_required=self.tier_required,
            per_member_limit=self.per_member_limit,
            valid_from=self.valid_from,
            valid_to=self.valid_to,
            voucher_valid_days=self.voucher_valid_days,
            active=self.active,
        )


@strawberry.input
class RewardUpdateInput:
    reward_id: strawberry.ID
    reward: RewardInput


@strawberry.type
class RewardPayload(ModelPayload):
    reward: RewardType | None = None
    errors: list[LoyaltyError]


@strawberry.input
class RewardRedeemInput:
    reward_id: strawberry.ID
    idempotency_key: str = strawberry.field(description="客户端生成的唯一键（8到100个字符），重试时保持不变")


@strawberry.input
class RedemptionFulfilInput:
    voucher_code: str
    site_id: strawberry.ID


@strawberry.input
class RedemptionCancelInput:
    redemption_id: strawberry.ID


@strawberry.type
class RedemptionPayload(ModelPayload):
    redemption: RedemptionType | None = None
    errors: list[LoyaltyError]


@strawberry.input
class PointsAdjustInput:
    patient_id: strawberry.ID
    amount: int = strawberry.field(description="正数为补发，负数为扣减")
    reason: str
    idempotency_key: str


@strawberry.type
class PointsAdjustPayload(ModelPayload):
    entry: PointsEntryType | None = None
    errors: list[LoyaltyError]


@strawberry.input
class EarningRuleUpdateInput:
    code: str
    name: str | None = None
    points: int | None = None
    fen_per_point: int | None = None
    daily_cap: int | None = None
    monthly_cap: int | None = None
    clear_daily_cap: bool = False
    clear_monthly_cap: bool = False
    pending_days: int | None = None
    excluded_categories: list[str] | None = None
    active: bool | None = None


@strawberry.type
class EarningRulePayload:
    rule: EarningRule | None = None
    errors: list[LoyaltyError]

    @classmethod
    def of(cls, v: EarningRuleRow, _info: Info) -> EarningRulePayload:
        return cls(rule=EarningRule.of(v), errors=[])


@strawberry.input
class TierBenefitsUpdateInput:
    code: str = strawberry.field(description="会员等级代码，如 silver")
    birthday_multiplier: int | None = strawberry.field(default=None, description="生日积分倍数，1到5（1 表示无）")
    priority_booking: bool | None = strawberry.field(default=None, description="优先预约（挂号与活动候补优先）")
    monthly_voucher_reward_id: strawberry.ID | None = strawberry.field(
        default=None, description="每月赠送的权益券对应的奖品（需为不限库存）"
    )
    clear_monthly_voucher: bool = strawberry.field(default=False, description="取消每月权益券")
    perks: list[str] | None = strawberry.field(default=None, description="其他权益说明（最多10条，每条40字以内）")


@strawberry.type
class TierPayload:
    tier: TierType | None = None
    errors: list[LoyaltyError]

    @classmethod
    def of(cls, v: Tier, _info: Info) -> TierPayload:
        return cls(tier=TierType.of(v), errors=[])


@strawberry.type
class LoyaltyMutation:
    @strawberry.mutation(description="登记就诊（门诊员工）；同一外部编号重复提交不会重复计分")
    async def visit_record(self, info: Info, input: VisitRecordInput) -> VisitRecordPayload:
        async def work(s: AsyncSession, a: Actor) -> visits.VisitOutcome:
            data = visits.VisitData(
                external_id=input.external_id,
                visited_at=input.visited_at,
                status=input.status.value,
                department=input.department,
                site_id=require_id(input.site_id, "Site", "siteId"),
                patient_id=require_id(input.patient_id, "Patient", "patientId") if input.patient_id else None,
                phone=input.phone,
                items=[visits.VisitItem(i.category, i.self_paid_fen, i.insured_fen) for i in input.items],
            )
            return await visits.record(s, a, data, source="staff")

        return await mutate(info, VisitRecordPayload, work)

    @strawberry.mutation(description="新建奖品（市场运营）")
    async def reward_create(self, info: Info, input: RewardInput) -> RewardPayload:
        return await mutate(info, RewardPayload, lambda s, a: rewards.create_reward(s, a, input.to_domain()))

    @strawberry.mutation(description="修改奖品（市场运营）")
    async def reward_update(self, info: Info, input: RewardUpdateInput) -> RewardPayload:
        return await mutate(
            info,
            RewardPayload,
            lambda s, a: rewards.update_reward(
                s, a, require_id(input.reward_id, "Reward", "rewardId"), input.reward.to_domain()
            ),
        )

    @strawberry.mutation(description="积分兑换奖品；同一幂等键重试返回同一笔兑换")
    async def reward_redeem(self, info: Info, input: RewardRedeemInput) -> RedemptionPayload:
        reward_id = parse_uuid_id(str(input.reward_id), "Reward")
        if reward_id is not None:  # the common case in one statement; else the locked path decides
            done = await perform_at_once(info, lambda a: rewards.redeem_at_once(a, reward_id, input.idempotency_key))
            if done is not None:
                return RedemptionPayload.of(done, info)
        return await mutate(
            info, RedemptionPayload, on_id(rewards.redeem, input.reward_id, "Reward", "rewardId", input.idempotency_key)
        )

    @strawberry.mutation(description="核销兑换券（门诊员工）")
    async def redemption_fulfil(self, info: Info, input: RedemptionFulfilInput) -> RedemptionPayload:
        return await mutate(
            info,
            RedemptionPayload,
            lambda s, a: rewards.fulfil(s, a, input.voucher_code, require_id(input.site_id, "Site", "siteId")),
        )

    @strawberry.mutation(description="取消未核销的兑换（本人或门诊员工），积分退回")
    async def redemption_cancel(self, info: Info, input: RedemptionCancelInput) -> RedemptionPayload:
        return await mutate(
            info, RedemptionPayload, on_id(rewards.cancel, input.redemption_id, "Redemption", "redemptionId")
        )

    @strawberry.mutation(description="人工调整积分（管理员，须填写原因）")
    async def points_adjust(self, info: Info, input: PointsAdjustInput) -> PointsAdjustPayload:
        patient_id = parse_uuid_id(str(input.patient_id), "Patient")
        if patient_id is not None:  # a credit in one statement; else the locked path decides
            entry = await perform_at_once(
                info,
                lambda a: service.adjust_at_once(
                    a, patient_id, amount=input.amount, reason=input.reason, idempotency_key=input.idempotency_key
                ),
            )
            if entry is not None:
                return PointsAdjustPayload.of(entry, info)
        return await mutate(
            info,
            PointsAdjustPayload,
            on_id(
                service.adjust,
                input.patient_id,
                "Patient",
                "patientId",
                amount=input.amount,
                reason=input.reason,
                idempotency_key=input.idempotency_key,
            ),
        )

    @strawberry.mutation(description="修改积分规则（管理员）")
    async def earning_rule_update(self, info: Info, input: EarningRuleUpdateInput) -> EarningRulePayload:
        changes = earning.RuleChanges(
            name=input.name,
            points=input.points,
            fen_per_point=input.fen_per_point,
            daily_cap=input.daily_cap,
            monthly_cap=input.monthly_cap,
            clear_daily_cap=input.clear_daily_cap,
            clear_monthly_cap=input.clear_monthly_cap,
            pending_days=input.pending_days,
            excluded_categories=input.excluded_categories,
            active=input.active,
        )
        return await mutate(info, EarningRulePayload, lambda s, a: earning.update_rule(s, a, input.code, changes))

    @strawberry.mutation(description="修改会员等级的权益规则（管理员）：生日积分倍数、每月权益券、优先预约、其他权益")
    async def tier_benefits_update(self, info: Info, input: TierBenefitsUpdateInput) -> TierPayload:
        async def work(s: AsyncSession, a: Actor) -> Tier:
            reward = input.monthly_voucher_reward_id
            changes = benefits.BenefitChanges(
                birthday_multiplier=input.birthday_multiplier,
                priority_booking=input.priority_booking,
                monthly_voucher_reward_id=require_id(reward, "Reward", "monthlyVoucherRewardId") if reward else None,
                clear_monthly_voucher=input.clear_monthly_voucher,
                perks=input.perks,
            )
            return await benefits.update_benefits(s, a, input.code, changes)

        return await mutate(info, TierPayload, work)
