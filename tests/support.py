"""Helpers shared by the tests: GraphQL calls, sign-in shortcuts and the SQL statement counter."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, select

from api.relay import from_global_id, to_global_id
from community.models import Membership
from core.db import get_engine, unit_of_work
from core.outbox import OutboxMessage
from tests.factories import STAFF_PASSWORD, make_staff, next_phone


async def gql(
    client: Any,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    token: str | None = None,
    headers: dict[str, str] | None = None,
    expect_status: int = 200,
) -> dict[str, Any]:
    all_headers = dict(headers or {})
    if token:
        all_headers["authorization"] = f"Bearer {token}"
    response = await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=all_headers)
    assert response.status_code == expect_status, response.text
    return response.json()  # type: ignore[no-any-return]


def data(result: dict[str, Any]) -> dict[str, Any]:
    assert not result.get("errors"), result.get("errors")
    return result["data"]  # type: ignore[no-any-return]


REQUEST_CODE = """mutation($phone: String!) { authRequestCode(input: {phone: $phone}) {
  maskedPhone expiresAt resendAfter errors { field code message } } }"""
SIGN_IN = """mutation($phone: String!, $code: String!) { authSignIn(input: {phone: $phone, code: $code}) {
  registered tokens { accessToken refreshToken } patient { id nickname } errors { field code message } } }"""
STAFF_SIGN_IN = """mutation($email: String!, $password: String!) {
  authStaffSignIn(input: {email: $email, password: $password}) {
    tokens { accessToken refreshToken } staff { id email roles } errors { field code message } } }"""
REFRESH = """mutation($t: String!) { authRefresh(input: {refreshToken: $t}) {
  tokens { accessToken refreshToken } errors { field code message } } }"""


async def last_code(phone: str) -> str:
    """The code is only ever in the outbox message that carries the SMS (it is stored hashed)."""
    async with unit_of_work() as session:
        message = await session.scalar(
            select(OutboxMessage)
            .where(OutboxMessage.payload["recipient"].astext == phone)
            .order_by(OutboxMessage.created_at.desc())
            .limit(1)
        )
    assert message is not None, f"no SMS for {phone}"
    found = re.search(r"验证码为(\d{6})", message.payload["body"])
    assert found
    return found.group(1)


@dataclass
class Session:
    access: str
    refresh: str
    id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


async def patient_session(client: Any, phone: str) -> Session:
    assert data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"] == []
    result = data(await gql(client, SIGN_IN, {"phone": phone, "code": await last_code(phone)}))["authSignIn"]
    assert result["errors"] == [], result
    return Session(result["tokens"]["accessToken"], result["tokens"]["refreshToken"], result["patient"]["id"])


async def signed_in_patient(client: Any) -> tuple[Session, uuid.UUID]:
    """A new patient signed in over HTTP, and their database id."""
    session = await patient_session(client, next_phone())
    decoded = from_global_id(session.id)
    assert decoded is not None
    return session, uuid.UUID(decoded[1])


async def membership_gid(group_id: uuid.UUID, account_id: uuid.UUID) -> str:
    """The global id of an account's membership of a group."""
    async with unit_of_work() as session:
        m = await session.scalar(
            select(Membership).where(Membership.group_id == group_id, Membership.account_id == account_id)
        )
    assert m is not None
    return to_global_id("Membership", m.id)


async def staff_session(client: Any, email: str, roles: list[str]) -> Session:
    await make_staff(email, roles)
    result = data(await gql(client, STAFF_SIGN_IN, {"email": email, "password": STAFF_PASSWORD}))
    payload = result["authStaffSignIn"]
    assert payload["errors"] == [], payload
    return Session(payload["tokens"]["accessToken"], payload["tokens"]["refreshToken"], payload["staff"]["id"])


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_statements() -> Iterator[StatementCounter]:
    """Counts SQL statements sent through the application's engine while the block runs."""
    counter = StatementCounter()
    sync_engine = get_engine().sync_engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        counter.statements.append(statement)

    event.listen(sync_engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
