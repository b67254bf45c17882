"""GET /media/{image_id}/{variant}: an image through its signed, expiring URL (media/urls.py).

The URL's signature carries what the GraphQL field that issued it decided (the one access check), so
serving needs no membership lookup: the signature and expiry, the image's current status against the
URL's grant (a rejected image stops at once), and for a URL bound to one viewer, no request signed in
as somebody else. Every refusal is JSON with a code: 403 for a bad, expired or someone else's URL, 404
for an image that is gone or no longer shown. Local files are sent by the server from disk, stored
objects streamed from the S3-compatible store; the image never passes through Pillow again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from community import access
from core import clock
from core.db import get_read_sessionmaker, get_sessionmaker
from core.errors import CoreCode, DomainError
from media import errors, service, urls
from media.storage import get_storage
from patients.auth import actor_from_token
from patients.errors import PatientsCode


def _error(status: int, code: str, message: str) -> JSONResponse:
    body: dict[str, Any] = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


_STATUS: dict[str, int] = {
    errors.MediaCode.IMAGE_NOT_FOUND: 404,
    CoreCode.NOT_AUTHENTICATED: 401,
    PatientsCode.ACCESS_TOKEN_INVALID: 401,
    PatientsCode.ACCESS_TOKEN_REVOKED: 401,
}


def _refusal(exc: DomainError) -> JSONResponse:
    return _error(_STATUS.get(exc.code, 403), exc.code, exc.message)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def _check_viewer(request: Request, verified: urls.Verified) -> None:
    """A viewer-bound URL presented by a signed-in request must be presented by its viewer."""
    token = _bearer(request)
    if not verified.grant.viewer or token is None:
        return
    async with get_sessionmaker()() as session:  # the primary, as for every token check
        actor = await actor_from_token(session, token)
    kind, account_id = access.viewer_account(actor)
    if kind is None or account_id is None or urls.viewer_tag(kind, account_id) != verified.grant.viewer:
        raise errors.WrongViewer()


async def serve_image(request: Request) -> Response:
    now = clock.now()
    try:
        verified = urls.verify(
            request.path_params["image_id"], request.path_params["variant"], dict(request.query_params), now
        )
        await _check_viewer(request, verified)
        async with get_read_sessionmaker()() as session:
            found = await service.to_serve(session, verified)
    except DomainError as exc:
        return _refusal(exc)
    stored = await get_storage().open(found.key)
    if stored is None:
        return _refusal(errors.ImageNotFound())
    # Cached until the URL expires: by anyone's cache for a URL anyone may use, by the viewer's only
    # for one bound to a viewer. The bytes behind a key never change (a new upload is a new key).
    max_age = max(0, verified.expires - int(now.timestamp()))
    scope = "public" if found.public else "private"
    headers = {"cache-control": f"{scope}, max-age={max_age}, immutable", "content-disposition": "inline"}
    if stored.path is not None:
        return FileResponse(stored.path, media_type=found.content_type, headers=headers)
    assert stored.chunks is not None
    headers["content-length"] = str(stored.size)
    return StreamingResponse(stored.chunks, media_type=found.content_type, headers=headers)


ROUTES = [Route("/media/{image_id}/{variant}", serve_image, methods=["GET"])]
