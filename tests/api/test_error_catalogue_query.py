"""`errorCodes`: the catalogue of every domain error code, readable by any client over HTTP."""

from __future__ import annotations

from typing import Any

from tests.api.test_error_codes import _enums
from tests.support import data, gql

QUERY = "{ errorCodes { code domain description } }"


async def test_every_domain_code_is_listed_once_with_its_meaning(client: Any) -> None:
    listed = data(await gql(client, QUERY))["errorCodes"]  # no sign-in needed
    codes = [row["code"] for row in listed]
    assert len(codes) == len(set(codes))
    expected = {member.value for enum in _enums() for member in enum}
    assert set(codes) == expected
    by_code = {row["code"]: row for row in listed}
    assert by_code["NOT_A_MEMBER"]["domain"] == "community"
    assert by_code["PERMISSION_DENIED"]["domain"] == "core"
    assert by_code["DUTY_SHIFT_NOT_FOUND"]["domain"] == "oncall"
    assert all(row["description"] for row in listed)
