"""Every client mistake is a typed GraphQL error with a stable code, never INTERNAL_ERROR (issue 10.4).

Each case below was answered as a masked 500 before: null bytes that asyncpg refuses mid-query,
impossible or overflowing dates, tampered cursors that reached PostgreSQL with the wrong types,
too many ids in `nodes`, and variables of the wrong type that graphql-core rejects itself.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.db import unit_of_work
from core.errors import DomainError
from core.identity import SYSTEM
from core.pagination import InvalidCursor, decode_cursor, encode_cursor
from dashboards import service as dashboards
from tests.support import data, gql, patient_session, staff_session


def codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


def b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


GROUP = "query($s: String!) { group(slug: $s) { id } }"
GROUPS = "query($f: Int, $a: String) { groups(first: $f, after: $a) { edges { cursor } } }"
PROFILE = """mutation($input: ProfileUpdateInput!) { profileUpdate(input: $input) {
  errors { field code message } } }"""


# --- strings PostgreSQL cannot hold -------------------------------------------------------------


async def test_null_bytes_are_refused_before_postgres(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    as_variable = await gql(client, GROUP, {"s": "糖尿病\x00友"})
    assert codes(as_variable) == ["INVALID_STRING"]
    assert "空字符" in as_variable["errors"][0]["message"]
    as_literal = await gql(client, '{ group(slug: "a\\u0000b") { id } }')
    assert codes(as_literal) == ["INVALID_STRING"]
    # Nested in an input object of a mutation, and inside a list.
    nested = await gql(client, PROFILE, {"input": {"nickname": "小\x00明"}}, token=patient.access)
    assert codes(nested) == ["INVALID_STRING"]
    assert nested["errors"][0]["extensions"]["variable"] == "input.nickname"
    listed = await gql(client, "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ["a", "\x00"]})
    assert codes(listed) == ["INVALID_STRING"]
    # Other control characters are text PostgreSQL stores: they are the services' business.
    assert data(await gql(client, GROUP, {"s": "tab\there"}))["group"] is None


async def test_lone_surrogate_in_a_literal_is_a_syntax_error_not_a_500(client):
    response = await client.post("/graphql", json={"query": '{ group(slug: "\\ud800") { id } }'})
    assert response.status_code == 200
    assert "Invalid Unicode escape" in response.json()["errors"][0]["message"]


# --- wrong variables ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "value"),
    [
        (GROUPS, "abc"),
        (GROUPS, {"a": 1}),
        (GROUPS, [1]),
        (GROUPS, 2**40),
        (GROUPS, 1.5),
        (GROUP, {"a": 1}),
        (GROUP, [1]),
        (GROUP, 1.5),
        (GROUP, None),
        ("query($s: ID!) { node(id: $s) { id } }", {"a": 1}),
        ("query($s: ID!) { node(id: $s) { id } }", True),
    ],
)
async def test_wrong_variable_types_are_bad_requests(client, query, value):
    name = "f" if query is GROUPS else "s"
    result = await gql(client, query, {name: value})
    assert result["data"] is None
    assert codes(result) == ["BAD_REQUEST"], result
    assert result["errors"][0]["message"].startswith(f"Variable '${name}'")


async def test_missing_and_unknown_variables(client):
    missing = await gql(client, GROUP, {})
    assert codes(missing) == ["BAD_REQUEST"]
    assert "to be provided" in missing["errors"][0]["message"]
    # An unknown variable is ignored, as the GraphQL spec says.
    assert data(await gql(client, '{ group(slug: "x") { id } }', {"zz": 1}))["group"] is None


# --- dates --------------------------------------------------------------------------------------

NPS = "query($d: Date!) { dashboardNpsTrend(since: $d, until: $d) { month } }"


@pytest.mark.parametrize("day", ["2026-02-30", "2026-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "明天", ""])
async def test_impossible_or_out_of_range_dates(client, day):
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])
    result = await gql(client, NPS, {"d": day}, token=marketer.access)
    assert codes(result) == ["DATE_INVALID"], result


async def test_date_literals_are_checked_too(client):
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])
    result = await gql(
        client, '{ dashboardNpsTrend(since: "2026-02-30", until: "2026-03-01") { month } }', token=marketer.access
    )
    assert codes(result) == ["DATE_INVALID"]
    fine = await gql(client, NPS, {"d": "2026-03-01"}, token=marketer.access)
    assert data(fine)["dashboardNpsTrend"] == []


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-06-01T10:00:00", "时区"),
        ("2026-02-30T10:00:00+08:00", "无效"),
        ("9999-12-31T23:59:59+00:00", "1900年到2200年"),
        ("0001-01-01T00:00:00-12:00", "1900年到2200年"),
        ("2026-06-01T25:00:00Z", "无效"),
    ],
)
async def test_bad_datetimes(client, value, fragment):
    marketer = await staff_session(client, "mk@example.cn", ["marketer"])
    query = "query($d: DateTime) { contentStats(itemId: $id, since: $d) { day } }".replace(
        "$id", '"Q29udGVudEl0ZW06MDAwMDAwMDAtMDAwMC0wMDAwLTAwMDAtMDAwMDAwMDAwMDAw"'
    )
    result = await gql(client, query, {"d": value}, token=marketer.access)
    assert codes(result) == ["DATETIME_INVALID"], result
    assert fragment in result["errors"][0]["message"]


async def test_dashboard_service_refuses_years_it_cannot_compute_with():
    # Workers and the console call the service without the API's scalar: the rule holds there too.
    admin = SYSTEM
    async with unit_of_work() as session:
        for since, until in ((date(9999, 12, 1), date(9999, 12, 31)), (date(1, 1, 1), date(1, 1, 31))):
            with pytest.raises(DomainError) as raised:
                await dashboards.nps_trend(session, admin, since=since, until=until)
            assert raised.value.code == "DASHBOARD_RANGE"


# --- cursors and ids ----------------------------------------------------------------------------

TAMPERED = [
    "!!!",
    "Zm9v",  # base64 of "foo"
    b64("[1,2]"),
    b64('["a","b"]'),
    b64("[null]"),
    b64("[1,2,3]"),
    b64('{"a":1}'),
    b64('[{"d":"x"},{"u":"y"}]'),
    b64('[{"d":1},{"u":2}]'),
    b64('[{"d":"2026-01-01T00:00:00"},{"u":"00000000-0000-0000-0000-000000000000"}]'),  # naive
    b64('[{"d":"2026-01-01T00:00:00+00:00"},"not-a-uuid"]'),
    b64('[{"d":"2026-01-01T00:00:00+00:00"},{"u":"00000000-0000-0000-0000-000000000000","x":1}]'),
    b64("[99999999999999999999,1]"),
    b64("[NaN,1]"),
    b64('["\\u0000","x"]'),
    b64('["\\ud800","x"]'),
    b64("[" * 5000),
    "\u00e9\u4e2d",
]


@pytest.mark.parametrize("cursor", TAMPERED)
async def test_tampered_cursors_are_cursor_invalid(client, cursor):
    admin = await staff_session(client, "admin@example.cn", ["admin"])
    for query in (
        GROUPS,
        "query($f: Int, $a: String) { rewards(first: $f, after: $a) { edges { cursor } } }",
        "query($f: Int, $a: String) { moderationQueue(first: $f, after: $a) { edges { cursor } } }",
        'query($f: Int, $a: String) { contentSearch(query: "糖尿病", first: $f, after: $a) { edges { cursor } } }',
    ):
        result = await gql(client, query, {"f": 5, "a": cursor}, token=admin.access)
        assert codes(result) == ["CURSOR_INVALID"], (query, result)
        assert result["errors"][0]["extensions"]["field"] == "after"


async def test_cursor_of_another_connection_is_refused_and_a_real_one_pages(client):
    admin = await staff_session(client, "admin@example.cn", ["admin"])
    reward_shaped = encode_cursor(500, uuid.uuid4())  # rewards page on (points_cost, id)
    result = await gql(client, GROUPS, {"f": 5, "a": reward_shaped}, token=admin.access)
    assert codes(result) == ["CURSOR_INVALID"]
    group_shaped = encode_cursor(datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4())
    assert data(await gql(client, GROUPS, {"f": 5, "a": group_shaped}, token=admin.access))["groups"]["edges"] == []


def test_decode_cursor_checks_types_and_arity():
    at, row = datetime(2026, 1, 1, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, row), 2, types=(datetime, uuid.UUID)) == (at, row)
    assert decode_cursor(encode_cursor(None, row), 2, types=(datetime, uuid.UUID)) == (None, row)
    assert decode_cursor(encode_cursor(3, 0.5, row), 3, types=(int, float, uuid.UUID)) == (3, 0.5, row)
    for bad, types in (
        (encode_cursor(at, row), (int, uuid.UUID)),
        (encode_cursor(True, row), (int, uuid.UUID)),
        (encode_cursor("2026", row), (datetime, uuid.UUID)),
        (encode_cursor(at, row, row), (datetime, uuid.UUID)),
    ):
        with pytest.raises(InvalidCursor):
            decode_cursor(bad, 2, types=types)


@pytest.mark.parametrize("first", [-1, 0, 101, 2**31 - 1])
async def test_page_size_out_of_range(client, first):
    result = await gql(client, GROUPS, {"f": first})
    assert codes(result) == ["PAGE_SIZE_INVALID"]


async def test_too_many_ids_and_malformed_ids(client, unique_phone):
    patient = await patient_session(client, unique_phone)
    nodes = "query($ids: [ID!]!) { nodes(ids: $ids) { id } }"
    result = await gql(client, nodes, {"ids": ["x"] * 101}, token=patient.access)
    assert codes(result) == ["TOO_MANY_IDS"]
    assert result["errors"][0]["message"] == "一次最多查询100个对象"
    assert data(await gql(client, nodes, {"ids": ["x"] * 100}, token=patient.access))["nodes"] == [None] * 100
    weird = ["", "%%%", b64("Patient:" + "9" * 100), b64("Group:1"), b64("\xff\xfe"), "é" * 50]
    assert data(await gql(client, nodes, {"ids": weird}, token=patient.access))["nodes"] == [None] * len(weird)
    # A malformed id where a query field needs one: a typed error (ID_INVALID, or the module's own
    # not-found code where it treats a malformed id as an unknown one) or null, never a 500.
    for query in (
        'query { event(id: "garbage") { id } }',
        'query { patientCheckIns(patientId: "garbage") { id } }',
        'query { campaignStats(campaignId: "garbage") { sent } }',
        'query { checkInBoard(groupId: "garbage") { __typename } }',
        'query { pointsHistory(patientId: "garbage") { edges { cursor } } }',
    ):
        result = await gql(client, query, token=patient.access)
        assert "INTERNAL_ERROR" not in codes(result), (query, result)
    # In a mutation, the payload error has the same code.
    join = 'mutation { groupJoin(input: {groupId: "garbage"}) { errors { field code } } }'
    assert data(await gql(client, join, token=patient.access))["groupJoin"]["errors"] == [
        {"field": "groupId", "code": "ID_INVALID"}
    ]
