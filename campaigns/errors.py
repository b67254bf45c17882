"""Expected failures of campaigns, with stable codes and Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, DomainError, ErrorCode, NotFound, PermissionDenied


class CampaignsCode(ErrorCode):
    """Error codes of campaigns: the value is what clients switch on."""

    AUDIENCE_INVALID = "AUDIENCE_INVALID", "受众需为人群或活动"
    CAMPAIGN_NOT_APPROVED = "CAMPAIGN_NOT_APPROVED", "活动未经审批，不能发送"
    CAMPAIGN_NOT_FOUND = "CAMPAIGN_NOT_FOUND", "营销活动不存在"
    CAMPAIGN_OWN_APPROVAL = "CAMPAIGN_OWN_APPROVAL", "不能审批自己创建的活动"
    CAMPAIGN_WRONG_STATUS = "CAMPAIGN_WRONG_STATUS", "活动当前状态不允许此操作"
    CHANNELS_EMPTY = "CHANNELS_EMPTY", "请至少选择一个渠道"
    CHANNEL_BODY_UNUSED = "CHANNEL_BODY_UNUSED", "只能为活动选用的渠道单独填写正文"
    CHANNEL_DUPLICATE = "CHANNEL_DUPLICATE", "渠道不能重复"
    CHANNEL_INVALID = "CHANNEL_INVALID", "渠道无效"
    COMMENT_REQUIRED = "COMMENT_REQUIRED", "请填写驳回意见（300字以内）"
    CONSENT_INVALID = "CONSENT_INVALID", "授权渠道或用途无效"
    DATETIME_NAIVE = "DATETIME_NAIVE", "时间需带时区"
    EVENT_AUDIENCE_INVALID = "EVENT_AUDIENCE_INVALID", "活动受众需为已邀请、已报名或两者"
    JOURNEY_UNKNOWN = "JOURNEY_UNKNOWN", "未知的自动旅程"
    KIND_INVALID = "KIND_INVALID", "活动类型需为营销或关怀"
    LINK_LENGTH = "LINK_LENGTH", "链接不能超过500个字符"
    LIST_TOO_LONG = "LIST_TOO_LONG", "最多选择…项"
    PERIOD_INVALID = "PERIOD_INVALID", "统计期间的开始需早于结束"
    RANGE_INVALID = "RANGE_INVALID", "…下限不能大于上限"
    RANGE_NEGATIVE = "RANGE_NEGATIVE", "…不能为负"
    SEGMENT_IN_USE = "SEGMENT_IN_USE", "人群正被未结束的活动使用，不能删除"
    SEGMENT_NAME_TAKEN = "SEGMENT_NAME_TAKEN", "已有同名人群"
    SEGMENT_NOT_FOUND = "SEGMENT_NOT_FOUND", "人群不存在"
    STAGE_INVALID = "STAGE_INVALID", "生命周期阶段无效"
    SUBJECT_LENGTH = "SUBJECT_LENGTH", "标题不能超过100个字符"
    VISITS_RANGE_REQUIRED = "VISITS_RANGE_REQUIRED", "设置了统计期间时请填写就诊次数范围"


class SegmentNotFound(NotFound):
    code = CampaignsCode.SEGMENT_NOT_FOUND
    default_message = "人群不存在"


class SegmentNameTaken(Conflict):
    code = CampaignsCode.SEGMENT_NAME_TAKEN
    default_message = "已有同名人群"


class SegmentInUse(Conflict):
    code = CampaignsCode.SEGMENT_IN_USE
    default_message = "人群正被未结束的活动使用，不能删除"


class CampaignNotFound(NotFound):
    code = CampaignsCode.CAMPAIGN_NOT_FOUND
    default_message = "营销活动不存在"


class WrongStatus(Conflict):
    code = CampaignsCode.CAMPAIGN_WRONG_STATUS
    default_message = "活动当前状态不允许此操作"


class OwnCampaign(PermissionDenied):
    code = CampaignsCode.CAMPAIGN_OWN_APPROVAL
    default_message = "不能审批自己创建的活动"


class NotApproved(DomainError):
    code = CampaignsCode.CAMPAIGN_NOT_APPROVED
    default_message = "活动未经审批，不能发送"
