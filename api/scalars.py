"""Date and DateTime as the API accepts them: real calendar dates in years the platform computes with.

strawberry's own scalars parse any ISO string Python can represent: year 1 and year 9999 pass, and
a service that adds a reminder offset or a look-back window to them overflows (OverflowError,
"year 10000 is out of range") deep in a resolver, masked as INTERNAL_ERROR. A naive DateTime
("2026-06-01T10:00:00") passes too and then fails when compared with the clock's aware instants.
Here both are refused at the boundary with a typed error; the names, descriptions and wire format
are strawberry's (the SDL does not change), only the accepted range is narrower.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

import dateutil.parser
from graphql import GraphQLError
from strawberry.schema.types.base_scalars import DateDefinition, DateTimeDefinition

DATE_INVALID = "DATE_INVALID"
DATETIME_INVALID = "DATETIME_INVALID"
# Wide enough for birth dates and archived visits, narrow enough that adding or subtracting any
# window the services use (days to a few years) never leaves Python's year 1..9999.
MIN_YEAR, MAX_YEAR = 1900, 2200
_RANGE = f"{MIN_YEAR}年到{MAX_YEAR}年"


def _error(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})


def parse_date(value: Any) -> date:
    if not isinstance(value, str):
        raise _error("日期格式应为 YYYY-MM-DD", DATE_INVALID)
    try:
        parsed = date.fromisoformat(value)
    except ValueError:  # 2026-02-30, 2026-13-01, year 0, "明天"
        raise _error(f"日期无效：{value[:40]}（格式 YYYY-MM-DD）", DATE_INVALID) from None
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise _error(f"日期需在{_RANGE}之间", DATE_INVALID)
    return parsed


def parse_datetime(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _error("时间格式应为 ISO 8601，例如 2026-06-01T10:00:00+08:00", DATETIME_INVALID)
    try:
        parsed = dateutil.parser.isoparse(value)
    except (ValueError, OverflowError):  # impossible dates and times, years past 9999
        raise _error(f"时间无效：{value[:40]}（例如 2026-06-01T10:00:00+08:00）", DATETIME_INVALID) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        # Stored as UTC instants and compared with the clock's aware time: a wall time without an
        # offset is ambiguous between the patient's phone and the hospital's zone, so it is refused.
        raise _error("时间需包含时区，例如 2026-06-01T10:00:00+08:00", DATETIME_INVALID)
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise _error(f"时间需在{_RANGE}之间", DATETIME_INVALID)
    return parsed


# Same name, description and serialization as strawberry's: only parsing is stricter.
DATE = dataclasses.replace(DateDefinition, parse_value=parse_date)
DATETIME = dataclasses.replace(DateTimeDefinition, parse_value=parse_datetime)
SCALAR_OVERRIDES: dict[object, Any] = {date: DATE, datetime: DATETIME}
