"""Who is a minor (未成年人, under 18 on the local calendar day), in Python and as SQL.

A full birth date decides. Without one, a birth year decides conservatively: someone born in the
year 18 years ago may still be 17, so they count as a minor until they give the date (marketing
is kept from them; posting asks for the date). Neither known: an adult (nothing says otherwise).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_

from core import clock
from core.settings import get_settings
from patients.models import Patient

MINOR_AGE = 18


def local_today() -> date:
    """Today in the hospital's zone (Asia/Shanghai by default): birthdays turn on the local date."""
    return clock.now().astimezone(ZoneInfo(get_settings().default_timezone)).date()


def adult_if_born_by(today: date) -> date:
    """The latest birth date of someone who is 18 today. On 29 February that is the 28th (18 years back is
    a common year); someone born on a 29 February comes of age on 1 March in a common year."""
    year = today.year - MINOR_AGE
    try:
        return today.replace(year=year)
    except ValueError:
        return date(year, 2, 28)


def is_minor(birth_date: date | None, birth_year: int | None, today: date | None = None) -> bool:
    today = today or local_today()
    if birth_date is not None:
        return birth_date > adult_if_born_by(today)
    if birth_year is not None:
        return birth_year >= today.year - MINOR_AGE
    return False


def minor_sql(today: date | None = None) -> ColumnElement[Any]:
    """SQL over `patients`: true for a minor by the rule above (NULL-safe: false when nothing is known)."""
    today = today or local_today()
    by_date = and_(Patient.birth_date.is_not(None), Patient.birth_date > adult_if_born_by(today))
    by_year = and_(
        Patient.birth_date.is_(None), Patient.birth_year.is_not(None), Patient.birth_year >= today.year - MINOR_AGE
    )
    return or_(by_date, by_year)
