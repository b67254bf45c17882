"""CSRF: every POST carries the session's token, in the hidden form field or the htmx header.

SameSite=Strict already keeps another site's forms from riding the session cookie; the token also
stops a request from a sibling subdomain or an old browser. The sign-in form has no session yet: it
uses a double-submit token (the same random value in its own Strict cookie and in the form).
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def new_token() -> str:
    return secrets.token_urlsafe(32)


async def submitted(request: Request) -> str:
    """The token the request carries: the header (htmx) first, else the form field."""
    header = request.headers.get(HEADER)
    if header:
        return header
    form = await request.form()
    value = form.get(FIELD)
    return value if isinstance(value, str) else ""


def matches(expected: str | None, given: str) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())
