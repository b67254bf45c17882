"""Stable error codes of the identity domain (clients switch on `code`, people read `message`)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, NotAuthenticated, RateLimited


class InvalidPhone(DomainError):
    code = "PHONE_INVALID"
    default_message = "请输入正确的中国大陆手机号"


class CodeTooFrequent(RateLimited):
    code = "OTP_TOO_FREQUENT"
    default_message = "验证码发送过于频繁，请1分钟后再试"


class CodeDailyLimit(RateLimited):
    code = "OTP_DAILY_LIMIT"
    default_message = "今日验证码次数已用完，请明天再试"


class CodeInvalid(DomainError):
    code = "OTP_INVALID"
    default_message = "验证码错误"
    keep_changes = True  # the wrong try is counted


class CodeExpired(DomainError):
    code = "OTP_EXPIRED"
    default_message = "验证码已失效，请重新获取"


class CodeTooManyAttempts(DomainError):
    code = "OTP_TOO_MANY_ATTEMPTS"
    default_message = "验证码错误次数过多，请重新获取"
    keep_changes = True


class InvalidCredentials(DomainError):
    code = "INVALID_CREDENTIALS"
    default_message = "邮箱或密码错误"


class SignInThrottled(RateLimited):
    """Too many failed staff sign-ins from this address (for this e-mail, or overall).

    The same answer whether the account exists or not, and only for the address that failed:
    nobody can lock an administrator out from elsewhere, or learn which e-mails are staff.
    """

    code = "SIGN_IN_THROTTLED"
    default_message = "登录失败次数过多，请稍后再试"


class ClientTooFrequent(RateLimited):
    code = "OTP_CLIENT_LIMIT"
    default_message = "当前网络请求验证码过于频繁，请稍后再试"


class ServiceBusy(RateLimited):
    code = "OTP_SERVICE_BUSY"
    default_message = "验证码发送繁忙，请稍后再试"


class RefreshInvalid(NotAuthenticated):
    code = "REFRESH_TOKEN_INVALID"
    default_message = "登录状态已失效，请重新登录"


class StaffInactive(RefreshInvalid):
    keep_changes = True  # the session is revoked even though the request fails


class RefreshReused(NotAuthenticated):
    code = "REFRESH_TOKEN_REUSED"
    default_message = "检测到登录凭证被重复使用，为保护账号安全已退出全部相关登录，请重新登录"
    keep_changes = True  # the family is revoked even though the request fails


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    default_message = "该邮箱已被使用"


class SiteCodeTaken(Conflict):
    code = "SITE_CODE_TAKEN"
    default_message = "院区编码已存在"


class CannotDisableSelf(DomainError):
    code = "STAFF_CANNOT_DISABLE_SELF"
    default_message = "不能停用自己的账号"
