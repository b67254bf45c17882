"""Stable error codes of the loyalty domain."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound


class IdempotencyConflict(Conflict):
    code = "IDEMPOTENCY_KEY_REUSED"
    default_message = "该幂等键已用于另一笔不同的请求"


class InsufficientPoints(DomainError):
    code = "INSUFFICIENT_POINTS"
    default_message = "可用积分不足"


class RuleNotFound(NotFound):
    code = "RULE_NOT_FOUND"
    default_message = "积分规则不存在或已停用"


class RewardNotFound(NotFound):
    code = "REWARD_NOT_FOUND"
    default_message = "奖品不存在"


class RewardUnavailable(DomainError):
    code = "REWARD_UNAVAILABLE"
    default_message = "该奖品当前不可兑换"


class OutOfStock(DomainError):
    code = "OUT_OF_STOCK"
    default_message = "奖品已兑完"


class TierTooLow(DomainError):
    code = "TIER_TOO_LOW"
    default_message = "您的会员等级不足以兑换该奖品"


class MemberLimitReached(DomainError):
    code = "MEMBER_LIMIT_REACHED"
    default_message = "已达到该奖品的每人兑换上限"


class RedemptionNotFound(NotFound):
    code = "REDEMPTION_NOT_FOUND"
    default_message = "兑换记录不存在"


class RedemptionClosed(Conflict):
    code = "REDEMPTION_NOT_OPEN"
    default_message = "该兑换券已核销、取消或过期"


class VisitInvalid(DomainError):
    code = "VISIT_INVALID"
    default_message = "就诊记录无效"


class PatientNotFound(NotFound):
    code = "PATIENT_NOT_FOUND"
    default_message = "患者不存在"
