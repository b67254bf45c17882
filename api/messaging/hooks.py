"""SMS provider callbacks: delivery receipts and patients' replies (Alibaba Cloud and Tencent Cloud).

Neither provider signs its HTTP pushes, so the callback URL carries a shared token
(`?token=<PORTAL_SMS_CALLBACK_TOKEN>`, or the `X-Callback-Token` header); without it (or when no
token is configured) the push is refused with 401. Each push is applied in one transaction and
answered in the provider's own success shape, so it does not push again; a repeat is harmless.

  POST /hooks/sms/aliyun/report   SmsReport: [{phone_number, success, err_code, biz_id, out_id, report_time}]
  POST /hooks/sms/aliyun/reply    SmsUp:     [{phone_number, content, send_time, sequence_id}]
  POST /hooks/sms/tencent/report  [{mobile, report_status SUCCESS|FAIL, errmsg, sid, user_receive_time}]
  POST /hooks/sms/tencent/reply   {mobile, nationcode, text, time} (or a list of them)

WeChat's message push (服务器配置, plaintext mode, XML or JSON) is signed:
signature = sha1 of the sorted, concatenated (token, timestamp, nonce) in the query string.
  GET  /hooks/wechat/events  the URL check: echostr back when the signature holds
  POST /hooks/wechat/events  TEMPLATESENDJOBFINISH, subscribe_msg_sent_event (receipts),
                             subscribe_msg_change_event (a template turned off)
"""

from __future__ import annotations

import hashlib
import hmac
import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from core.db import unit_of_work
from core.settings import get_settings
from messaging import receipts
from messaging.config import get_messaging_settings

log = structlog.get_logger("api.messaging.hooks")
MAX_BODY = 1024 * 1024
MAX_ITEMS = 1000
TOKEN_HEADER = "x-callback-token"


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _verified(request: Request) -> bool:
    expected = get_messaging_settings().sms_callback_token
    given = request.query_params.get("token") or request.headers.get(TOKEN_HEADER) or ""
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


async def _items(request: Request) -> list[dict[str, Any]] | JSONResponse:
    if not _verified(request):
        return _error(401, "CALLBACK_UNVERIFIED", "回调未通过校验：请在回调地址中携带正确的 token")
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "BODY_TOO_LARGE", "请求体过大")
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return _error(400, "INVALID_JSON", "请求体不是合法的 JSON")
    items = raw if isinstance(raw, list) else [raw]
    if len(items) > MAX_ITEMS or not all(isinstance(i, dict) for i in items):
        return _error(400, "VALIDATION_FAILED", f"回调内容应为不超过{MAX_ITEMS}条的对象列表")
    return items


def _local_time(value: Any) -> datetime | None:
    """Provider times are Beijing time "YYYY-MM-DD HH:MM:SS" (or a Unix timestamp)."""
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float) or str(value).isdigit():
            return datetime.fromtimestamp(int(value), ZoneInfo("UTC"))
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=ZoneInfo(get_settings().default_timezone)
        )
    except (ValueError, OverflowError, OSError):
        return None


def _aliyun_ok() -> JSONResponse:
    return JSONResponse({"code": 0, "msg": "成功"})


def _tencent_ok() -> JSONResponse:
    return JSONResponse({"result": 0, "errmsg": "OK"})


# One pushed item recorded: how many receipts it changed (replies change none).
Record = Callable[[AsyncSession, dict[str, Any]], Awaitable[int]]


def _callback(
    provider: str, key: str, record: Record, ok: Callable[[], JSONResponse], *, reports: bool
) -> Callable[[Request], Awaitable[JSONResponse]]:
    """The endpoint of one kind of push: its items that carry `key` recorded in one transaction,
    answered in the provider's success shape."""

    async def endpoint(request: Request) -> JSONResponse:
        items = await _items(request)
        if isinstance(items, JSONResponse):
            return items
        changed = 0
        async with unit_of_work() as session:
            for item in items:
                if item.get(key):
                    changed += await record(session, item)
        if reports:
            log.info("sms_reports", provider=provider, items=len(items), changed=changed)
        return ok()

    return endpoint


