"""SMS providers: Alibaba Cloud SMS (dysmsapi SendSms) and Tencent Cloud SMS (SendSms 2021-01-11).

Both are plain HTTP APIs signed as their documentation says:
- Alibaba, RPC style "POP" signature v1.0: the parameters sorted by name, each name and value
  percent-encoded (RFC 3986: space %20, `*` %2A, `~` kept), joined with `&` into the canonical
  query string; StringToSign = "GET" & percentEncode("/") & percentEncode(canonical);
  Signature = Base64(HMAC-SHA1(AccessKeySecret + "&", StringToSign)).
- Tencent, TC3-HMAC-SHA256: a canonical request (method, URI, query, the signed headers
  content-type and host, SHA-256 of the body), a credential scope date/service/tc3_request, keys
  derived as SecretDate = HMAC("TC3" + SecretKey, date), SecretService, SecretSigning, and an
  Authorization header naming them.

A send returns an `SmsOutcome`: accepted (SENT until the receipt says delivered), retry later,
give up, or invalid number. Secrets and message parameters (a sign-in code) are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import urllib.parse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import httpx
import structlog

from core import clock
from messaging.config import MessageKind, MessagingSettings, get_messaging_settings

log = structlog.get_logger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # its INFO lines carry URLs with the parameters

Verdict = Literal["sent", "retry", "give_up", "invalid_number"]


@dataclass(frozen=True)
class SmsOutcome:
    verdict: Verdict
    provider_ref: str | None = None  # "aliyun:<BizId>" / "tencent:<SerialNo>"
    provider_code: str | None = None  # the provider's answer code, for the delivery row and the logs

    @property
    def error(self) -> str | None:
        return None if self.verdict == "sent" else f"{self.verdict}:{self.provider_code or ''}"[:300]


class RetryLater(Exception):
    """The provider asked us to come back later (or did not answer): the outbox retries with its
    backoff. The message says why, never what was sent."""


class SmsNotConfigured(RuntimeError):
    """The provider (or the template for this kind) is not configured: nothing can be sent."""


# --- Alibaba Cloud --------------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """Alibaba's percentEncode: RFC 3986 unreserved characters kept, space %20, `*` %2A, `~` kept."""
    return urllib.parse.quote(value, safe="~").replace("+", "%20").replace("*", "%2A").replace("%7E", "~")


