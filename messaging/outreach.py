"""One outreach policy for every message a patient did not just ask for: campaigns, journeys, event
invitations and notices all ask it, per patient and channel, whether a message may go out now.

Message classes (what the patient is being sent, not who sends it):
- marketing: marketing campaigns and journeys, event invitations. Consent purpose `marketing` on the
  channel; kept from the deceased, the admitted, staff, minors and whoever opted out of marketing; quiet
  hours on every channel; capped (`PORTAL_OUTREACH_MARKETING_CAP` per window).
- care: care campaigns and journeys (follow-ups). Consent purpose `service`; kept from the deceased,
  the admitted and staff; quiet hours on every channel; capped separately (`…_CARE_CAP`).
- notice: news about the patient's own doings (event reminders, cancellations and seat offers,
  points about to expire), queued through `notify`. Consent purpose `service`; kept from the
  deceased; quiet hours only on channels that interrupt (not the in-app inbox: a reminder an hour
  before an event is useless at 08:00); no cap unless `…_NOTICE_CAP` is set.
Sign-in codes, crisis help, staff pages and moderation decisions on the patient's own posts (they
explain what was done to their account) are transactional and never pass through here.

The order of the checks is the order of the answers: suppression, consent, cap, quiet hours. A
suppressed patient or a withdrawn consent skips the message (consent always wins); quiet hours defer
it to their end in the patient's own time zone, never drop it; the cap skips it. Caps count
`outreach_sends` rows (one per message let out, deferred ones included) in a rolling window, under a
per-patient transaction advisory lock, so two senders cannot both pass the cap for one patient.
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import ColumnElement, case, exists, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.channels import ChannelName, Message, send_later
from core.ids import new_id
from core.settings import get_settings
from messaging.models import OutreachSend
from patients.consents import in_force_sql
from patients.minors import minor_sql
from patients.models import Consent, ConsentPurpose, Patient, Staff


class OutreachSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_OUTREACH_", extra="ignore")

    quiet_start_hour: int = Field(default=21, ge=0, le=23)
    quiet_end_hour: int = Field(default=8, ge=0, le=23)
    # Messages per patient and class in the rolling window (0: no cap).
    marketing_cap: int = Field(default=2, ge=0)
    care_cap: int = Field(default=4, ge=0)
    notice_cap: int = Field(default=0, ge=0)
    cap_window_days: int = Field(default=7, ge=1, le=90)

    def cap(self, message_class: MessageClass) -> int:
        return int(getattr(self, f"{message_class.value}_cap"))


@lru_cache(maxsize=1)
def get_outreach_settings() -> OutreachSettings:
    return OutreachSettings()


def reset_outreach_settings() -> None:
    get_outreach_settings.cache_clear()


class MessageClass(enum.StrEnum):
    MARKETING = "marketing"
    CARE = "care"
    NOTICE = "notice"


class Verdict(enum.StrEnum):
    SEND = "send"
    DEFER = "defer"  # to `until`, the end of the patient's quiet hours
    SKIP = "skip"


class SkipReason(enum.StrEnum):
    SUPPRESSED = "suppressed"
    NO_CONSENT = "no_consent"
    FREQUENCY_CAP = "frequency_cap"


# Channels whose message interrupts (a text, a WeChat card, a mail): quiet hours hold notices there.
INTERRUPTING = frozenset({ChannelName.SMS, ChannelName.WECHAT, ChannelName.EMAIL})


def purpose_of(message_class: str) -> ConsentPurpose:
    return ConsentPurpose.MARKETING if message_class == MessageClass.MARKETING else ConsentPurpose.SERVICE


def suppression(message_class: str) -> ColumnElement[Any]:
    """SQL: the reason a patient may not receive a message of `message_class`, or NULL."""
    # An erased account (privacy/erasure.py) gets nothing of any class, notices included.
    erased: tuple[ColumnElement[bool], str] = (Patient.erased_at.is_not(None), "erased")
    if message_class == MessageClass.NOTICE:
        return case(erased, (Patient.deceased.is_(True), "deceased"), else_=None)
    staff = exists().where(Staff.phone == Patient.phone, Staff.active.is_(True))
    whens: list[tuple[ColumnElement[bool], str]] = [
        erased,
        (Patient.deceased.is_(True), "deceased"),
        (Patient.admitted.is_(True), "admitted"),
        (staff, "staff"),
    ]
    if message_class == MessageClass.MARKETING:
        whens.append((Patient.marketing_opt_out.is_(True), "opted_out"))
        whens.append((minor_sql(), "minor"))  # minors get no marketing (patients/minors.py: by birth date)
    return case(*whens, else_=None)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or get_settings().default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(get_settings().default_timezone)


def quiet_until(now: datetime, tz: str | None) -> datetime | None:
    """The end of the quiet hours `now` falls in, in the patient's zone; None outside them."""
    settings = get_outreach_settings()
    start, end = settings.quiet_start_hour, settings.quiet_end_hour
    if start == end:
        return None
    z = zone(tz)
    local = now.astimezone(z)
    hour = local.hour
    quiet = (hour >= start or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end), tzinfo=z).astimezone(UTC)


@dataclass
class Recipient:
    """What the policy knows of one patient, read for a whole batch in three statements."""

    patient_id: uuid.UUID
    timezone: str | None
    suppressed: dict[MessageClass, str | None]
    consents: set[tuple[str, str]] = field(default_factory=set)  # (channel, purpose) granted now
    recent: Counter[str] = field(default_factory=Counter)  # messages per class in the cap window


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    reason: SkipReason | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    until: datetime | None = None


