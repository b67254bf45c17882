"""Sign-in, sign-out and the home page.

Sign-in runs the apps' own authStaffSignIn (its rate limits and lockout apply); the tokens it returns
are kept server-side (console/session.py). Sign-out runs authSignOut, which revokes the refresh token's
session, so a copied token stops working too.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from console import csrf, session
from console.config import get_console_settings
from console.gql import Executor
from console.strings import t
from console.web import PAGE_HEADERS, Console, clear_cookie, form_too_large, refusal, render_page, staff_page

SIGN_IN = """mutation ConsoleSignIn($email: String!, $password: String!) {
  authStaffSignIn(input: {email: $email, password: $password}) {
    tokens { accessToken accessTokenExpiresAt refreshToken }
    staff { id name email roles roleLabels }
    errors { field code message }
  }
}"""
SIGN_OUT = """mutation ConsoleSignOut($t: String) { authSignOut(input: {refreshToken: $t}) {
  signedOut errors { code message } } }"""
# What the sign-in form accepts before anything runs (the API checks again).
MAX_EMAIL = 254
MAX_PASSWORD = 256
REASONS = {"expired": "login.expired", "signed_out": "login.signed_out"}


def _login_page(token: str, *, error: str | None = None, notice: str | None = None, status: int = 200) -> Response:
    response = render_page(
        "login.html", http_status=status, login_token=token, csrf_field=csrf.FIELD, error=error, notice=notice
    )
    response.set_cookie(
        session.LOGIN_COOKIE,
        token,
        path=session.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=get_console_settings().cookie_secure,
    )
    return response


async def login_form(request: Request) -> Response:
    if await session.load(request.cookies.get(session.COOKIE)) is not None:
        return RedirectResponse("/console", status_code=303, headers=PAGE_HEADERS)
    reason = REASONS.get(request.query_params.get("reason", ""))
    return _login_page(csrf.new_token(), notice=t(reason) if reason else None)


async def login(request: Request) -> Response:
    if form_too_large(request):
        return refusal(413, t("error.api"), t("error.too_large"))
    expected = request.cookies.get(session.LOGIN_COOKIE)
    form = await request.form()
    given = form.get(csrf.FIELD)
    if not csrf.matches(expected, given if isinstance(given, str) else ""):
        return refusal(403, t("error.forbidden"), t("error.csrf"))
    email = form.get("email")
    password = form.get("password")
    if not isinstance(email, str) or not isinstance(password, str) or not email.strip() or not password:
        return _login_page(csrf.new_token(), error=t("error.bad_input"), status=400)
    if len(email) > MAX_EMAIL or len(password) > MAX_PASSWORD:
        return _login_page(csrf.new_token(), error=t("error.bad_input"), status=400)
    executor = Executor(request)
    try:
        result = await executor.run(SIGN_IN, {"email": email.strip(), "password": password})
    finally:
        await executor.close()
    payload, errors = result.payload("authStaffSignIn")
    if errors or not payload or not payload.get("tokens") or not payload.get("staff"):
        message = errors[0].message if errors else t("login.failed")
        return _login_page(csrf.new_token(), error=message, status=401)
    staff, tokens = payload["staff"], payload["tokens"]
    if not staff["roles"]:
        return _login_page(csrf.new_token(), error=t("login.no_roles"), status=403)
    cookie = await session.create(
        session.ConsoleSession(
            access_token=tokens["accessToken"],
            refresh_token=tokens["refreshToken"],
            access_expires_at=tokens["accessTokenExpiresAt"],
            staff_id=staff["id"],
            name=staff["name"],
            email=staff["email"],
            roles=list(staff["roles"]),
            role_labels=list(staff["roleLabels"]),
        )
    )
    response = RedirectResponse("/console", status_code=303, headers=PAGE_HEADERS)
    response.set_cookie(
        session.COOKIE,
        cookie,
        path=session.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=get_console_settings().cookie_secure,
    )
    response.delete_cookie(session.LOGIN_COOKIE, path=session.COOKIE_PATH, httponly=True, samesite="strict")
    return response


@staff_page()
async def logout(c: Console) -> Response:
    await c.run(SIGN_OUT, {"t": c.state.refresh_token})
    await session.destroy(c.cookie)
    return clear_cookie(RedirectResponse("/console/login?reason=signed_out", status_code=303, headers=PAGE_HEADERS))


@staff_page()
async def home(c: Console) -> Response:
    return await c.render("home.html")
