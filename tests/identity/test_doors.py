"""The doors (issue 11): code requests limited per client address and for the whole service,
staff accounts disabled and enabled by an admin with every session ended at once, and the staff
row re-checked on every request.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from api.app import app
from core import clock
from core.settings import reset_settings
from tests.support import REFRESH, REQUEST_CODE, STAFF_PASSWORD, STAFF_SIGN_IN, data, gql, staff_session

ME = "{ me { __typename ... on Staff { email roles } } }"
DISABLE = """mutation($id: ID!) { staffDisable(input: {staffId: $id}) { staff { id active } errors { code field } } }"""
ENABLE = """mutation($id: ID!) { staffEnable(input: {staffId: $id}) { staff { id active } errors { code field } } }"""


def _client_at(address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://test")


def _phone() -> str:
    return "139" + str(uuid.uuid4().int)[:8]


async def _request_code(client: httpx.AsyncClient, phone: str) -> list[dict[str, str]]:
    return data(await gql(client, REQUEST_CODE, {"phone": phone}))["authRequestCode"]["errors"]  # type: ignore[no-any-return]


@pytest.fixture
def production_limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PORTAL_OTP_PER_CLIENT_PER_MINUTE", "5")
    monkeypatch.setenv("PORTAL_OTP_PER_CLIENT_PER_HOUR", "30")
    monkeypatch.setenv("PORTAL_OTP_GLOBAL_PER_MINUTE", "600")
    reset_settings()
    # The windows are fixed minutes of the one clock: held still, a slow run (a loaded machine,
    # parallel workers) cannot cross into the next minute half-way and reset the counters.
    clock.clock.freeze(clock.now())
    yield
    monkeypatch.undo()
    reset_settings()


async def test_one_client_asking_codes_for_thirty_phones_is_stopped_after_five(production_limits: None) -> None:
    async with _client_at("203.0.113.7") as attacker, _client_at("198.51.100.9") as neighbour:
        answers = [await _request_code(attacker, _phone()) for _ in range(30)]
        assert all(a == [] for a in answers[:5])
        assert all(a and a[0]["code"] == "OTP_CLIENT_LIMIT" for a in answers[5:])
        # Somebody else on another network is not affected.
        assert await _request_code(neighbour, _phone()) == []


async def test_the_whole_service_has_a_ceiling(production_limits: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORTAL_OTP_GLOBAL_PER_MINUTE", "3")
    reset_settings()
    try:
        answers = []
        for i in range(5):
            async with _client_at(f"192.0.2.{i + 1}") as someone:
                answers.append(await _request_code(someone, _phone()))
        assert answers[:3] == [[], [], []]
        assert all(a and a[0]["code"] == "OTP_SERVICE_BUSY" for a in answers[3:])
    finally:
        reset_settings()


async def test_a_disabled_staff_member_is_out_at_once_and_back_when_enabled(client: httpx.AsyncClient) -> None:
    admin = await staff_session(client, "admin@example.cn", ["admin"])
    nurse = await staff_session(client, "nurse@example.cn", ["clinic_staff"])
    assert data(await gql(client, ME, token=nurse.access))["me"]["email"] == "nurse@example.cn"

    refused = data(await gql(client, DISABLE, {"id": nurse.id}, token=nurse.access))["staffDisable"]
    assert refused["errors"][0]["code"] == "PERMISSION_DENIED"
    own = data(await gql(client, DISABLE, {"id": admin.id}, token=admin.access))["staffDisable"]
    assert own["errors"][0]["code"] == "STAFF_CANNOT_DISABLE_SELF"

    done = data(await gql(client, DISABLE, {"id": nurse.id}, token=admin.access))["staffDisable"]
    assert done["errors"] == [] and done["staff"]["active"] is False
    # The access token that was valid a moment ago no longer opens anything.
    revoked = await gql(client, ME, token=nurse.access, expect_status=401)
    assert revoked["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_REVOKED"
    assert data(await gql(client, REFRESH, {"t": nurse.refresh}))["authRefresh"]["errors"][0]["code"] in {
        "REFRESH_TOKEN_INVALID",
        "REFRESH_TOKEN_REUSED",
    }
    signed = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": STAFF_PASSWORD}))
    assert signed["authStaffSignIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"

    back = data(await gql(client, ENABLE, {"id": nurse.id}, token=admin.access))["staffEnable"]
    assert back["errors"] == [] and back["staff"]["active"] is True
    again = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": STAFF_PASSWORD}))
    assert again["authStaffSignIn"]["errors"] == []


async def test_roles_come_from_the_staff_row_not_the_token(client: httpx.AsyncClient) -> None:
    from sqlalchemy import delete

    from core.db import unit_of_work
    from patients.models import StaffRole

    admin = await staff_session(client, "boss@example.cn", ["admin"])
    assert data(await gql(client, ME, token=admin.access))["me"]["roles"] == ["ADMIN"]
    async with unit_of_work() as session:  # a role taken away behind the token's back
        await session.execute(delete(StaffRole))
    result = data(await gql(client, DISABLE, {"id": admin.id}, token=admin.access))["staffDisable"]
    assert result["errors"][0]["code"] == "PERMISSION_DENIED"
