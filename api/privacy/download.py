"""GET /privacy/exports/{id}: the patient's copy of their data, as a JSON attachment.

Only the patient it belongs to gets it, with their bearer token (as for /graphql; a revoked or erased
account's token is refused). Someone else's copy and an unknown id are both 404, an expired copy 410,
one still being made 409; every refusal is JSON with a code, never plain text. The copy is stored
gzip-compressed and sent as such (Content-Encoding: gzip) to clients that accept it, inflated for
the others.
"""

from __future__ import annotations

import gzip
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core import cpu
from core.db import get_sessionmaker
from core.errors import CoreCode, DomainError
from patients.auth import actor_from_token
from patients.errors import PatientsCode
from privacy import export
from privacy.errors import PrivacyCode

_STATUS: dict[str, int] = {
    PrivacyCode.DATA_EXPORT_NOT_FOUND: 404,
    PrivacyCode.DATA_EXPORT_EXPIRED: 410,
    PrivacyCode.DATA_EXPORT_NOT_READY: 409,
    CoreCode.NOT_AUTHENTICATED: 401,
    PatientsCode.ACCESS_TOKEN_INVALID: 401,
    PatientsCode.ACCESS_TOKEN_REVOKED: 401,
    CoreCode.PERMISSION_DENIED: 403,
}
_NO_STORE = {"cache-control": "no-store"}


def _error(status: int, code: str, message: str) -> JSONResponse:
    body: dict[str, Any] = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    headers = dict(_NO_STORE)
    if status == 401:
        headers["www-authenticate"] = "Bearer"
    return JSONResponse(body, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _accepts_gzip(request: Request) -> bool:
    codings = [c.split(";")[0].strip().lower() for c in request.headers.get("accept-encoding", "").split(",")]
    return "gzip" in codings


async def download_export(request: Request) -> Response:
    token = _bearer(request)
    if token is None:
        return _error(401, CoreCode.NOT_AUTHENTICATED, "请先登录")
    try:
        export_id = uuid.UUID(request.path_params["export_id"])
    except ValueError:
        return _error(404, PrivacyCode.DATA_EXPORT_NOT_FOUND, "数据副本不存在")
    try:
        # The primary, as for every token check: a revocation a moment ago holds.
        async with get_sessionmaker()() as session:
            actor = await actor_from_token(session, token)
            found = await export.download(session, actor, export_id)
    except DomainError as exc:
        return _error(_STATUS.get(exc.code, 400), exc.code, exc.message)
    headers = {
        **_NO_STORE,
        "content-disposition": f'attachment; filename="{found.filename}"',
        "x-content-sha256": found.sha256,
        "vary": "accept-encoding",
    }
    if _accepts_gzip(request):
        headers["content-encoding"] = "gzip"
        body = found.content
    else:
        body = await cpu.run(gzip.decompress, found.content)
    return Response(body, media_type="application/json; charset=utf-8", headers=headers)


ROUTES = [Route("/privacy/exports/{export_id}", download_export, methods=["GET"])]
