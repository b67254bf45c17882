"""Check-in at the door, with each attendee's own signed one-use token, and the staff attendee list.

Every registration holding a seat has a check-in token: an HMAC under the server secret
(core.security.keyed_hash) over the event id, the registration id, the registration's random nonce
and an expiry (when check-in closes). The attendee's app shows it as a QR code (`checkInQr` on their
registration); staff who run the event scan it (`check_in_by_token`). There is no shared event code
and no self check-in: attendance points need the attendee in front of staff. Withdrawing the
registration draws a new nonce, so a token handed out before stops working.

One use: the scan locks the registration row and sets `checked_in_at` once; a second scan, at the same
moment or later, finds it set and is refused (CHECKIN_TOKEN_USED). Scans lock only the registration
(never the event row), so the door is not serialised on one row; a walk-in checked in by patient id
takes a seat and locks the event first, in the order of community.events.locks (event -> registration).
Attendance points go through loyalty with one key per (event, patient): however an attendee is checked
in, they are awarded once.
"""

from __future__ import annotations

import base64
import hmac
import re
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import events
from community.errors import CommunityCode as Code
from community.errors import EventCancelled, EventNotFound, NotRegistered
from community.models import Event, EventRsvp, EventStatus, RsvpStatus
from core import clock, security
from core.errors import DomainError
from core.identity import Actor
from core.ids import new_id
from core.pagination import Page, keyset_page
from loyalty import earning
from loyalty import errors as loyalty_errors
from patients import queries as patient_queries
from patients import visibility as patient_visibility
from patients.auth import mask_phone

CHECKIN_OPENS_BEFORE = timedelta(hours=1)
CHECKIN_CLOSES_AFTER = timedelta(hours=2)
TOKEN_PREFIX = "PCK1"
MAX_TOKEN_LENGTH = 200
# event id, registration id, nonce (12 bytes), expiry (unix seconds): 52 bytes, 70 base64url characters.
_PAYLOAD = struct.Struct(">16s16s12sQ")
_TOKEN = re.compile(r"PCK1\.([A-Za-z0-9_-]{70})\.([0-9a-f]{32})")


class CheckInNotOpen(DomainError):
    code = Code.CHECKIN_NOT_OPEN
    default_message = "签到尚未开始（活动开始前1小时开放）"


class CheckInClosed(DomainError):
    code = Code.CHECKIN_CLOSED
    default_message = "签到已结束"


class CheckInTokenInvalid(DomainError):
    code = Code.CHECKIN_TOKEN_INVALID
    default_message = "签到二维码无效或已失效，请参会者刷新报名页面的签到二维码"


class CheckInTokenExpired(DomainError):
    code = Code.CHECKIN_TOKEN_EXPIRED
    default_message = "签到二维码已过期"


class CheckInTokenUsed(DomainError):
    code = Code.CHECKIN_TOKEN_USED
    default_message = "该签到二维码已使用，参会者已签到"


class CheckInTokenWrongEvent(DomainError):
    code = Code.CHECKIN_TOKEN_WRONG_EVENT
    default_message = "该签到二维码属于其他活动，请核对参会者报名的活动"


class CheckInTargetRequired(DomainError):
    code = Code.CHECKIN_TARGET_REQUIRED
    default_message = "请扫描参会者的签到二维码，或指定签到的患者（二选一）"


# --- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenClaims:
    event_id: uuid.UUID
    rsvp_id: uuid.UUID
    nonce: str
    expires_at: datetime


def _sign(body: str) -> str:
    return security.keyed_hash("event_checkin", body)[:32]


def closes_at(event: Event) -> datetime:
    return event.ends_at + CHECKIN_CLOSES_AFTER


def issue_token(event: Event, rsvp: EventRsvp) -> str:
    """The attendee's check-in token (their QR code's payload)."""
    expires = int(closes_at(event).timestamp())
    raw = _PAYLOAD.pack(event.id.bytes, rsvp.id.bytes, bytes.fromhex(rsvp.checkin_nonce), expires)
    body = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return f"{TOKEN_PREFIX}.{body}.{_sign(body)}"


