"""Care errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, NotFound


class SurveyNotFound(NotFound):
    code = "SURVEY_NOT_FOUND"
    default_message = "调查不存在"


class SurveyAlreadyAnswered(Conflict):
    code = "SURVEY_ALREADY_ANSWERED"
    default_message = "您已完成此次满意度调查，感谢您的反馈"


class SurveyExpired(Conflict):
    code = "SURVEY_EXPIRED"
    default_message = "此次满意度调查已过期"


class SurveyClosed(Conflict):
    code = "SURVEY_CLOSED"
    default_message = "此次满意度调查已关闭"


class ComplaintNotFound(NotFound):
    code = "COMPLAINT_NOT_FOUND"
    default_message = "投诉记录不存在"


class ComplaintInvalidTransition(Conflict):
    code = "COMPLAINT_INVALID_TRANSITION"
    default_message = "投诉当前状态不允许此操作"


class AssigneeInvalid(Conflict):
    code = "COMPLAINT_ASSIGNEE_INVALID"
    default_message = "只能指派给该院区的门诊前台、健康管理师或管理员"
