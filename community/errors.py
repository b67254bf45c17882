"""Stable error codes of the community domain."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotFound, PermissionDenied, RateLimited


class GroupNotFound(NotFound):
    code = "GROUP_NOT_FOUND"
    default_message = "社群不存在"


class SlugTaken(Conflict):
    code = "GROUP_SLUG_TAKEN"
    default_message = "社群标识已被使用"


class NotMember(PermissionDenied):
    code = "NOT_A_MEMBER"
    default_message = "加入社群后才能查看或参与"


class MemberMuted(PermissionDenied):
    code = "MEMBER_MUTED"
    default_message = "您已被禁言，暂时不能发言"


class MemberBanned(PermissionDenied):
    code = "MEMBER_BANNED"
    default_message = "您已被移出该社群"


class JoinNotAllowed(PermissionDenied):
    code = "JOIN_NOT_ALLOWED"
    default_message = "该社群仅限邀请加入"


class AlreadyMember(Conflict):
    code = "ALREADY_MEMBER"
    default_message = "您已是该社群成员或申请正在审核中"


class PostNotFound(NotFound):
    code = "POST_NOT_FOUND"
    default_message = "帖子不存在"


class CommentNotFound(NotFound):
    code = "COMMENT_NOT_FOUND"
    default_message = "评论不存在"


class PostLocked(DomainError):
    code = "POST_LOCKED"
    default_message = "该帖子已锁定，不能再评论"


class AnonymousNotAllowed(DomainError):
    code = "ANONYMOUS_NOT_ALLOWED"
    default_message = "该社群不允许匿名发帖"


class ContentBlocked(DomainError):
    code = "CONTENT_BLOCKED"
    default_message = "内容包含不允许发布的词语，请修改后再发"


class NewMemberLimit(RateLimited):
    code = "NEW_MEMBER_LIMIT"
    default_message = "新成员每天发帖和评论的数量有限，请明天再来"


class VersionConflict(Conflict):
    code = "VERSION_CONFLICT"
    default_message = "该条目已被其他版主处理，请刷新后查看"


# --- moderation


class ItemNotFound(NotFound):
    code = "MODERATION_ITEM_NOT_FOUND"
    default_message = "审核条目不存在"


class ItemClaimed(Conflict):
    code = "MODERATION_ITEM_CLAIMED"
    default_message = "该条目正由其他版主处理"


class AlreadyReported(Conflict):
    code = "ALREADY_REPORTED"
    default_message = "您已举报过该内容，我们会尽快处理"


class CannotReportOwn(DomainError):
    code = "CANNOT_REPORT_OWN"
    default_message = "不能举报自己发布的内容"


class RestrictNotAllowed(PermissionDenied):
    code = "RESTRICT_NOT_ALLOWED"
    default_message = "不能对该成员执行此操作"


class WordNotFound(NotFound):
    code = "WORD_NOT_FOUND"
    default_message = "词语不存在"
