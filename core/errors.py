"""Domain errors: expected failures with a stable code and a Chinese message for the user.

The API turns them into payload `errors: [UserError!]!`; anything else is unexpected and masked.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ErrorCode(enum.StrEnum):
    """A stable error code. The value is what clients switch on (the same as the name); the description
    says what it means (the message users get, or its gist). One enum per domain in its errors module,
    core's CoreCode for the generic codes and those several domains share; every code has one spelling
    and one home (tests/test_error_codes.py)."""

    description: str

    def __new__(cls, value: str, description: str = "") -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member


class CoreCode(ErrorCode):
    """Error codes of every domain (generic and shared): the value is what clients switch on."""

    BODY_LENGTH = "BODY_LENGTH", "正文需为1到10000个字符"
    CATEGORY_INVALID = "CATEGORY_INVALID", "类别无效"
    CONDITION_UNKNOWN = "CONDITION_UNKNOWN", "未知的病种：…"
    CONFLICT = "CONFLICT", "操作冲突，请刷新后重试"
    CURSOR_INVALID = "CURSOR_INVALID", "分页游标无效"
    DELEGATION_NOT_ALLOWED = "DELEGATION_NOT_ALLOWED", "代家人操作时不能使用此功能，请切换回本人账号"
    DELEGATION_SCOPE_MISSING = "DELEGATION_SCOPE_MISSING", "您未获得代其办理此事项的授权（查看/预约/兑换/社区）"
    DESCRIPTION_LENGTH = "DESCRIPTION_LENGTH", "简介不能超过5000个字符"
    EVENT_NOT_FOUND = "EVENT_NOT_FOUND", "活动不存在"
    GENDER_INVALID = "GENDER_INVALID", "性别取值无效"
    GROUP_NOT_FOUND = "GROUP_NOT_FOUND", "社群不存在"
    ID_INVALID = "ID_INVALID", "编号无效（格式不对或不是该类对象的编号）"
    INVALID = "INVALID", "请求无效"
    INVALID_INPUT = "INVALID_INPUT", "输入有误"
    NAME_LENGTH = "NAME_LENGTH", "姓名需为1到50个字符"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED", "请先登录"
    NOT_FOUND = "NOT_FOUND", "记录不存在"
    PAGE_SIZE_INVALID = "PAGE_SIZE_INVALID", "每页数量需在1到100之间"
    PATIENT_NOT_FOUND = "PATIENT_NOT_FOUND", "患者不存在"
    PATIENT_REQUIRED = "PATIENT_REQUIRED", "请指定签到的患者"
    PERMISSION_DENIED = "PERMISSION_DENIED", "您没有权限执行此操作"
    RATE_LIMITED = "RATE_LIMITED", "操作过于频繁，请稍后再试"
    REASON_REQUIRED = "REASON_REQUIRED", "请填写处理理由"
    SITE_NOT_FOUND = "SITE_NOT_FOUND", "院区不存在"
    TIER_UNKNOWN = "TIER_UNKNOWN", "会员等级不存在"
    TOO_MANY_IDS = "TOO_MANY_IDS", "一次最多查询100个对象"


@dataclass(frozen=True)
class FieldIssue:
    code: str
    message: str
    field: str | None = None


class DomainError(Exception):
    """An expected failure. `issues` holds one entry per problem (several for validation)."""

    code: str = CoreCode.INVALID  # an ErrorCode member; str until api/ passes only members too
    default_message = "请求无效"
    # True when the unit of work must still commit what was written before the error was raised.
    keep_changes = False

    def __init__(self, message: str | None = None, *, field: str | None = None, code: str | None = None):
        self.message = message or self.default_message
        self.field = field
        if code:
            self.code = code
        super().__init__(self.message)

    @property
    def issues(self) -> list[FieldIssue]:
        return [FieldIssue(code=self.code, message=self.message, field=self.field)]


class ValidationFailed(DomainError):
    code: str = CoreCode.INVALID_INPUT
    default_message = "输入有误"

    def __init__(self, issues: list[FieldIssue]):
        super().__init__(issues[0].message if issues else None, field=issues[0].field if issues else None)
        self._issues = issues

    @property
    def issues(self) -> list[FieldIssue]:
        return list(self._issues)


class NotAuthenticated(DomainError):
    code: str = CoreCode.NOT_AUTHENTICATED
    default_message = "请先登录"


class PermissionDenied(DomainError):
    code: str = CoreCode.PERMISSION_DENIED
    default_message = "您没有权限执行此操作"


SCOPE_LABELS_ZH = {"view": "查看", "book": "活动报名", "redeem": "积分兑换", "community": "社区发言"}


class DelegationScopeMissing(PermissionDenied):
    """A guardian acting for a dependent without the delegation scope this needs (core.identity)."""

    code: str = CoreCode.DELEGATION_SCOPE_MISSING
    default_message = "您未获得代其办理此事项的授权"

    def __init__(self, scope: str) -> None:
        super().__init__(f"您未获得代其{SCOPE_LABELS_ZH.get(scope, scope)}的授权")
        self.scope = scope


class NotFound(DomainError):
    code: str = CoreCode.NOT_FOUND
    default_message = "记录不存在"


class Conflict(DomainError):
    code: str = CoreCode.CONFLICT
    default_message = "操作冲突，请刷新后重试"


class RateLimited(DomainError):
    code: str = CoreCode.RATE_LIMITED
    default_message = "操作过于频繁，请稍后再试"


class Validator:
    """Collects every problem of an input so the user sees them all at once."""

    def __init__(self) -> None:
        self.issues: list[FieldIssue] = []

    def add(self, field: str, code: str, message: str) -> None:
        self.issues.append(FieldIssue(code=code, message=message, field=field))

    def check(self, ok: bool, field: str, code: str, message: str) -> None:
        if not ok:
            self.add(field, code, message)

    def raise_if_any(self) -> None:
        if self.issues:
            raise ValidationFailed(self.issues)