SEND = Decision(Verdict.SEND)


async def lock(session: AsyncSession, patient_ids: Sequence[uuid.UUID]) -> None:
    """Per-patient transaction advisory locks, in id order (no deadlock between two senders)."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(hashtextextended('outreach:' || p::text, 0)) "
            "FROM unnest(CAST(:ids AS uuid[])) AS p ORDER BY p"
        ),
        {"ids": sorted(set(patient_ids))},
    )


async def recipients(
    session: AsyncSession, patient_ids: Sequence[uuid.UUID], now: datetime
) -> dict[uuid.UUID, Recipient]:
    """The policy's facts for these patients (unknown ids are left out)."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    out: dict[uuid.UUID, Recipient] = {}
    rows = await session.execute(
        select(Patient.id, Patient.timezone, *(suppression(c).label(c.value) for c in MessageClass)).where(
            Patient.id.in_(ids)
        )
    )
    for r in rows:
        out[r.id] = Recipient(r.id, r.timezone, {c: getattr(r, c.value) for c in MessageClass})
    for pid, channel, purpose in await session.execute(
        select(Consent.patient_id, Consent.channel, Consent.purpose).where(
            Consent.patient_id.in_(ids), text(in_force_sql())
        )
    ):
        out[pid].consents.add((channel, purpose))
    window = now - timedelta(days=get_outreach_settings().cap_window_days)
    for pid, message_class, count in await session.execute(
        select(OutreachSend.patient_id, OutreachSend.message_class, func.count())
        .where(OutreachSend.patient_id.in_(ids), OutreachSend.sent_at >= window)
        .group_by(OutreachSend.patient_id, OutreachSend.message_class)
    ):
        if pid in out:
            out[pid].recent[message_class] = int(count)
    return out


def admit(r: Recipient, message_class: MessageClass) -> Decision:
    """The per-patient half of the policy: suppression and the cap (one message, whatever channels)."""
    reason = r.suppressed.get(message_class)
    if reason is not None:
        return Decision(Verdict.SKIP, SkipReason.SUPPRESSED, {"suppressed": reason})
    cap = get_outreach_settings().cap(message_class)
    if cap and r.recent[message_class] >= cap:
        return Decision(Verdict.SKIP, SkipReason.FREQUENCY_CAP, {"recent": r.recent[message_class], "cap": cap})
    return SEND


def on_channel(r: Recipient, message_class: MessageClass, channel: str, now: datetime) -> Decision:
    """The per-channel half: consent for the class's purpose on this channel, then quiet hours."""
    if (channel, purpose_of(message_class).value) not in r.consents:
        return Decision(Verdict.SKIP, SkipReason.NO_CONSENT, {"channel": channel, "withdrawn": True})
    if message_class != MessageClass.NOTICE or channel in INTERRUPTING:
        until = quiet_until(now, r.timezone)
        if until is not None:
            return Decision(Verdict.DEFER, until=until)
    return SEND


def decide(r: Recipient, message_class: MessageClass, channel: str, now: datetime) -> Decision:
    """Both halves for a message on one channel. Consent is checked before the cap, so a patient who
    withdrew is reported as such, not as capped."""
    first = admit(r, message_class)
    if first.reason == SkipReason.SUPPRESSED:
        return first
    second = on_channel(r, message_class, channel, now)
    if second.verdict == Verdict.SKIP:
        return second
    return first if first.verdict == Verdict.SKIP else second


@dataclass
class Sends:
    """Messages let out in one transaction: counted at once (a later message of the same batch sees
    them) and written in one statement by `flush`."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, r: Recipient, message_class: MessageClass, channel: str, source_ref: str, at: datetime) -> None:
        r.recent[message_class] += 1
        self.rows.append(
            {
                "id": new_id(),
                "patient_id": r.patient_id,
                "message_class": message_class.value,
                "channel": channel,
                "source_ref": source_ref[:160],
                "sent_at": at,
            }
        )

    async def flush(self, session: AsyncSession) -> None:
        if self.rows:
            await session.execute(
                insert(OutreachSend).values(self.rows).on_conflict_do_nothing(index_elements=["source_ref"])
            )
            self.rows = []


@dataclass(frozen=True)
class Notice:
    patient_id: uuid.UUID
    message: Message
    source_ref: str  # unique per message: a retry counts once


async def notify(session: AsyncSession, message_class: MessageClass, notices: Sequence[Notice]) -> int:
    """Queue `notices` in the caller's transaction, each as the policy says: now, at the end of the
    patient's quiet hours, or not at all. Returns how many were queued. Three reads and one insert
    for the whole list."""
    if not notices:
        return 0
    now = clock.now()
    ids = [n.patient_id for n in notices]
    if get_outreach_settings().cap(message_class):
        await lock(session, ids)
    policy = await recipients(session, ids, now)
    sends = Sends()
    for n in notices:
        r = policy.get(n.patient_id)
        if r is None:
            continue
        decision = decide(r, message_class, n.message.channel, now)
        if decision.verdict == Verdict.SKIP:
            continue
        await send_later(session, n.message, not_before=decision.until)
        sends.add(r, message_class, n.message.channel, n.source_ref, now)
    queued = len(sends.rows)
    await sends.flush(session)
    return queued
