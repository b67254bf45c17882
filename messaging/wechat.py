"""The WeChat server API: access tokens, code exchange, subscribe and template messages.

The access token (`/cgi-bin/token`) is shared by every API process and worker through Redis: it is
cached for `expires_in` minus a margin, and refreshed by one process at a time under a Redis lock
(SET NX with a TTL, released only by its owner). WeChat invalidates the previous token when a new
one is fetched, so uncoordinated refreshes would keep breaking each other's calls. An answer with
errcode 40001/42001/40014 (token invalid or expired) refreshes it, unless another process already
did, and the call is repeated once.

App secrets and tokens travel in query strings, so httpx's request log stays off (WARNING).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import structlog

from core import queue
from messaging.config import MessagingSettings, get_messaging_settings

log = structlog.get_logger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with secrets

App = Literal["mini_program", "official_account"]
TOKEN_ERRORS = frozenset({40001, 42001, 40014})
REFUSED = 43101  # the user has not (or no longer) subscribed to this template
BAD_OPENID = 40003
QUOTA = 45009
NOT_FOLLOWING = 43004  # Official Account: the user does not follow it
RETRY_CODES = frozenset({-1, QUOTA, 45011, 45047})
_LOCK_TTL_MS = 15_000
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
# Drop a cached token only if it is still the one that failed (another process may have replaced it).
_DROP_IF = _RELEASE

Verdict = Literal["sent", "retry", "refused", "bad_openid", "give_up"]


class WechatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"wechat errcode {errcode}: {errmsg}"[:300])
        self.errcode = errcode
        self.errmsg = errmsg


class WechatConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class WechatOutcome:
    verdict: Verdict
    errcode: int = 0
    msgid: str | None = None

    @property
    def error(self) -> str | None:
        return None if self.verdict == "sent" else f"{self.verdict}:{self.errcode}"


def verdict_of(errcode: int) -> Verdict:
    if errcode == 0:
        return "sent"
    if errcode in (REFUSED, NOT_FOLLOWING):
        return "refused"
    if errcode == BAD_OPENID:
        return "bad_openid"
    if errcode in RETRY_CODES:
        return "retry"
    return "give_up"


def credentials(app: App, settings: MessagingSettings | None = None) -> tuple[str, str]:
    settings = settings or get_messaging_settings()
    if app == "mini_program":
        app_id, secret = settings.wechat_mini_app_id, settings.wechat_mini_app_secret
    else:
        app_id, secret = settings.wechat_oa_app_id, settings.wechat_oa_app_secret
    if not (app_id and secret):
        raise WechatConfigError(f"WeChat {app} app id/secret are not configured")
    return app_id, secret


def _token_key(app_id: str) -> str:
    return f"portal:wechat:token:{app_id}"


async def _get_json(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> dict[str, Any]:
    base = get_messaging_settings().wechat_api_base.rstrip("/")
    response = await client.get(base + path, params=params)
    response.raise_for_status()
    return dict(response.json())


async def _fetch_token(app: App) -> tuple[str, int]:
    settings = get_messaging_settings()
    app_id, secret = credentials(app, settings)
    async with httpx.AsyncClient(timeout=settings.wechat_timeout_seconds) as client:
        body = await _get_json(
            client, "/cgi-bin/token", {"grant_type": "client_credential", "appid": app_id, "secret": secret}
        )
    if body.get("errcode"):
        raise WechatApiError(int(body["errcode"]), str(body.get("errmsg", "")))
    return str(body["access_token"]), int(body.get("expires_in") or 7200)


async def access_token(app: App, *, stale: str | None = None) -> str:
    """The app's token from Redis; fetched by one process at a time when missing (or == stale)."""
    settings = get_messaging_settings()
    app_id, _ = credentials(app, settings)
    redis = await queue.get_pool()
    key, lock = _token_key(app_id), _token_key(app_id) + ":lock"
    owner = uuid.uuid4().hex
    deadline = time.monotonic() + settings.wechat_timeout_seconds + _LOCK_TTL_MS / 1000
    while True:
        cached = await redis.get(key)
        if cached is not None and cached.decode() != stale:
            return str(cached.decode())
        if await redis.set(lock, owner, nx=True, px=_LOCK_TTL_MS):
            try:
                cached = await redis.get(key)  # refreshed while we waited for the lock?
                if cached is not None and cached.decode() != stale:
                    return str(cached.decode())
                token, expires_in = await _fetch_token(app)
                ttl = max(expires_in - settings.wechat_token_margin_seconds, 60)
                await redis.set(key, token, ex=ttl)
                log.info("wechat_token_refreshed", app=app, ttl=ttl)
                return token
            finally:
                await redis.eval(_RELEASE, 1, lock, owner)  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise WechatApiError(-1, "timed out waiting for another process to refresh the access token")
        await asyncio.sleep(0.05)


