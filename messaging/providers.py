"""Channel providers behind `deliver`, and the in-app provider for the older service notices.

Development providers record what would be sent in `dev_messages` (`portal outbox` prints them).
E-mail has a real provider: SMTP through aiosmtplib (PORTAL_EMAIL_PROVIDER=smtp, PORTAL_SMTP_*);
SMS has Alibaba Cloud and Tencent Cloud (messaging.sms, PORTAL_SMS_PROVIDER); WeChat the WeChat
server API (messaging.wechat, PORTAL_WECHAT_PROVIDER=api).
"""

from __future__ import annotations

import html
import uuid
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import ChannelName, DevRecordingChannel, Message
from core.settings import get_settings
from messaging import inbox, sms
from messaging.config import MessageKind
from patients.queries import patients_by_ids


async def record_dev(
    session: AsyncSession, channel: ChannelName, recipient: str, subject: str | None, body: str, *, key: uuid.UUID
) -> None:
    """The development provider of every channel; `key` (unique) makes a repeat harmless."""
    await DevRecordingChannel().send(session, Message(channel, recipient, body, subject=subject), message_id=key)


def build_email(
    *, recipient: str, subject: str, body: str, link_url: str | None, pixel_url: str | None
) -> EmailMessage:
    """Plain text plus an HTML alternative (which carries the open pixel), UTF-8 throughout."""
    settings = get_settings()
    text = body if not link_url else f"{body}\n\n{link_url}"
    paragraphs = "".join(f"<p>{html.escape(p)}</p>" for p in body.split("\n") if p.strip())
    button = f'<p><a href="{html.escape(link_url)}">查看详情</a></p>' if link_url else ""
    pixel = f'<img src="{html.escape(pixel_url)}" width="1" height="1" alt="">' if pixel_url else ""
    message = EmailMessage()
    message["From"] = formataddr((settings.brand_name, settings.smtp_sender))
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=settings.smtp_sender.rpartition("@")[2] or None)
    message.set_content(text, charset="utf-8")
    message.add_alternative(f"<html><body>{paragraphs}{button}{pixel}</body></html>", subtype="html", charset="utf-8")
    return message


async def send_smtp(message: EmailMessage) -> str:
    """Hand the message to the SMTP server; returns its Message-ID. Raises on refusal."""
    settings = get_settings()
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_user,
        password=settings.smtp_password,
        use_tls=settings.smtp_port == 465,
        start_tls=settings.smtp_starttls,
        timeout=settings.smtp_timeout_seconds,
    )
    return str(message["Message-ID"])


log = structlog.get_logger(__name__)


class SmsNotice:
    """core.channels provider for SMS notices (the sign-in code, event invitations): the configured
    provider sends the message kind's template with the message's parameters. The recorder stays
    the default outside production and is refused in production (the outbox retries, then gives
    up, and the log says why). A retryable refusal raises, so the outbox tries again later; a final
    one (invalid number, no balance) is logged with the masked number and dropped."""

    async def send(self, session: AsyncSession, message: Message, *, message_id: uuid.UUID) -> None:
        settings = get_settings()
        if settings.sms_provider == "dev":
            if settings.env == "production":
                raise sms.SmsNotConfigured("PORTAL_SMS_PROVIDER=dev cannot reach patients in production")
            await DevRecordingChannel().send(session, message, message_id=message_id)
            return
        try:
            kind = MessageKind(message.kind)
        except ValueError:
            kind = MessageKind.NOTICE
        params = dict(message.params or {})
        params.setdefault("content", message.body)
        outcome = await sms.send(phone=message.recipient, kind=kind, params=params, out_id=str(message_id))
        if outcome.verdict == "retry":
            raise sms.RetryLater(outcome.error)


class NoticeInbox:
    """core.channels provider for IN_APP: a notice to a patient lands in their inbox.

    Recipients that are not patients (the care team's alert address, say) keep going to the
    development recorder. Unique per outbox message, so a repeated dispatch is harmless.
    """

    async def send(self, session: AsyncSession, message: Message, *, message_id: uuid.UUID) -> None:
        try:
            patient_id = uuid.UUID(message.recipient)
        except ValueError:
            patient_id = None
        if patient_id is None or patient_id not in await patients_by_ids(session, [patient_id]):
            await DevRecordingChannel().send(session, message, message_id=message_id)
            return
        await inbox.put(
            session,
            patient_id=patient_id,
            subject=message.subject,
            body=message.body,
            link=None,
            source_ref=f"notice:{message_id}",
            tracked=False,
        )
