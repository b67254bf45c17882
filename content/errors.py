"""Content errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, PermissionDenied


class ItemNotFound(NotFound):
    code = "CONTENT_NOT_FOUND"
    default_message = "内容不存在"


class InvalidTransition(Conflict):
    code = "CONTENT_INVALID_TRANSITION"
    default_message = "当前状态不允许此操作"


class SelfApproval(PermissionDenied):
    code = "CONTENT_SELF_APPROVAL"
    default_message = "不能审核自己撰写的内容"


class ComplianceBlocked(DomainError):
    code = "CONTENT_COMPLIANCE_BLOCKED"
    default_message = "内容存在违规表述，不能通过审核"


class WarningsNotAcknowledged(DomainError):
    code = "CONTENT_WARNINGS_NOT_ACKNOWLEDGED"
    default_message = "请逐条确认合规提醒后再通过审核"


class ConsentMissing(DomainError):
    code = "CONTENT_STORY_CONSENT_MISSING"
    default_message = "患者故事需要当事患者的授权同意"


class NotStorySubject(PermissionDenied):
    code = "CONTENT_NOT_STORY_SUBJECT"
    default_message = "只有故事的当事患者可以授权或撤回"


class TermExists(Conflict):
    code = "CONTENT_TERM_EXISTS"
    default_message = "该词条已存在"
