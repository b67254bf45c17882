"""The Starlette application: /graphql, health, metrics, request ids and access logs."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry import UNSET
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from api.context import Context
from api.hooks import his_visits
from api.messaging.tracking import track_click, track_open
from api.metrics import HTTP_LATENCY, HTTP_REQUESTS
from api.schema import schema
from core import queue
from core.db import RequestDB, dispose_engine, get_sessionmaker
from core.errors import DomainError
from core.identity import ANONYMOUS
from core.logging import configure_logging
from core.settings import get_settings
from patients.auth import actor_from_token

log = structlog.get_logger("api")
REQUEST_ID_HEADER = "x-request-id"


class PortalGraphQL(GraphQL[Context, None]):
    async def get_context(self, request: Any, response: Any) -> Context:
        if request.scope["type"] == "websocket":
            # The actor arrives later, in connection_init (see on_ws_connect).
            return Context(
                request=request,
                response=None,
                actor=ANONYMOUS,
                db=RequestDB(release_after_read=True),
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
    """Resolves the actor before GraphQL runs: a bad or revoked token is a 401, not a silent anonymous."""

    def __init__(self, graphql_app: ASGIApp) -> None:
        self.graphql_app = graphql_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        graphql_app = self.graphql_app
        if scope["type"] != "http":
            await graphql_app(scope, receive, send)
            return
        request = Request(scope)
        db = RequestDB()
        state = scope.setdefault("state", {})
        try:
            actor = ANONYMOUS
            token = _bearer(request)
            if token:
                try:
                    async with db.read() as session:
                        actor = await actor_from_token(session, token)
                except DomainError as exc:
                    body = {"data": None, "errors": [{"message": exc.message, "extensions": {"code": exc.code}}]}
                    response = JSONResponse(body, status_code=401, headers={"www-authenticate": "Bearer"})
                    await response(scope, receive, send)
                    return
            state.update(actor=actor, db=db)
            await graphql_app(scope, receive, send)
        finally:
            await db.close()


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
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((REQUEST_ID_HEADER.encode(), request_id.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope["path"] if scope["path"] in ROUTES else "other"
            HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
            if route != "/metrics":
                log.info(
                    "http_request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")


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
        await dispose_engine()


def create_app() -> Starlette:
    graphiql = "graphiql" if get_settings().graphiql_enabled else None
    graphql_app = PortalGraphQL(
        schema, graphql_ide=graphiql, allow_queries_via_get=True, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL]
    )
    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            Route("/hooks/his/visits", his_visits, methods=["POST"]),
            Route("/t/o/{token}", track_open, methods=["GET"]),  # e-mail open pixel
            Route("/t/c/{token}", track_click, methods=["GET"]),  # tracked message link
            Route("/graphql", GraphQLEndpoint(graphql_app), methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql_app),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(RequestContextMiddleware)
    return app


app = create_app()
