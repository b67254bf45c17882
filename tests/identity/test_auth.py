"""Sign-in by phone code and by password, token rotation, reuse detection and revocation."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from api.app import app
from core import clock
from core.db import unit_of_work
from core.outbox import OutboxMessage
from patients.models import ConsentEvent, Patient, SignInCode
from tests.factories import make_staff
from tests.support import (
    REFRESH,
    REQUEST_CODE,
    SIGN_IN,
    STAFF_PASSWORD,
    STAFF_SIGN_IN,
    data,
    gql,
    last_code,
    patient_session,
)

ME = "{ me { __typename ... on Patient { id nickname phone } ... on Staff { email roles } } }"


async def test_sign_in_registers_on_first_use_and_me_works(client, unique_phone):
    requested = data(await gql(client, REQUEST_CODE, {"phone": f"+86 {unique_phone}"}))["authRequestCode"]
    assert requested["errors"] == []
    assert requested["maskedPhone"] == f"{unique_phone[:3]}****{unique_phone[-4:]}"

    async with unit_of_work() as session:
        stored = await session.scalar(select(SignInCode).where(SignInCode.phone == unique_phone))
    code = await last_code(unique_phone)
    assert stored is not None and code not in stored.code_hash  # stored hashed, never in clear

    first = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": code}))["authSignIn"]
    assert first["errors"] == [] and first["registered"] is True
    me = data(await gql(client, ME, token=first["tokens"]["accessToken"]))["me"]
    assert me == {
        "__typename": "Patient",
        "id": first["patient"]["id"],
        "nickname": f"康友{unique_phone[-4:]}",
        "phone": unique_phone,
    }

    # The code is single-use; a second sign-in needs a new code and does not register again.
    again = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": code}))["authSignIn"]
    assert again["errors"][0]["code"] == "OTP_EXPIRED"
    clock.clock.advance(timedelta(seconds=61))
    session2 = await patient_session(client, unique_phone)
    assert session2.id == first["patient"]["id"]
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Patient).where(Patient.phone == unique_phone)) == 1
        # Registration grants in-app service messages only, with a recorded event.
        events = (await session.scalars(select(ConsentEvent))).all()
    assert [(e.channel, e.purpose, e.granted) for e in events] == [("in_app", "service", True)]


async def test_wrong_code_counts_tries_and_locks_after_five(client, unique_phone):
    await gql(client, REQUEST_CODE, {"phone": unique_phone})
    code = await last_code(unique_phone)
    wrong = "000000" if code != "000000" else "111111"
    for left in (4, 3, 2, 1):
        r = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": wrong}))["authSignIn"]
        assert r["errors"][0]["code"] == "OTP_INVALID"
        assert f"还可尝试{left}次" in r["errors"][0]["message"]
    r = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": wrong}))["authSignIn"]
    assert r["errors"][0]["code"] == "OTP_TOO_MANY_ATTEMPTS"
    # Even the right code no longer works once the tries are used up.
    r = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": code}))["authSignIn"]
    assert r["errors"][0]["code"] == "OTP_TOO_MANY_ATTEMPTS" and r["tokens"] is None


async def test_expired_code_is_refused(client, unique_phone):
    await gql(client, REQUEST_CODE, {"phone": unique_phone})
    code = await last_code(unique_phone)
    clock.clock.advance(timedelta(minutes=5, seconds=1))
    r = data(await gql(client, SIGN_IN, {"phone": unique_phone, "code": code}))["authSignIn"]
    assert r["errors"][0]["code"] == "OTP_EXPIRED"


async def test_malformed_inputs_get_clear_errors(client):
    r = data(await gql(client, REQUEST_CODE, {"phone": "12345678901"}))["authRequestCode"]
    assert r["errors"] == [{"field": "phone", "code": "PHONE_INVALID", "message": "请输入正确的中国大陆手机号"}]
    r = data(await gql(client, SIGN_IN, {"phone": "13900001111", "code": "12ab"}))["authSignIn"]
    assert r["errors"][0]["code"] == "OTP_INVALID" and r["errors"][0]["field"] == "code"


async def test_rate_limits_per_phone(client, unique_phone):
    assert data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]["errors"] == []
    r = data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]
    assert r["errors"][0]["code"] == "OTP_TOO_FREQUENT"
    for _ in range(9):
        clock.clock.advance(timedelta(seconds=61))
        assert data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]["errors"] == []
    clock.clock.advance(timedelta(seconds=61))
    r = data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]
    assert r["errors"][0]["code"] == "OTP_DAILY_LIMIT"
    # A refused request writes nothing: ten codes, ten SMS.
    async with unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 10
    clock.clock.advance(timedelta(days=1))
    assert data(await gql(client, REQUEST_CODE, {"phone": unique_phone}))["authRequestCode"]["errors"] == []


async def test_concurrent_code_requests_send_one(client, unique_phone):
    results = await asyncio.gather(*[gql(client, REQUEST_CODE, {"phone": unique_phone}) for _ in range(8)])
    errors = [data(r)["authRequestCode"]["errors"] for r in results]
    assert sum(1 for e in errors if e == []) == 1
    assert all(e[0]["code"] in {"OTP_TOO_FREQUENT", "OTP_CLIENT_LIMIT"} for e in errors if e)


async def test_refresh_rotates_and_reuse_revokes_the_family(client, unique_phone):
    s = await patient_session(client, unique_phone)
    rotated = data(await gql(client, REFRESH, {"t": s.refresh}))["authRefresh"]
    assert rotated["errors"] == []
    new_access, new_refresh = rotated["tokens"]["accessToken"], rotated["tokens"]["refreshToken"]
    assert new_refresh != s.refresh
    assert data(await gql(client, ME, token=new_access))["me"]["id"] == s.id

    # Replaying the rotated token: refused, and the whole session ends (the new tokens too).
    reused = data(await gql(client, REFRESH, {"t": s.refresh}))["authRefresh"]
    assert reused["errors"][0]["code"] == "REFRESH_TOKEN_REUSED"
    assert (
        data(await gql(client, REFRESH, {"t": new_refresh}))["authRefresh"]["errors"][0]["code"]
        == "REFRESH_TOKEN_INVALID"
    )
    denied = await gql(client, ME, token=new_access, expect_status=401)
    assert denied["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_REVOKED"


async def test_concurrent_refresh_with_one_token_yields_one_winner(client, unique_phone):
    s = await patient_session(client, unique_phone)
    results = await asyncio.gather(*[gql(client, REFRESH, {"t": s.refresh}) for _ in range(5)])
    codes = [data(r)["authRefresh"]["errors"] for r in results]
    assert sum(1 for e in codes if e == []) == 1


async def test_sign_out_revokes_access_and_refresh(client, unique_phone):
    s = await patient_session(client, unique_phone)
    out = data(await gql(client, "mutation { authSignOut(input: {}) { signedOut errors { code } } }", token=s.access))[
        "authSignOut"
    ]
    assert out == {"signedOut": True, "errors": []}
    r = await gql(client, ME, token=s.access, expect_status=401)
    assert r["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_REVOKED"
    assert (
        data(await gql(client, REFRESH, {"t": s.refresh}))["authRefresh"]["errors"][0]["code"]
        == "REFRESH_TOKEN_INVALID"
    )


async def test_expired_or_forged_access_token_is_refused(client, unique_phone):
    s = await patient_session(client, unique_phone)
    forged = s.access[:-4] + ("AAAA" if not s.access.endswith("AAAA") else "BBBB")
    r = await gql(client, ME, token=forged, expect_status=401)
    assert r["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_INVALID"
    clock.clock.advance(timedelta(minutes=15, seconds=1))
    r = await gql(client, ME, token=s.access, expect_status=401)
    assert r["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_INVALID"
    # The refresh token still works after the access token expired.
    assert data(await gql(client, REFRESH, {"t": s.refresh}))["authRefresh"]["errors"] == []


async def test_staff_password_sign_in_and_lockout(client):
    await make_staff("nurse@example.cn", ["clinic_staff", "health_manager"])
    ok = data(await gql(client, STAFF_SIGN_IN, {"email": "NURSE@example.cn", "password": STAFF_PASSWORD}))
    assert ok["authStaffSignIn"]["errors"] == []
    assert sorted(ok["authStaffSignIn"]["staff"]["roles"]) == ["CLINIC_STAFF", "HEALTH_MANAGER"]
    me = data(await gql(client, ME, token=ok["authStaffSignIn"]["tokens"]["accessToken"]))["me"]
    assert me["__typename"] == "Staff"

    unknown = data(await gql(client, STAFF_SIGN_IN, {"email": "nobody@example.cn", "password": "x" * 12}))
    assert unknown["authStaffSignIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    for _ in range(5):
        bad = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": "wrong-password"}))
        assert bad["authStaffSignIn"]["errors"][0]["code"] == "INVALID_CREDENTIALS"
    locked = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": STAFF_PASSWORD}))
    assert locked["authStaffSignIn"]["errors"][0]["code"] == "SIGN_IN_THROTTLED"
    # An unknown e-mail gets the very same answer: the throttle tells nobody which accounts exist.
    for _ in range(5):
        await gql(client, STAFF_SIGN_IN, {"email": "nobody@example.cn", "password": "wrong-password"})
    ghost = data(await gql(client, STAFF_SIGN_IN, {"email": "nobody@example.cn", "password": "x" * 12}))
    assert ghost["authStaffSignIn"]["errors"][0]["code"] == "SIGN_IN_THROTTLED"
    # The nurse at her own workstation is not locked out by failures from another address.
    transport = httpx.ASGITransport(app=app, client=("10.20.30.40", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as elsewhere:
        mine = data(await gql(elsewhere, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": STAFF_PASSWORD}))
    assert mine["authStaffSignIn"]["errors"] == []
    clock.clock.advance(timedelta(minutes=16))
    again = data(await gql(client, STAFF_SIGN_IN, {"email": "nurse@example.cn", "password": STAFF_PASSWORD}))
    assert again["authStaffSignIn"]["errors"] == []
