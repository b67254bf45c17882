"""Stable error codes of the messaging domain."""

from __future__ import annotations

from core.errors import DomainError, NotFound


class InboxMessageNotFound(NotFound):
    code = "INBOX_MESSAGE_NOT_FOUND"
    default_message = "消息不存在"


class NoLink(NotFound):
    code = "INBOX_MESSAGE_NO_LINK"
    default_message = "该消息没有链接"


class WechatNotConfigured(DomainError):
    code = "WECHAT_NOT_CONFIGURED"
    default_message = "暂未开通微信消息服务"


class WechatCodeInvalid(DomainError):
    code = "WECHAT_CODE_INVALID"
    default_message = "微信登录凭证无效或已过期，请重新打开小程序后再试"


class WechatUnavailable(DomainError):
    code = "WECHAT_UNAVAILABLE"
    default_message = "微信服务暂时不可用，请稍后再试"


class WechatTemplateUnknown(DomainError):
    code = "WECHAT_TEMPLATE_UNKNOWN"
    default_message = "未知的订阅消息模板"


class WechatNotBound(NotFound):
    code = "WECHAT_NOT_BOUND"
    default_message = "尚未绑定微信"