async def _post_with_token(app: App, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST with the access token; on a token error refresh it (unless someone did) and retry once."""
    settings = get_messaging_settings()
    base = settings.wechat_api_base.rstrip("/")
    token = await access_token(app)
    async with httpx.AsyncClient(timeout=settings.wechat_timeout_seconds) as client:
        for attempt in range(2):
            response = await client.post(base + path, params={"access_token": token}, json=body)
            response.raise_for_status()
            answer = dict(response.json())
            errcode = int(answer.get("errcode") or 0)
            if errcode in TOKEN_ERRORS and attempt == 0:
                app_id, _ = credentials(app, settings)
                redis = await queue.get_pool()
                await redis.eval(_DROP_IF, 1, _token_key(app_id), token)  # type: ignore[misc]
                token = await access_token(app, stale=token)
                continue
            return answer
    return answer


@dataclass(frozen=True)
class Identity:
    app: App
    app_id: str
    openid: str
    unionid: str | None


async def exchange_code(app: App, code: str) -> Identity:
    """Mini program: `/sns/jscode2session`; Official Account web auth: `/sns/oauth2/access_token`.
    Raises WechatApiError (40029 invalid code, 40163 code used ...) or httpx.HTTPError."""
    settings = get_messaging_settings()
    app_id, secret = credentials(app, settings)
    path = "/sns/jscode2session" if app == "mini_program" else "/sns/oauth2/access_token"
    params = {"appid": app_id, "secret": secret, "grant_type": "authorization_code"}
    params["js_code" if app == "mini_program" else "code"] = code
    async with httpx.AsyncClient(timeout=settings.wechat_timeout_seconds) as client:
        body = await _get_json(client, path, params)
    if body.get("errcode") or not body.get("openid"):
        raise WechatApiError(int(body.get("errcode") or -1), str(body.get("errmsg", "")))
    # The session key is never stored or logged: nothing here decrypts user data.
    return Identity(app=app, app_id=app_id, openid=str(body["openid"]), unionid=body.get("unionid"))


async def send_subscribe(*, openid: str, template_id: str, data: dict[str, str], page: str | None) -> WechatOutcome:
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {k: {"value": v} for k, v in data.items()},
        "miniprogram_state": get_messaging_settings().wechat_miniprogram_state,
        "lang": "zh_CN",
    }
    if page:
        body["page"] = page
    return await _send("mini_program", "/cgi-bin/message/subscribe/send", body)


async def send_template(*, openid: str, template_id: str, data: dict[str, str], url: str | None) -> WechatOutcome:
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {k: {"value": v} for k, v in data.items()},
    }
    if url:
        body["url"] = url
    return await _send("official_account", "/cgi-bin/message/template/send", body)


async def _send(app: App, path: str, body: dict[str, Any]) -> WechatOutcome:
    try:
        answer = await _post_with_token(app, path, body)
    except WechatApiError as exc:  # the token could not be had
        return WechatOutcome("retry", exc.errcode)
    except httpx.HTTPError as exc:
        log.warning("wechat_network_error", app=app, error=type(exc).__name__)
        return WechatOutcome("retry", -1)
    errcode = int(answer.get("errcode") or 0)
    outcome = WechatOutcome(verdict_of(errcode), errcode, str(answer["msgid"]) if answer.get("msgid") else None)
    log.info("wechat_message", app=app, verdict=outcome.verdict, errcode=errcode)
    return outcome
