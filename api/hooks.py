"""Signed webhooks from hospital systems. Not GraphQL: the HIS posts JSON with an HMAC signature."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from core import clock, security
from core.db import unit_of_work
from core.errors import Conflict, DomainError
from core.identity import SYSTEM
from core.settings import get_settings
from loyalty import visits

log = structlog.get_logger("api.hooks")
TIMESTAMP_HEADER = "x-his-timestamp"
SIGNATURE_HEADER = "x-his-signature"
MAX_BODY = 256 * 1024


class HisItem(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: str = Field(min_length=1, max_length=20)
    self_paid_fen: int = Field(default=0, ge=0)
    insured_fen: int = Field(default=0, ge=0)


class HisVisit(BaseModel):
    model_config = ConfigDict(extra="ignore")
    external_id: str = Field(min_length=1, max_length=100)
    patient_id: str | None = None
    phone: str | None = None
    site_code: str = Field(min_length=1, max_length=32)
    department: str = Field(min_length=1, max_length=60)
    visited_at: datetime
    status: Literal["completed", "refunded"]
    items: list[HisItem] = Field(default_factory=list, max_length=200)


def _error(status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, object] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details  # type: ignore[index]
    return JSONResponse(body, status_code=status)


async def his_visits(request: Request) -> JSONResponse:
    settings = get_settings()
    body = await request.body()
    if len(body) > MAX_BODY:
        return _error(413, "BODY_TOO_LARGE", "请求体过大")
    problem = security.verify_webhook(
        settings.his_webhook_secret,
        request.headers.get(TIMESTAMP_HEADER),
        request.headers.get(SIGNATURE_HEADER),
        body,
        now=clock.now(),
        max_skew_seconds=settings.his_webhook_max_skew_seconds,
    )
    if problem == "signature":
        return _error(401, "SIGNATURE_INVALID", "签名无效：请用共享密钥对“时间戳.请求体”做 HMAC-SHA256")
    if problem == "timestamp":
        return _error(401, "TIMESTAMP_STALE", "时间戳无效或与服务器时间相差超过5分钟")
    try:
        raw = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return _error(400, "INVALID_JSON", f"请求体不是合法的 JSON：{exc}")
    try:
        payload = HisVisit.model_validate(raw)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
        return _error(400, "VALIDATION_FAILED", "字段校验失败", details)
    try:
        patient_id = uuid.UUID(payload.patient_id) if payload.patient_id else None
    except ValueError:
        return _error(400, "VALIDATION_FAILED", "字段校验失败", [{"field": "patient_id", "message": "不是合法的编号"}])
    data = visits.VisitData(
        external_id=payload.external_id,
        visited_at=payload.visited_at,
        status=payload.status,
        department=payload.department,
        patient_id=patient_id,
        phone=payload.phone,
        site_code=payload.site_code,
        items=[visits.VisitItem(i.category, i.self_paid_fen, i.insured_fen) for i in payload.items],
    )
    try:
        async with unit_of_work() as session:
            outcome = await visits.record(session, SYSTEM, data, source="his")
    except DomainError as exc:
        details = [{"field": i.field or "", "message": i.message, "code": i.code} for i in exc.issues]
        # 409: the request is well-formed but contradicts what we hold (VISIT_CONFLICT: a known external_id
        # with other visit details); resending it cannot succeed. 422: our rules refuse the content.
        return _error(409 if isinstance(exc, Conflict) else 422, exc.code, exc.message, details)
    log.info("his_visit", external_id=payload.external_id, result=outcome.result)
    return JSONResponse({"visit_id": str(outcome.visit.id), "result": outcome.result, "status": outcome.visit.status})
