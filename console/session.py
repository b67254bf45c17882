"""Console sessions: a random id in an HttpOnly, SameSite=Strict cookie; the tokens stay on the server.

The access and refresh tokens of authStaffSignIn are kept in Redis under a hash of the cookie's id, so
no script in the page (and no copy of the cookie jar) ever holds a token. A session is forgotten after
`idle_minutes` without a request: Redis expires the key, and the last-seen time is compared with the
application clock as well (tests move that clock instead of waiting).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime

import orjson

from console.config import get_console_settings
from core import clock, queue

COOKIE = "kn_console"
# Before sign-in: the double-submit token of the sign-in form (console/csrf.py).
LOGIN_COOKIE = "kn_console_login"
COOKIE_PATH = "/console"
_KEY = "console:session:"


@dataclass
class ConsoleSession:
    access_token: str
    refresh_token: str
    access_expires_at: str  # ISO 8601, as GraphQL answered it
    staff_id: str  # global id
    name: str
    email: str
    roles: list[str]
    role_labels: list[str]
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    last_seen: str = ""
    flash: list[list[str]] = field(default_factory=list)  # [kind, text] shown by the next page

    @property
    def access_expired(self) -> bool:
        # A minute early: the page's operations run after this check and must not find it expired.
        return datetime.fromisoformat(self.access_expires_at).timestamp() - 60 <= clock.now().timestamp()


def _key(cookie: str) -> str:
    # Only a hash of the id is stored: reading Redis gives no cookie to replay.
    return _KEY + hashlib.sha256(cookie.encode()).hexdigest()


def _seen_key(cookie: str) -> str:
    return _key(cookie) + ":seen"


async def _store(cookie: str, session: ConsoleSession) -> None:
    session.last_seen = clock.now().isoformat()
    pool = await queue.get_pool()
    ttl = get_console_settings().idle_seconds + 60  # Redis forgets it a little after the idle limit
    async with pool.pipeline(transaction=True) as pipe:
        pipe.set(_key(cookie), orjson.dumps(asdict(session)), ex=ttl)
        pipe.set(_seen_key(cookie), session.last_seen, ex=ttl)
        await pipe.execute()


async def _touch(cookie: str) -> None:
    """Restarts the idle clock without writing the session: a page's concurrent requests (a live
    preview while a form posts) must not write back a copy read before another one's flash message or
    refreshed tokens, which would undo it."""
    pool = await queue.get_pool()
    ttl = get_console_settings().idle_seconds + 60
    async with pool.pipeline(transaction=True) as pipe:
        pipe.set(_seen_key(cookie), clock.now().isoformat(), ex=ttl)
        pipe.expire(_key(cookie), ttl)
        await pipe.execute()


async def create(session: ConsoleSession) -> str:
    """Stores a new session; returns the cookie value (a fresh id: no fixation of an old one)."""
    cookie = secrets.token_urlsafe(32)
    await _store(cookie, session)
    return cookie


async def load(cookie: str | None) -> ConsoleSession | None:
    """The live session of a cookie, its idle clock restarted; None when unknown or idle too long."""
    if not cookie or len(cookie) > 128:
        return None
    pool = await queue.get_pool()
    raw = await pool.get(_key(cookie))
    if raw is None:
        return None
    try:
        session = ConsoleSession(**orjson.loads(raw))
    except (TypeError, ValueError):
        await pool.delete(_key(cookie), _seen_key(cookie))
        return None
    seen = await pool.get(_seen_key(cookie))
    if seen is not None:
        session.last_seen = seen.decode() if isinstance(seen, bytes) else str(seen)
    idle = clock.now() - datetime.fromisoformat(session.last_seen)
    if idle.total_seconds() > get_console_settings().idle_seconds:
        await pool.delete(_key(cookie), _seen_key(cookie))
        return None
    await _touch(cookie)
    return session


async def save(cookie: str, session: ConsoleSession) -> None:
    """After the tokens were refreshed, or a flash message was added or shown."""
    await _store(cookie, session)


async def destroy(cookie: str | None) -> None:
    if cookie:
        pool = await queue.get_pool()
        await pool.delete(_key(cookie), _seen_key(cookie))
