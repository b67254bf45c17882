"""graphql-transport-ws with the same error codes and shapes as HTTP.

strawberry sends subscription errors as graphql-core formats them: no `extensions.code` (a DomainError
reaches the client as a bare Chinese message), and a syntax error closes the whole socket (code 4400,
every other subscription on it with it) where the protocol allows an `error` message. Here every
result's errors go through the same formatting as HTTP's (api/errors.py), and a syntax or validation
error answers that one operation with `error` and a code.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from graphql import GraphQLError
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.execution import PreExecutionError

from api.context import Context
from api.errors import format_error


class PortalTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    @staticmethod
    def _get_pre_execution_close_reason(error: GraphQLError) -> str | None:
        # Only an unusable message (no operation in it) closes the socket; a syntax error is this
        # operation's mistake and gets an `error` message like any other invalid document.
        if isinstance(error.original_error, CannotGetOperationTypeError):
            return error.original_error.as_http_error_reason()
        return None

    async def _send_result_stream(self, operation: Operation[Context, None], result_source: Any) -> None:
        async with aclosing(self._formatted(result_source)) as results:
            await super()._send_result_stream(operation, results)

    async def _formatted(self, results: AsyncIterator[Any]) -> AsyncGenerator[Any, None]:
        request_id = getattr(self.context, "request_id", None)
        try:
            async for result in results:
                errors = getattr(result, "errors", None)
                if errors:
                    # No HTTP response to mark over a WebSocket: the code says SERVICE_UNAVAILABLE.
                    result.errors = [format_error(e, request_id, None) for e in errors]
                yield result
        except GraphQLError as error:
            # The parser cache re-raises a cached syntax error out of the stream (strawberry would log it
            # as a crash and answer a bare `complete`): it is this operation's invalid document.
            yield PreExecutionError(data=None, errors=[format_error(error, request_id, None)])
