"""Tracking routes for e-mail: the open pixel `/t/o/{token}` and the tracked link `/t/c/{token}`.

The token is signed (messaging.engagement); a bad token still gets the pixel (or a 404 for a
link), never an error page that reveals anything. The link goes only to the address stored with
the delivery, so the route cannot be used as an open redirect.
"""

from __future__ import annotations

import base64

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from core.db import unit_of_work
from messaging import engagement

_PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_CACHE = {"cache-control": "no-store, max-age=0"}


async def track_open(request: Request) -> Response:
    async with unit_of_work() as session:
        await engagement.record_by_token(session, request.path_params["token"], "opened")
    return Response(_PIXEL, media_type="image/gif", headers=_NO_CACHE)


async def track_click(request: Request) -> Response:
    async with unit_of_work() as session:
        delivery = await engagement.record_by_token(session, request.path_params["token"], "clicked")
        link = delivery.link if delivery is not None else None
    if not link:
        return Response("链接无效或已失效", status_code=404, media_type="text/plain; charset=utf-8")
    return RedirectResponse(link, status_code=302, headers=_NO_CACHE)
