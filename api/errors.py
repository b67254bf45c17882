"""How failures reach clients.

Expected failures (DomainError) keep their Chinese message and stable code; in mutations they are
payload `errors`. Anything else is masked: the client sees a generic message and the request id,
the log has the stack trace under the same id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from core.db import is_unavailable
from core.errors import DomainError

log = structlog.get_logger("api.errors")
INTERNAL_MESSAGE = "服务器开小差了，请稍后重试"
UNAVAILABLE_CODE = "SERVICE_UNAVAILABLE"
UNAVAILABLE_MESSAGE = "服务暂时不可用，请稍后重试"


@strawberry.type(description="An expected failure of a mutation: show `message`, switch on `code`.")
class UserError:
    """The shape of every payload error; each domain's type (api/error_types.py) types `code` as the
    enum of the codes its mutations answer."""

    field: str | None
    code: str
    message: str


class PortalSchema(strawberry.Schema):
    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        # HTTP runs `execute`; subscriptions live on the WebSocket (`stream`). strawberry lets a POSTed
        # subscription through to its resolver, which fails as an internal error: refused here first
        # (strawberry answers 400, BAD_REQUEST).
        allowed = set(allowed_operation_types or DEFAULT_ALLOWED_OPERATION_TYPES) - {OperationType.SUBSCRIPTION}
        return await super().execute(
            query, variable_values, context_value, root_value, operation_name, allowed, operation_extensions
        )

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # strawberry logs every error with its trace: client mistakes and DomainErrors are expected
        # and not worth a line each (the log grew ~80 MB an hour under fuzzing). ErrorFormatting
        # logs the unexpected ones, once, with the request id.
        return None


class ErrorFormatting(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        context = self.execution_context.context
        request_id = getattr(context, "request_id", None)
        result.errors = [format_error(e, request_id, context) for e in errors]


def format_error(error: GraphQLError, request_id: str | None, context: object | None) -> GraphQLError:
    """The error a client sees: its code and message, or a masked message with the request id (logged once).
    `context` carries the HTTP response to mark 503 when the database is down (None over WebSocket)."""
    original = error.original_error
    if original is None:
        # Syntax, validation and limit errors: safe to show as they are.
        return _same_place(error, error.message, {**(error.extensions or {}), "code": _code_of(error)})
    if isinstance(original, GraphQLError):
        # A GraphQLError raised inside a resolver or coercion is a client mistake with its own
        # message, not a server fault to mask.
        code = (original.extensions or {}).get("code") or _code_of(error)
        return _same_place(error, original.message, {**(original.extensions or {}), "code": code})
    if isinstance(original, DomainError):
        return _same_place(error, original.message, {"code": original.code, "field": original.field})
    if is_unavailable(original):
        # The database is down or the pool exhausted: a 503 the client may retry, not a bug.
        log.warning("database_unavailable", request_id=request_id, error=type(original).__name__)
        response = getattr(context, "response", None)
        if response is not None:
            response.status_code = 503
            response.headers["retry-after"] = "5"
        return _same_place(error, UNAVAILABLE_MESSAGE, {"code": UNAVAILABLE_CODE, "requestId": request_id})
    log.error(
        "graphql_unexpected_error",
        request_id=request_id,
        path=error.path,
        exc_info=(type(original), original, original.__traceback__),
    )
    return _same_place(error, INTERNAL_MESSAGE, {"code": "INTERNAL_ERROR", "requestId": request_id})


def _code_of(error: GraphQLError) -> str:
    return str((error.extensions or {}).get("code") or "BAD_REQUEST")


def _same_place(error: GraphQLError, message: str, extensions: dict[str, object]) -> GraphQLError:
    """A new error at the same place in the document and the result, with our message and code."""
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )
