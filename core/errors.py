"""Domain errors: expected failures with a stable code and a Chinese message for the user.

The API turns them into payload `errors: [UserError!]!`; anything else is unexpected and masked.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldIssue:
    code: str
    message: str
    field: str | None = None


class DomainError(Exception):
    """An expected failure. `issues` holds one entry per problem (several for validation)."""

    code = "INVALID"
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
    code = "INVALID_INPUT"
    default_message = "输入有误"

    def __init__(self, issues: list[FieldIssue]):
        super().__init__(issues[0].message if issues else None, field=issues[0].field if issues else None)
        self._issues = issues

    @property
    def issues(self) -> list[FieldIssue]:
        return list(self._issues)


class NotAuthenticated(DomainError):
    code = "NOT_AUTHENTICATED"
    default_message = "请先登录"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"
    default_message = "您没有权限执行此操作"


class NotFound(DomainError):
    code = "NOT_FOUND"
    default_message = "记录不存在"


class Conflict(DomainError):
    code = "CONFLICT"
    default_message = "操作冲突，请刷新后重试"


class RateLimited(DomainError):
    code = "RATE_LIMITED"
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
