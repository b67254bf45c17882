"""Privacy errors: stable codes, Chinese messages."""

from __future__ import annotations

from core.errors import ErrorCode, FieldIssue, ValidationFailed


class PrivacyCode(ErrorCode):
    """Error codes of privacy: the value is what clients switch on."""

    PHI_READ_RANGE_INVALID = "PHI_READ_RANGE_INVALID", "开始时间不能晚于结束时间"


class ReadRangeInvalid(ValidationFailed):
    """`since` after `until`: the same code as a payload error and as the GraphQL error of a query."""

    code = PrivacyCode.PHI_READ_RANGE_INVALID

    def __init__(self) -> None:
        super().__init__([FieldIssue(code=self.code, message="开始时间不能晚于结束时间", field="since")])
