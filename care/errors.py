"""Care errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, ErrorCode, NotFound


class CareCode(ErrorCode):
    """Error codes of care: the value is what clients switch on."""

    CARE_ASSIGNEE_INVALID = "CARE_ASSIGNEE_INVALID", "负责医护需为该院区在职、具有相应角色（医生/健康管理师）的员工"
    CARE_ASSIGNMENT_NOT_FOUND = "CARE_ASSIGNMENT_NOT_FOUND", "该患者没有此角色的负责医护"
    COMPLAINT_ASSIGNEE_INVALID = "COMPLAINT_ASSIGNEE_INVALID", "只能指派给该院区的门诊前台、健康管理师或管理员"
    COMPLAINT_BODY_LENGTH = "COMPLAINT_BODY_LENGTH", "投诉内容需为5到…字"
    COMPLAINT_INVALID_TRANSITION = "COMPLAINT_INVALID_TRANSITION", "投诉当前状态不允许此操作"
    COMPLAINT_NOT_FOUND = "COMPLAINT_NOT_FOUND", "投诉记录不存在"
    COMPLAINT_RESPONSE_LENGTH = "COMPLAINT_RESPONSE_LENGTH", "回复内容需为2到…字"
    CONVERSATION_ASSIGNEE_INVALID = "CONVERSATION_ASSIGNEE_INVALID", "咨询只能指派给该院区在职的医生或健康管理师"
    CONVERSATION_BODY_LENGTH = "CONVERSATION_BODY_LENGTH", "消息内容需为1到…字"
    CONVERSATION_CLOSED = "CONVERSATION_CLOSED", "该咨询已结束，如有新问题请发起新的咨询"
    CONVERSATION_NOT_FOUND = "CONVERSATION_NOT_FOUND", "咨询不存在（只有患者本人和其护理团队可以查看）"
    CONVERSATION_OPEN_LIMIT = "CONVERSATION_OPEN_LIMIT", "进行中的咨询已达上限，请在已有咨询中继续留言"
    CONVERSATION_SUBJECT_LENGTH = "CONVERSATION_SUBJECT_LENGTH", "咨询主题需为2到…字"
    CONVERSATION_TEXT_INVALID = "CONVERSATION_TEXT_INVALID", "内容含有不允许的字符（如空字符或控制字符）"
    SURVEY_ALREADY_ANSWERED = "SURVEY_ALREADY_ANSWERED", "您已完成此次满意度调查，感谢您的反馈"
    SURVEY_CLOSED = "SURVEY_CLOSED", "此次满意度调查已关闭"
    SURVEY_COMMENT_TOO_LONG = "SURVEY_COMMENT_TOO_LONG", "意见不能超过…字"
    SURVEY_EXPIRED = "SURVEY_EXPIRED", "此次满意度调查已过期"
    SURVEY_NOT_FOUND = "SURVEY_NOT_FOUND", "调查不存在"
    SURVEY_RANGE_INVALID = "SURVEY_RANGE_INVALID", "结束日期不能早于开始日期（或评分上限低于下限），查询范围不超过…天"
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


class ConversationNotFound(NotFound):
    """Also for a conversation that exists but is not the viewer's: an id is no key to someone else's."""

    code = CareCode.CONVERSATION_NOT_FOUND
    default_message = "咨询不存在"


class ConversationClosed(Conflict):
    code = CareCode.CONVERSATION_CLOSED
    default_message = "该咨询已结束，如有新问题请发起新的咨询"


class ConversationOpenLimit(Conflict):
    code = CareCode.CONVERSATION_OPEN_LIMIT
    default_message = "进行中的咨询已达上限，请在已有咨询中继续留言"


class ConversationAssigneeInvalid(Conflict):
    code = CareCode.CONVERSATION_ASSIGNEE_INVALID
    default_message = "咨询只能指派给该院区在职的医生或健康管理师"


class CareAssigneeInvalid(Conflict):
    code = CareCode.CARE_ASSIGNEE_INVALID
    default_message = "负责医护需为该院区在职、具有相应角色的员工"


class CareAssignmentNotFound(NotFound):
    code = CareCode.CARE_ASSIGNMENT_NOT_FOUND
    default_message = "该患者没有此角色的负责医护"
