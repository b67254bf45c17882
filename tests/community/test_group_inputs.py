"""Client mistakes in group administration get typed codes, never INTERNAL_ERROR (found by the HTTP
coverage tests): an unknown condition, an over-long cover URL, an over-long description, and invitations
or roles for accounts that do not exist."""

from __future__ import annotations

import uuid
from typing import Any

from api.relay import to_global_id
from tests.factories import make_group
from tests.support import data, gql, staff_session

CREATE = """mutation($slug: String!, $cond: String, $cover: String, $desc: String!) {
  groupCreate(input: {slug: $slug, name: "测试群组", visibility: PUBLIC, joinPolicy: OPEN, conditionCode: $cond,
                      coverUrl: $cover, description: $desc}) { group { id } errors { field code } } }"""
INVITE = """mutation($g: ID!, $p: ID!) { groupInvite(input: {groupId: $g, patientId: $p}) {
  errors { field code } } }"""
SET_ROLE = """mutation($g: ID!, $a: ID!) { groupSetRole(input: {groupId: $g, accountId: $a, role: MEMBER}) {
  errors { field code } } }"""


async def test_group_inputs_the_database_would_refuse_are_typed_errors(client: Any) -> None:
    moderator = await staff_session(client, "groups-mod@example.cn", ["moderator"])

    async def create(**variables: Any) -> list[tuple[str, str]]:
        base = {"slug": f"g-{uuid.uuid4().hex[:8]}", "cond": None, "cover": None, "desc": ""}
        answer = data(await gql(client, CREATE, {**base, **variables}, token=moderator.access))["groupCreate"]
        return [(e["field"], e["code"]) for e in answer["errors"]]

    assert await create(cond="no-such-condition") == [("conditionCode", "CONDITION_UNKNOWN")]
    assert await create(cond="x" * 300) == [("conditionCode", "CONDITION_UNKNOWN")]
    assert await create(cover="https://" + "a" * 600) == [("coverUrl", "URL_INVALID")]
    assert await create(desc="介绍" * 3000) == [("description", "DESCRIPTION_LENGTH")]
    assert await create() == []


async def test_inviting_or_appointing_an_account_that_does_not_exist_is_refused(client: Any) -> None:
    moderator = await staff_session(client, "groups-mod2@example.cn", ["moderator"])
    group = to_global_id("Group", await make_group(f"g-{uuid.uuid4().hex[:8]}"))
    ghost = to_global_id("Patient", uuid.uuid4())
    invited = data(await gql(client, INVITE, {"g": group, "p": ghost}, token=moderator.access))["groupInvite"]
    assert [e["code"] for e in invited["errors"]] == ["PATIENT_NOT_FOUND"]
    appointed = data(await gql(client, SET_ROLE, {"g": group, "a": ghost}, token=moderator.access))["groupSetRole"]
    assert [e["code"] for e in appointed["errors"]] == ["ACCOUNT_NOT_FOUND"]
