"""The request wrapper of every console page: session, CSRF, token refresh, role check, rendering.

`staff_page(*roles)` turns a handler of a `Console` into a Starlette endpoint: no live session sends
the browser to the sign-in page; a POST without the session's CSRF token is refused with 403; the
access token is refreshed through authRefresh when it is about to expire; a token that is not a staff
member's, or a staff member without one of `roles`, is refused with 403 (admins hold every role).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.browser import VENDOR_STAMP
from console import csrf, session
from console.config import get_console_settings
from console.gql import Executor, Result
from console.menu import menu_for
from console.strings import t
from core.errors import DomainError
from core.identity import Actor, Role
from core.settings import get_settings

log = structlog.get_logger("console")
HERE = Path(__file__).resolve().parent
ZONE = ZoneInfo("Asia/Shanghai")
# Every file from this origin; no inline script or style (htmx's indicator styles are off, see base.html).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
PAGE_HEADERS = {"content-security-policy": CSP, "cache-control": "no-store"}

REFRESH = """mutation ConsoleRefresh($t: String!) { authRefresh(input: {refreshToken: $t}) {
  tokens { accessToken accessTokenExpiresAt refreshToken } errors { code message } } }"""


def _local(value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An ISO timestamp from GraphQL in Asia/Shanghai (stored in UTC, shown in the user's zone)."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return moment.astimezone(ZONE).strftime(fmt) if moment.tzinfo else moment.strftime(fmt)


def _asset_version() -> str:
    try:
        return VENDOR_STAMP.read_text().strip()[:12]
    except OSError:
        return "0"


templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates.globals["t"] = t
templates.filters["local"] = _local
templates.filters["day"] = lambda v: _local(v, "%Y-%m-%d")


def render_page(name: str, *, http_status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("asset_version", _asset_version())
    return HTMLResponse(templates.get_template(name).render(**context), status_code=http_status, headers=PAGE_HEADERS)


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def to_login(request: Request, reason: str | None = None) -> Response:
    target = "/console/login" + (f"?reason={quote(reason)}" if reason else "")
    if is_htmx(request):  # an XHR would follow a redirect into the page fragment: make htmx navigate
        return Response(status_code=200, headers={"hx-redirect": target, **PAGE_HEADERS})
    return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)


def form_too_large(request: Request) -> bool:
    """A POST bigger than a form can be (checked before the body is read: Starlette buffers a form whole).
    Forms are urlencoded, where a Chinese character takes 9 bytes: 4 x the API's request limit holds the
    longest article body the content API accepts (50 000 characters)."""
    if request.method != "POST":
        return False
    length = request.headers.get("content-length")
    if length is None:  # browsers send a form with its length; a chunked body is no form of ours
        return True
    return not length.isdigit() or int(length) > 4 * get_settings().max_request_bytes


def refusal(status: int, title: str, detail: str) -> HTMLResponse:
    return render_page("refused.html", http_status=status, title=title, detail=detail)


def clear_cookie(response: Response) -> Response:
    response.delete_cookie(session.COOKIE, path=session.COOKIE_PATH, httponly=True, samesite="strict")
    return response


@dataclass
class Console:
    """One console request: the staff member's session and the executor that runs their operations."""

    request: Request
    executor: Executor
    state: session.ConsoleSession
    cookie: str

    @property
    def actor(self) -> Actor:
        return self.executor.actor

    def can(self, *roles: Role) -> bool:
        return self.actor.has_role(*roles)

    async def run(self, query: str, variables: dict[str, Any] | None = None) -> Result:
        return await self.executor.run(query, variables)

    async def form(self) -> dict[str, str]:
        """The submitted form's text fields (stripped); a repeated name keeps its last value."""
        form = await self.request.form()
        return {k: v.strip() for k, v in form.multi_items() if isinstance(v, str)}

    async def form_lists(self) -> dict[str, list[str]]:
        form = await self.request.form()
        lists: dict[str, list[str]] = {}
        for k, v in form.multi_items():
            if isinstance(v, str) and v.strip():
                lists.setdefault(k, []).append(v.strip())
        return lists

    async def flash(self, text: str, kind: str = "ok") -> None:
        """A message for the next page this session renders (after a POST's redirect)."""
        self.state.flash.append([kind, text])
        await session.save(self.cookie, self.state)

    async def flash_errors(self, errors: list[Any]) -> None:
        for error in errors:
            await self.flash(getattr(error, "message", str(error)), "error")

    def redirect(self, path: str) -> Response:
        return RedirectResponse(path, status_code=303, headers=PAGE_HEADERS)

    async def render(self, name: str, *, http_status: int = 200, **context: Any) -> HTMLResponse:
        messages = self.state.flash
        if messages:
            self.state.flash = []
            await session.save(self.cookie, self.state)
        return render_page(
            name,
            http_status=http_status,
            me=self.state,
            menu=menu_for(self.actor),
            csrf_token=self.state.csrf,
            csrf_field=csrf.FIELD,
            path=self.request.url.path,
            idle_minutes=get_console_settings().idle_minutes,
            messages=messages,
            can=self.can,
            Role=Role,
            today=date.today().isoformat(),
            **context,
        )


Handler = Callable[[Console], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


async def _fresh_tokens(executor: Executor, state: session.ConsoleSession, cookie: str) -> bool:
    """Trades the refresh token for new tokens when the access token is about to expire."""
    if not state.access_expired:
        return True
    result = await executor.run(REFRESH, {"t": state.refresh_token})
    payload, errors = result.payload("authRefresh")
    tokens = (payload or {}).get("tokens")
    if errors or not tokens:
        return False
    state.access_token = tokens["accessToken"]
    state.access_expires_at = tokens["accessTokenExpiresAt"]
    state.refresh_token = tokens["refreshToken"]
    await session.save(cookie, state)
    return True


def staff_page(*roles: Role) -> Callable[[Handler], Endpoint]:
    def wrap(handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            cookie = request.cookies.get(session.COOKIE)
            state = await session.load(cookie)
            if state is None or cookie is None:
                return clear_cookie(to_login(request, "expired" if cookie else None))
            if form_too_large(request):
                return refusal(413, t("error.api"), t("error.too_large"))
            if request.method == "POST" and not csrf.matches(state.csrf, await csrf.submitted(request)):
                log.warning("console_csrf_refused", path=request.url.path)
                return refusal(403, t("error.forbidden"), t("error.csrf"))
            executor = Executor(request)
            try:
                if not await _fresh_tokens(executor, state, cookie):
                    await session.destroy(cookie)
                    return clear_cookie(to_login(request, "expired"))
                try:
                    actor = await executor.sign_in_with(state.access_token)
                except DomainError:  # revoked, disabled or expired: the session is over
                    await session.destroy(cookie)
                    return clear_cookie(to_login(request, "expired"))
                if not actor.is_staff:
                    await session.destroy(cookie)
                    return clear_cookie(refusal(403, t("error.forbidden"), t("error.not_staff")))
                if roles and not actor.has_role(*roles):
                    return refusal(403, t("error.forbidden"), t("error.forbidden_detail"))
                return await handler(Console(request, executor, state, cookie))
            finally:
                await executor.close()

        endpoint.__name__ = handler.__name__
        endpoint.__doc__ = handler.__doc__
        return endpoint

    return wrap
