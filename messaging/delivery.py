"""`deliver`: one message to one patient through one channel, exactly once per source_ref.

The caller (a campaign, a survey) decides consent and timing; `deliver` resolves the address,
refuses SMS/WeChat text naming a condition (the template check's last line of defence), sends
through the channel's provider and records the result under `source_ref`. A second call with
the same source_ref returns the recorded result and sends nothing; two concurrent calls meet on
the unique source_ref, so one sends and the other waits and reads its result.

Everything runs in the caller's transaction. In-app and development providers only write rows,
so a rollback takes the message back too. SMTP cannot be taken back: if the caller rolls back
after an e-mail went out, a retry sends it again (at-least-once for e-mail).
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

from core import clock
from core.channels import ChannelName
from core.ids import new_id
from core.settings import get_settings
from messaging import engagement, inbox, providers, templates
from messaging.models import MessageDelivery
from patients.models import Patient
from patients.queries import patients_by_ids

log = structlog.get_logger(__name__)

DELIVERED = "delivered"  # in the inbox, or accepted by a provider that confirms delivery (dev)
SENT = "sent"  # handed to an SMTP server: it may still bounce
FAILED = "failed"
_SENDING = "sending"  # only inside the transaction that sends


@dataclass(frozen=True)
class Outgoing:
    channel: ChannelName
    patient_id: uuid.UUID
    subject: str | None
    body: str
    link: str | None
    source_ref: str  # the caller's idempotency and tracking key, e.g. "campaign_delivery:<id>"


@dataclass(frozen=True)
class DeliveryResult:
    status: str  # "delivered" | "sent" | "failed"
    error: str | None = None
    provider_ref: str | None = None


def address_of(patient: Patient, channel: ChannelName) -> str | None:
    if channel is ChannelName.SMS:
        return patient.phone
    if channel is ChannelName.EMAIL:
        return patient.email
    if channel is ChannelName.WECHAT:
        # No WeChat binding exists yet: the development provider addresses a stand-in openid.
        return f"dev-openid:{patient.id}"
    return str(patient.id)


async def _precheck(session: AsyncSession, outgoing: Outgoing, patient: Patient) -> tuple[str | None, str | None]:
    """(address, refusal): the refusal is the error code recorded instead of sending."""
    channel = outgoing.channel
    if await templates.condition_issues(session, channel, outgoing.subject, outgoing.body):
        return None, templates.CONDITION_CODE
    address = address_of(patient, channel)
    if not address:
        return None, "no_address"
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
    address, refusal = await _precheck(session, outgoing, patient)
    provider = _provider(channel)
    delivery_id, inbox_id = new_id(), new_id()
    if refusal:
        status, provider_ref = FAILED, None
    elif channel is ChannelName.IN_APP:
        status, provider_ref = DELIVERED, f"inbox:{inbox_id}"
    else:
        status, provider_ref = (_SENDING if provider == "smtp" else DELIVERED), f"{provider}:{delivery_id}"
    # The unique source_ref is the claim: whoever inserts the row sends; the common (new) case
    # costs three statements for in-app: the patient, this row and the inbox row.
    claimed = (
        await session.execute(
            _CLAIM,
            {
                "id": delivery_id,
                "source_ref": outgoing.source_ref,
                "channel": channel.value,
                "patient_id": patient.id,
                "recipient": address,
                "subject": outgoing.subject,
                "body": outgoing.body,
                "link": outgoing.link,
                "status": status,
                "error": refusal,
                "provider_ref": provider_ref,
                "created_at": clock.now(),
            },
        )
    ).scalar()
    if claimed is None:  # delivered before (or concurrently): report what was recorded
        row = await session.scalar(select(MessageDelivery).where(MessageDelivery.source_ref == outgoing.source_ref))
        assert row is not None
        status = row.status if row.status in (DELIVERED, SENT, FAILED) else FAILED
        return DeliveryResult(status=status, error=row.error, provider_ref=row.provider_ref)
    if refusal:
        log.info("message_refused", source_ref=outgoing.source_ref, channel=channel.value, reason=refusal)
        return DeliveryResult(status=FAILED, error=refusal)
    assert address is not None
    if channel is ChannelName.IN_APP:
        await inbox.put(
            session,
            patient_id=patient.id,
            subject=outgoing.subject,
            body=outgoing.body,
            link=outgoing.link,
            source_ref=outgoing.source_ref,
            tracked=True,
            message_id=inbox_id,
        )
        return DeliveryResult(status=DELIVERED, provider_ref=provider_ref)
    if channel is ChannelName.EMAIL:
        return await _email(session, delivery_id, outgoing, address, provider)
    text = outgoing.body if not outgoing.link else f"{outgoing.body} {outgoing.link}"
    await providers.record_dev(session, channel, address, outgoing.subject, text, key=delivery_id)
    return DeliveryResult(status=DELIVERED, provider_ref=provider_ref)


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
        return DeliveryResult(status=DELIVERED, provider_ref=f"dev:{delivery_id}")
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
