"""The console's one data path: GraphQL operations executed in-process against api.schema.

A page runs the same operations an app would send, with a Context built the way the HTTP endpoint
builds it (api/app.py): the signed-in staff member as the actor, one RequestDB for the request's reads
(the token check's connection serves them, as in GraphQLEndpoint), the request id. So the services'
access checks, the PHI read audit (api/privacy/audit.py) and every input limit of the schema apply
exactly as over HTTP; the audit records these reads as `console:<root fields>`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from api.context import Context
from api.schema import schema
from core.db import RequestDB
from core.errors import DomainError
from core.identity import ANONYMOUS, Actor
from patients.auth import actor_from_token

# What the PHI read audit records as the way a staff read came (`console:<root fields>`).
CHANNEL = "console"


@dataclass(frozen=True)
class GqlError:
    code: str
    message: str
    field: str | None = None


@dataclass
class Result:
    data: dict[str, Any]
    errors: list[GqlError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def payload(self, name: str) -> tuple[dict[str, Any] | None, list[GqlError]]:
        """A mutation's payload and its errors: the operation's errors first, then the payload's UserErrors."""
        if self.errors:
            return None, self.errors
        payload = self.data.get(name) or {}
        errors = [GqlError(e["code"], e["message"], e.get("field")) for e in payload.get("errors") or ()]
        return payload, errors


class Executor:
    """Runs operations for one console request as one actor."""

    def __init__(self, request: Request, actor: Actor = ANONYMOUS) -> None:
        self.request = request
        self.actor = actor
        self.db = RequestDB()
        state = request.scope.get("state") or {}
        self.request_id = str(state.get("request_id") or uuid.uuid4().hex)

    async def sign_in_with(self, token: str) -> Actor:
        """The actor of an access token, checked as the endpoint checks a bearer token (revoked,
        disabled or expired: a DomainError)."""
        async with self.db.read() as session:
            self.actor = await actor_from_token(session, token)
        return self.actor

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> Result:
        # A fresh Context per operation: its DataLoaders never serve rows read before a mutation.
        context = Context(
            request=self.request,
            response=None,
            actor=self.actor,
            db=self.db,
            request_id=self.request_id,
            channel=CHANNEL,
        )
        result = await schema.execute(query, variable_values=variables or {}, context_value=context)
        errors = [
            GqlError(str((e.extensions or {}).get("code") or "ERROR"), e.message, (e.extensions or {}).get("field"))
            for e in result.errors or ()
        ]
        return Result(data=dict(result.data or {}), errors=errors)

    async def close(self) -> None:
        await self.db.close()


__all__ = ["DomainError", "Executor", "GqlError", "Result"]
