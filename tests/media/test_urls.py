"""Signed, expiring image URLs (media/urls.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlsplit

import pytest

from media import errors, urls

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def _parts(path: str) -> tuple[str, str, dict[str, str]]:
    split = urlsplit(path)
    _, _, image_id, variant = split.path.split("/")
    return image_id, variant, dict(parse_qsl(split.query))


def test_a_signed_url_verifies_with_its_grant_until_it_expires():
    image_id = uuid.uuid4()
    viewer = urls.viewer_tag("patient", uuid.uuid4())
    grant = urls.Grant(viewer=viewer, role=urls.GrantRole.OWNER)
    path = urls.path_for(image_id, urls.Variant.THUMBNAIL, grant, NOW)
    assert str(image_id) in path and "thumbnail" in path and viewer in path
    verified = urls.verify(*_parts(path), NOW + timedelta(minutes=14))
    assert verified.image_id == image_id and verified.variant is urls.Variant.THUMBNAIL and verified.grant == grant
    with pytest.raises(errors.UrlExpired) as expired:
        urls.verify(*_parts(path), NOW + timedelta(minutes=30))
    assert expired.value.code == "MEDIA_URL_EXPIRED"


def test_public_urls_live_longer_and_repeat_within_a_window():
    image_id = uuid.uuid4()
    first = urls.path_for(image_id, urls.Variant.ORIGINAL, urls.PUBLIC, NOW)
    later = urls.path_for(image_id, urls.Variant.ORIGINAL, urls.PUBLIC, NOW + timedelta(minutes=20))
    assert first == later  # the browser's cache keeps working across page loads
    expires = int(_parts(first)[2]["e"])
    assert 6 * 3600 <= expires - NOW.timestamp() <= 6 * 3600 * 1.25
    assert "v=" not in first and "g=" not in first


@pytest.mark.parametrize(
    "tamper",
    [
        lambda q: {**q, "v": urls.viewer_tag("patient", uuid.uuid4())},  # another viewer
        lambda q: {**q, "g": "m"},  # a moderator's grant
        lambda q: {**q, "e": str(int(q["e"]) + 86400)},  # a later expiry
        lambda q: {**q, "s": q["s"][:-1] + ("A" if q["s"][-1] != "A" else "B")},
        lambda q: {k: v for k, v in q.items() if k != "s"},
        lambda q: {**q, "e": "soon"},
        lambda q: {**q, "g": "admin"},
    ],
)
def test_any_change_to_a_signed_url_is_refused(tamper):
    image_id = uuid.uuid4()
    grant = urls.Grant(viewer=urls.viewer_tag("patient", uuid.uuid4()))
    raw_id, variant, query = _parts(urls.path_for(image_id, urls.Variant.ORIGINAL, grant, NOW))
    with pytest.raises(errors.UrlInvalid) as refused:
        urls.verify(raw_id, variant, tamper(query), NOW)
    assert refused.value.code == "MEDIA_URL_INVALID"


def test_another_image_or_variant_under_the_same_signature_is_refused():
    raw_id, _, query = _parts(urls.path_for(uuid.uuid4(), urls.Variant.THUMBNAIL, urls.PUBLIC, NOW))
    with pytest.raises(errors.UrlInvalid):
        urls.verify(raw_id, "original", query, NOW)
    with pytest.raises(errors.UrlInvalid):
        urls.verify(str(uuid.uuid4()), "thumbnail", query, NOW)
    with pytest.raises(errors.UrlInvalid):
        urls.verify("../../etc/passwd", "thumbnail", query, NOW)
