"""The Starlette application: /graphql, health, metrics, request ids and access logs."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
import structlog
from cross_web import HTTPException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.browser import (
    PortalCORSMiddleware,
    SecurityHeadersMiddleware,
    cors_middleware_options,
    cors_origins,
    graphiql_response,
    static_app,
)
from api.community.sharing import ROUTES as share_routes
from api.context import Context
from api.errors import INTERNAL_MESSAGE, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE
from api.gate import BUSY_CODE, BUSY_MESSAGE, RequestGate
from api.hooks import his_visits
from api.identity.guardians import ACT_FOR_HEADER, ACT_FOR_STATUS, acting_for
from api.media.serve import ROUTES as media_routes
from api.messaging.hooks import ROUTES as sms_hook_routes
from api.messaging.tracking import track_click, track_open
from api.metrics import HTTP_LATENCY, HTTP_REQUESTS
from api.privacy.download import ROUTES as privacy_routes
from api.schema import schema
from api.ws import PortalTransportWSHandler
from console.app import ROUTES as console_routes
from core import queue
from core.db import RequestDB, dispose_engine, get_sessionmaker, has_replica, is_unavailable
from core.errors import DomainError
from core.identity import ANONYMOUS, Actor
from core.logging import configure_logging
from core.settings import get_settings
from media.config import get_media_settings
from media.storage import close_storage
from patients.auth import actor_from_token

log = structlog.get_logger("api")
REQUEST_ID_HEADER = "x-request-id"
# Bracket nesting a query text may have: the depth limit (12) plus arguments and input objects.
MAX_QUERY_NESTING = 64


def error_body(code: str, message: str, **extensions: Any) -> dict[str, Any]:
    return {"data": None, "errors": [{"message": message, "extensions": {"code": code, **extensions}}]}


def error_response(status: int, code: str, message: str, **extensions: Any) -> JSONResponse:
    return JSONResponse(error_body(code, message, **extensions), status_code=status)


HTTP_ERROR_CODES = {
    400: ("BAD_REQUEST", "请求格式不正确"),
    401: ("NOT_AUTHENTICATED", "请先登录"),
    404: ("NOT_FOUND", "地址不存在"),
    405: ("METHOD_NOT_ALLOWED", "不支持该请求方法"),
    413: ("BODY_TOO_LARGE", "请求体过大"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "请以 application/json 提交"),
    422: ("BAD_REQUEST", "请求格式不正确"),
}


def _max_nesting(text: str) -> int:
    """Deepest bracket nesting of a query text, outside string literals (a cheap pre-parse bound)."""
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "}])":
            depth -= 1
    return deepest


class PortalGraphQL(GraphQL[Context, None]):
    graphql_transport_ws_handler_class = PortalTransportWSHandler  # errors with codes, as over HTTP

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response: Response = await self.run(Request(scope=scope, receive=receive))
        except HTTPException as exc:
            # strawberry answers these in plain text; clients switch on a JSON code instead.
            code, message = HTTP_ERROR_CODES.get(exc.status_code, ("BAD_REQUEST", "请求格式不正确"))
            response = error_response(exc.status_code, code, message, detail=exc.reason)
        await response(scope, receive, send)

    async def render_graphql_ide(self, request: Any) -> Response:
        # Our own page, every file served from /static (api/browser.py): strawberry's loads 7 from a CDN.
        return graphiql_response()

    def encode_json(self, data: object) -> str:
        # orjson: several times faster than json.dumps on a feed page (and UTF-8, not \u escapes); a str,
        # because websocket messages must go out as text frames.
        return orjson.dumps(data).decode()

    async def process_result(self, request: Any, result: Any) -> Any:
        answer = await super().process_result(request, result)
        # Parse errors leave strawberry before the ErrorFormatting extension sees them: every error
        # still carries a code clients can switch on.
        for error in answer.get("errors") or ():
            if isinstance(error, dict):  # always, once formatted
                extensions = error.setdefault("extensions", {})
                extensions.setdefault("code", "BAD_REQUEST")
        return answer

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses invalid UTF-8 and nesting deeper than 1024 with a JSONDecodeError (a 400),
        # where the standard library raised UnicodeDecodeError or RecursionError (a 500).
        return orjson.loads(data)

    async def parse_http_body(self, request: Any) -> Any:
        try:
            parsed = await super().parse_http_body(request)
        except (AttributeError, TypeError) as exc:
            # A JSON string, number or null as the body: strawberry calls .get() on it.
            raise HTTPException(400, "请求体必须是 JSON 对象（query、variables、operationName）") from exc
        except (ValueError, IndexError) as exc:
            # A multipart `map` path that does not fit `operations` (a list index that is no number).
            raise HTTPException(400, "multipart 请求的 map 与 operations 不匹配") from exc
        query = getattr(parsed, "query", None)
        if isinstance(query, str) and _max_nesting(query) > MAX_QUERY_NESTING:
            # graphql-core's parser recurses per level: stop absurd nesting before it parses.
            raise HTTPException(400, f"查询嵌套过深（最多 {MAX_QUERY_NESTING} 层括号）")
        return parsed

    async def get_context(self, request: Any, response: Any) -> Context:
        if request.scope["type"] == "websocket":
            # The actor arrives later, in connection_init (see on_ws_connect).
            return Context(
                request=request,
                response=None,
                actor=ANONYMOUS,
                db=RequestDB(release_after_read=True, primary=True),
                request_id=uuid.uuid4().hex,
            )
        state = request.scope["state"]
        return Context(
            request=request, response=response, actor=state["actor"], db=state["db"], request_id=state["request_id"]
        )

    async def on_ws_connect(self, context: Context) -> Any:
        """graphql-transport-ws: `{"authorization": "Bearer <access token>"}` in connection_init."""
        params = context.connection_params or {}
        raw = str(params.get("authorization") or params.get("Authorization") or "")
        token = raw.removeprefix("Bearer ").strip() or None
        try:
            async with context.db.read() as session:
                context.actor = await actor_from_token(session, token)
        except DomainError as exc:
            raise ConnectionRejectionError({"code": exc.code, "message": exc.message}) from exc
        return UNSET


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class GraphQLEndpoint:
    """Resolves the actor before GraphQL runs: a bad or revoked token is a 401, not a silent anonymous.

    The token lookup's connection stays with the request for its reads (one connection, never two
    at once: a mutation gives it back before its unit of work, see api/mutations.py).
    """

    def __init__(self, graphql_app: ASGIApp) -> None:
        self.graphql_app = graphql_app
        settings = get_settings()
        self.gate = RequestGate(settings.max_concurrent_requests, settings.request_queue_timeout_seconds)
        self.uploads = asyncio.Semaphore(MAX_UPLOADS_RECEIVING)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        graphql_app = self.graphql_app
        if scope["type"] != "http":
            await graphql_app(scope, receive, send)
            return
        request = Request(scope)
        upload = _is_multipart(request)
        if upload and not any(request.headers.get(h, "").strip() for h in PREFLIGHT_HEADERS):
            await error_response(400, "CSRF_PREFLIGHT_REQUIRED", PREFLIGHT_MESSAGE)(scope, receive, send)
            return
        # An image upload may carry one image (PORTAL_MEDIA_MAX_BYTES); every other request keeps the cap.
        limit = get_media_settings().upload_body_limit if upload else get_settings().max_request_bytes
        too_large = _body_too_large(request, limit)
        if too_large:
            await too_large(scope, receive, send)
            return
        if upload:
            received = await self._receive_upload(scope, receive, send, limit)
            if received is None:
                return
            receive = received
        async with self.gate.turn() as admitted:
            if not admitted:
                log.warning("request_queue_timeout")
                await busy_response()(scope, receive, send)
                return
            await self._serve(request, scope, receive, send, limit)

    async def _receive_upload(self, scope: Scope, receive: Receive, send: Send, limit: int) -> Receive | None:
        """An upload's whole body, received before the request takes its turn: a phone sending 5 MB over
        a slow link takes many seconds, and must not hold one of the few turns meanwhile. At most
        MAX_UPLOADS_RECEIVING are received at once per process (memory); None when answered already."""
        try:
            async with asyncio.timeout(get_settings().request_queue_timeout_seconds):
                await self.uploads.acquire()
        except TimeoutError:
            await busy_response()(scope, receive, send)
            return None
        try:
            body = await _whole_body(receive, limit)
        except _ClientGone:
            return None
        finally:
            self.uploads.release()
        if body is None:  # past the limit (a chunked body without Content-Length)
            await error_response(413, "BODY_TOO_LARGE", f"请求体过大（最多 {limit} 字节）")(scope, receive, send)
            return None
        return _replay(body, receive)

    async def _serve(self, request: Request, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        graphql_app = self.graphql_app
        db = RequestDB()
        state = scope.setdefault("state", {})
        try:
            actor = ANONYMOUS
            token = _bearer(request)
            act_for = request.headers.get(ACT_FOR_HEADER)  # a guardian acting for a dependent
            if token or act_for is not None:
                try:
                    actor = await _actor(db, token, act_for)
                except DomainError as exc:
                    status = ACT_FOR_STATUS.get(exc.code, 401)
                    response = error_response(status, exc.code, exc.message)
                    if status == 401:
                        response.headers["www-authenticate"] = "Bearer"
                    await response(scope, receive, send)
                    return
                except Exception as exc:
                    if not is_unavailable(exc):
                        raise
                    log.warning("database_unavailable", error=type(exc).__name__)
                    await unavailable_response()(scope, receive, send)
                    return
            state.update(actor=actor, db=db)
            await graphql_app(scope, _limit_body(receive, limit), send)
        finally:
            await db.close()


async def _actor(db: RequestDB, token: str | None, act_for: str | None = None) -> Actor:
    if has_replica():
        # Revocation is checked on the primary: a replica lagging behind would accept a token
        # revoked a moment ago (or refuse one issued a moment ago); a revoked delegation too.
        async with get_sessionmaker()() as session:
            return await _resolve(session, token, act_for)
    async with db.read() as session:  # without a replica the connection serves the request's reads
        return await _resolve(session, token, act_for)


async def _resolve(session: AsyncSession, token: str | None, act_for: str | None) -> Actor:
    actor = await actor_from_token(session, token)
    return actor if act_for is None else await acting_for(session, actor, act_for)


def busy_response() -> JSONResponse:
    response = error_response(503, BUSY_CODE, BUSY_MESSAGE)
    response.headers["retry-after"] = "2"
    return response


def unavailable_response() -> JSONResponse:
    response = error_response(503, UNAVAILABLE_CODE, UNAVAILABLE_MESSAGE)
    response.headers["retry-after"] = "5"
    return response


def _body_too_large(request: Request, limit: int) -> Response | None:
    length = request.headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            return error_response(400, "BAD_REQUEST", "Content-Length 不合法")
        if int(length) > limit:
            return error_response(413, "BODY_TOO_LARGE", f"请求体过大（最多 {limit} 字节）")
    return None


# Multipart GraphQL requests (image uploads) are "simple" requests a browser sends cross-site without
# asking first; requiring one of these headers forces a CORS preflight, so another site cannot make a
# signed-in browser upload (Apollo Server's rule; apollo-upload-client sends Apollo-Require-Preflight).
PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")
PREFLIGHT_MESSAGE = "上传文件的请求需带 Apollo-Require-Preflight 请求头（防止跨站请求伪造）"
MAX_UPLOADS_RECEIVING = 16


def _is_multipart(request: Request) -> bool:
    content_type = request.headers.get("content-type", "")
    return request.method == "POST" and content_type.split(";")[0].strip().lower() == "multipart/form-data"


class _ClientGone(Exception):
    """The client hung up while sending its upload: nobody to answer."""


async def _whole_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` (the rest is never read)."""
    chunks: list[bytes] = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise _ClientGone()
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # what comes after the body: the disconnect
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _limit_body(receive: Receive, limit: int) -> Receive:
    """Stops a chunked body without Content-Length at the same cap, before it is buffered whole."""
    seen = 0

    async def limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, "请求体过大")
        return message

    return limited


