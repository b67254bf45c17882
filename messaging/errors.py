"""Stable error codes of the messaging domain."""

from __future__ import annotations

from core.errors import DomainError, ErrorCode, NotFound


class MessagingCode(ErrorCode):
    """Error codes of messaging: the value is what clients switch on."""

    INBOX_MESSAGE_NOT_FOUND = "INBOX_MESSAGE_NOT_FOUND", "消息不存在"
    INBOX_MESSAGE_NO_LINK = "INBOX_MESSAGE_NO_LINK", "该消息没有链接"
    TEMPLATE_CONDITION_NAME = "TEMPLATE_CONDITION_NAME", "短信和微信消息会显示在锁屏上，不得出现病种或诊断名称"
    TEMPLATE_MISSING_VARIABLE = "TEMPLATE_MISSING_VARIABLE", "模板缺少必填的变量"
    TEMPLATE_UNKNOWN_VARIABLE = "TEMPLATE_UNKNOWN_VARIABLE", "模板中有未知的变量"
    WECHAT_CODE_INVALID = "WECHAT_CODE_INVALID", "微信登录凭证无效或已过期，请重新打开小程序后再试"
    WECHAT_NOT_BOUND = "WECHAT_NOT_BOUND", "尚未绑定微信"
    WECHAT_NOT_CONFIGURED = "WECHAT_NOT_CONFIGURED", "暂未开通微信消息服务"
    WECHAT_TEMPLATES_EMPTY = "WECHAT_TEMPLATES_EMPTY", "请至少提交一个订阅消息模板"
    WECHAT_TEMPLATES_TOO_MANY = "WECHAT_TEMPLATES_TOO_MANY", "一次最多提交…个模板"
    WECHAT_TEMPLATE_UNKNOWN = "WECHAT_TEMPLATE_UNKNOWN", "未知的订阅消息模板"
    WECHAT_UNAVAILABLE = "WECHAT_UNAVAILABLE", "微信服务暂时不可用，请稍后再试"


class InboxMessageNotFound(NotFound):
    code = MessagingCode.INBOX_MESSAGE_NOT_FOUND
    default_message = "消息不存在"


class NoLink(NotFound):
    code = MessagingCode.INBOX_MESSAGE_NO_LINK
    default_message = "该消息没有链接"


class WechatNotConfigured(DomainError):
    code = MessagingCode.WECHAT_NOT_CONFIGURED
    default_message = "暂未开通微信消息服务"


class WechatCodeInvalid(DomainError):
    code = MessagingCode.WECHAT_CODE_INVALID
    default_message = "微信登录凭证无效或已过期，请重新打开小程序后再试"


class WechatUnavailable(DomainError):
    code = MessagingCode.WECHAT_UNAVAILABLE
    default_message = "微信服务暂时不可用，请稍后再试"


class WechatTemplateUnknown(DomainError):
    code = MessagingCode.WECHAT_TEMPLATE_UNKNOWN
    default_message = "未知的订阅消息模板"


class WechatNotBound(NotFound):
    code = MessagingCode.WECHAT_NOT_BOUND
    default_message = "尚未绑定微信"