async def _aliyun_report(session: AsyncSession, item: dict[str, Any]) -> int:
    return await receipts.record_report(
        session,
        provider_ref=f"aliyun:{item['biz_id']}",
        phone=str(item.get("phone_number") or ""),
        success=item.get("success") in (True, "true", "True", 1),
        code=str(item.get("err_code") or ""),
        reported_at=_local_time(item.get("report_time")),
    )


async def _aliyun_reply(session: AsyncSession, item: dict[str, Any]) -> int:
    await receipts.record_reply(
        session,
        provider="aliyun",
        phone=str(item["phone_number"]),
        content=str(item.get("content") or ""),
        sent_at=_local_time(item.get("send_time")),
        dedupe_key=str(item["sequence_id"]) if item.get("sequence_id") is not None else None,
    )
    return 0


async def _tencent_report(session: AsyncSession, item: dict[str, Any]) -> int:
    return await receipts.record_report(
        session,
        provider_ref=f"tencent:{item['sid']}",
        phone=str(item.get("mobile") or ""),
        success=str(item.get("report_status", "")).upper() == "SUCCESS",
        code=str(item.get("errmsg") or ""),
        reported_at=_local_time(item.get("user_receive_time")),
    )


async def _tencent_reply(session: AsyncSession, item: dict[str, Any]) -> int:
    await receipts.record_reply(
        session,
        provider="tencent",
        phone=str(item["mobile"]),
        content=str(item.get("text") or ""),
        sent_at=_local_time(item.get("time")),
        dedupe_key=None,
    )
    return 0


aliyun_report = _callback("aliyun", "biz_id", _aliyun_report, _aliyun_ok, reports=True)
aliyun_reply = _callback("aliyun", "phone_number", _aliyun_reply, _aliyun_ok, reports=False)
tencent_report = _callback("tencent", "sid", _tencent_report, _tencent_ok, reports=True)
tencent_reply = _callback("tencent", "mobile", _tencent_reply, _tencent_ok, reports=False)


MAX_WECHAT_BODY = 64 * 1024


def _wechat_verified(request: Request) -> bool:
    token = get_messaging_settings().wechat_callback_token
    q = request.query_params
    timestamp, nonce, signature = q.get("timestamp", ""), q.get("nonce", ""), q.get("signature", "")
    if not (token and timestamp and nonce and signature):
        return False
    expected = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    return hmac.compare_digest(expected, signature)


def _xml_value(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _xml_value(child)
        if child.tag in out:  # repeated elements (<List> per template) become a list
            previous = out[child.tag]
            out[child.tag] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            out[child.tag] = value
    return out


def _wechat_event(body: bytes) -> dict[str, Any] | None:
    text = body.strip()
    try:
        if text.startswith(b"<"):
            if b"<!DOCTYPE" in text.upper() or b"<!ENTITY" in text.upper():
                return None  # no entity tricks: WeChat never sends a DTD
            value = _xml_value(ElementTree.fromstring(text))
        else:
            value = json.loads(text)
    except (ElementTree.ParseError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


async def wechat_events(request: Request) -> Response:
    if not _wechat_verified(request):
        return _error(401, "CALLBACK_UNVERIFIED", "回调未通过校验：签名不正确")
    if request.method == "GET":
        return PlainTextResponse(request.query_params.get("echostr", ""))
    body = await request.body()
    if len(body) > MAX_WECHAT_BODY:
        return _error(413, "BODY_TOO_LARGE", "请求体过大")
    event = _wechat_event(body)
    if event is None:
        return _error(400, "INVALID_BODY", "推送内容不是合法的 XML 或 JSON")
    async with unit_of_work() as session:
        changed = await receipts.record_wechat_event(session, event)
    log.info("wechat_event", kind=str(event.get("Event", ""))[:40], changed=changed)
    return PlainTextResponse("success")  # WeChat expects "success" (or empty) within 5 s


ROUTES = [
    Route("/hooks/sms/aliyun/report", aliyun_report, methods=["POST"]),
    Route("/hooks/sms/aliyun/reply", aliyun_reply, methods=["POST"]),
    Route("/hooks/sms/tencent/report", tencent_report, methods=["POST"]),
    Route("/hooks/sms/tencent/reply", tencent_reply, methods=["POST"]),
    Route("/hooks/wechat/events", wechat_events, methods=["GET", "POST"]),
]
