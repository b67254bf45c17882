"""ModerationItem.filterHits over HTTP: the listed words the filter finds in a held post (what held it),
in text order without repeats, with their category; none for an item held for reports alone."""

from __future__ import annotations

import uuid
from typing import Any

from api.relay import to_global_id
from tests.factories import make_group, member_of
from tests.support import data, gql, signed_in_patient, staff_session

POST = """mutation($g: ID!, $title: String!, $body: String!) { postCreate(input: {groupId: $g, kind: DISCUSSION,
  title: $title, body: $body}) { post { id status } errors { code } } }"""
REPORT = """mutation($t: ID!) { report(input: {targetId: $t, reason: SPAM, detail: "广告"}) { errors { code } } }"""
QUEUE = """query($g: ID) { moderationQueue(groupId: $g, first: 10) { nodes { targetId reason
  filterHits { word category } } } }"""


async def test_filter_hits_name_the_words_that_held_a_post(client: Any) -> None:
    group_id = await make_group(f"h-{uuid.uuid4().hex[:10]}")
    gid = to_global_id("Group", group_id)
    author, author_id = await signed_in_patient(client)
    await member_of(group_id, author_id)
    held = data(
        await gql(
            client,
            POST,
            {"g": gid, "title": "免费领取血糖仪", "body": "私信加我，加微信也行，这个药能根治糖尿病，加微信"},
            token=author.access,
        )
    )["postCreate"]
    assert held["post"]["status"] == "HELD"
    plain = data(await gql(client, POST, {"g": gid, "title": "打卡", "body": "今天走了八千步"}, token=author.access))
    reporter, reporter_id = await signed_in_patient(client)
    await member_of(group_id, reporter_id)
    reported = data(await gql(client, REPORT, {"t": plain["postCreate"]["post"]["id"]}, token=reporter.access))
    assert reported["report"]["errors"] == []

    moderator = await staff_session(client, f"mod-{uuid.uuid4().hex[:8]}@example.cn", ["moderator"])
    nodes = data(await gql(client, QUEUE, {"g": gid}, token=moderator.access))["moderationQueue"]["nodes"]
    by_target = {n["targetId"]: n for n in nodes}
    hits = by_target[held["post"]["id"]]["filterHits"]
    assert hits == [
        {"word": "免费领取", "category": "HOLD"},
        {"word": "私信加我", "category": "HOLD"},
        {"word": "加微信", "category": "HOLD"},
        {"word": "根治", "category": "AD"},
    ]
    assert by_target[plain["postCreate"]["post"]["id"]]["filterHits"] == []
