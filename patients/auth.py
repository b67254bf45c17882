"""Sign-in: patients by phone + one-time code, staff by e-mail + password; tokens and sessions.

Access tokens are short-lived JWTs naming their session; refresh tokens are opaque, stored hashed
and rotate on every use. Presenting a refresh token that was already rotated means it leaked (or
was replayed), so the whole session (token family) is revoked.
"""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, ratelimit, rawsql, security
from core.channels import ChannelName, Message, send_later
from core.errors import NotAuthenticated
from core.identity import ANONYMOUS, Actor, ActorKind, Role
from core.ids import new_id
from core.settings import get_settings
from patients import errors
from patients.errors import PatientsCode as Code
from patients.models import (
    AuthSession,
    Patient,
    RefreshToken,
    SignInCode,
    Staff,
    StaffRole,
)
from patients.phones import normalize_phone
from patients.service import grant_default_consents

_CODE = re.compile(r"^\d{6}$")
MAX_EMAIL_LENGTH = 254


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}"


@dataclass(frozen=True)
class CodeRequested:
    phone: str
    expires_at: datetime
    resend_after: datetime


@dataclass(frozen=True)
class Tokens:
    access_token: str
    access_expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    actor: Actor


@dataclass(frozen=True)
class PatientSignedIn:
    tokens: Tokens
    patient: Patient
    registered: bool


async def _lock(session: AsyncSession, key: str) -> None:
    # Serializes requests for one phone/e-mail so the rate-limit counts cannot race.
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def _otp_windows() -> tuple[ratelimit.Window, ratelimit.Window, ratelimit.Window]:
    settings = get_settings()
    return (
        ratelimit.Window("otp-client-minute", settings.otp_per_client_per_minute, 60),
        ratelimit.Window("otp-client-hour", settings.otp_per_client_per_hour, 3600),
        ratelimit.Window("otp-global-minute", settings.otp_global_per_minute, 60),
    )


async def _limit_code_requests(client: str | None) -> None:
    per_minute, per_hour, everyone = _otp_windows()
    if client:
        subject = ratelimit.subject_of(client)
        minute_count = await ratelimit.hit(per_minute, subject)
        hour_count = await ratelimit.hit(per_hour, subject)
        if minute_count > per_minute.limit or hour_count > per_hour.limit:
            raise errors.ClientTooFrequent(field="phone")
    if await ratelimit.hit(everyone, "all") > everyone.limit:
        raise errors.ServiceBusy(field="phone")


async def request_code(session: AsyncSession, *, phone: str, client: str | None = None) -> CodeRequested:
    """`client`: the caller's network address, limited like the phone (and the service overall)."""
    settings = get_settings()
    phone = normalize_phone(phone)
    await _limit_code_requests(client)
    await _lock(session, f"otp:{phone}")
    now = clock.now()
    recent = (
        await session.execute(
            select(
                func.count().filter(SignInCode.created_at > now - timedelta(minutes=1)),
                func.count(),
            ).where(SignInCode.phone == phone, SignInCode.created_at > now - timedelta(days=1))
        )
    ).one()
    if recent[0] >= settings.otp_per_minute:
        raise errors.CodeTooFrequent(field="phone")
    if recent[1] >= settings.otp_per_day:
        raise errors.CodeDailyLimit(field="phone")

    # A new code supersedes the older ones, so only the latest can be tried.
    await session.execute(
        update(SignInCode).where(SignInCode.phone == phone, SignInCode.consumed_at.is_(None)).values(consumed_at=now)
    )
    code = security.new_otp()
    expires = now + timedelta(seconds=settings.otp_ttl_seconds)
    session.add(
        SignInCode(
            id=new_id(),
            phone=phone,
            code_hash=security.keyed_hash("otp", phone, code),
            created_at=now,
            expires_at=expires,
        )
    )
    minutes = settings.otp_ttl_seconds // 60
    body = f"【{settings.brand_name}】您的登录验证码为{code}，{minutes}分钟内有效。如非本人操作，请忽略本短信。"
    params = {"code": code, "minutes": str(minutes)}
    sms = Message(channel=ChannelName.SMS, recipient=phone, body=body, kind="sign_in_code", params=params)
    await send_later(session, sms, sensitive=True)
    return CodeRequested(phone=phone, expires_at=expires, resend_after=now + timedelta(minutes=1))


