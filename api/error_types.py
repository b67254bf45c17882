"""Each domain's payload error type, with its codes as a schema enum (Saleor style).

A payload's `errors` carry `code: <Domain>ErrorCode!`, an enum of every code its mutations can answer,
each value with its meaning, so clients see the codes they switch on. A mutation can answer the codes
of every domain its module imports (directly or through others) besides its own; each type below lists
those enums, and tests/api/test_payload_error_codes.py checks the lists against the import graph.
Should a code outside its payload's enum reach `payload_errors` all the same, it answers
CoreCode.INVALID with the original message and logs the code: a payload never becomes a field error.
"""

from __future__ import annotations

import enum
import functools
from typing import Any

import strawberry
import structlog

from api.errors import UserError
from campaigns.errors import CampaignsCode
from care.errors import CareCode
from community.errors import CommunityCode
from content.errors import ContentCode
from core.errors import CoreCode, DomainError, ErrorCode
from loyalty.errors import LoyaltyCode
from media.errors import MediaCode
from messaging.errors import MessagingCode
from oncall.errors import OncallCode
from patients.errors import PatientsCode
from privacy.errors import PrivacyCode
from social.errors import SocialCode

log = structlog.get_logger("api.errors")

# Every mutation module reaches these (the actor, its account and its points).
_BASE = (CoreCode, PatientsCode, PrivacyCode, LoyaltyCode)

# The error type's name without "Error" -> the enums its mutations can answer (kept in step with the
# import graph by the test).
DOMAIN_CODES: dict[str, tuple[type[ErrorCode], ...]] = {
    "Campaigns": (*_BASE, MessagingCode, CampaignsCode),
    "Care": (*_BASE, MessagingCode, CommunityCode, OncallCode, CareCode),
    "Community": (
        *_BASE,
        MessagingCode,
        CommunityCode,
        OncallCode,
        ContentCode,
        MediaCode,
        SocialCode,
        CampaignsCode,
    ),
    "Content": (*_BASE, MessagingCode, CommunityCode, ContentCode),
    "Identity": _BASE,
    "Loyalty": _BASE,
    "Media": (*_BASE, MessagingCode, CommunityCode, OncallCode, MediaCode),
    "Messaging": (*_BASE, MessagingCode),
    "Oncall": (*_BASE, OncallCode),
    "Privacy": (*_BASE, MessagingCode, CommunityCode, OncallCode, MediaCode),
    "Social": (*_BASE, MessagingCode, CommunityCode, OncallCode, ContentCode, MediaCode, SocialCode),
}

# Enum's functional form, which mypy types only with a literal name.
_functional_enum: Any = enum.Enum


def _code_enum(name: str) -> Any:
    enums = DOMAIN_CODES[name]
    members = sorted({member.value: member for codes in enums for member in codes}.values())
    values = [(m.value, strawberry.enum_value(m.value, description=m.description)) for m in members]
    domains = "、".join(sorted({codes.__module__.split(".")[0] for codes in enums}))
    return strawberry.enum(
        _functional_enum(f"{name}ErrorCode", values), description=f"此类操作可能返回的错误代码（来自：{domains}）"
    )


def _code(name: str) -> Any:
    return strawberry.field(graphql_type=_code_enum(name), description="错误代码：客户端据此判断")


@strawberry.type(description="营销活动操作的错误")
class CampaignsError(UserError):
    code: str = _code("Campaigns")


@strawberry.type(description="关怀（投诉、随访、会话）操作的错误")
class CareError(UserError):
    code: str = _code("Care")


@strawberry.type(description="社区（社群、帖子、评论、活动、签到、版务）操作的错误")
class CommunityError(UserError):
    code: str = _code("Community")


@strawberry.type(description="健康内容操作的错误")
class ContentError(UserError):
    code: str = _code("Content")


@strawberry.type(description="账号、登录、同意与监护操作的错误")
class IdentityError(UserError):
    code: str = _code("Identity")


@strawberry.type(description="积分、等级与兑换操作的错误")
class LoyaltyError(UserError):
    code: str = _code("Loyalty")


@strawberry.type(description="图片上传操作的错误")
class MediaError(UserError):
    code: str = _code("Media")


@strawberry.type(description="消息与模板操作的错误")
class MessagingError(UserError):
    code: str = _code("Messaging")


@strawberry.type(description="值班与呼叫操作的错误")
class OncallError(UserError):
    code: str = _code("Oncall")


@strawberry.type(description="个人信息权利（导出、删除）操作的错误")
class PrivacyError(UserError):
    code: str = _code("Privacy")


@strawberry.type(description="关注、屏蔽、资料与通知操作的错误")
class SocialError(UserError):
    code: str = _code("Social")


# The error type -> the codes it can carry.
CODES: dict[type[UserError], frozenset[str]] = {
    error: frozenset(m.value for codes in DOMAIN_CODES[error.__name__.removesuffix("Error")] for m in codes)
    for error in UserError.__subclasses__()
}


@functools.cache
def _error_type(payload: type) -> type[UserError]:
    """The class of a payload type's `errors` items."""
    definition = getattr(payload, "__strawberry_definition__")  # noqa: B009  # a strawberry type's, untyped
    field = next(f for f in definition.fields if f.python_name == "errors")
    error: type[UserError] = field.type.of_type
    return error


def payload_errors(payload: Any, exc: DomainError) -> list[Any]:
    """`exc` as the `errors` of `payload`, each code one of its error type's enum."""
    error = _error_type(payload)
    codes = CODES.get(error)
    out = []
    for issue in exc.issues:
        code = issue.code
        if codes is not None and code not in codes:
            # A code the import graph did not show (tests/api/test_payload_error_codes.py): still an
            # answer the client can read, with the original message, instead of a field error.
            log.error("error_code_outside_payload_enum", code=code, payload=payload.__name__)
            code = CoreCode.INVALID
        out.append(error(field=issue.field, code=code, message=issue.message))
    return out
