"""Password hashing (argon2), secret hashing and JWT access tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core import cpu
from core.settings import get_settings

_hasher = PasswordHasher()
# Verifying against a real hash for unknown accounts keeps the timing of "no such user" equal.
_DUMMY_HASH = _hasher.hash("portal-dummy-password")
JWT_ALGORITHM = "HS256"


# Longer passwords are refused before hashing (argon2 pre-hashes any length, but nobody types more).
MAX_PASSWORD_LENGTH = 256


def _hash(password: str) -> str:
    return _hasher.hash(password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


# argon2 costs about 340 ms of CPU per call: it runs on the bounded CPU pool, never on the event loop.
async def hash_password(password: str) -> str:
    return await cpu.run(_hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """False for a wrong password or a missing account; an unknown account is checked against a
    dummy hash, in the same pool, so both answers take the same time."""
    return await cpu.run(_verify, password_hash, password)


def keyed_hash(*parts: str) -> str:
    """HMAC-SHA256 under the server secret, for short secrets such as one-time codes."""
    key = get_settings().secret_key.encode()
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def token_hash(token: str) -> str:
    """Refresh tokens are long random strings, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def new_otp() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


@dataclass(frozen=True)
class AccessClaims:
    subject: uuid.UUID
    kind: str
    roles: tuple[str, ...]
    session_id: uuid.UUID
    expires_at: datetime


def encode_access_token(
    *, subject: uuid.UUID, kind: str, roles: tuple[str, ...], session_id: uuid.UUID, now: datetime
) -> tuple[str, datetime]:
    expires = now + timedelta(seconds=get_settings().access_token_ttl_seconds)
    payload = {
        "sub": str(subject),
        "knd": kind,
        "rol": list(roles),
        "sid": str(session_id),
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
    }
    return jwt.encode(payload, get_settings().secret_key, algorithm=JWT_ALGORITHM), expires


def decode_access_token(token: str, *, now: datetime) -> AccessClaims | None:
    """None for anything invalid: bad signature, malformed, or expired by our clock."""
    try:
        payload = jwt.decode(
            token,
            get_settings().secret_key,
            algorithms=[JWT_ALGORITHM],
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        expires = datetime.fromtimestamp(int(payload["exp"]), tz=now.tzinfo)
        if expires <= now:
            return None
        return AccessClaims(
            subject=uuid.UUID(payload["sub"]),
            kind=str(payload["knd"]),
            roles=tuple(payload.get("rol", ())),
            session_id=uuid.UUID(payload["sid"]),
            expires_at=expires,
        )
    except (jwt.PyJWTError, KeyError, ValueError, TypeError, OverflowError, OSError):
        # OverflowError/OSError: an `exp` outside the platform's time range is a bad token, not a crash.
        return None


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, *, now: datetime, max_skew_seconds: int
) -> str | None:
    """None when valid, else the reason: 'signature' or 'timestamp'. The signature covers the
    timestamp, so an old request cannot be replayed with a fresh timestamp."""
    if not timestamp or not signature:
        return "signature"
    expected = sign_webhook(secret, timestamp, body)
    given = signature.removeprefix("sha256=").strip().lower()
    if not hmac.compare_digest(expected, given):
        return "signature"
    try:
        sent = int(timestamp)
    except ValueError:
        return "timestamp"
    if abs(now.timestamp() - sent) > max_skew_seconds:
        return "timestamp"
    return None
