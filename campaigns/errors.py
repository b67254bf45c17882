"""Expected failures of campaigns, with stable codes and Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, PermissionDenied


class SegmentNotFound(NotFound):
    code = "SEGMENT_NOT_FOUND"
    default_message = "人群不存在"


class SegmentNameTaken(Conflict):
    code = "SEGMENT_NAME_TAKEN"
    default_message = "已有同名人群"


class SegmentInUse(Conflict):
    code = "SEGMENT_IN_USE"
    default_message = "人群正被未结束的活动使用，不能删除"


class CampaignNotFound(NotFound):
    code = "CAMPAIGN_NOT_FOUND"
    default_message = "营销活动不存在"


class WrongStatus(Conflict):
    code = "CAMPAIGN_WRONG_STATUS"
    default_message = "活动当前状态不允许此操作"


class OwnCampaign(PermissionDenied):
    code = "CAMPAIGN_OWN_APPROVAL"
    default_message = "不能审批自己创建的活动"


class NotApproved(DomainError):
    code = "CAMPAIGN_NOT_APPROVED"
    default_message = "活动未经审批，不能发送"