ACCESS_LOG = logging.getLogger("api")
_METRIC_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _metric_children(method: str, route: str, status: int) -> tuple[Any, Any]:
    # prometheus_client's labels() takes a lock and builds a key on every call: a few percent of a
    # feed request. The combinations are few (routes x methods x statuses), so keep them.
    if method not in _METHODS:  # clients choose the method: keep the label set (and this dict) bounded
        method = "OTHER"
    key = (method, route, status)
    found = _METRIC_CHILDREN.get(key)
    if found is None:
        found = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_LATENCY.labels(method, route))
        _METRIC_CHILDREN[key] = found
    return found


class RequestContextMiddleware:
    """Request id (taken from X-Request-ID or made), structured access log and metrics."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER.encode(), b"").decode()[:64]
        request_id = incoming if incoming.replace("-", "").isalnum() and incoming else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started_response = False
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # The last resort, logged once here (not again by Starlette and uvicorn): never plain text.
            if not started_response:
                response = server_error_response(exc, request_id)
                await response(scope, receive, send_with_id)
            else:
                log.error("unhandled_error_after_answer", exc_info=exc)
        finally:
            elapsed = time.perf_counter() - started
            route = scope["path"] if scope["path"] in ROUTES else "other"
            counter, histogram = _metric_children(scope["method"], route, status)
            counter.inc()
            histogram.observe(elapsed)
            if route != "/metrics" and ACCESS_LOG.isEnabledFor(logging.INFO):
                log.info(
                    "http_request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")


async def http_error(request: Request, exc: Exception) -> Response:
    """404, 405 and the like as JSON with a code (Starlette answers them in plain text)."""
    assert isinstance(exc, StarletteHTTPException)
    code, message = HTTP_ERROR_CODES.get(exc.status_code, ("HTTP_ERROR", "请求无法处理"))
    return error_response(exc.status_code, code, message, detail=exc.detail)


def server_error_response(exc: Exception, request_id: str) -> Response:
    if is_unavailable(exc):
        log.warning("database_unavailable", error=type(exc).__name__)
        return unavailable_response()
    log.error("unhandled_error", exc_info=exc)
    return error_response(500, "INTERNAL_ERROR", INTERNAL_MESSAGE, requestId=request_id)


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(_: Request) -> Response:
    checks: dict[str, str] = {}

    async def database() -> None:
        async with get_sessionmaker()() as session:
            await session.execute(text("SELECT 1"))

    async def redis() -> None:
        pool = await queue.get_pool()
        await pool.ping()

    for name, check in (("postgres", database), ("redis", redis)):
        try:
            await asyncio.wait_for(check(), timeout=2)
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)


async def metrics(_: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


ROUTES = {"/graphql", "/healthz", "/readyz", "/metrics", "/hooks/his/visits"}


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    configure_logging()
    log.info("api_started", env=get_settings().env, graphiql=get_settings().graphiql_enabled)
    try:
        yield
    finally:
        await queue.close_pool()
        await close_storage()
        await dispose_engine()


def create_app() -> Starlette:
    graphiql: Literal["graphiql"] | None = "graphiql" if get_settings().graphiql_enabled else None
    graphql_app = PortalGraphQL(
        schema,
        graphql_ide=graphiql,
        allow_queries_via_get=True,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        multipart_uploads_enabled=True,  # image uploads (GraphQL multipart request spec): see GraphQLEndpoint
    )
    app = Starlette(
        exception_handlers={StarletteHTTPException: http_error},
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/hooks/his/visits", his_visits, methods=["POST"]),
            *sms_hook_routes,  # SMS receipts and replies (api/messaging/hooks.py)
            Route("/t/o/{token}", track_open, methods=["GET"]),  # e-mail open pixel
            Route("/t/c/{token}", track_click, methods=["GET"]),  # tracked message link
            *share_routes,  # share links' public previews /s/{code} (api/community/sharing.py)
            *privacy_routes,  # the patient's copy of their data (api/privacy/download.py)
            *media_routes,  # images through signed, expiring URLs (api/media/serve.py)
            Route("/graphql", GraphQLEndpoint(graphql_app), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
            *console_routes,  # the staff console /console (console/app.py): GraphQL run in-process
            Mount("/static", app=static_app(), name="static"),  # GraphiQL's files (api/browser.py)
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware)
    origins = cors_origins(get_settings().cors_origins)
    if origins:  # none by default: only the listed browser apps may call the API from another origin
        app.add_middleware(PortalCORSMiddleware, **cors_middleware_options(origins))  # type: ignore[arg-type]
    # Added last, so outermost: every answer gets the headers, errors and CORS preflights included.
    app.add_middleware(SecurityHeadersMiddleware)
    return app


app = create_app()
