"""The console's session: sign-in and out, the cookie, CSRF on every POST, the idle timeout, token refresh,
and who is refused (a patient's token, a disabled account, a role without the page)."""

from __future__ import annotations

from datetime import timedelta

from console import session as console_session
from console.config import get_console_settings
from core import clock
from tests.console.support import console_post, console_sign_in, form_token
from tests.factories import make_staff, next_phone
from tests.support import data, gql, patient_session, staff_session

MODERATOR = "mod@console.test"
CLINIC = "desk@console.test"


async def test_sign_in_sets_a_strict_http_only_cookie_and_shows_the_menu_of_the_role(client) -> None:
    await make_staff(MODERATOR, ["moderator"], name="赵版主")
    login = await client.get("/console/login")
    assert "script-src 'self'" in login.headers["content-security-policy"]
    answer = await client.post(
        "/console/login",
        data={"csrf_token": form_token(login.text), "email": MODERATOR, "password": "Test-password-1"},
    )
    assert answer.status_code == 303
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("kn_console="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    home = await client.get("/console/")
    assert home.status_code == 200
    assert "赵版主" in home.text and "审核队列" in home.text
    assert "员工账号" not in home.text  # no admin menu for a moderator
    assert home.headers["cache-control"] == "no-store"


async def test_a_wrong_password_is_refused_with_the_api_message(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    login = await client.get("/console/login")
    answer = await client.post(
        "/console/login", data={"csrf_token": form_token(login.text), "email": MODERATOR, "password": "wrong-one-1"}
    )
    assert answer.status_code == 401
    assert "kn_console=" not in answer.headers.get("set-cookie", "").split(";")[0] or "登录" in answer.text
    assert (await client.get("/console/")).status_code == 303


async def test_sign_in_without_the_form_token_is_refused(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    await client.get("/console/login")
    answer = await client.post("/console/login", data={"email": MODERATOR, "password": "Test-password-1"})
    assert answer.status_code == 403
    answer = await client.post(
        "/console/login", data={"csrf_token": "forged", "email": MODERATOR, "password": "Test-password-1"}
    )
    assert answer.status_code == 403


async def test_bad_sign_in_inputs_are_refused_before_the_api(client) -> None:
    login = await client.get("/console/login")
    token = form_token(login.text)
    for fields in ({"email": "", "password": "x"}, {"email": "a@b.cn" * 60, "password": "x"}, {"email": "a@b.cn"}):
        answer = await client.post("/console/login", data={"csrf_token": token, **fields})
        assert answer.status_code == 400
        token = form_token(answer.text)  # every form shown carries a new token (and cookie)
    answer = await client.post("/console/login", data={"csrf_token": token, "email": "a\x00@b.cn", "password": "x"})
    assert answer.status_code in (400, 401)


async def test_a_post_without_the_csrf_token_is_refused(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    token = await console_sign_in(client, MODERATOR)
    path = "/console/moderation/claim"
    refused = await client.post(path, data={"itemId": "x", "version": "1"})
    assert refused.status_code == 403 and "安全令牌" in refused.text
    refused = await client.post(path, data={"itemId": "x", "version": "1", "csrf_token": "not-the-token"})
    assert refused.status_code == 403
    refused = await client.post(path, data={"itemId": "x", "version": "1"}, headers={"x-csrf-token": "nope"})
    assert refused.status_code == 403
    # With the token (field or htmx header) the request reaches the API, which answers for the bad id.
    accepted = await console_post(client, path, token, itemId="x", version="1")
    assert accepted.status_code == 303
    accepted = await client.post(path, data={"itemId": "x", "version": "1"}, headers={"x-csrf-token": token})
    assert accepted.status_code == 303


async def test_sign_out_ends_the_session_and_revokes_its_tokens(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    token = await console_sign_in(client, MODERATOR)
    cookie = client.cookies.get("kn_console")
    state = await console_session.load(cookie)
    assert state is not None
    access = state.access_token
    answer = await console_post(client, "/console/logout", token)
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?reason=signed_out"
    assert await console_session.load(cookie) is None
    assert (await client.get("/console/")).status_code == 303
    # The API no longer accepts the access token the console held.
    refused = await gql(client, "{ me { __typename } }", token=access, expect_status=401)
    assert refused["errors"][0]["extensions"]["code"] == "ACCESS_TOKEN_REVOKED"


async def test_the_session_ends_after_the_idle_timeout(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    await console_sign_in(client, MODERATOR)
    idle = get_console_settings().idle_minutes
    clock.clock.advance(timedelta(minutes=idle - 1))
    assert (await client.get("/console/")).status_code == 200  # activity restarts the idle clock
    clock.clock.advance(timedelta(minutes=idle - 1))
    assert (await client.get("/console/")).status_code == 200
    clock.clock.advance(timedelta(minutes=idle + 1))
    answer = await client.get("/console/")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?reason=expired"
    assert "长时间未操作" in (await client.get("/console/login?reason=expired")).text
    # An htmx request is sent to the sign-in page with HX-Redirect, not a page fragment.
    answer = await client.get("/console/moderation", headers={"hx-request": "true"})
    assert answer.headers["hx-redirect"] == "/console/login"


async def test_an_expired_access_token_is_refreshed_within_the_session(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    await console_sign_in(client, MODERATOR)
    cookie = client.cookies.get("kn_console")
    before = await console_session.load(cookie)
    assert before is not None
    for _ in range(3):  # 3 x 10 min: past the 15-minute access token, never idle for 30
        clock.clock.advance(timedelta(minutes=10))
        assert (await client.get("/console/moderation")).status_code == 200
    after = await console_session.load(cookie)
    assert after is not None and after.access_token != before.access_token


async def test_a_patient_token_is_refused(client) -> None:
    patient = await patient_session(client, next_phone())
    # A bearer token is no console session: the browser is sent to sign in.
    answer = await client.get("/console/", headers={"authorization": f"Bearer {patient.access}"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")
    # A session holding a patient's token (never made by the sign-in form) is refused and forgotten.
    cookie = await console_session.create(
        console_session.ConsoleSession(
            access_token=patient.access,
            refresh_token=patient.refresh,
            access_expires_at=(clock.now() + timedelta(minutes=10)).isoformat(),
            staff_id=patient.id,
            name="患者",
            email="",
            roles=["ADMIN"],
            role_labels=["管理员"],
        )
    )
    client.cookies.set("kn_console", cookie, path="/console")
    answer = await client.get("/console/moderation")
    assert answer.status_code == 403 and "仅限员工" in answer.text
    assert await console_session.load(cookie) is None


async def test_a_role_without_the_page_is_refused(client) -> None:
    await make_staff(CLINIC, ["clinic_staff"])
    token = await console_sign_in(client, CLINIC)
    home = await client.get("/console/")
    assert "审核队列" not in home.text
    assert (await client.get("/console/moderation")).status_code == 403
    assert (await console_post(client, "/console/moderation/decide", token, itemId="x", version="1")).status_code == 403


async def test_a_disabled_account_loses_its_console_session(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    await console_sign_in(client, MODERATOR)
    admin = await staff_session(client, "admin@console.test", ["admin"])
    state = await console_session.load(client.cookies.get("kn_console"))
    assert state is not None
    staff_id = state.staff_id
    disabled = data(
        await gql(
            client,
            "mutation($id: ID!) { staffDisable(input: {staffId: $id}) { errors { code } } }",
            {"id": staff_id},
            token=admin.access,
        )
    )
    assert disabled["staffDisable"]["errors"] == []
    answer = await client.get("/console/")
    assert answer.status_code == 303 and answer.headers["location"] == "/console/login?reason=expired"


async def test_an_oversized_or_lengthless_post_is_refused_before_it_is_read(client) -> None:
    await make_staff(MODERATOR, ["moderator"])
    token = await console_sign_in(client, MODERATOR)
    huge = await client.post("/console/moderation/claim", data={"csrf_token": token, "itemId": "x" * 2_000_000})
    assert huge.status_code == 413

    async def chunks():
        yield b"csrf_token=" + token.encode()

    chunked = await client.post(
        "/console/moderation/claim", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert chunked.status_code == 413
    login = await client.post("/console/login", data={"email": "a" * 2_000_000, "password": "x"})
    assert login.status_code == 413


async def test_reading_a_session_never_writes_it_back(client, monkeypatch) -> None:
    """A page's requests overlap (the live preview posts while the form posts): a request that only reads
    the session restarts its idle clock without writing back the copy it read, which would undo a flash
    message or refreshed tokens another request saved in between."""
    state = console_session.ConsoleSession(
        access_token="a",
        refresh_token="r",
        access_expires_at=(clock.now() + timedelta(hours=1)).isoformat(),
        staff_id="U3RhZmY6MQ==",
        name="李运营",
        email="marketer@example.cn",
        roles=["marketer"],
        role_labels=["市场运营"],
    )
    cookie = await console_session.create(state)
    preview = await console_session.load(cookie)  # read before the form's request saves its message
    posted = await console_session.load(cookie)
    assert preview is not None and posted is not None
    posted.flash.append(["ok", "已创建活动草稿"])
    await console_session.save(cookie, posted)

    async def no_write(*_: object) -> None:
        raise AssertionError("load wrote the session")

    monkeypatch.setattr(console_session, "_store", no_write)
    clock.clock.advance(timedelta(minutes=5))
    again = await console_session.load(cookie)  # the preview's next request
    monkeypatch.undo()
    assert again is not None and again.flash == [["ok", "已创建活动草稿"]]
    # Its idle clock restarted all the same: idle minutes after this read, not after the save.
    clock.clock.advance(timedelta(seconds=get_console_settings().idle_seconds - 60))
    assert await console_session.load(cookie) is not None
