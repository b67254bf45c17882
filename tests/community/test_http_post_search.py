"""postSearch through the real schema over HTTP with signed-in patients and staff: two-character words
and single characters, secret and members-only groups, removed posts, anonymous posts under their
alias only, and every bad input as a typed error (an oversized query refused at once)."""

from __future__ import annotations

import time
import uuid
from typing import Any

from api.relay import to_global_id
from community import groups
from core.db import unit_of_work
from tests.factories import MODERATOR, as_patient, make_group, member_of
from tests.support import data, gql, signed_in_patient, staff_session

SEARCH = """query($q: String!, $g: ID, $first: Int, $after: String) {
  postSearch(query: $q, groupId: $g, first: $first, after: $after) {
    edges { cursor node { titleHighlight snippet post { id title
      groupAuthor { displayName anonymous accountId } author { id displayName } } } }
    pageInfo { hasNextPage endCursor } } }"""
POST = """mutation($g: ID!, $title: String!, $body: String!, $anon: Boolean!) {
  postCreate(input: {groupId: $g, kind: DISCUSSION, title: $title, body: $body, anonymous: $anon}) {
    post { id status } errors { code } } }"""
DELETE = """mutation($p: ID!) { postDelete(input: {postId: $p}) { post { id status } errors { code } } }"""
ME = "{ me { ... on Patient { nickname } } }"


async def _post(client: Any, token: str, group: uuid.UUID, title: str, body: str, *, anon: bool = False) -> str:
    variables = {"g": to_global_id("Group", group), "title": title, "body": body, "anon": anon}
    created = data(await gql(client, POST, variables, token=token))["postCreate"]
    assert created["errors"] == [] and created["post"]["status"] == "PUBLISHED", created
    return str(created["post"]["id"])


async def _hits(client: Any, q: str, token: str | None = None, **variables: Any) -> list[dict[str, Any]]:
    result = data(await gql(client, SEARCH, {"q": q, **variables}, token=token))["postSearch"]
    return [e["node"] for e in result["edges"]]


async def _found(client: Any, q: str, token: str | None = None, **variables: Any) -> set[str]:
    return {h["post"]["id"] for h in await _hits(client, q, token, **variables)}


def _code(result: dict[str, Any]) -> str:
    assert result["data"] is None, result
    return str(result["errors"][0]["extensions"]["code"])


async def test_search_finds_words_and_single_characters_only_where_the_viewer_may_read(client: Any) -> None:
    public = await make_group(visibility="public", allow_anonymous=True, alias_prefix="糖友")
    members = await make_group(visibility="members")
    secret = await make_group(visibility="secret", join_policy="invite")
    author, author_id = await signed_in_patient(client)
    await member_of(public, author_id)
    await member_of(members, author_id)
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, author_id)
        await groups.join(session, as_patient(author_id), secret)

    named = await _post(client, author.access, public, "空腹血糖偏高", "早上测了7.8，怎么办")
    hidden_author = await _post(client, author.access, public, "血糖仪推荐", "哪个牌子准", anon=True)
    in_members = await _post(client, author.access, members, "血糖控制心得", "少吃多餐")
    in_secret = await _post(client, author.access, secret, "血糖与情绪", "压力大的时候血糖高")
    removed = await _post(client, author.access, public, "血糖试纸过期", "还能用吗")
    assert data(await gql(client, DELETE, {"p": removed}, token=author.access))["postDelete"]["errors"] == []

    outsider, _ = await signed_in_patient(client)
    member, member_id = await signed_in_patient(client)
    await member_of(members, member_id)
    moderator = await staff_session(client, f"mod-{uuid.uuid4().hex[:8]}@example.cn", ["moderator"])
    doctor = await staff_session(client, f"doc-{uuid.uuid4().hex[:8]}@example.cn", ["doctor"])
    visible = {
        None: {named, hidden_author},
        outsider.access: {named, hidden_author},
        doctor.access: {named, hidden_author},
        member.access: {named, hidden_author, in_members},
        author.access: {named, hidden_author, in_members, in_secret},
        moderator.access: {named, hidden_author, in_members, in_secret},
    }
    for token, want in visible.items():
        for q in ("血糖", "糖", "血"):  # a two-character word and two single characters
            assert await _found(client, q, token) == want, (q, token)
    assert await _found(client, "试纸") == set()  # removed: never found
    assert await _found(client, "情绪", member.access) == set()  # a secret group's post never reaches outsiders

    # The anonymous post comes with its group alias only: no account, no name.
    hits = {h["post"]["id"]: h for h in await _hits(client, "血糖仪", member.access)}
    alias = hits[hidden_author]["post"]
    assert alias["groupAuthor"]["anonymous"] is True and alias["groupAuthor"]["accountId"] is None
    assert alias["groupAuthor"]["displayName"].startswith("糖友#") and alias["author"]["id"] is None
    nickname = data(await gql(client, ME, token=author.access))["me"]["nickname"]
    assert nickname not in str(hits)
    by_name = {h["post"]["id"]: h for h in await _hits(client, "空腹", member.access)}[named]["post"]
    assert by_name["groupAuthor"]["accountId"] == author.id and by_name["groupAuthor"]["displayName"] == nickname
    assert hits[hidden_author]["titleHighlight"] == "<em>血糖仪</em>推荐"

    # One group only: the group's own read check.
    assert await _found(client, "血糖", member.access, g=to_global_id("Group", members)) == {in_members}
    refused = await gql(client, SEARCH, {"q": "血糖", "g": to_global_id("Group", members)}, token=outsider.access)
    assert _code(refused) == "NOT_A_MEMBER"
    refused = await gql(client, SEARCH, {"q": "血糖", "g": to_global_id("Group", secret)}, token=member.access)
    assert _code(refused) == "GROUP_NOT_FOUND"


