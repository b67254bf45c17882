"""What browsers get: the GraphiQL page with its files served from here (no CDN), /static, CORS for an
allow-list of origins, and security headers on every answer.

strawberry's own GraphiQL page loads 7 files from unpkg.com: offline, or from mainland China when that
CDN is slow or blocked, /graphql stayed on "Loading...". The vendor files come from web/package-lock.json
through `python -m cli.assets` (run by `make venv` and the Docker build).
"""

from __future__ import annotations

import html
from pathlib import Path

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC_DIR = Path(__file__).resolve().parent / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
VENDOR_STAMP = VENDOR_DIR / ".lock-sha256"
# The files cli/assets.py copies (its FILES keys); the page links each one.
VENDOR_SCRIPTS = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "plugin-explorer.umd.js")
VENDOR_STYLES = ("graphiql.min.css", "plugin-explorer.css")
BUILD_HINT = "make venv  (或 / or: .venv/bin/python -m cli.assets)"

# Answers that are not the GraphiQL page are JSON, redirects or a pixel: nothing in them may load or run.
DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The GraphiQL page: every file from this origin, no 'unsafe-inline', no 'unsafe-eval'. Checked in Chromium
# (tests/test_graphiql_browser.py opens the editor, the explorer and the docs and fails on any console
# error): the UMD bundles need no eval, the page's script and styles are files under /static, React sets
# styles through the DOM (allowed), and GraphiQL's CSS embeds its fonts as data: URIs. connect-src 'self'
# covers fetch and the same-origin WebSocket of subscriptions.
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    # Tracked links (/t/c/...) carry a signed token: no Referer leaks it to the destination.
    "referrer-policy": "no-referrer",
    # Nothing here is meant to be framed (GraphiQL included): no clickjacking of a signed-in console.
    "x-frame-options": "DENY",
    "content-security-policy": DEFAULT_CSP,
}

# CORS for browser apps on other origins (PORTAL_CORS_ORIGINS): what our requests use and answer with.
CORS_METHODS = ["GET", "POST", "OPTIONS"]
# x-device-id: the referral fraud rules read it (README "Referrals").
# apollo-require-preflight / x-apollo-operation-name: what an image upload (multipart) must carry (api/app.py).
CORS_HEADERS = [
    "authorization",
    "content-type",
    "x-request-id",
    "x-device-id",
    "x-act-for",
    "apollo-require-preflight",
    "x-apollo-operation-name",
]
CORS_EXPOSE = ["x-request-id"]
CORS_MAX_AGE = 600


def _asset_version() -> str:
    """The lock digest the vendor files were built from: a new lock means new URLs, so a year of
    browser caching never serves an old GraphiQL."""
    try:
        return VENDOR_STAMP.read_text().strip()[:12]
    except OSError:
        return "0"


def vendor_missing() -> list[str]:
    return [name for name in (*VENDOR_SCRIPTS, *VENDOR_STYLES) if not (VENDOR_DIR / name).is_file()]


def graphiql_response() -> Response:
    missing = vendor_missing()
    if missing:
        return _missing_assets_page(missing)
    version = _asset_version()
    styles = "\n".join(
        f'    <link rel="stylesheet" href="/static/vendor/{name}?v={version}" />' for name in VENDOR_STYLES
    )
    scripts = "\n".join(f'    <script src="/static/vendor/{name}?v={version}"></script>' for name in VENDOR_SCRIPTS)
    page = f"""<!doctype html>
<html lang="zh-CN">
  <head>
    <meta charset="utf-8" />
    <title>GraphiQL · 康宁会员社区平台</title>
    <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
{styles}
    <link rel="stylesheet" href="/static/graphiql.css?v={version}" />
  </head>
  <body>
    <div id="graphiql">正在加载 GraphiQL… / Loading GraphiQL…</div>
{scripts}
    <script src="/static/graphiql.js?v={version}"></script>
  </body>
</html>
"""
    return HTMLResponse(page, headers={"content-security-policy": GRAPHIQL_CSP, "cache-control": "no-cache"})


def _missing_assets_page(missing: list[str]) -> Response:
    # A page that says what to run beats a blank one; 503 because this server cannot serve GraphiQL yet.
    files = html.escape(", ".join(missing))
    page = f"""<!doctype html>
<html lang="zh-CN">
  <head><meta charset="utf-8" /><title>GraphiQL 文件未构建 / GraphiQL assets not built</title></head>
  <body>
    <h1>GraphiQL 的前端文件尚未构建 / GraphiQL's browser files are not built</h1>
    <p>请在项目目录运行 / Run in the project folder: <code>{html.escape(BUILD_HINT)}</code></p>
    <p>缺少 / missing in api/static/vendor/: {files}</p>
    <p>GraphQL 接口本身可用：POST /graphql / The GraphQL endpoint itself works: POST /graphql</p>
  </body>
</html>
"""
    return HTMLResponse(page, status_code=503, headers={"cache-control": "no-store"})


class CachedStaticFiles(StaticFiles):
    """/static: vendor files are immutable under their ?v= URL (cached a year); the page's own small files
    are revalidated (ETag) so an edit shows at once."""

    def file_response(self, full_path: object, stat_result: object, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        vendor = Path(str(full_path)).resolve().parent == VENDOR_DIR
        response.headers["cache-control"] = "public, max-age=31536000, immutable" if vendor else "no-cache"
        return response


def static_app() -> ASGIApp:
    # check_dir=False: an install without api/static still starts (GraphiQL then says what is missing).
    return CachedStaticFiles(directory=STATIC_DIR, check_dir=False)


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every HTTP answer that does not set its own (the GraphiQL page sets its CSP)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.headers = [(name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in self.headers if name not in present)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class PortalCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered like every other client mistake: JSON with a code."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code != 400:
            return response
        body = {
            "data": None,
            "errors": [
                {
                    "message": "该来源、方法或请求头不允许跨域访问",
                    "extensions": {"code": "CORS_NOT_ALLOWED", "detail": bytes(response.body).decode()},
                }
            ],
        }
        return JSONResponse(body, status_code=400, headers={"vary": response.headers.get("vary", "Origin")})


def cors_origins(raw: str) -> list[str]:
    """PORTAL_CORS_ORIGINS: comma-separated origins (scheme://host[:port]); empty means no CORS at all."""
    return [origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip()]


def cors_middleware_options(origins: list[str]) -> dict[str, object]:
    return {
        "allow_origins": origins,
        "allow_methods": CORS_METHODS,
        "allow_headers": CORS_HEADERS,
        "expose_headers": CORS_EXPOSE,
        "max_age": CORS_MAX_AGE,
    }


__all__ = [
    "PortalCORSMiddleware",
    "SecurityHeadersMiddleware",
    "cors_middleware_options",
    "cors_origins",
    "graphiql_response",
    "static_app",
]
