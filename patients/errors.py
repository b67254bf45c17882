"""Stable error codes of the identity domain (clients switch on `code`, people read `message`)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, ErrorCode, NotAuthenticated, NotFound, PermissionDenied, RateLimited


class PatientsCode(ErrorCode):
    """Error codes of patients: the value is what clients switch on."""

    ACCESS_TOKEN_INVALID = "ACCESS_TOKEN_INVALID", "访问令牌无效或已过期"
    ACCESS_TOKEN_REVOKED = "ACCESS_TOKEN_REVOKED", "登录已退出，请重新登录"
    ACT_FOR_INVALID = "ACT_FOR_INVALID", "代办对象编号无效（X-Act-For 需为患者的全局编号）"
    BIRTH_DATE_INVALID = "BIRTH_DATE_INVALID", "出生日期无效"
    BIRTH_DATE_LOCKED = "BIRTH_DATE_LOCKED", "未成年人的出生日期需由工作人员核实证件后修改"
    BIRTH_YEAR_INVALID = "BIRTH_YEAR_INVALID", "出生年份需在1900到…之间"
    CONDITION_TOO_MANY = "CONDITION_TOO_MANY", "最多选择10个病种"
    CONSENT_CHANNEL_INVALID = "CONSENT_CHANNEL_INVALID", "渠道无效"
    CONSENT_EMPTY = "CONSENT_EMPTY", "请至少提交一项授权设置"
    CONSENT_PURPOSE_INVALID = "CONSENT_PURPOSE_INVALID", "用途无效"
    CONSENT_NOTE_LENGTH = "CONSENT_NOTE_LENGTH", "授权来源备注不能超过…个字符"
    CONSENT_NOTICE_BODY_LENGTH = "CONSENT_NOTICE_BODY_LENGTH", "授权说明正文需为1到…个字符"
    CONSENT_NOTICE_CHANGED_NOT_COVERED = (
        "CONSENT_NOTICE_CHANGED_NOT_COVERED",
        "变更的用途须在本版授权说明的适用范围内",
    )
    CONSENT_NOTICE_OUTDATED = "CONSENT_NOTICE_OUTDATED", "授权说明已更新，请阅读最新版本后再授权"
    CONSENT_NOTICE_PURPOSES_EMPTY = "CONSENT_NOTICE_PURPOSES_EMPTY", "请选择本版授权说明适用的用途"
    CONSENT_NOTICE_TITLE_LENGTH = "CONSENT_NOTICE_TITLE_LENGTH", "授权说明标题需为1到…个字符"
    CONSENT_NOTICE_UNKNOWN = "CONSENT_NOTICE_UNKNOWN", "授权说明版本不存在"
    CONSENT_NOTICE_WRONG_PURPOSE = "CONSENT_NOTICE_WRONG_PURPOSE", "该版授权说明不适用于此用途"
    CONSENT_SOURCE_INVALID = "CONSENT_SOURCE_INVALID", "授权来源无效，或不适用于当前账号"
    CONSENT_TOO_MANY = "CONSENT_TOO_MANY", "一次最多提交…项授权设置"
    DELEGATION_INACTIVE = "DELEGATION_INACTIVE", "您没有代此人办理事项的有效授权，或授权已被撤销"
    DEPENDENT_NOT_FOUND = "DEPENDENT_NOT_FOUND", "未找到使用该手机号的患者账号"
    DEPENDENT_NOT_MINOR = (
        "DEPENDENT_NOT_MINOR",
        "只能为未满18周岁的未成年人开通账号；成年家属请用其本人账号确认代办申请",
    )
    DEPENDENT_PHONE_TAKEN = "DEPENDENT_PHONE_TAKEN", "该手机号已注册，请改为向其发起代办申请"
    EMAIL_INVALID = "EMAIL_INVALID", "请输入正确的电子邮箱地址"
    EMAIL_TAKEN = "EMAIL_TAKEN", "该邮箱已被使用"
    GUARDIANSHIP_EVIDENCE_REQUIRED = "GUARDIANSHIP_EVIDENCE_REQUIRED", "请填写已核验的证明材料（2到200个字符）"
    GUARDIANSHIP_EXISTS = "GUARDIANSHIP_EXISTS", "双方之间已有待确认或生效中的代办授权"
    GUARDIANSHIP_LIMIT = "GUARDIANSHIP_LIMIT", "代办授权数量已达上限（每人最多代办…人、被…人代办）"
    GUARDIANSHIP_NOT_FOUND = "GUARDIANSHIP_NOT_FOUND", "代办授权不存在"
    GUARDIANSHIP_NOT_PENDING = "GUARDIANSHIP_NOT_PENDING", "该代办申请已处理（已生效或已撤销）"
    GUARDIANSHIP_REASON_LENGTH = "GUARDIANSHIP_REASON_LENGTH", "理由不能超过200个字符"
    GUARDIANSHIP_REQUEST_LIMIT = "GUARDIANSHIP_REQUEST_LIMIT", "代办申请过于频繁，请稍后再试"
    GUARDIANSHIP_SCOPES_INVALID = (
        "GUARDIANSHIP_SCOPES_INVALID",
        "请至少选择一项授权范围（查看、活动报名、积分兑换、社区发言）",
    )
    GUARDIANSHIP_SELF = "GUARDIANSHIP_SELF", "不能为自己设置代办人"
    GUARDIAN_MINOR = "GUARDIAN_MINOR", "未成年人不能作为监护人或代办人"
    GUARDIAN_RELATION_INVALID = "GUARDIAN_RELATION_INVALID", "关系无效（子女、父母、配偶或其他）"
    GUARDIAN_REQUIRED = "GUARDIAN_REQUIRED", "请指定监护人"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS", "邮箱或密码错误"
    MINOR_POSTING_DISABLED = (
        "MINOR_POSTING_DISABLED",
        "未成年人账号默认不能在社区发帖或评论，可由获得授权的监护人代为发布",
    )
    NICKNAME_LENGTH = "NICKNAME_LENGTH", "昵称需为2到20个字符"
    OTP_CLIENT_LIMIT = "OTP_CLIENT_LIMIT", "当前网络请求验证码过于频繁，请稍后再试"
    OTP_DAILY_LIMIT = "OTP_DAILY_LIMIT", "今日验证码次数已用完，请明天再试"
    OTP_EXPIRED = "OTP_EXPIRED", "验证码已失效，请重新获取"
    OTP_INVALID = "OTP_INVALID", "验证码错误"
    OTP_SERVICE_BUSY = "OTP_SERVICE_BUSY", "验证码发送繁忙，请稍后再试"
    OTP_TOO_FREQUENT = "OTP_TOO_FREQUENT", "验证码发送过于频繁，请1分钟后再试"
    OTP_TOO_MANY_ATTEMPTS = "OTP_TOO_MANY_ATTEMPTS", "验证码错误次数过多，请重新获取"
    PASSWORD_TOO_LONG = "PASSWORD_TOO_LONG", "密码不能超过…位"
    PASSWORD_TOO_SHORT = "PASSWORD_TOO_SHORT", "密码至少10位"
    PHONE_INVALID = "PHONE_INVALID", "请输入正确的中国大陆手机号"
    REAL_NAME_LENGTH = "REAL_NAME_LENGTH", "姓名不能超过50个字符"
    REFRESH_TOKEN_INVALID = "REFRESH_TOKEN_INVALID", "登录状态已失效，请重新登录"
    REFRESH_TOKEN_REUSED = (
        "REFRESH_TOKEN_REUSED",
        "检测到登录凭证被重复使用，为保护账号安全已退出全部相关登录，请重新登录",
    )
    ROLES_EMPTY = "ROLES_EMPTY", "请至少选择一个角色"
    ROLE_UNKNOWN = "ROLE_UNKNOWN", "未知角色：…"
    SIGN_IN_THROTTLED = "SIGN_IN_THROTTLED", "登录失败次数过多，请稍后再试"
    SITE_CODE_INVALID = "SITE_CODE_INVALID", "院区编码需为1到32位字母或数字"
    SITE_CODE_TAKEN = "SITE_CODE_TAKEN", "院区编码已存在"
    SITE_KIND_INVALID = "SITE_KIND_INVALID", "类型需为院区(campus)或门诊部(clinic)"
    STAFF_CANNOT_DISABLE_SELF = "STAFF_CANNOT_DISABLE_SELF", "不能停用自己的账号"
    TIMEZONE_INVALID = "TIMEZONE_INVALID", "时区无效，例如 Asia/Shanghai"


class InvalidPhone(DomainError):
    code = PatientsCode.PHONE_INVALID
    default_message = "请输入正确的中国大陆手机号"


class CodeTooFrequent(RateLimited):
    code = PatientsCode.OTP_TOO_FREQUENT
    default_message = "验证码发送过于频繁，请1分钟后再试"


class CodeDailyLimit(RateLimited):
    code = PatientsCode.OTP_DAILY_LIMIT
    default_message = "今日验证码次数已用完，请明天再试"


class CodeInvalid(DomainError):
    code = PatientsCode.OTP_INVALID
    default_message = "验证码错误"
    keep_changes = True  # the wrong try is counted


class CodeExpired(DomainError):
    code = PatientsCode.OTP_EXPIRED
    default_message = "验证码已失效，请重新获取"


class CodeTooManyAttempts(DomainError):
    code = PatientsCode.OTP_TOO_MANY_ATTEMPTS
    default_message = "验证码错误次数过多，请重新获取"
    keep_changes = True


class InvalidCredentials(DomainError):
    code = PatientsCode.INVALID_CREDENTIALS
    default_message = "邮箱或密码错误"


class SignInThrottled(RateLimited):
    """Too many failed staff sign-ins from this address (for this e-mail, or overall).

    The same answer whether the account exists or not, and only for the address that failed:
    nobody can lock an administrator out from elsewhere, or learn which e-mails are staff.
    """

    code = PatientsCode.SIGN_IN_THROTTLED
    default_message = "登录失败次数过多，请稍后再试"


class ClientTooFrequent(RateLimited):
    code = PatientsCode.OTP_CLIENT_LIMIT
    default_message = "当前网络请求验证码过于频繁，请稍后再试"


class ServiceBusy(RateLimited):
    code = PatientsCode.OTP_SERVICE_BUSY
    default_message = "验证码发送繁忙，请稍后再试"


class RefreshInvalid(NotAuthenticated):
    code = PatientsCode.REFRESH_TOKEN_INVALID
    default_message = "登录状态已失效，请重新登录"


class StaffInactive(RefreshInvalid):
    keep_changes = True  # the session is revoked even though the request fails


class RefreshReused(NotAuthenticated):
    code = PatientsCode.REFRESH_TOKEN_REUSED
    default_message = "检测到登录凭证被重复使用，为保护账号安全已退出全部相关登录，请重新登录"
    keep_changes = True  # the family is revoked even though the request fails


class EmailTaken(Conflict):
    code = PatientsCode.EMAIL_TAKEN
    default_message = "该邮箱已被使用"


class SiteCodeTaken(Conflict):
    code = PatientsCode.SITE_CODE_TAKEN
    default_message = "院区编码已存在"


class CannotDisableSelf(DomainError):
    code = PatientsCode.STAFF_CANNOT_DISABLE_SELF
    default_message = "不能停用自己的账号"


class MinorPostingDisabled(PermissionDenied):
    """A minor writing in the community themselves (patients/guardians.py check_posting)."""

    code = PatientsCode.MINOR_POSTING_DISABLED
    default_message = "未成年人账号默认不能在社区发帖或评论，可由获得授权的监护人代为发布"


class DelegationInactive(PermissionDenied):
    """X-Act-For names someone the signed-in patient holds no active delegation for (or it was revoked)."""

    code = PatientsCode.DELEGATION_INACTIVE
    default_message = "您没有代此人办理事项的有效授权，或授权已被撤销"


class GuardianshipNotFound(NotFound):
    code = PatientsCode.GUARDIANSHIP_NOT_FOUND
    default_message = "代办授权不存在"
