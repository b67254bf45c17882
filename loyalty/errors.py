"""Stable error codes of the loyalty domain."""

from __future__ import annotations

from core.errors import Conflict, CoreCode, DomainError, ErrorCode, NotFound


class LoyaltyCode(ErrorCode):
    """Error codes of loyalty: the value is what clients switch on."""

    AMOUNT_INVALID = "AMOUNT_INVALID", "调整积分需为非零整数且不超过100万"
    AMOUNT_NEGATIVE = "AMOUNT_NEGATIVE", "金额不能为负"
    COST_INVALID = "COST_INVALID", "所需积分需为正整数"
    DEPARTMENT_INVALID = "DEPARTMENT_INVALID", "科室需为1到60个字符"
    EXTERNAL_ID_INVALID = "EXTERNAL_ID_INVALID", "外部就诊编号需为1到100个字符"
    IDEMPOTENCY_KEY_INVALID = "IDEMPOTENCY_KEY_INVALID", "幂等键需为8到100个字符"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED", "该幂等键已用于另一笔不同的请求"
    INSUFFICIENT_POINTS = "INSUFFICIENT_POINTS", "可用积分不足"
    ITEM_CATEGORY_INVALID = "ITEM_CATEGORY_INVALID", "未知的项目类别：…"
    LIMIT_INVALID = "LIMIT_INVALID", "每人限兑需至少为1"
    MEMBER_LIMIT_REACHED = "MEMBER_LIMIT_REACHED", "已达到该奖品的每人兑换上限"
    OUT_OF_RANGE = "OUT_OF_RANGE", "取值需在0到…之间"
    OUT_OF_STOCK = "OUT_OF_STOCK", "奖品已兑完"
    PERKS_INVALID = "PERKS_INVALID", "其他权益最多10条，每条1到40个字符"
    REDEMPTION_NOT_FOUND = "REDEMPTION_NOT_FOUND", "兑换记录不存在"
    REDEMPTION_NOT_OPEN = "REDEMPTION_NOT_OPEN", "该兑换券已核销、取消或过期"
    REWARD_NOT_FOUND = "REWARD_NOT_FOUND", "奖品不存在"
    REWARD_UNAVAILABLE = "REWARD_UNAVAILABLE", "该奖品当前不可兑换"
    RULE_NOT_FOUND = "RULE_NOT_FOUND", "积分规则不存在或已停用"
    SITE_REQUIRED = "SITE_REQUIRED", "需提供院区"
    STATUS_INVALID = "STATUS_INVALID", "状态需为 completed 或 refunded"
    STOCK_INVALID = "STOCK_INVALID", "库存不能为负"
    TIER_TOO_LOW = "TIER_TOO_LOW", "您的会员等级不足以兑换该奖品"
    VALIDITY_INVALID = "VALIDITY_INVALID", "兑换券有效期需为1到3650天"
    VALIDITY_RANGE = "VALIDITY_RANGE", "结束时间需晚于开始时间"
    VISITED_AT_FUTURE = "VISITED_AT_FUTURE", "就诊时间不能晚于当前时间"
    VISITED_AT_NAIVE = "VISITED_AT_NAIVE", "就诊时间需带时区"
    VISIT_CONFLICT = (
        "VISIT_CONFLICT",
        "该外部就诊编号已用于另一条就诊记录，内容不一致：请核对编号，或用 refunded 退费后以新编号重新推送",
    )
    VISIT_INVALID = "VISIT_INVALID", "就诊记录无效"
    VOUCHER_REWARD_LIMITED = "VOUCHER_REWARD_LIMITED", "用作会员每月权益券的奖品需为不限库存"


class IdempotencyConflict(Conflict):
    code = LoyaltyCode.IDEMPOTENCY_KEY_REUSED
    default_message = "该幂等键已用于另一笔不同的请求"


class InsufficientPoints(DomainError):
    code = LoyaltyCode.INSUFFICIENT_POINTS
    default_message = "可用积分不足"


class RuleNotFound(NotFound):
    code = LoyaltyCode.RULE_NOT_FOUND
    default_message = "积分规则不存在或已停用"


class RewardNotFound(NotFound):
    code = LoyaltyCode.REWARD_NOT_FOUND
    default_message = "奖品不存在"


class RewardUnavailable(DomainError):
    code = LoyaltyCode.REWARD_UNAVAILABLE
    default_message = "该奖品当前不可兑换"


class OutOfStock(DomainError):
    code = LoyaltyCode.OUT_OF_STOCK
    default_message = "奖品已兑完"


class TierTooLow(DomainError):
    code = LoyaltyCode.TIER_TOO_LOW
    default_message = "您的会员等级不足以兑换该奖品"


class MemberLimitReached(DomainError):
    code = LoyaltyCode.MEMBER_LIMIT_REACHED
    default_message = "已达到该奖品的每人兑换上限"


class RedemptionNotFound(NotFound):
    code = LoyaltyCode.REDEMPTION_NOT_FOUND
    default_message = "兑换记录不存在"


class RedemptionClosed(Conflict):
    code = LoyaltyCode.REDEMPTION_NOT_OPEN
    default_message = "该兑换券已核销、取消或过期"


class VisitInvalid(DomainError):
    code = LoyaltyCode.VISIT_INVALID
    default_message = "就诊记录无效"


class PatientNotFound(NotFound):
    code = CoreCode.PATIENT_NOT_FOUND
    default_message = "患者不存在"


class TierNotFound(NotFound):
    code = CoreCode.TIER_UNKNOWN
    default_message = "会员等级不存在"
