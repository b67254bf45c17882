"""The one clock of the application: tests move it, code never calls datetime.now() directly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


class Clock:
    def __init__(self) -> None:
        self._frozen: datetime | None = None
        self._offset = timedelta(0)

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        return datetime.now(UTC) + self._offset

    def freeze(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("frozen time must be timezone-aware")
        self._frozen = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._frozen = None
        self._offset = timedelta(0)


clock = Clock()


def now() -> datetime:
    return clock.now()


def local_now(tz: str) -> datetime:
    return clock.now().astimezone(ZoneInfo(tz))
