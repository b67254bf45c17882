"""Signing in to the console through its own forms, with an httpx client (in-process or a live server)."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import STAFF_PASSWORD

_FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
_META_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def form_token(html: str) -> str:
    found = _FORM_TOKEN.search(html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


def page_token(html: str) -> str:
    found = _META_TOKEN.search(html)
    assert found, "no csrf-token meta in the page"
    return found.group(1)


async def console_sign_in(client: Any, email: str, password: str = STAFF_PASSWORD) -> str:
    """Signs in through /console/login; returns the session's CSRF token (from the home page)."""
    login = await client.get("/console/login")
    assert login.status_code == 200
    answer = await client.post(
        "/console/login", data={"csrf_token": form_token(login.text), "email": email, "password": password}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console"
    home = await client.get("/console/")
    assert home.status_code == 200, home.text
    return page_token(home.text)


async def console_post(client: Any, path: str, token: str, **fields: Any) -> Any:
    return await client.post(path, data={"csrf_token": token, **fields})
