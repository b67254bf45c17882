"""Stable error codes of the social domain (follows, blocks, profiles, mentions, notifications)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, ErrorCode, NotFound, PermissionDenied


class SocialCode(ErrorCode):
    """Error codes of social: the value is what clients switch on."""

    AVATAR_KEY_INVALID = (
        "AVATAR_KEY_INVALID",
        "头像需为已上传图片的存储路径（如 avatars/2026/a1.jpg，jpg/png/webp，不超过200个字符）",
    )
    BIO_CONTENT_BLOCKED = "BIO_CONTENT_BLOCKED", "个人简介包含不允许发布的词语（含广告或医疗宣传），请修改后再保存"
    BIO_LENGTH = "BIO_LENGTH", "个人简介不能超过300个字符，且不能包含控制字符"
    BLOCKED = "BLOCKED", "你们之间存在屏蔽关系，不能关注或回复对方"
    BLOCK_LIMIT = "BLOCK_LIMIT", "屏蔽的人数已达上限（1000人），请先解除部分屏蔽"
    BLOCK_SELF = "BLOCK_SELF", "不能屏蔽自己"
    FOLLOW_LIMIT = "FOLLOW_LIMIT", "关注的人数或话题数已达上限，请先取消部分关注"
    FOLLOW_NOT_ALLOWED = "FOLLOW_NOT_ALLOWED", "对方未开放关注（仅可关注医生、健康管理师和开放关注的病友）"
    FOLLOW_SELF = "FOLLOW_SELF", "不能关注自己"
    FOLLOW_TARGET_REQUIRED = "FOLLOW_TARGET_REQUIRED", "请指定要关注的人或话题（二选一）"
    MENTION_PREFIX_INVALID = "MENTION_PREFIX_INVALID", "昵称前缀最多20个字符，且不能包含控制字符"
    NOTIFICATION_NOT_FOUND = "NOTIFICATION_NOT_FOUND", "通知不存在"
    NOTIFICATION_PREFERENCE_LOCKED = (
        "NOTIFICATION_PREFERENCE_LOCKED",
        "社区审核结果的站内通知不能关闭（它说明了您的内容被如何处理）",
    )
    NOTIFICATION_PREFERENCES_INVALID = (
        "NOTIFICATION_PREFERENCES_INVALID",
        "请提交1到40项通知设置，同一类型和渠道只能出现一次",
    )
    PERSON_NOT_FOUND = "PERSON_NOT_FOUND", "用户不存在"
    SMS_NOT_FOR_SOCIAL = "SMS_NOT_FOR_SOCIAL", "社区通知不通过短信发送（可选择站内通知或微信订阅消息）"
    TAG_INVALID = "TAG_INVALID", "话题需为1到20个汉字、字母、数字或下划线"


class PersonNotFound(NotFound):
    code = SocialCode.PERSON_NOT_FOUND
    default_message = "用户不存在"


class FollowNotAllowed(PermissionDenied):
    code = SocialCode.FOLLOW_NOT_ALLOWED
    default_message = "对方未开放关注"


class FollowSelf(DomainError):
    code = SocialCode.FOLLOW_SELF
    default_message = "不能关注自己"


class FollowLimit(Conflict):
    code = SocialCode.FOLLOW_LIMIT
    default_message = "关注的人数或话题数已达上限，请先取消部分关注"


class FollowTargetRequired(DomainError):
    code = SocialCode.FOLLOW_TARGET_REQUIRED
    default_message = "请指定要关注的人或话题（二选一）"


class Blocked(PermissionDenied):
    code = SocialCode.BLOCKED
    default_message = "你们之间存在屏蔽关系，不能关注或回复对方"


class BlockSelf(DomainError):
    code = SocialCode.BLOCK_SELF
    default_message = "不能屏蔽自己"


class BlockLimit(Conflict):
    code = SocialCode.BLOCK_LIMIT
    default_message = "屏蔽的人数已达上限（1000人），请先解除部分屏蔽"


class TagInvalid(DomainError):
    code = SocialCode.TAG_INVALID
    default_message = "话题需为1到20个汉字、字母、数字或下划线"


class BioContentBlocked(DomainError):
    code = SocialCode.BIO_CONTENT_BLOCKED
    default_message = "个人简介包含不允许发布的词语，请修改后再保存"


class MentionPrefixInvalid(DomainError):
    code = SocialCode.MENTION_PREFIX_INVALID
    default_message = "昵称前缀最多20个字符，且不能包含控制字符"


class NotificationNotFound(NotFound):
    code = SocialCode.NOTIFICATION_NOT_FOUND
    default_message = "通知不存在"


class NotificationPreferenceLocked(DomainError):
    code = SocialCode.NOTIFICATION_PREFERENCE_LOCKED
    default_message = "社区审核结果的站内通知不能关闭"


class NotificationPreferencesInvalid(DomainError):
    code = SocialCode.NOTIFICATION_PREFERENCES_INVALID
    default_message = "请提交1到40项通知设置，同一类型和渠道只能出现一次"


class SmsNotForSocial(DomainError):
    code = SocialCode.SMS_NOT_FOR_SOCIAL
    default_message = "社区通知不通过短信发送"
