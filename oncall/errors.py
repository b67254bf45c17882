"""On-call errors: stable codes (clients switch on them), Chinese messages."""

from __future__ import annotations

from core.errors import DomainError, ErrorCode, NotFound, PermissionDenied


class OncallCode(ErrorCode):
    """Error codes of oncall: the value is what clients switch on."""

    DUTY_SHIFT_NOT_FOUND = "DUTY_SHIFT_NOT_FOUND", "值班记录不存在"
    DUTY_SHIFT_TIMES_INVALID = "DUTY_SHIFT_TIMES_INVALID", "结束时间需晚于开始时间"
    DUTY_SHIFT_TOO_LONG = "DUTY_SHIFT_TOO_LONG", "单次值班过长"
    DUTY_SHIFT_ENDED = "DUTY_SHIFT_ENDED", "不能安排已经结束的值班"
    DUTY_STAFF_INVALID = "DUTY_STAFF_INVALID", "员工不存在或已停用"
    DUTY_STAFF_LACKS_ROLE = "DUTY_STAFF_LACKS_ROLE", "该员工没有此值班角色"
    DUTY_ROLE_INVALID = "DUTY_ROLE_INVALID", "值班角色无效"
    DUTY_SITE_INVALID = "DUTY_SITE_INVALID", "院区不存在或已停用"
    DUTY_RANGE_INVALID = "DUTY_RANGE_INVALID", "查询时间范围无效"
    PAGE_NOT_FOUND = "PAGE_NOT_FOUND", "值班提醒不存在"
    NOT_PAGE_RECIPIENT = "NOT_PAGE_RECIPIENT", "只有收到此提醒的值班人员或管理员可以确认"
    ONCALL_STAFF_ONLY = "ONCALL_STAFF_ONLY", "值班功能仅限医院工作人员使用"


class ShiftNotFound(NotFound):
    code = OncallCode.DUTY_SHIFT_NOT_FOUND
    default_message = "值班记录不存在"


class PageNotFound(NotFound):
    code = OncallCode.PAGE_NOT_FOUND
    default_message = "值班提醒不存在"


class NotPageRecipient(PermissionDenied):
    code = OncallCode.NOT_PAGE_RECIPIENT
    default_message = "只有收到此提醒的值班人员或管理员可以确认"


class StaffOnly(PermissionDenied):
    """Patients never see the on-call desk (a patient is signed in, so this is not 'please sign in')."""

    code = OncallCode.ONCALL_STAFF_ONLY
    default_message = "值班功能仅限医院工作人员使用"


class RangeInvalid(DomainError):
    code = OncallCode.DUTY_RANGE_INVALID
    default_message = "查询时间范围无效"