async def consume_code(session: AsyncSession, phone: str, code: str) -> None:
    """Spends the latest sign-in code of `phone` (normalised), proving whoever holds the phone is
    here: for signing in, and for a guardian opening a minor's account (patients/guardians.py)."""
    settings = get_settings()
    code = (code or "").strip()
    if not _CODE.match(code):
        raise errors.CodeInvalid("验证码为6位数字", field="code")
    now = clock.now()
    row = await session.scalar(
        select(SignInCode)
        .where(SignInCode.phone == phone, SignInCode.consumed_at.is_(None))
        .order_by(SignInCode.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    if row is None or row.expires_at <= now:
        raise errors.CodeExpired(field="code")
    if row.attempts >= settings.otp_max_attempts:
        raise errors.CodeTooManyAttempts(field="code")
    if not hmac.compare_digest(row.code_hash, security.keyed_hash("otp", phone, code)):
        row.attempts += 1
        if row.attempts >= settings.otp_max_attempts:
            raise errors.CodeTooManyAttempts(field="code")
        left = settings.otp_max_attempts - row.attempts
        raise errors.CodeInvalid(f"验证码错误，还可尝试{left}次", field="code")
    row.consumed_at = now


async def sign_in_patient(
    session: AsyncSession, *, phone: str, code: str, device_id: str | None = None
) -> PatientSignedIn:
    settings = get_settings()
    phone = normalize_phone(phone)
    await consume_code(session, phone, code)
    now = clock.now()

    registered = False
    patient = await session.scalar(select(Patient).where(Patient.phone == phone).with_for_update())
    if patient is None:
        patient_id = new_id()
        await session.execute(
            insert(Patient)
            .values(
                id=patient_id,
                phone=phone,
                nickname=f"康友{phone[-4:]}",
                timezone=settings.default_timezone,
                created_at=now,
                updated_at=now,
            )
            .on_conflict_do_nothing(index_elements=["phone"])
        )
        patient = await session.scalar(select(Patient).where(Patient.phone == phone))
        assert patient is not None
        registered = patient.id == patient_id
        if registered:
            await grant_default_consents(session, patient.id)
    patient.last_sign_in_at = now
    actor = Actor(kind=ActorKind.PATIENT, id=patient.id)
    tokens = await _start_session(session, actor, device_id=device_id)
    return PatientSignedIn(tokens=tokens, patient=patient, registered=registered)


def _staff_windows() -> tuple[ratelimit.Window, ratelimit.Window]:
    settings = get_settings()
    return (
        ratelimit.Window("staff-fail-pair", settings.staff_max_failed_logins, settings.staff_lockout_minutes * 60),
        ratelimit.Window("staff-fail-client", settings.staff_failed_per_client_per_hour, 3600),
    )


async def sign_in_staff(session: AsyncSession, *, email: str, password: str, client: str | None = None) -> Tokens:
    """E-mail + password. Failures count per (e-mail, client address) and per address, in Redis:
    a throttled pair gets the same answer whether the account exists or not, and other addresses
    (the real administrator's) are not affected.
    """
    now = clock.now()
    email, password = (email or "").strip().lower(), password or ""
    # No account has a longer e-mail or password: refused before the lookup and the hashing.
    if len(email) > MAX_EMAIL_LENGTH or len(password) > security.MAX_PASSWORD_LENGTH:
        raise errors.InvalidCredentials()
    pair_window, client_window = _staff_windows()
    pair, address = ratelimit.subject_of(email, client or "-"), ratelimit.subject_of(client or "-")
    if (
        await ratelimit.current(pair_window, pair) >= pair_window.limit
        or await ratelimit.current(client_window, address) >= client_window.limit
    ):
        raise errors.SignInThrottled(f"登录失败次数过多，请{get_settings().staff_lockout_minutes}分钟后再试")
    staff = await session.scalar(select(Staff).where(Staff.email == email))  # stored lower-case
    # Unknown e-mails cost the same hashing as known ones (no timing tells which exist).
    if not await security.verify_password(staff.password_hash if staff else None, password) or not (
        staff is not None and staff.active
    ):
        await ratelimit.hit(pair_window, pair)
        await ratelimit.hit(client_window, address)
        raise errors.InvalidCredentials()
    await ratelimit.clear(pair_window, pair)
    staff.last_sign_in_at = now
    roles = await staff_roles(session, staff.id)
    actor = Actor(kind=ActorKind.STAFF, id=staff.id, roles=roles)
    return await _start_session(session, actor)


async def staff_roles(session: AsyncSession, staff_id: uuid.UUID) -> frozenset[Role]:
    rows = await session.scalars(select(StaffRole.role).where(StaffRole.staff_id == staff_id))
    return frozenset(Role(r) for r in rows)


async def _start_session(session: AsyncSession, actor: Actor, *, device_id: str | None = None) -> Tokens:
    assert actor.id is not None
    auth_session = AuthSession(
        id=new_id(),
        subject_kind=actor.kind.value,
        subject_id=actor.id,
        device_id=(device_id or None) and device_id[:100],
        created_at=clock.now(),
    )
    session.add(auth_session)
    return await _issue(session, Actor(kind=actor.kind, id=actor.id, roles=actor.roles, session_id=auth_session.id))


async def _issue(session: AsyncSession, actor: Actor) -> Tokens:
    assert actor.id is not None and actor.session_id is not None
    now = clock.now()
    access, access_expires = security.encode_access_token(
        subject=actor.id,
        kind=actor.kind.value,
        roles=tuple(sorted(actor.roles)),
        session_id=actor.session_id,
        now=now,
    )
    refresh = security.new_token()
    refresh_expires = now + timedelta(days=get_settings().refresh_token_ttl_days)
    session.add(
        RefreshToken(
            id=new_id(),
            session_id=actor.session_id,
            token_hash=security.token_hash(refresh),
            created_at=now,
            expires_at=refresh_expires,
        )
    )
    return Tokens(access, access_expires, refresh, refresh_expires, actor)


async def refresh(session: AsyncSession, *, refresh_token: str) -> Tokens:
    now = clock.now()
    found = (
        await session.execute(
            select(RefreshToken, AuthSession)
            .join(AuthSession, AuthSession.id == RefreshToken.session_id)
            .where(RefreshToken.token_hash == security.token_hash(refresh_token or ""))
            .with_for_update()
        )
    ).one_or_none()
    if found is None:
        raise errors.RefreshInvalid(field="refreshToken")
    token, auth_session = found
    if auth_session.revoked_at is not None:
        raise errors.RefreshInvalid(field="refreshToken")
    if token.rotated_at is not None:
        auth_session.revoked_at = now
        auth_session.revoked_reason = "refresh_reuse"
        raise errors.RefreshReused(field="refreshToken")
    if token.expires_at <= now:
        raise errors.RefreshInvalid(field="refreshToken")

    kind = ActorKind(auth_session.subject_kind)
    roles: frozenset[Role] = frozenset()
    if kind is ActorKind.STAFF:
        active = await session.scalar(select(Staff.active).where(Staff.id == auth_session.subject_id))
        if not active:
            auth_session.revoked_at = now
            auth_session.revoked_reason = "staff_inactive"
            raise errors.StaffInactive(field="refreshToken")
        roles = await staff_roles(session, auth_session.subject_id)
    token.rotated_at = now
    return await _issue(session, Actor(kind=kind, id=auth_session.subject_id, roles=roles, session_id=auth_session.id))


async def sign_out(session: AsyncSession, actor: Actor, *, refresh_token: str | None = None) -> None:
    """Ends the session of the given refresh token, or else the actor's current session."""
    now = clock.now()
    if refresh_token:
        session_id = await session.scalar(
            select(RefreshToken.session_id).where(RefreshToken.token_hash == security.token_hash(refresh_token))
        )
        if session_id is None:
            raise errors.RefreshInvalid(field="refreshToken")
    elif actor.session_id is not None:
        session_id = actor.session_id
    else:
        raise NotAuthenticated()
    await session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason="sign_out")
    )


