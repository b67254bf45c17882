"""Mobile numbers as patients type them, normalised to the 11 digits every table stores."""

from __future__ import annotations

import re

from patients import errors

_PHONE = re.compile(r"^1[3-9]\d{9}$")
# A phone number with its separators and country prefix fits easily; anything longer is not one.
MAX_PHONE_INPUT = 32


def normalize_phone(raw: str) -> str:
    """Accepts 13812345678, +86 138 1234 5678, 86-138-1234-5678; returns the 11 digits."""
    if len(raw or "") > MAX_PHONE_INPUT:  # checked before any regex runs over client text
        raise errors.InvalidPhone(field="phone")
    digits = re.sub(r"[\s\-()]", "", raw or "")
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _PHONE.match(digits):
        raise errors.InvalidPhone(field="phone")
    return digits