def token_for_viewer(actor: Actor, event: Event, rsvp: EventRsvp) -> str | None:
    """The token, for the attendee themself only, while it can still be used: a seat held, the event
    not cancelled, not yet checked in, check-in not closed."""
    if not (actor.is_patient and actor.id == rsvp.patient_id and rsvp.event_id == event.id):
        return None
    if rsvp.status != RsvpStatus.GOING or rsvp.checked_in_at is not None:
        return None
    if event.status != EventStatus.SCHEDULED or clock.now() >= closes_at(event):
        return None
    return issue_token(event, rsvp)


def read_token(token: str | None) -> TokenClaims:
    """The claims of a well-formed token with a valid signature; CHECKIN_TOKEN_INVALID otherwise
    (malformed, tampered, oversized, or signed under another secret)."""
    text = (token or "").strip()
    found = _TOKEN.fullmatch(text) if len(text) <= MAX_TOKEN_LENGTH else None
    if found is None or not hmac.compare_digest(_sign(found[1]), found[2]):
        raise CheckInTokenInvalid(field="token")
    event_id, rsvp_id, nonce, expires = _PAYLOAD.unpack(base64.urlsafe_b64decode(found[1] + "=="))
    return TokenClaims(uuid.UUID(bytes=event_id), uuid.UUID(bytes=rsvp_id), nonce.hex(), _from_unix(expires))


def _from_unix(seconds: int) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # only ever signed by us, but never a crash
        return datetime.max.replace(tzinfo=UTC)


# --- checking in ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckInResult:
    rsvp: EventRsvp
    points: int
    already: bool


def _require_open(event: Event, now: datetime) -> None:
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled()
    if now < event.starts_at - CHECKIN_OPENS_BEFORE:
        raise CheckInNotOpen()
    if now > closes_at(event):
        raise CheckInClosed()


async def _admit(session: AsyncSession, event: Event, rsvp: EventRsvp, now: datetime) -> CheckInResult:
    rsvp.checked_in_at = now
    rsvp.updated_at = now
    await session.flush()
    patient = rsvp.patient_id
    try:
        awarded = await earning.award(
            session, patient, "event_attendance", f"event:{event.id}", f"event:{event.id}:attend:{patient}"
        )
        points = awarded.points
    except loyalty_errors.RuleNotFound:  # the rule switched off: attendance still counts
        points = 0
    return CheckInResult(rsvp, points, False)


async def _lock_registration(session: AsyncSession, rsvp_id: uuid.UUID) -> EventRsvp | None:
    return await session.scalar(
        select(EventRsvp).where(EventRsvp.id == rsvp_id).with_for_update().execution_options(populate_existing=True)
    )


async def check_in_by_token(
    session: AsyncSession, actor: Actor, event_id: uuid.UUID, token: str | None
) -> CheckInResult:
    """Staff who run events scan an attendee's QR code at the door of `event_id`."""
    actor.require_role(*events.EVENT_STAFF_ROLES)
    claims = read_token(token)
    if claims.event_id != event_id:
        raise CheckInTokenWrongEvent(field="token")
    now = clock.now()
    if now >= claims.expires_at:
        raise CheckInTokenExpired(field="token")
    event = await session.get(Event, event_id)
    if event is None:
        raise EventNotFound(field="eventId")
    _require_open(event, now)
    rsvp = await _lock_registration(session, claims.rsvp_id)
    if rsvp is None or rsvp.event_id != event.id or not hmac.compare_digest(rsvp.checkin_nonce, claims.nonce):
        raise CheckInTokenInvalid(field="token")
    if rsvp.status != RsvpStatus.GOING:
        raise NotRegistered("该参会者没有有效的报名（已取消或仍在候补）", field="token")
    if rsvp.checked_in_at is not None:
        raise CheckInTokenUsed(
            f"该签到二维码已使用：参会者已于{events.local_text(rsvp.checked_in_at)}签到", field="token"
        )
    return await _admit(session, event, rsvp, now)


