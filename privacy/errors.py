"""Privacy errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import Conflict, DomainError, ErrorCode, FieldIssue, NotFound, RateLimited, ValidationFailed


class PrivacyCode(ErrorCode):
    """Error codes of privacy: the value is what clients switch on."""

    PHI_READ_RANGE_INVALID = "PHI_READ_RANGE_INVALID", "开始时间不能晚于结束时间"
    DATA_EXPORT_RUNNING = "DATA_EXPORT_RUNNING", "已有一份个人数据副本正在生成，完成后会通过站内消息通知您"
    DATA_EXPORT_TOO_FREQUENT = "DATA_EXPORT_TOO_FREQUENT", "个人数据副本每24小时只能申请一次"
    DATA_EXPORT_NOT_FOUND = "DATA_EXPORT_NOT_FOUND", "数据副本不存在"
    DATA_EXPORT_NOT_READY = "DATA_EXPORT_NOT_READY", "数据副本尚未生成完成"
    DATA_EXPORT_EXPIRED = "DATA_EXPORT_EXPIRED", "数据副本已过期，请重新申请"
    ERASURE_ALREADY_REQUESTED = "ERASURE_ALREADY_REQUESTED", "您已提交注销申请，可在执行前撤回"
    ERASURE_NOT_FOUND = "ERASURE_NOT_FOUND", "注销申请不存在"
    ERASURE_NOT_CANCELLABLE = "ERASURE_NOT_CANCELLABLE", "注销已开始执行或已结束，无法撤回"
    ERASURE_NOT_RUNNABLE = "ERASURE_NOT_RUNNABLE", "该注销申请已撤回或已完成，不能执行"


class ReadRangeInvalid(ValidationFailed):
    """`since` after `until`: the same code as a payload error and as the GraphQL error of a query."""

    code = PrivacyCode.PHI_READ_RANGE_INVALID

    def __init__(self) -> None:
        super().__init__([FieldIssue(code=self.code, message="开始时间不能晚于结束时间", field="since")])


class ExportRunning(Conflict):
    code = PrivacyCode.DATA_EXPORT_RUNNING
    default_message = "已有一份个人数据副本正在生成，完成后会通过站内消息通知您"


class ExportTooFrequent(RateLimited):
    code = PrivacyCode.DATA_EXPORT_TOO_FREQUENT
    default_message = "个人数据副本每24小时只能申请一次"


class ExportNotFound(NotFound):
    code = PrivacyCode.DATA_EXPORT_NOT_FOUND
    default_message = "数据副本不存在"


class ExportNotReady(Conflict):
    code = PrivacyCode.DATA_EXPORT_NOT_READY
    default_message = "数据副本尚未生成完成，完成后会通过站内消息通知您"


class ExportExpired(DomainError):
    code = PrivacyCode.DATA_EXPORT_EXPIRED
    default_message = "数据副本已过期，请重新申请"


class ErasureAlreadyRequested(Conflict):
    code = PrivacyCode.ERASURE_ALREADY_REQUESTED
    default_message = "您已提交注销申请，可在执行前撤回"


class ErasureNotFound(NotFound):
    code = PrivacyCode.ERASURE_NOT_FOUND
    default_message = "注销申请不存在"


class ErasureNotCancellable(Conflict):
    code = PrivacyCode.ERASURE_NOT_CANCELLABLE
    default_message = "注销已开始执行或已结束，无法撤回"


class ErasureNotRunnable(Conflict):
    code = PrivacyCode.ERASURE_NOT_RUNNABLE
    default_message = "该注销申请已撤回或已完成，不能执行"
