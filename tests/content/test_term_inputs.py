"""A compliance term's category is one of the known ones (an unknown or over-long one was an
INTERNAL_ERROR from the database), through the real schema."""

from __future__ import annotations

from typing import Any

from tests.support import data, gql, staff_session

ADD = """mutation($p: String!, $c: String!) { complianceTermAdd(input: {pattern: $p, category: $c}) {
  term { id category } errors { field code } } }"""


async def test_unknown_or_oversized_category_is_a_typed_error(client: Any) -> None:
    admin = await staff_session(client, "terms-admin@example.cn", ["admin"])
    for category in ("c" * 40, "nonsense"):
        answer = data(await gql(client, ADD, {"p": "探测词一", "c": category}, token=admin.access))["complianceTermAdd"]
        assert [(e["field"], e["code"]) for e in answer["errors"]] == [("category", "TERM_CATEGORY_INVALID")]
    ok = data(await gql(client, ADD, {"p": "探测词二", "c": "absolute"}, token=admin.access))["complianceTermAdd"]
    assert ok["errors"] == [] and ok["term"]["category"] == "absolute"
