"""`deliver`: one message to one patient through one channel, exactly once per source_ref.

The caller (a campaign, a survey) decides consent and timing; `deliver` resolves the address,
refuses SMS/WeChat text naming a condition (the template check's last line of defence), sends
through the channel's provider and records the result under `source_ref`. A second call with
the same source_ref returns the recorded result and sends nothing; two concurrent calls meet on
the unique source_ref, so one sends and the other waits and reads its result.

Statuses say what is known, no more: DELIVERED (in the inbox, or a provider receipt said so),
SENT (a provider accepted it; an SMS receipt later moves it to DELIVERED or FAILED), QUEUED (an
outbox row will hand it to the provider after commit), RECORDED (a development recorder wrote it
down: it reached nobody) and FAILED.

In-app and development providers only write rows in the caller's transaction. Real SMS and WeChat
providers are outside services: `deliver` writes the row QUEUED plus an outbox message in the
same transaction and the worker sends (`_send_queued`), so a rollback sends nothing. WeChat
messages without a binding or (mini program) without an unspent subscribe grant fall back to the
in-app inbox. SMTP still sends inside the caller's transaction (at-least-once for e-mail).
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from typing import cast

import structlog
from aiosmtplib import SMTPException
from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, outbox
from core.channels import ChannelName
from core.ids import new_id
from core.settings import get_settings
from messaging import engagement, inbox, providers, receipts, sms, templates, wechat, wechat_service
from messaging.config import MessageKind, get_messaging_settings
from messaging.models import MessageDelivery
from patients.models import Patient
from patients.queries import patients_by_ids

log = structlog.get_logger(__name__)

DELIVERED = "delivered"  # in the inbox, or a provider's receipt said it reached the phone
SENT = "sent"  # accepted by a provider (SMTP, SMS, WeChat); SMS waits for its receipt
QUEUED = "queued"  # the worker hands it to the provider after commit (outbox SEND_TOPIC)
RECORDED = "recorded"  # a development recorder wrote it down; nobody was reached
FAILED = "failed"
_SENDING = "sending"  # only inside the transaction that sends
REPORTED = (DELIVERED, SENT, QUEUED, RECORDED, FAILED)
SEND_TOPIC = "messaging.send"


@dataclass(frozen=True)
class Outgoing:
    channel: ChannelName
    patient_id: uuid.UUID
    subject: str | None
    body: str
    link: str | None
    source_ref: str  # the caller's idempotency and tracking key, e.g. "campaign_delivery:<id>"
    kind: str = MessageKind.NOTICE.value  # notice | marketing: picks the SMS/WeChat template


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "delivered" | "sent" | "queued" | "recorded" | "failed"
    error: str | None = None
    provider_ref: str | None = None


async def _wechat_address(session: AsyncSession, patient: Patient, provider: str) -> str | None:
    app = get_messaging_settings().wechat_send_app
    binding = await wechat_service.binding_of(session, patient.id, app)
    if binding is not None:
        return binding.openid
    # The development recorder addresses a stand-in openid; the real API needs a binding.
    return f"dev-openid:{patient.id}" if provider == "dev" else None


# The delivery row's reason (lowercase like no_address, smtp_error), not a client error code.
CONDITION_REFUSAL = "template_condition_name"


async def _precheck(
    session: AsyncSession, outgoing: Outgoing, patient: Patient, provider: str
) -> tuple[str | None, str | None]:
    """(address, refusal): the refusal is the error code recorded instead of sending. A WeChat
    message without a binding has no address and no refusal: it falls back to the inbox."""
    channel = outgoing.channel
    if await templates.condition_issues(session, channel, outgoing.subject, outgoing.body):
        return None, CONDITION_REFUSAL
    if channel is ChannelName.WECHAT:
        address = await _wechat_address(session, patient, provider)
        if address is None:
            return None, None
    elif channel is ChannelName.SMS:
        address = patient.phone
    elif channel is ChannelName.EMAIL:
        address = patient.email
    else:
        address = str(patient.id)
    if not address:
        return None, "no_address"
    if provider == "dev" and channel in (ChannelName.SMS, ChannelName.WECHAT) and get_settings().env == "production":
        return None, "provider_not_configured"  # the recorder would pretend to reach the patient
    return address, None


def _provider(channel: ChannelName) -> str:
    settings = get_settings()
    if channel is ChannelName.IN_APP:
        return "inbox"
    if channel is ChannelName.EMAIL:
        return settings.email_provider
    if channel is ChannelName.SMS:
        return settings.sms_provider
    return settings.wechat_provider


# Built once: a campaign calls deliver per recipient, and building the statement each time cost
# more than executing it.
_deliveries = cast(Table, MessageDelivery.__table__)
_CLAIM = insert(_deliveries).on_conflict_do_nothing(index_elements=["source_ref"]).returning(_deliveries.c.id)


async def deliver(session: AsyncSession, outgoing: Outgoing) -> DeliveryResult:
    channel = ChannelName(outgoing.channel)
    outgoing = dataclasses.replace(outgoing, channel=channel)  # callers may pass the plain string
    patient = (await patients_by_ids(session, [outgoing.patient_id])).get(outgoing.patient_id)
    if patient is None:
        return DeliveryResult(status=FAILED, error="patient_not_found")
    provider = _provider(channel)
    address, refusal = await _precheck(session, outgoing, patient, provider)
    delivery_id, inbox_id = new_id(), new_id()
    fallback = None
    if refusal:
        status, provider_ref = FAILED, None
    elif channel is ChannelName.IN_APP:
        status, provider_ref = DELIVERED, f"inbox:{inbox_id}"
    elif channel is ChannelName.WECHAT and address is None:
        fallback = "no_binding"
        status, provider_ref = DELIVERED, f"inbox:{inbox_id}"
    elif provider == "smtp":
        status, provider_ref = _SENDING, f"{provider}:{delivery_id}"
    elif provider == "dev":
        status, provider_ref = RECORDED, f"dev:{delivery_id}"
    else:
        status, provider_ref = QUEUED, None
    # The unique source_ref is the claim: whoever inserts the row sends; the common (new) case
    # costs three statements for in-app: the patient, this row and the inbox row.
    claimed = (
        await session.execute(
            _CLAIM,
            {
                "id": delivery_id,
                "source_ref": outgoing.source_ref,
                "channel": (ChannelName.IN_APP if fallback else channel).value,
                "kind": outgoing.kind,
                "patient_id": patient.id,
                "recipient": address if not fallback else str(patient.id),
                "subject": outgoing.subject,
                "body": outgoing.body,
                "link": outgoing.link,
                "status": status,
                "error": refusal or (f"fallback:{fallback}" if fallback else None),
                "provider_ref": provider_ref,
                "created_at": clock.now(),
            },
        )
    ).scalar()
    if claimed is None:  # delivered before (or concurrently): report what was recorded
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == outgoing.source_ref))
        assert row is not None
        status = row.status if row.status in REPORTED else FAILED
        return DeliveryResult(status=status, error=row.error, provider_ref=row.provider_ref)
    if refusal:
        log.info("message_refused", source_ref=outgoing.source_ref, channel=channel.value, reason=refusal)
        return DeliveryResult(status=FAILED, error=refusal)
    if channel is ChannelName.IN_APP or fallback:
        await _put_inbox(session, patient.id, outgoing, inbox_id)
        return DeliveryResult(
            status=DELIVERED, provider_ref=provider_ref, error=f"fallback:{fallback}" if fallback else None
        )
    assert address is not None
    if channel is ChannelName.EMAIL:
        return await _email(session, delivery_id, outgoing, address, provider)
    if status == RECORDED:
        text = outgoing.body if not outgoing.link else f"{outgoing.body} {outgoing.link}"
        await providers.record_dev(session, channel, address, outgoing.subject, text, key=delivery_id)
        return DeliveryResult(status=RECORDED, provider_ref=provider_ref)
    if channel is ChannelName.WECHAT and get_messaging_settings().wechat_send_app == "mini_program":
        template = get_messaging_settings().wechat_template(_kind(outgoing.kind))
        spent = template is not None and await wechat_service.spend_grant(
            session, patient_id=patient.id, template_id=template.template_id, delivery_id=delivery_id
        )
        if not spent:  # never send without a one-time authorisation: the inbox instead
            reason = "no_template" if template is None else "no_subscription"
            ref = await _fall_back(session, delivery_id, patient.id, outgoing, reason)
            return DeliveryResult(status=DELIVERED, provider_ref=ref, error=f"fallback:{reason}")
    await outbox.emit(session, SEND_TOPIC, {"delivery_id": str(delivery_id)})
    return DeliveryResult(status=QUEUED)


def _kind(value: str) -> MessageKind:
    try:
        return MessageKind(value)
    except ValueError:
        return MessageKind.NOTICE


async def _put_inbox(session: AsyncSession, patient_id: uuid.UUID, outgoing: Outgoing, inbox_id: uuid.UUID) -> None:
    await inbox.put(
        session,
        patient_id=patient_id,
        subject=outgoing.subject,
        body=outgoing.body,
        link=outgoing.link,
        source_ref=outgoing.source_ref,
        tracked=True,
        message_id=inbox_id,
    )


async def _fall_back(
    session: AsyncSession, delivery_id: uuid.UUID, patient_id: uuid.UUID, outgoing: Outgoing, reason: str
) -> str:
    """The next channel after WeChat: the in-app inbox (the row says so, and why)."""
    inbox_id = new_id()
    await _put_inbox(session, patient_id, outgoing, inbox_id)
    ref = f"inbox:{inbox_id}"
    await session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.id == delivery_id)
        .values(
            channel=ChannelName.IN_APP.value,
            recipient=str(patient_id),
            status=DELIVERED,
            error=f"fallback:{reason}",
            provider_ref=ref,
            reported_at=clock.now(),
        )
    )
    return ref


@outbox.handler(SEND_TOPIC)
async def _send_queued(session: AsyncSession, message: outbox.OutboxMessage) -> None:
    """The worker's half of a real SMS/WeChat send. Runs once per outbox message; the row lock and
    the QUEUED check make a repeated or concurrent dispatch send nothing."""
    row = await session.scalar(
        select(MessageDelivery).where(MessageDelivery.id == uuid.UUID(message.payload["delivery_id"])).with_for_update()
    )
    if row is None or row.status != QUEUED:
        return
    last_attempt = message.attempts + 1 >= get_settings().outbox_max_attempts
    text = row.body if not row.link else f"{row.body} {row.link}"
    if row.channel == ChannelName.SMS.value:
        params = {"content": text, "subject": row.subject or "", "link": row.link or ""}
        try:
            outcome = await sms.send(phone=row.recipient or "", kind=_kind(row.kind), params=params, out_id=str(row.id))
        except sms.SmsNotConfigured:
            await _finish(session, row, FAILED, error="provider_not_configured")
            return
        if outcome.verdict == "sent":
            row.status, row.provider_ref = SENT, outcome.provider_ref
            await receipts.apply_waiting(session, row)  # a receipt that overtook this commit
            return
        if outcome.verdict == "retry" and not last_attempt:
            raise sms.RetryLater(outcome.error)
        await _finish(session, row, FAILED, error=outcome.error)
        return
    await _send_wechat(session, row, last_attempt=last_attempt)


async def _send_wechat(session: AsyncSession, row: MessageDelivery, *, last_attempt: bool) -> None:
    settings = get_messaging_settings()
    app = settings.wechat_send_app
    template = settings.wechat_template(_kind(row.kind))
    outgoing = Outgoing(
        channel=ChannelName.WECHAT,
        patient_id=row.patient_id,
        subject=row.subject,
        body=row.body,
        link=row.link,
        source_ref=row.source_ref,
        kind=row.kind,
    )
    if template is None:
        await _fall_back_later(session, row, outgoing, "no_template")
        return
    data = wechat_service.template_data(
        template, subject=row.subject, body=row.body, link=row.link, at=row.created_at, brand=get_settings().brand_name
    )
    openid = row.recipient or ""
    try:
        if app == "mini_program":
            outcome = await wechat.send_subscribe(
                openid=openid, template_id=template.template_id, data=data, page=template.page
            )
        else:
            outcome = await wechat.send_template(
                openid=openid, template_id=template.template_id, data=data, url=row.link or template.page
            )
    except wechat.WechatConfigError:
        await _finish(session, row, FAILED, error="provider_not_configured")
        return
    if outcome.verdict == "sent":
        row.status, row.provider_ref = SENT, f"wechat:{outcome.msgid or row.id}"
        await receipts.apply_waiting(session, row)  # WeChat's push can overtake this commit too
        return
    if outcome.verdict == "retry" and not last_attempt:
        raise sms.RetryLater(outcome.error)
    if outcome.verdict == "bad_openid":
        await wechat_service.drop_binding(session, row.patient_id, app, openid)
    if outcome.verdict in ("refused", "bad_openid"):
        await _fall_back_later(session, row, outgoing, outcome.error or "refused")
        return
    await _finish(session, row, FAILED, error=outcome.error)


async def _fall_back_later(session: AsyncSession, row: MessageDelivery, outgoing: Outgoing, reason: str) -> None:
    await _fall_back(session, row.id, row.patient_id, outgoing, reason)
    await receipts.emit_status(session, row.source_ref, DELIVERED, error=None)


async def _finish(session: AsyncSession, row: MessageDelivery, status: str, *, error: str | None) -> None:
    row.status, row.error, row.reported_at = status, (error or "")[:300] or None, clock.now()
    log.warning("message_not_sent", source_ref=row.source_ref, channel=row.channel, error=row.error)
    await receipts.emit_status(session, row.source_ref, status, error=row.error)


async def _email(
    session: AsyncSession, delivery_id: uuid.UUID, outgoing: Outgoing, address: str, provider: str
) -> DeliveryResult:
    email = providers.build_email(
        recipient=address,
        subject=outgoing.subject or get_settings().brand_name,
        body=outgoing.body,
        link_url=engagement.tracked_link_url(delivery_id) if outgoing.link else None,
        pixel_url=engagement.open_pixel_url(delivery_id),
    )
    if provider != "smtp":
        plain = email.get_body(preferencelist=("plain",))
        text = plain.get_content() if plain is not None else outgoing.body
        await providers.record_dev(session, ChannelName.EMAIL, address, str(email["Subject"]), text, key=delivery_id)
        return DeliveryResult(status=RECORDED, provider_ref=f"dev:{delivery_id}")
    try:
        result = DeliveryResult(status=SENT, provider_ref=await providers.send_smtp(email))
    except (SMTPException, OSError) as exc:
        result = DeliveryResult(status=FAILED, error=f"smtp_error: {exc}"[:300])
        log.warning("email_failed", source_ref=outgoing.source_ref, error=result.error)
    await session.execute(
        update(MessageDelivery)
        .where(MessageDelivery.id == delivery_id)
        .values(status=result.status, error=result.error, provider_ref=result.provider_ref)
    )
    return result
