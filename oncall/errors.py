"""On-call errors: stable codes (clients switch on them), Chinese messages."""

from __future__ import annotations

import enum

from core.errors import DomainError, NotFound, PermissionDenied


class OncallErrorCode(enum.StrEnum):
    SHIFT_NOT_FOUND = "DUTY_SHIFT_NOT_FOUND"
    SHIFT_TIMES_INVALID = "DUTY_SHIFT_TIMES_INVALID"
    SHIFT_TOO_LONG = "DUTY_SHIFT_TOO_LONG"
    SHIFT_ENDED = "DUTY_SHIFT_ENDED"
    STAFF_INVALID = "DUTY_STAFF_INVALID"
    STAFF_LACKS_ROLE = "DUTY_STAFF_LACKS_ROLE"
    ROLE_INVALID = "DUTY_ROLE_INVALID"
    SITE_INVALID = "DUTY_SITE_INVALID"
    RANGE_INVALID = "DUTY_RANGE_INVALID"
    PAGE_NOT_FOUND = "PAGE_NOT_FOUND"
    NOT_PAGE_RECIPIENT = "NOT_PAGE_RECIPIENT"
    STAFF_ONLY = "ONCALL_STAFF_ONLY"


class ShiftNotFound(NotFound):
    code = OncallErrorCode.SHIFT_NOT_FOUND.value
    default_message = "值班记录不存在"


class PageNotFound(NotFound):
    code = OncallErrorCode.PAGE_NOT_FOUND.value
    default_message = "值班提醒不存在"


class NotPageRecipient(PermissionDenied):
    code = OncallErrorCode.NOT_PAGE_RECIPIENT.value
    default_message = "只有收到此提醒的值班人员或管理员可以确认"


class StaffOnly(PermissionDenied):
    """Patients never see the on-call desk (a patient is signed in, so this is not 'please sign in')."""

    code = OncallErrorCode.STAFF_ONLY.value
    default_message = "值班功能仅限医院工作人员使用"


class RangeInvalid(DomainError):
    code = OncallErrorCode.RANGE_INVALID.value
    default_message = "查询时间范围无效"
