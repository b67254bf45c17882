"""The care team's reply clock counts working hours, not wall-clock hours.

A patient who writes on Friday evening is answered by Monday late morning, not "4 hours overdue" at
midnight: the clock runs only on working days between the opening and closing hour, in the site's
time zone (the deployment's default zone). Everything is a setting (PORTAL_CARE_…); public holidays
and make-up working days (调休) are not modelled: set work days accordingly, or page by hand.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.settings import get_settings


class CareClockSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PORTAL_CARE_", extra="ignore")

    # Working hours the team has to answer a patient's message in.
    reply_hours: float = Field(default=4.0, gt=0, le=80)
    work_start_hour: int = Field(default=8, ge=0, le=23)
    work_end_hour: int = Field(default=18, ge=1, le=24)
    # ISO weekdays (1 = Monday ... 7 = Sunday), JSON in the environment: PORTAL_CARE_WORK_DAYS='[1,2,3,4,5,6]'.
    work_days: frozenset[int] = frozenset({1, 2, 3, 4, 5})

    @model_validator(mode="after")
    def _sane(self) -> CareClockSettings:
        if self.work_end_hour <= self.work_start_hour:
            raise ValueError("PORTAL_CARE_WORK_END_HOUR must be after PORTAL_CARE_WORK_START_HOUR")
        if not self.work_days or not self.work_days <= set(range(1, 8)):
            raise ValueError("PORTAL_CARE_WORK_DAYS: ISO weekdays 1-7, at least one")
        return self


@lru_cache(maxsize=1)
def get_clock_settings() -> CareClockSettings:
    return CareClockSettings()


def reset_clock_settings() -> None:
    get_clock_settings.cache_clear()


def _at(day: datetime, hour: int, tz: ZoneInfo) -> datetime:
    if hour == 24:
        return datetime.combine(day.date() + timedelta(days=1), time(0), tzinfo=tz)
    return datetime.combine(day.date(), time(hour), tzinfo=tz)


def add_working_time(start: datetime, amount: timedelta, settings: CareClockSettings | None = None) -> datetime:
    """`start` (aware) plus `amount` of working time, counted in the deployment's time zone."""
    s = settings or get_clock_settings()
    tz = ZoneInfo(get_settings().default_timezone)
    now = start.astimezone(tz)
    left = amount
    # At most one step per calendar day; a week holds at least one working day, so this ends.
    for _ in range((int(amount.total_seconds() // 3600) + 1) * 7 + 14):
        opens, closes = _at(now, s.work_start_hour, tz), _at(now, s.work_end_hour, tz)
        if now.isoweekday() in s.work_days and now < closes:
            now = max(now, opens)
            if now + left <= closes:
                return now + left
            left -= closes - now
        now = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=tz)
    raise AssertionError("working-time walk did not end")  # unreachable with valid settings


def reply_due(start: datetime, settings: CareClockSettings | None = None) -> datetime:
    """When the care team's answer to a message sent at `start` is due."""
    s = settings or get_clock_settings()
    return add_working_time(start, timedelta(hours=s.reply_hours), s)
