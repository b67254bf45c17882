"""Signed, expiring image URLs: `/media/<image id>/<variant>?e=<expiry>&v=<viewer>&g=<grant>&s=<signature>`.

The GraphQL field that hands out a URL is where the one access check runs (media/service.py
`grant_for`, with the community's read rule). The URL then carries what that check decided, under an
HMAC with the server secret (core.security.keyed_hash), so the route that serves the bytes needs no
second opinion on group membership:

- `e`: when it stops working (Unix seconds), rounded up to a whole window so repeated page loads get
  the same URL and the browser's cache keeps working;
- `v`: for an image of a members-only group, and for a held or rejected image, a keyed hash of the
  viewer's account (not their id): the URL was issued to that member, lives a short time
  (PORTAL_MEDIA_PRIVATE_URL_TTL_SECONDS), and a request signed in as anyone else is refused with it;
  empty for images anyone may see (approved avatars, images of public groups);
- `g`: why a held or rejected image may be shown: `o` issued to its owner, `m` to a moderator. The
  route checks it against the image's status at the time of the request, so an image rejected after a
  URL went out stops being served to readers at once.

A URL without `v` works for whoever holds it until it expires (what signed URLs are); `<img src>` sends
no Authorization header, so a viewer-bound URL is also served to a request without one, and refused
to a request that is signed in as someone else.
"""

from __future__ import annotations

import enum
import hmac
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from core.security import keyed_hash
from core.settings import get_settings
from media import errors
from media.config import get_media_settings


class Variant(enum.StrEnum):
    ORIGINAL = "original"
    THUMBNAIL = "thumbnail"


class GrantRole(enum.StrEnum):
    READER = ""  # an approved image, for anyone the access check let through
    OWNER = "o"
    MODERATOR = "m"


@dataclass(frozen=True)
class Grant:
    """What the access check decided for one viewer and image: who the URL is for and in what role."""

    viewer: str = ""  # viewer_tag(...) of the account it was issued to; "" for anyone
    role: GrantRole = GrantRole.READER


PUBLIC = Grant()


def viewer_tag(kind: str, account_id: uuid.UUID) -> str:
    """A short keyed hash of an account: binds a URL to a viewer without putting their id in logs."""
    return keyed_hash("media-viewer", kind, str(account_id))[:22]


def _signature(image_id: str, variant: str, expires: int, grant: Grant) -> str:
    return keyed_hash("media-url", image_id, variant, str(expires), grant.viewer, grant.role.value)[:43]


def expiry(grant: Grant, now: datetime) -> int:
    """Unix seconds: at least the TTL from now, rounded up to a quarter of the TTL."""
    settings = get_media_settings()
    ttl = settings.private_url_ttl_seconds if grant.viewer else settings.url_ttl_seconds
    window = max(60, ttl // 4)
    return math.ceil((now.timestamp() + ttl) / window) * window


def path_for(image_id: uuid.UUID, variant: Variant, grant: Grant, now: datetime) -> str:
    expires = expiry(grant, now)
    query: dict[str, str] = {"e": str(expires)}
    if grant.viewer:
        query["v"] = grant.viewer
    if grant.role:
        query["g"] = grant.role.value
    query["s"] = _signature(str(image_id), variant.value, expires, grant)
    return f"/media/{image_id}/{variant.value}?{urlencode(query)}"


def url_for(image_id: uuid.UUID, variant: Variant, grant: Grant, now: datetime) -> str:
    """The absolute URL (PORTAL_PUBLIC_BASE_URL, as for tracked links)."""
    return get_settings().public_base_url.rstrip("/") + path_for(image_id, variant, grant, now)


@dataclass(frozen=True)
class Verified:
    image_id: uuid.UUID
    variant: Variant
    grant: Grant
    expires: int


def verify(image_id: str, variant: str, query: dict[str, str], now: datetime) -> Verified:
    """The URL's grant when its signature holds and it has not expired; UrlInvalid / UrlExpired otherwise."""
    expires_text, viewer, role_text, given = (query.get(k, "") for k in ("e", "v", "g", "s"))
    try:
        parsed_id = uuid.UUID(image_id)
        parsed_variant = Variant(variant)
        role = GrantRole(role_text)
        expires = int(expires_text)
    except ValueError as exc:
        raise errors.UrlInvalid() from exc
    grant = Grant(viewer=viewer, role=role)
    expected = _signature(str(parsed_id), parsed_variant.value, expires, grant)
    if not hmac.compare_digest(expected, given):
        raise errors.UrlInvalid()
    if expires <= now.timestamp():
        raise errors.UrlExpired()
    return Verified(parsed_id, parsed_variant, grant, expires)
