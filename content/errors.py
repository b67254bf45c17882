"""Content errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, DomainError, ErrorCode, NotFound, PermissionDenied


class ContentCode(ErrorCode):
    """Error codes of content: the value is what clients switch on."""

    CONTENT_BODY_TOO_LONG = "CONTENT_BODY_TOO_LONG", "正文不能超过50000个字符"
    CONTENT_COMMENT_REQUIRED = "CONTENT_COMMENT_REQUIRED", "驳回时请填写审核意见"
    CONTENT_COMPLIANCE_BLOCKED = "CONTENT_COMPLIANCE_BLOCKED", "内容存在违规表述，不能通过审核"
    CONTENT_GATE_INVALID = "CONTENT_GATE_INVALID", "访问限制无效"
    CONTENT_GATE_TIER_REQUIRED = "CONTENT_GATE_TIER_REQUIRED", "按等级限制访问时需指定最低会员等级"
    CONTENT_INVALID_TRANSITION = "CONTENT_INVALID_TRANSITION", "当前状态不允许此操作"
    CONTENT_KIND_INVALID = "CONTENT_KIND_INVALID", "内容类型无效"
    CONTENT_LANGUAGE_INVALID = "CONTENT_LANGUAGE_INVALID", "语言代码无效"
    CONTENT_NOT_FOUND = "CONTENT_NOT_FOUND", "内容不存在"
    CONTENT_NOT_STORY_SUBJECT = "CONTENT_NOT_STORY_SUBJECT", "只有故事的当事患者可以授权或撤回"
    CONTENT_SELF_APPROVAL = "CONTENT_SELF_APPROVAL", "不能审核自己撰写的内容"
    CONTENT_STORY_CONSENT_MISSING = "CONTENT_STORY_CONSENT_MISSING", "患者故事需要当事患者的授权同意"
    CONTENT_SUMMARY_TOO_LONG = "CONTENT_SUMMARY_TOO_LONG", "摘要不能超过500个字符"
    CONTENT_TERM_EXISTS = "CONTENT_TERM_EXISTS", "该词条已存在"
    CONTENT_TITLE_INVALID = "CONTENT_TITLE_INVALID", "标题长度需在1到120个字符之间"
    CONTENT_TOPICS_INVALID = "CONTENT_TOPICS_INVALID", "话题最多10个，每个不超过30个字符"
    CONTENT_URL_INVALID = "CONTENT_URL_INVALID", "封面地址需为 http(s) 链接"
    CONTENT_VIDEO_URL_REQUIRED = "CONTENT_VIDEO_URL_REQUIRED", "视频内容需填写视频地址"
    CONTENT_WARNINGS_NOT_ACKNOWLEDGED = "CONTENT_WARNINGS_NOT_ACKNOWLEDGED", "请逐条确认合规提醒后再通过审核"
    SEARCH_QUERY_INVALID = "SEARCH_QUERY_INVALID", "搜索词长度需在1到…个字符之间"
    STAGE_UNKNOWN = "STAGE_UNKNOWN", "生命周期阶段不存在"
    TERM_CATEGORY_INVALID = "TERM_CATEGORY_INVALID", "类别无效"
    TERM_CONTEXTS_INVALID = "TERM_CONTEXTS_INVALID", "例外语境最多20个，每个1到60个字符"
    TERM_INVALID = "TERM_INVALID", "词条长度需在1到200个字符之间"
    TERM_MATCH_INVALID = "TERM_MATCH_INVALID", "匹配方式无效"
    TERM_NOTE_TOO_LONG = "TERM_NOTE_TOO_LONG", "说明不能超过200个字符"
    TERM_REGEX_INVALID = "TERM_REGEX_INVALID", "正则表达式无效"
    TERM_SEVERITY_INVALID = "TERM_SEVERITY_INVALID", "严重程度无效"


class ItemNotFound(NotFound):
    code = ContentCode.CONTENT_NOT_FOUND
    default_message = "内容不存在"


class InvalidTransition(Conflict):
    code = ContentCode.CONTENT_INVALID_TRANSITION
    default_message = "当前状态不允许此操作"


class SelfApproval(PermissionDenied):
    code = ContentCode.CONTENT_SELF_APPROVAL
    default_message = "不能审核自己撰写的内容"


class ComplianceBlocked(DomainError):
    code = ContentCode.CONTENT_COMPLIANCE_BLOCKED
    default_message = "内容存在违规表述，不能通过审核"


class WarningsNotAcknowledged(DomainError):
    code = ContentCode.CONTENT_WARNINGS_NOT_ACKNOWLEDGED
    default_message = "请逐条确认合规提醒后再通过审核"


class ConsentMissing(DomainError):
    code = ContentCode.CONTENT_STORY_CONSENT_MISSING
    default_message = "患者故事需要当事患者的授权同意"


class NotStorySubject(PermissionDenied):
    code = ContentCode.CONTENT_NOT_STORY_SUBJECT
    default_message = "只有故事的当事患者可以授权或撤回"


class TermExists(Conflict):
    code = ContentCode.CONTENT_TERM_EXISTS
    default_message = "该词条已存在"
