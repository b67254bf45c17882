"""Local stand-ins for Alibaba Cloud SMS, Tencent Cloud SMS and the WeChat server API.

Each is a real HTTP server (starlette under uvicorn, in a thread, on 127.0.0.1 and a free port)
that checks what the real one checks, written apart from the code under test:
- Alibaba: recomputes the POP v1.0 HMAC-SHA1 signature over the received query and refuses a
  wrong one with HTTP 400 and its `SignatureDoesNotMatch` body; stale timestamps and reused nonces
  are refused too.
- Tencent: recomputes TC3-HMAC-SHA256 from the received body and headers, refuses a wrong one
  with `AuthFailure.SignatureFailure` in its `Response.Error` shape.
- WeChat: issues access tokens (counting the calls), refuses expired/unknown tokens with 40001,
  exchanges login codes, and answers sends with errcodes the test plays.
Per phone number / openid the test can play provider codes (errors, limits) in order.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from core import clock


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Starlette) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("local provider server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


# --- Alibaba Cloud SMS ----------------------------------------------------------------------------


def _rfc3986(value: str) -> str:
    # Written from the documentation, not shared with messaging.sms: unreserved characters
    # A-Z a-z 0-9 - _ . ~ stay, everything else (UTF-8) is %XX with upper-case hex.
    return quote(value, safe="-_.~")


@dataclass
class AliyunSms:
    secrets: dict[str, str]  # AccessKeyId -> AccessKeySecret
    plays: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # phone -> codes
    sent: list[dict[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    next_biz_ids: list[str] = field(default_factory=list)
    nonces: set[str] = field(default_factory=set)
    url: str = ""

    def _error(self, status: int, code: str, message: str) -> JSONResponse:
        self.refused.append(code)
        body = {
            "RequestId": str(uuid.uuid4()).upper(),
            "HostId": "dysmsapi.aliyuncs.com",
            "Code": code,
            "Message": message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={code}",
        }
        return JSONResponse(body, status_code=status)

    async def endpoint(self, request: Request) -> JSONResponse:
        params = dict(request.query_params)
        given = params.pop("Signature", "")
        secret = self.secrets.get(params.get("AccessKeyId", ""))
        if secret is None:
            return self._error(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if params.get("SignatureMethod") != "HMAC-SHA1" or params.get("SignatureVersion") != "1.0":
            return self._error(400, "InvalidParameter", "SignatureMethod/SignatureVersion")
        canonical = "&".join(f"{_rfc3986(k)}={_rfc3986(params[k])}" for k in sorted(params))
        string_to_sign = f"{request.method}&{_rfc3986('/')}&{_rfc3986(canonical)}"
        expected = base64.b64encode(
            hmac.new((secret + "&").encode(), string_to_sign.encode(), hashlib.sha1).digest()
        ).decode()
        if not hmac.compare_digest(expected, given):
            return self._error(
                400,
                "SignatureDoesNotMatch",
                f"Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}",
            )
        stamp = datetime.strptime(params.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        if abs((clock.now() - stamp).total_seconds()) > 15 * 60:
            return self._error(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        if params["SignatureNonce"] in self.nonces:
            return self._error(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
        self.nonces.add(params["SignatureNonce"])
        request_id = str(uuid.uuid4()).upper()
        phone = params.get("PhoneNumbers", "")
        code = self.plays[phone].pop(0) if self.plays.get(phone) else "OK"
        if code != "OK":
            return JSONResponse({"RequestId": request_id, "Code": code, "Message": f"played {code}"})
        biz_id = (
            self.next_biz_ids.pop(0) if self.next_biz_ids else f"{len(self.sent) + 1:06d}^{uuid.uuid4().int % 10**10}"
        )
        self.sent.append({**params, "BizId": biz_id})
        return JSONResponse({"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id})

    def report(
        self, sent: dict[str, str], *, success: bool = True, err_code: str = "DELIVERED"
    ) -> list[dict[str, Any]]:
        """The SmsReport push for one sent message, as Alibaba posts it."""
        return [
            {
                "phone_number": sent["PhoneNumbers"],
                "send_time": "2026-06-15 12:00:00",
                "report_time": "2026-06-15 12:00:05",
                "success": success,
                "err_code": err_code,
                "err_msg": "用户接收成功" if success else "失败",
                "sms_size": "1",
                "biz_id": sent["BizId"],
                "out_id": sent.get("OutId", ""),
            }
        ]

    @contextmanager
    def running(self) -> Iterator[AliyunSms]:
        with serve(Starlette(routes=[Route("/", self.endpoint, methods=["GET", "POST"])])) as url:
            self.url = url
            yield self


# --- Tencent Cloud SMS ----------------------------------------------------------------------------


@dataclass
class TencentSms:
    secrets: dict[str, str]  # SecretId -> SecretKey
    plays: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # +86phone -> codes
    sent: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    url: str = ""

    def _error(self, code: str, message: str) -> JSONResponse:
        self.refused.append(code)
        return JSONResponse({"Response": {"Error": {"Code": code, "Message": message}, "RequestId": str(uuid.uuid4())}})

    async def endpoint(self, request: Request) -> JSONResponse:
        body = await request.body()
        auth = request.headers.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            parts = dict(p.strip().split("=", 1) for p in rest.split(","))
            secret_id, date, service, terminator = parts["Credential"].split("/")
        except ValueError:
            return self._error("AuthFailure.InvalidAuthorization", "Authorization header is invalid")
        key = self.secrets.get(secret_id)
        if key is None:
            return self._error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        if request.headers.get("x-tc-action") != "SendSms" or request.headers.get("x-tc-version") != "2021-01-11":
            return self._error("InvalidAction", "action or version")
        timestamp = int(request.headers.get("x-tc-timestamp", "0"))
        if abs(clock.now().timestamp() - timestamp) > 300:
            return self._error("AuthFailure.SignatureExpire", "Signature expired")
        if datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d") != date or terminator != "tc3_request":
            return self._error("AuthFailure.SignatureFailure", "credential scope")
        signed = parts["SignedHeaders"].split(";")
        # The documented rule: header names and values lower-cased and trimmed, "key:value\n" each.
        canonical_headers = "".join(f"{h}:{request.headers.get(h, '').strip().lower()}\n" for h in signed)
        canonical_request = "\n".join(
            [
                request.method,
                "/",
                request.url.query,
                canonical_headers,
                parts["SignedHeaders"],
                hashlib.sha256(body).hexdigest(),
            ]
        )
        to_sign = "\n".join(
            [
                algorithm,
                str(timestamp),
                f"{date}/{service}/tc3_request",
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        k = hmac.new(f"TC3{key}".encode(), date.encode(), hashlib.sha256).digest()
        k = hmac.new(k, service.encode(), hashlib.sha256).digest()
        k = hmac.new(k, b"tc3_request", hashlib.sha256).digest()
        expected = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        if algorithm != "TC3-HMAC-SHA256" or not hmac.compare_digest(expected, parts.get("Signature", "")):
            return self._error(
                "AuthFailure.SignatureFailure",
                "The provided credentials could not be validated. Please check your signature is correct.",
            )
        payload = json.loads(body)
        phone = payload["PhoneNumberSet"][0]
        code = self.plays[phone].pop(0) if self.plays.get(phone) else "Ok"
        request_id = str(uuid.uuid4())
        if code.startswith("!"):  # a request-level error
            return self._error(code[1:], f"played {code[1:]}")
        serial = f"2433:{uuid.uuid4().int % 10**28}"
        status = {
            "SerialNo": serial if code == "Ok" else "",
            "PhoneNumber": phone,
            "Fee": 1 if code == "Ok" else 0,
            "SessionContext": payload.get("SessionContext", ""),
            "Code": code,
            "Message": "send success" if code == "Ok" else f"played {code}",
            "IsoCode": "CN",
        }
        if code == "Ok":
            self.sent.append({**payload, "SerialNo": serial, "Region": request.headers.get("x-tc-region")})
        return JSONResponse({"Response": {"SendStatusSet": [status], "RequestId": request_id}})

    def report(self, sent: dict[str, Any], *, success: bool = True) -> list[dict[str, Any]]:
        return [
            {
                "user_receive_time": "2026-06-15 12:00:05",
                "nationcode": "86",
                "mobile": sent["PhoneNumberSet"][0].removeprefix("+86"),
                "report_status": "SUCCESS" if success else "FAIL",
                "errmsg": "DELIVRD" if success else "MK:0001",
                "description": "用户短信送达成功" if success else "用户短信未送达",
                "sid": sent["SerialNo"],
            }
        ]

    @contextmanager
    def running(self) -> Iterator[TencentSms]:
        with serve(Starlette(routes=[Route("/", self.endpoint, methods=["POST"])])) as url:
            self.url = url
            yield self


# --- WeChat ---------------------------------------------------------------------------------------


@dataclass
class WechatServer:
    apps: dict[str, str]  # appid -> secret
    expires_in: int = 7200
    token_calls: int = 0
    token_delay: float = 0.0  # seconds the token endpoint takes (to widen races)
    valid_tokens: set[str] = field(default_factory=set)
    codes: dict[str, str] = field(default_factory=dict)  # login code -> openid
    plays: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))  # openid -> errcodes
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[int] = field(default_factory=list)  # errcode of every send answer
    url: str = ""

    async def token(self, request: Request) -> JSONResponse:
        q = request.query_params
        if q.get("grant_type") != "client_credential" or self.apps.get(q.get("appid", "")) != q.get("secret"):
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"})
        if self.token_delay:
            import asyncio

            await asyncio.sleep(self.token_delay)
        self.token_calls += 1
        token = f"ACCESS_TOKEN_{self.token_calls}_{uuid.uuid4().hex[:8]}"
        self.valid_tokens = {token}  # a new token invalidates the previous one, as WeChat does
        return JSONResponse({"access_token": token, "expires_in": self.expires_in})

    async def code2session(self, request: Request) -> JSONResponse:
        q = request.query_params
        if self.apps.get(q.get("appid", "")) != q.get("secret") or q.get("grant_type") != "authorization_code":
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        openid = self.codes.pop(q.get("js_code") or q.get("code") or "", None)
        if openid is None:
            return JSONResponse({"errcode": 40029, "errmsg": "invalid code"})
        return JSONResponse({"openid": openid, "session_key": "c2Vzc2lvbi1rZXk=", "unionid": f"u-{openid}"})

    def expire_tokens(self) -> None:
        self.valid_tokens = set()

    async def send(self, request: Request) -> JSONResponse:
        token = request.query_params.get("access_token", "")
        if token not in self.valid_tokens:
            self.calls.append(40001)
            return JSONResponse(
                {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
            )
        body = await request.json()
        openid = body.get("touser", "")
        errcode = self.plays[openid].pop(0) if self.plays.get(openid) else 0
        self.calls.append(errcode)
        if errcode:
            return JSONResponse({"errcode": errcode, "errmsg": f"played {errcode}"})
        self.sent.append({**body, "path": request.url.path})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": 2_000_000 + len(self.sent)})

    @contextmanager
    def running(self) -> Iterator[WechatServer]:
        routes = [
            Route("/cgi-bin/token", self.token, methods=["GET"]),
            Route("/sns/jscode2session", self.code2session, methods=["GET"]),
            Route("/sns/oauth2/access_token", self.code2session, methods=["GET"]),
            Route("/cgi-bin/message/subscribe/send", self.send, methods=["POST"]),
            Route("/cgi-bin/message/template/send", self.send, methods=["POST"]),
        ]
        with serve(Starlette(routes=routes)) as url:
            self.url = url
            yield self