def aliyun_string_to_sign(params: dict[str, str], method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def aliyun_signature(secret: str, params: dict[str, str], method: str = "GET") -> str:
    digest = hmac.new(f"{secret}&".encode(), aliyun_string_to_sign(params, method).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


# Alibaba error codes -> what to do. Unknown isv.* codes are configuration or content problems (give
# up); isp.* and throttling are the provider's side (retry later).
ALIYUN_CODES: dict[str, Verdict] = {
    "OK": "sent",
    "isv.MOBILE_NUMBER_ILLEGAL": "invalid_number",
    "isv.MOBILE_COUNT_OVER_LIMIT": "invalid_number",
    "isv.BUSINESS_LIMIT_CONTROL": "retry",
    "isv.DAY_LIMIT_CONTROL": "retry",
    "isv.AMOUNT_NOT_ENOUGH": "give_up",
    "isv.OUT_OF_SERVICE": "give_up",
    "isv.ACCOUNT_NOT_EXISTS": "give_up",
    "isv.ACCOUNT_ABNORMAL": "give_up",
    "isv.SMS_SIGNATURE_ILLEGAL": "give_up",
    "isv.SMS_TEMPLATE_ILLEGAL": "give_up",
    "isv.TEMPLATE_MISSING_PARAMETERS": "give_up",
    "isv.INVALID_PARAMETERS": "give_up",
    "isv.BLACK_KEY_CONTROL_LIMIT": "give_up",
    "isv.PARAM_LENGTH_LIMIT": "give_up",
    "isv.DENY_IP_RANGE": "give_up",
    "isp.SYSTEM_ERROR": "retry",
    "isp.RAM_PERMISSION_DENY": "give_up",
    "Throttling.User": "retry",
    "SignatureDoesNotMatch": "give_up",
    "InvalidAccessKeyId.NotFound": "give_up",
    "SignatureNonceUsed": "retry",
}


def aliyun_verdict(code: str) -> Verdict:
    if code in ALIYUN_CODES:
        return ALIYUN_CODES[code]
    if code.startswith(("isp.", "Throttling", "ServiceUnavailable", "InternalError")):
        return "retry"
    return "give_up"


def aliyun_timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def aliyun_send(
    settings: MessagingSettings, *, phone: str, kind: MessageKind, params: dict[str, str], out_id: str | None
) -> SmsOutcome:
    template, sign, names = settings.sms_template(kind)
    if not (settings.aliyun_access_key_id and settings.aliyun_access_key_secret and template and sign):
        raise SmsNotConfigured(f"aliyun SMS is not configured for {kind.value}")
    query = {
        "AccessKeyId": settings.aliyun_access_key_id,
        "Action": "SendSms",
        "Format": "JSON",
        "RegionId": settings.aliyun_sms_region,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0",
        "Timestamp": aliyun_timestamp(clock.now()),
        "Version": "2017-05-25",
        "PhoneNumbers": phone,
        "SignName": sign,
        "TemplateCode": template,
        "TemplateParam": json.dumps({n: params.get(n, "") for n in names}, ensure_ascii=False, separators=(",", ":")),
    }
    if out_id:
        query["OutId"] = out_id
    signature = aliyun_signature(settings.aliyun_access_key_secret, query)
    url = settings.aliyun_sms_endpoint.rstrip("/") + "/?" + f"Signature={percent_encode(signature)}&"
    url += "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(query.items()))
    async with httpx.AsyncClient(timeout=settings.sms_timeout_seconds) as client:
        response = await client.get(url)
    try:
        body = response.json()
    except ValueError:
        return SmsOutcome("retry", provider_code=f"http_{response.status_code}")
    code = str(body.get("Code") or f"http_{response.status_code}")
    verdict = aliyun_verdict(code)
    if verdict == "sent":
        return SmsOutcome("sent", provider_ref=f"aliyun:{body.get('BizId')}", provider_code=code)
    return SmsOutcome(verdict, provider_code=code)


# --- Tencent Cloud --------------------------------------------------------------------------------

TENCENT_SERVICE = "sms"
TENCENT_VERSION = "2021-01-11"
TENCENT_CONTENT_TYPE = "application/json; charset=utf-8"


def _hmac256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: str,
    content_type: str = TENCENT_CONTENT_TYPE,
    method: str = "POST",
) -> str:
    """The Authorization header of Tencent Cloud API 3.0 (signed headers content-type;host)."""
    signed_headers = "content-type;host"
    canonical_headers = f"content-type:{content_type}\nhost:{host}\n"
    canonical_request = "\n".join(
        [method, "/", "", canonical_headers, signed_headers, hashlib.sha256(payload.encode()).hexdigest()]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    secret_date = _hmac256(f"TC3{secret_key}".encode(), date)
    secret_service = _hmac256(secret_date, service)
    secret_signing = _hmac256(secret_service, "tc3_request")
    signature = hmac.new(secret_signing, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, Signature={signature}"


TENCENT_CODES: dict[str, Verdict] = {
    "Ok": "sent",
    "InvalidParameterValue.IncorrectPhoneNumber": "invalid_number",
    "FailedOperation.PhoneNumberInBlacklist": "invalid_number",
    "FailedOperation.PhoneNumberOnBlacklist": "invalid_number",
    "LimitExceeded.PhoneNumberDailyLimit": "retry",
    "LimitExceeded.PhoneNumberOneHourLimit": "retry",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "retry",
    "LimitExceeded.PhoneNumberSameContentDailyLimit": "retry",
    "LimitExceeded.DeliveryFrequencyLimit": "retry",
    "LimitExceeded.AppDailyLimit": "retry",
    "RequestLimitExceeded": "retry",
    "FailedOperation.InsufficientBalanceInSmsPackage": "give_up",
    "FailedOperation.SignatureIncorrectOrUnapproved": "give_up",
    "FailedOperation.TemplateIncorrectOrUnapproved": "give_up",
    "FailedOperation.ContainSensitiveWord": "give_up",
    "FailedOperation.MarketingSendTimeConstraint": "retry",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "give_up",
    "AuthFailure.SignatureFailure": "give_up",
    "AuthFailure.SecretIdNotFound": "give_up",
    "AuthFailure.SignatureExpire": "retry",
}


def tencent_verdict(code: str) -> Verdict:
    if code in TENCENT_CODES:
        return TENCENT_CODES[code]
    if code.startswith(("InternalError", "LimitExceeded", "ResourceUnavailable")):
        return "retry"
    if code.startswith("InvalidParameterValue.IncorrectPhone"):
        return "invalid_number"
    return "give_up"  # FailedOperation.*, UnauthorizedOperation.*, other InvalidParameter*


async def tencent_send(
    settings: MessagingSettings, *, phone: str, kind: MessageKind, params: dict[str, str], out_id: str | None
) -> SmsOutcome:
    template, sign, names = settings.sms_template(kind)
    if not (settings.tencent_secret_id and settings.tencent_secret_key and settings.tencent_sms_sdk_app_id):
        raise SmsNotConfigured("tencent SMS is not configured")
    if not (template and sign):
        raise SmsNotConfigured(f"tencent SMS template for {kind.value} is not configured")
    body: dict[str, Any] = {
        "PhoneNumberSet": [phone if phone.startswith("+") else f"+86{phone}"],
        "SmsSdkAppId": settings.tencent_sms_sdk_app_id,
        "SignName": sign,
        "TemplateId": template,
        "TemplateParamSet": [params.get(n, "") for n in names],
    }
    if out_id:
        body["SessionContext"] = out_id
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    endpoint = settings.tencent_sms_endpoint.rstrip("/")
    host = urllib.parse.urlsplit(endpoint).netloc
    timestamp = int(clock.now().timestamp())
    headers = {
        "Authorization": tc3_authorization(
            secret_id=settings.tencent_secret_id,
            secret_key=settings.tencent_secret_key,
            service=TENCENT_SERVICE,
            host=host,
            timestamp=timestamp,
            payload=payload,
        ),
        "Content-Type": TENCENT_CONTENT_TYPE,
        "Host": host,
        "X-TC-Action": "SendSms",
        "X-TC-Version": TENCENT_VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": settings.tencent_sms_region,
    }
    async with httpx.AsyncClient(timeout=settings.sms_timeout_seconds) as client:
        response = await client.post(endpoint + "/", content=payload.encode(), headers=headers)
    try:
        answer = response.json().get("Response") or {}
    except ValueError:
        return SmsOutcome("retry", provider_code=f"http_{response.status_code}")
    if "Error" in answer:
        code = str(answer["Error"].get("Code") or "")
        return SmsOutcome(tencent_verdict(code), provider_code=code)
    statuses = answer.get("SendStatusSet") or []
    if not statuses:
        return SmsOutcome("retry", provider_code="empty_response")
    status = statuses[0]
    code = str(status.get("Code") or "")
    verdict = tencent_verdict(code)
    if verdict == "sent":
        return SmsOutcome("sent", provider_ref=f"tencent:{status.get('SerialNo')}", provider_code=code)
    return SmsOutcome(verdict, provider_code=code)


# --- one entry point ------------------------------------------------------------------------------


async def send(*, phone: str, kind: MessageKind, params: dict[str, str], out_id: str | None = None) -> SmsOutcome:
    """Send through the configured provider. Network failures are `retry` (at-least-once: a send
    whose answer was lost may reach the phone twice). Raises SmsNotConfigured for `dev`."""
    settings = get_messaging_settings()
    provider = settings.sms_provider
    if provider == "dev":
        raise SmsNotConfigured("the development SMS recorder cannot send")
    sender = aliyun_send if provider == "aliyun" else tencent_send
    try:
        outcome = await sender(settings, phone=phone, kind=kind, params=params, out_id=out_id)
    except httpx.HTTPError as exc:
        outcome = SmsOutcome("retry", provider_code=f"network:{type(exc).__name__}")
    log.info(
        "sms_sent" if outcome.verdict == "sent" else "sms_not_sent",
        provider=provider,
        kind=kind.value,
        phone=f"{phone[:3]}****{phone[-4:]}",
        verdict=outcome.verdict,
        code=outcome.provider_code,
    )
    return outcome
