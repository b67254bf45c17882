"""SMS delivery receipts and patients' replies, as the providers push them.

A receipt moves a message from SENT to DELIVERED or FAILED, once: it is stored first (unique per
provider message id, so a repeated push changes nothing) and applied to its message if that is
known; a receipt that overtakes the worker's commit waits in `sms_reports` and is applied when the
worker records the provider's id (`apply_waiting`). Every change of a message's final state is
reported on the outbox topic `message.status` (campaigns move their deliveries and stats).

WeChat pushes its own receipts (Official Account TEMPLATESENDJOBFINISH, mini program
subscribe_msg_sent_event): they take the same path with provider_ref "wechat:<MsgID>". A user
turning a template off (subscribe_msg_change_event "reject") voids their unspent grants for it.

A reply of "TD" / "T" / "退订" (and the 拒收 "R" Alibaba's marketing templates ask for) withdraws
the patient's marketing SMS consent in one step, through the patients' consent service, with the
reply stored as the evidence.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, outbox
from core.errors import DomainError
from core.identity import Actor, ActorKind
from core.ids import new_id
from messaging.models import MessageDelivery, SmsReply, SmsReport, WechatBinding, WechatGrant
from patients import service as patient_service
from patients.models import Patient

log = structlog.get_logger(__name__)

STATUS_TOPIC = "message.status"
OPT_OUT_WORDS = frozenset({"TD", "T", "退订", "R", "拒收", "N", "取消订阅"})
OPT_OUT_SOURCE = "sms_reply"
_PUNCTUATION = re.compile(r"[\s\.,!。，！、;；:：'\"“”‘’()（）\[\]【】]+")


async def emit_status(session: AsyncSession, source_ref: str, status: str, *, error: str | None) -> None:
    await outbox.emit(
        session,
        STATUS_TOPIC,
        {"source_ref": source_ref, "status": status, "error": error, "at": clock.now().isoformat()},
    )


async def _apply(session: AsyncSession, report: SmsReport) -> bool:
    status = "delivered" if report.success else "failed"
    error = None if report.success else f"receipt:{report.code or 'unknown'}"[:300]
    source_ref = await session.scalar(
        update(MessageDelivery)
        .where(MessageDelivery.provider_ref == report.provider_ref, MessageDelivery.status == "sent")
        .values(status=status, error=error, reported_at=report.reported_at)
        .returning(MessageDelivery.source_ref)
    )
    if source_ref is None:
        return False  # not known yet (or not ours): waits for apply_waiting
    report.applied_at = clock.now()
    await emit_status(session, source_ref, status, error=error)
    return True


async def record_report(
    session: AsyncSession,
    *,
    provider_ref: str,
    phone: str | None,
    success: bool,
    code: str | None,
    reported_at: datetime | None,
) -> bool:
    """Store the receipt (once) and apply it; True when a message changed state."""
    report_id = await session.scalar(
        insert(SmsReport)
        .values(
            id=new_id(),
            provider_ref=provider_ref[:200],
            phone=(phone or "")[:32] or None,
            success=success,
            code=(code or "")[:100] or None,
            reported_at=reported_at or clock.now(),
            received_at=clock.now(),
        )
        .on_conflict_do_nothing(constraint="uq_sms_reports_provider_ref")
        .returning(SmsReport.id)
    )
    if report_id is None:
        return False  # pushed before
    report = await session.get(SmsReport, report_id)
    assert report is not None
    return await _apply(session, report)


async def apply_waiting(session: AsyncSession, row: MessageDelivery) -> None:
    """After the worker recorded the provider's id: apply a receipt that arrived first."""
    if row.provider_ref is None:
        return
    await session.flush()
    report = await session.scalar(
        select(SmsReport).where(SmsReport.provider_ref == row.provider_ref, SmsReport.applied_at.is_(None))
    )
    if report is not None:
        await _apply(session, report)
        await session.refresh(row)


def is_opt_out(content: str) -> bool:
    return _PUNCTUATION.sub("", content or "").upper() in OPT_OUT_WORDS


