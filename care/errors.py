"""Care errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, ErrorCode, NotFound


class CareCode(ErrorCode):
    """Error codes of care: the value is what clients switch on."""

    COMPLAINT_ASSIGNEE_INVALID = "COMPLAINT_ASSIGNEE_INVALID", "只能指派给该院区的门诊前台、健康管理师或管理员"
    COMPLAINT_BODY_LENGTH = "COMPLAINT_BODY_LENGTH", "投诉内容需为5到…字"
    COMPLAINT_INVALID_TRANSITION = "COMPLAINT_INVALID_TRANSITION", "投诉当前状态不允许此操作"
    COMPLAINT_NOT_FOUND = "COMPLAINT_NOT_FOUND", "投诉记录不存在"
    COMPLAINT_RESPONSE_LENGTH = "COMPLAINT_RESPONSE_LENGTH", "回复内容需为2到…字"
    SURVEY_ALREADY_ANSWERED = "SURVEY_ALREADY_ANSWERED", "您已完成此次满意度调查，感谢您的反馈"
    SURVEY_CLOSED = "SURVEY_CLOSED", "此次满意度调查已关闭"
    SURVEY_COMMENT_TOO_LONG = "SURVEY_COMMENT_TOO_LONG", "意见不能超过…字"
    SURVEY_EXPIRED = "SURVEY_EXPIRED", "此次满意度调查已过期"
    SURVEY_NOT_FOUND = "SURVEY_NOT_FOUND", "调查不存在"
    SURVEY_SCORE_RANGE = "SURVEY_SCORE_RANGE", "评分需为0到10的整数"
    VISIT_NOT_FOUND = "VISIT_NOT_FOUND", "就诊记录不存在"


class SurveyNotFound(NotFound):
    code = CareCode.SURVEY_NOT_FOUND
    default_message = "调查不存在"


class SurveyAlreadyAnswered(Conflict):
    code = CareCode.SURVEY_ALREADY_ANSWERED
    default_message = "您已完成此次满意度调查，感谢您的反馈"


class SurveyExpired(Conflict):
    code = CareCode.SURVEY_EXPIRED
    default_message = "此次满意度调查已过期"


class SurveyClosed(Conflict):
    code = CareCode.SURVEY_CLOSED
    default_message = "此次满意度调查已关闭"


class ComplaintNotFound(NotFound):
    code = CareCode.COMPLAINT_NOT_FOUND
    default_message = "投诉记录不存在"


class ComplaintInvalidTransition(Conflict):
    code = CareCode.COMPLAINT_INVALID_TRANSITION
    default_message = "投诉当前状态不允许此操作"


class AssigneeInvalid(Conflict):
    code = CareCode.COMPLAINT_ASSIGNEE_INVALID
    default_message = "只能指派给该院区的门诊前台、健康管理师或管理员"