async def actor_from_token(session: AsyncSession, token: str | None) -> Actor:
    """The actor of a bearer token; anonymous when missing. Revoked or expired tokens are refused."""
    if not token:
        return ANONYMOUS
    claims = security.decode_access_token(token, now=clock.now())
    if claims is None:
        raise errors.RefreshInvalid("访问令牌无效或已过期", code=Code.ACCESS_TOKEN_INVALID)
    kind = ActorKind(claims.kind)
    # Fixed SQL as prepared statements (core/rawsql): one round trip and no transaction, on every
    # request that carries a token.
    if kind is not ActorKind.STAFF:
        rows = await rawsql.fetch(session, _SESSION_REVOKED, claims.session_id)
        if not rows or rows[0][0]:
            raise errors.RefreshInvalid("登录已退出，请重新登录", code=Code.ACCESS_TOKEN_REVOKED)
        return Actor(kind=kind, id=claims.subject, session_id=claims.session_id)
    # Staff: the row is re-checked on every request (one indexed statement), so disabling an
    # account or changing its roles takes effect at once, not when the token expires.
    found = await rawsql.fetch(session, _STAFF_SESSION, claims.session_id)
    row = found[0] if found else None
    if row is None or row["revoked"] or not row["active"] or row["staff_id"] != claims.subject:
        raise errors.RefreshInvalid("登录已退出，请重新登录", code=Code.ACCESS_TOKEN_REVOKED)
    known = {r.value for r in Role}
    roles = frozenset(Role(r) for r in (row["roles"] or ()) if r in known)
    return Actor(kind=kind, id=claims.subject, roles=roles, session_id=claims.session_id)


_SESSION_REVOKED = "SELECT revoked_at IS NOT NULL FROM auth_sessions WHERE id = $1"
_STAFF_SESSION = """
SELECT s.revoked_at IS NOT NULL AS revoked, st.id AS staff_id, st.active,
       (SELECT array_agg(r.role) FROM staff_roles r WHERE r.staff_id = st.id) AS roles
FROM auth_sessions s JOIN staff st ON st.id = s.subject_id
WHERE s.id = $1 AND s.subject_kind = 'staff'
"""