def normalise_phone(raw: str) -> str:
    digits = re.sub(r"[^\d]", "", raw or "")
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and len(digits) == len(prefix) + 11:
            digits = digits[len(prefix) :]
    return digits


async def record_reply(
    session: AsyncSession,
    *,
    provider: str,
    phone: str,
    content: str,
    sent_at: datetime | None,
    dedupe_key: str | None,
) -> bool:
    """Store the reply (once); an opt-out word withdraws marketing SMS consent. True if it did."""
    phone = normalise_phone(phone)
    content = (content or "")[:500]
    key = dedupe_key or hashlib.sha256(f"{provider}|{phone}|{content}|{sent_at}".encode()).hexdigest()
    reply_id = await session.scalar(
        insert(SmsReply)
        .values(
            id=new_id(),
            dedupe_key=f"{provider}:{key}"[:200],
            provider=provider,
            phone=phone[:32],
            content=content,
            sent_at=sent_at,
            received_at=clock.now(),
        )
        .on_conflict_do_nothing(constraint="uq_sms_replies_dedupe_key")
        .returning(SmsReply.id)
    )
    if reply_id is None or not is_opt_out(content):
        return False
    patient_id = await session.scalar(select(Patient.id).where(Patient.phone == phone))
    if patient_id is None:
        log.info("sms_opt_out_unknown_phone", provider=provider)
        return False
    await opt_out(session, patient_id, reply_id)
    return True


async def opt_out(session: AsyncSession, patient_id: uuid.UUID, reply_id: uuid.UUID) -> None:
    """The patient's own reply is their decision: recorded as made by the patient."""
    actor = Actor(kind=ActorKind.PATIENT, id=patient_id)
    try:
        await patient_service.update_consents(
            session,
            actor,
            [patient_service.ConsentChange(channel="sms", purpose="marketing", granted=False)],
            source=OPT_OUT_SOURCE,
        )
    except DomainError:  # pragma: no cover - the change above is always valid
        log.exception("sms_opt_out_failed")
        raise
    await session.execute(update(SmsReply).where(SmsReply.id == reply_id).values(patient_id=patient_id, opted_out=True))
    log.info("sms_opt_out", patient_id=str(patient_id))


def _entries(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


async def record_wechat_event(session: AsyncSession, event: dict[str, Any]) -> int:
    """Apply one WeChat push; returns how many messages or grants it changed. Other events are ignored."""
    kind = str(event.get("Event") or "")
    changed = 0
    if kind == "TEMPLATESENDJOBFINISH" and event.get("MsgID"):
        status = str(event.get("Status") or "")
        changed += await record_report(
            session,
            provider_ref=f"wechat:{event['MsgID']}",
            phone=None,
            success=status == "success",
            code=status,
            reported_at=None,
        )
    elif kind == "subscribe_msg_sent_event":
        for entry in _entries(event.get("List") or event.get("SubscribeMsgSentEvent", {}).get("List")):
            if not entry.get("MsgID"):
                continue
            code = str(entry.get("ErrorCode", "0"))
            changed += await record_report(
                session,
                provider_ref=f"wechat:{entry['MsgID']}",
                phone=None,
                success=code == "0",
                code=f"{code}:{entry.get('ErrorStatus', '')}",
                reported_at=None,
            )
    elif kind == "subscribe_msg_change_event":
        openid = str(event.get("FromUserName") or "")
        patient_id = await session.scalar(select(WechatBinding.patient_id).where(WechatBinding.openid == openid))
        entries = _entries(event.get("List") or event.get("SubscribeMsgChangeEvent", {}).get("List"))
        rejected = [str(e.get("TemplateId")) for e in entries if e.get("SubscribeStatusString") == "reject"]
        if patient_id is not None and rejected:
            result = await session.execute(
                delete(WechatGrant).where(
                    WechatGrant.patient_id == patient_id,
                    WechatGrant.template_id.in_(rejected),
                    WechatGrant.used_at.is_(None),
                )
            )
            changed += int(getattr(result, "rowcount", 0) or 0)
    return changed
