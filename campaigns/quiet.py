"""Quiet hours and time zones: when a patient may be messaged, shared by the runner (a delivery made in
quiet hours waits for their end) and the senders (nothing goes out during them)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from campaigns.config import get_campaign_settings
from core.settings import get_settings


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or get_settings().default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(get_settings().default_timezone)


def quiet_until(now: datetime, tz: str | None) -> datetime | None:
    """The end of the quiet hours `now` falls in, in the patient's zone; None outside them."""
    settings = get_campaign_settings()
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
