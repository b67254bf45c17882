"""No reviewer decides on their own item: neither approval nor rejection (issue 13.4), through the real
schema over HTTP with signed-in staff."""

from __future__ import annotations

from typing import Any

from tests.support import data, gql, staff_session

CREATE = """mutation { contentCreate(input: {kind: ARTICLE, title: "控糖饮食", body: "少食多餐，规律监测血糖。"}) {
  item { id } errors { code } } }"""
SUBMIT = "mutation($i: ID!) { contentSubmit(input: {itemId: $i}) { item { status } errors { code } } }"
REJECT = """mutation($i: ID!) { contentReject(input: {itemId: $i, comment: "请补充参考文献"}) {
  item { status } errors { code } } }"""


async def test_a_reviewer_cannot_reject_their_own_item(client: Any) -> None:
    both = await staff_session(client, "author-reviewer@example.cn", ["marketer", "reviewer"])
    other = await staff_session(client, "reviewer@example.cn", ["reviewer"])
    created = data(await gql(client, CREATE, token=both.access))["contentCreate"]
    assert created["errors"] == []
    item_id = created["item"]["id"]
    submitted = data(await gql(client, SUBMIT, {"i": item_id}, token=both.access))["contentSubmit"]
    assert submitted["errors"] == [] and submitted["item"]["status"] == "IN_REVIEW"
    own = data(await gql(client, REJECT, {"i": item_id}, token=both.access))["contentReject"]
    assert [e["code"] for e in own["errors"]] == ["CONTENT_SELF_APPROVAL"]
    by_other = data(await gql(client, REJECT, {"i": item_id}, token=other.access))["contentReject"]
    assert by_other["errors"] == [] and by_other["item"]["status"] == "REJECTED"