async def test_pages_follow_the_cursor(client: Any) -> None:
    group = await make_group()
    patient, patient_id = await signed_in_patient(client)
    await member_of(group, patient_id)
    made = {await _post(client, patient.access, group, f"血压记录第{i}天", "早晚各一次") for i in range(3)}
    seen: list[str] = []
    after = None
    while True:
        page = data(await gql(client, SEARCH, {"q": "血压", "first": 2, "after": after}))["postSearch"]
        seen += [e["node"]["post"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(made) and len(seen) == 3


async def test_bad_inputs_are_typed_errors(client: Any) -> None:
    patient, _ = await signed_in_patient(client)
    # A query's validation failure: INVALID_INPUT on the field, as contentSearch (one rule for both boxes).
    for q in ("", "   ", "糖" * 101):
        refused = await gql(client, SEARCH, {"q": q}, token=patient.access)
        assert _code(refused) == "INVALID_INPUT" and refused["errors"][0]["extensions"]["field"] == "query"
        assert refused["errors"][0]["message"] == "搜索词长度需在1到100个字符之间"
    started = time.perf_counter()
    oversized = await gql(client, SEARCH, {"q": "血糖" * 40_000}, token=patient.access)  # 240 KB: under the body cap
    assert _code(oversized) == "INVALID_INPUT" and time.perf_counter() - started < 1.0
    assert data(await gql(client, SEARCH, {"q": "血糖" * 50}))["postSearch"]["edges"] == []  # at the limit: answers
    assert _code(await gql(client, SEARCH, {"q": "血\x00糖"})) == "INVALID_STRING"
    assert _code(await gql(client, SEARCH, {"q": "血糖", "g": "not-an-id"})) == "ID_INVALID"
    assert _code(await gql(client, SEARCH, {"q": "血糖", "g": to_global_id("Post", uuid.uuid4())})) == "ID_INVALID"
    assert _code(await gql(client, SEARCH, {"q": "血糖", "g": to_global_id("Group", uuid.uuid4())})) == (
        "GROUP_NOT_FOUND"
    )
    assert _code(await gql(client, SEARCH, {"q": "血糖", "after": "bm90LWEtY3Vyc29y"})) == "CURSOR_INVALID"
    for first in (0, 101):
        assert _code(await gql(client, SEARCH, {"q": "血糖", "first": first})) == "PAGE_SIZE_INVALID"
