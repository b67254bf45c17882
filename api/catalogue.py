"""The error-code catalogue as a query: every code a payload's `errors` or a GraphQL error's
`extensions.code` can carry from the domains, with its domain and meaning, so clients (and the staff
console) switch on codes they can see. The codes live in the domains' ErrorCode enums."""

from __future__ import annotations

import functools
import importlib

import strawberry

from core.errors import ErrorCode

# Every domain's errors module defines its enum; importing them all makes the catalogue complete.
DOMAIN_MODULES = (
    "core",
    "patients",
    "community",
    "loyalty",
    "content",
    "messaging",
    "campaigns",
    "care",
    "dashboards",
    "oncall",
    "privacy",
    "social",
    "media",
)


@strawberry.type(description="一个错误代码：客户端据此判断，message 给用户看")
class ErrorCodeInfo:
    code: str
    domain: str
    description: str


@functools.cache
def _catalogue() -> tuple[ErrorCodeInfo, ...]:
    for name in DOMAIN_MODULES:
        importlib.import_module(f"{name}.errors")
    out: list[ErrorCodeInfo] = []
    stack: list[type[ErrorCode]] = list(ErrorCode.__subclasses__())
    while stack:
        enum = stack.pop()
        stack.extend(enum.__subclasses__())
        domain = enum.__module__.split(".")[0]
        out.extend(ErrorCodeInfo(code=m.value, domain=domain, description=m.description) for m in enum)
    return tuple(sorted(out, key=lambda info: info.code))


@strawberry.type
class CatalogueQuery:
    @strawberry.field(description="全部错误代码及含义（无需登录）")
    def error_codes(self) -> list[ErrorCodeInfo]:
        return list(_catalogue())
