"""What the outreach policy let out to one patient, for the marketing trace ("why did this patient get this
message", campaigns/trace.py): the `outreach_sends` rows other than campaign deliveries (those are
explained by their delivery row), each with where it came from and why the policy let it out.

A row exists only for a message the policy (outreach.decide) sent or deferred: not suppressed, consent
for its class's purpose on its channel, within its class's frequency cap, deferred past quiet hours
where they apply. Replies of the care team (`care_reply:`) are left out: a care conversation is health
data, and this trace is read by marketing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.channels import CHANNEL_LABELS_ZH, ChannelName
from messaging.models import OutreachSend
from messaging.outreach import INTERRUPTING, MessageClass, get_outreach_settings, purpose_of

# Sends explained elsewhere or not marketing's to read (see the module docstring).
HIDDEN_PREFIXES = ("campaign_delivery:", "care_reply:")
SOURCES = (
    ("invitation:", "社群活动邀请"),
    ("event:", "活动通知（提醒、取消或候补）"),
    ("points_expiring:", "积分即将过期提醒"),
    ("notification:", "社区通知（微信）"),
)
CLASS_LABELS = {MessageClass.MARKETING: "营销", MessageClass.CARE: "关怀", MessageClass.NOTICE: "通知"}
PURPOSE_LABELS = {"marketing": "营销", "service": "服务"}


@dataclass(frozen=True)
class Sent:
    id: uuid.UUID
    at: datetime
    message_class: str
    channel: str
    source: str  # what sent it, in words
    explanation: str


def source_of(source_ref: str) -> str:
    return next((label for prefix, label in SOURCES if source_ref.startswith(prefix)), "服务通知")


def explain(message_class: str, channel: str) -> str:
    """Why the policy let a message of this class out on this channel (what a row here proves)."""
    settings = get_outreach_settings()
    klass = MessageClass(message_class)
    purpose = PURPOSE_LABELS.get(purpose_of(klass).value, purpose_of(klass).value)
    parts = [f"{CLASS_LABELS[klass]}消息，凭{CHANNEL_LABELS_ZH.get(channel, channel)}渠道的{purpose}授权发送"]
    cap = settings.cap(klass)
    if cap:
        parts.append(f"发送时未超过{CLASS_LABELS[klass]}消息频次上限（{settings.cap_window_days}天{cap}条）")
    if klass != MessageClass.NOTICE or ChannelName(channel) in INTERRUPTING:
        parts.append(f"免打扰时段（{settings.quiet_start_hour}:00-{settings.quiet_end_hour}:00）内的推迟到结束后发送")
    else:
        parts.append("站内通知不受免打扰时段限制")
    return "；".join(parts)


async def sends_before(
    session: AsyncSession, patient_id: uuid.UUID, *, before: tuple[datetime, uuid.UUID] | None, limit: int
) -> list[Sent]:
    """The patient's sends newest first, strictly before `before` (sent_at, id); at most `limit`."""
    stmt = select(OutreachSend).where(
        OutreachSend.patient_id == patient_id,
        *(OutreachSend.source_ref.not_like(f"{p}%") for p in HIDDEN_PREFIXES),
    )
    if before is not None:
        at, last = before
        stmt = stmt.where(or_(OutreachSend.sent_at < at, and_(OutreachSend.sent_at == at, OutreachSend.id < last)))
    rows = await session.scalars(stmt.order_by(OutreachSend.sent_at.desc(), OutreachSend.id.desc()).limit(limit))
    return [
        Sent(
            id=r.id,
            at=r.sent_at,
            message_class=r.message_class,
            channel=r.channel,
            source=source_of(r.source_ref),
            explanation=explain(r.message_class, r.channel),
        )
        for r in rows
    ]