async def check_in_patient(
    session: AsyncSession, actor: Actor, event_id: uuid.UUID, patient_id: uuid.UUID
) -> CheckInResult:
    """Staff check a patient in by id (no phone at hand, a walk-in without registration: they become
    going). Repeating it is harmless: an attendee already in is answered `already`."""
    actor.require_role(*events.EVENT_STAFF_ROLES)
    event = await events.lock_event(session, event_id)  # a walk-in may take a seat
    now = clock.now()
    _require_open(event, now)
    if not (await patient_queries.patients_by_ids(session, [patient_id])):
        raise loyalty_errors.PatientNotFound(field="patientId")
    rsvp = await events.lock_rsvp(session, event.id, patient_id)
    if rsvp is None or rsvp.status != RsvpStatus.GOING:
        if rsvp is None:
            rsvp = EventRsvp(
                id=new_id(), event_id=event.id, patient_id=patient_id, status=RsvpStatus.GOING, created_at=now
            )
            session.add(rsvp)
        rsvp.status = RsvpStatus.GOING
        rsvp.waitlisted_at = None
        rsvp.offer_expires_at = None
        rsvp.updated_at = now
        event.going_count += 1
    if rsvp.checked_in_at is not None:
        return CheckInResult(rsvp, 0, True)
    return await _admit(session, event, rsvp, now)


async def check_in(
    session: AsyncSession,
    actor: Actor,
    event_id: uuid.UUID,
    *,
    token: str | None = None,
    patient_id: uuid.UUID | None = None,
) -> CheckInResult:
    """One of: a scanned token, or a patient id. Patients never check themselves in."""
    actor.require_role(*events.EVENT_STAFF_ROLES)
    if (token is None) == (patient_id is None):
        raise CheckInTargetRequired(field="token")
    if token is not None:
        return await check_in_by_token(session, actor, event_id, token)
    assert patient_id is not None
    return await check_in_patient(session, actor, event_id, patient_id)


# --- the attendee list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attendee:
    """One registration as staff at the door see it: the community nickname, the real name only for
    staff who may see private data (the care team), the phone always masked."""

    rsvp: EventRsvp
    nickname: str
    real_name: str | None
    masked_phone: str


async def attendees_page(
    session: AsyncSession,
    actor: Actor,
    event_id: uuid.UUID,
    *,
    first: int | None = None,
    after: str | None = None,
    status: RsvpStatus | None = None,
) -> Page[Attendee]:
    """The registrations of an event in the order they came in, for staff who run events."""
    actor.require_role(*events.EVENT_STAFF_ROLES)
    event = await session.get(Event, event_id)
    if event is None:
        raise EventNotFound(field="eventId")
    stmt = select(EventRsvp).where(EventRsvp.event_id == event.id)
    if status is not None:
        stmt = stmt.where(EventRsvp.status == status.value)
    page = await keyset_page(session, stmt, sort=EventRsvp.created_at, id_=EventRsvp.id, first=first, after=after)
    patients = await patient_queries.patients_by_ids(session, list({r.patient_id for r in page.items}))
    items: list[Attendee] = []
    for rsvp in page.items:
        patient = patients[rsvp.patient_id]  # registrations go with their patient (ON DELETE CASCADE)
        items.append(
            Attendee(
                rsvp=rsvp,
                nickname=patient.nickname,
                real_name=patient_visibility.private_field(actor, patient.id, patient.real_name),
                masked_phone=mask_phone(patient.phone),
            )
        )
    return Page(
        items=items, cursors=page.cursors, has_next_page=page.has_next_page, has_previous_page=page.has_previous_page
    )
