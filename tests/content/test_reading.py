"""The one access check across every read path, the feed, search (through the GIN index),
engagement and points for reading to the end."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import text

from api.relay import to_global_id
from content import access, engagement, feed, search, service
from core import clock
from core.db import unit_of_work
from core.identity import ANONYMOUS, SYSTEM
from loyalty import earning, tiers
from patients import service as patient_service
from tests.content.support import MARKETER, article, publish
from tests.factories import as_patient, make_group, member_of
from tests.loyalty.support import balances
from tests.support import data, gql, patient_session

ITEM = "query($id: ID!) { contentItem(id: $id) { id title } node(id: $id) { id } }"
FEED = """query($after: String) { contentFeed(first: 3, after: $after) {
  edges { node { id title } } pageInfo { hasNextPage endCursor } } }"""
SEARCH = """query($q: String!) { contentSearch(query: $q, first: 50) {
  edges { node { item { id } titleHighlight snippet } } } }"""
BOOKMARKS = "{ myBookmarks(first: 50) { edges { node { kind target { ... on ContentItem { id } } } } } }"
REACT = """mutation($id: ID!) { contentReact(input: {itemId: $id, kind: BOOKMARK}) { recorded errors { code } } }"""
ENGAGE = """mutation($id: ID!) { contentEngage(input: {itemId: $id, kind: READ_END}) {
  recorded pointsAwarded errors { code } } }"""


async def _set_conditions(patient_id: uuid.UUID, codes: list[str]) -> None:
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient_id), patient_service.ProfileChanges(condition_codes=codes)
        )


async def _make_silver(patient_id: uuid.UUID) -> None:
    async with unit_of_work() as session:
        for n in range(5):  # 5 x 200 earned points qualify for silver (1000)
            await earning.award(session, patient_id, "referral_converted", f"ref-{n}", f"silver-{patient_id}-{n}")
        await tiers.evaluate(session, patient_id, reason="test")


async def _all_feed(client, token) -> list[str]:
    seen, after = [], None
    while True:
        page = data(await gql(client, FEED, {"after": after}, token=token))["contentFeed"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def test_a_gated_item_is_never_returned_to_someone_it_is_not_for_by_any_path(client, unique_phone):
    group = await make_group("content-gate")
    story_subject = await member_of(group)
    # readers: anonymous; a plain member; a diabetic silver member of the group
    plain = await patient_session(client, unique_phone)
    rich = await patient_session(client, "137" + unique_phone[3:])
    async with unit_of_work() as session:
        from patients.queries import patient_by_phone

        plain_id = (await patient_by_phone(session, unique_phone)).id
        rich_id = (await patient_by_phone(session, "137" + unique_phone[3:])).id
    await _set_conditions(rich_id, ["diabetes"])
    await member_of(group, rich_id)
    await _make_silver(rich_id)

    specs = {
        "public": dict(),
        "members": dict(gate="members"),
        "silver": dict(gate="tier", gate_min_tier_rank=1),
        "diabetes": dict(audience_conditions=["diabetes"]),
        "hypertension": dict(audience_conditions=["hypertension"]),
        "group": dict(audience_group_ids=[group]),
        "dormant": dict(audience_stages=["dormant"]),
        "gold": dict(audience_tiers=["gold"]),
    }
    ids = {}
    for name, extra in specs.items():
        ids[name] = await publish(article(title=f"血糖科普{name}", **extra))
    async with unit_of_work() as session:
        s = await service.create_item(
            session, MARKETER, article(kind="story", title="血糖故事", story_patient_id=story_subject)
        )
        await service.grant_story_consent(session, as_patient(story_subject), s.id)
    story = s.id
    from tests.content.support import REVIEWER

    async with unit_of_work() as session:
        await service.submit(session, MARKETER, story)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, story)
    async with unit_of_work() as session:
        await service.publish(session, MARKETER, story)
    async with unit_of_work() as session:
        await service.withdraw_story_consent(session, as_patient(story_subject), story)
    ids["withdrawn_story"] = story
    archived = await publish(article(title="血糖旧文"))
    async with unit_of_work() as session:
        await service.archive(session, MARKETER, archived)
    ids["archived"] = archived
    draft = await publish(article(title="血糖排期"), at=clock.now() + timedelta(days=1))
    ids["scheduled"] = draft

    expected = {
        "anonymous": {"public"},
        "plain": {"public", "members"},
        "rich": {"public", "members", "silver", "diabetes", "group"},
    }
    tokens = {"anonymous": None, "plain": plain.access, "rich": rich.access}
    patient_ids = {"plain": plain_id, "rich": rich_id}
    gid = {name: to_global_id("ContentItem", i) for name, i in ids.items()}
    by_gid = {v: k for k, v in gid.items()}
    for who, token in tokens.items():
        want = expected[who]
        # 1. single item and node lookups
        for name, g in gid.items():
            got = data(await gql(client, ITEM, {"id": g}, token=token))
            assert (got["contentItem"] is not None) == (name in want), (who, name)
            assert (got["node"] is not None) == (name in want), (who, name)
        # 2. the feed, every page
        assert {by_gid[g] for g in await _all_feed(client, token)} == want, who
        # 3. search
        hits = data(await gql(client, SEARCH, {"q": "血糖"}, token=token))["contentSearch"]["edges"]
        assert {by_gid[h["node"]["item"]["id"]] for h in hits} == want, who
        if token is None:
            continue
        # 4. bookmarks and engagement: an unreadable item cannot be bookmarked or read
        for name, g in gid.items():
            result = data(await gql(client, REACT, {"id": g}, token=token))["contentReact"]
            assert (result["errors"] == []) == (name in want), (who, name)
        marks = data(await gql(client, BOOKMARKS, token=token))["myBookmarks"]["edges"]
        assert {by_gid[e["node"]["target"]["id"]] for e in marks} == want
        # 5. notifications filter through the same check
        async with unit_of_work() as session:
            readers = {name for name, i in ids.items() if await access.readers_among(session, i, [patient_ids[who]])}
        assert readers == want, who

    # A bookmarked item that becomes unreadable disappears from the bookmarks too.
    async with unit_of_work() as session:
        await service.archive(session, MARKETER, ids["members"])
    marks = data(await gql(client, BOOKMARKS, token=plain.access))["myBookmarks"]["edges"]
    assert {by_gid[e["node"]["target"]["id"]] for e in marks} == {"public"}


async def test_feed_puts_condition_matches_first_and_never_repeats_across_pages():
    patient = await _new_patient()
    await _set_conditions(patient, ["hypertension"])
    others = [await publish(article(title=f"通用{i}", condition_codes=[])) for i in range(7)]
    clock.clock.advance(timedelta(days=3))
    for i in others[:3]:  # engagement on some unmatched items must not lift them above matches
        async with unit_of_work() as session:
            await engagement.react(session, as_patient(patient), i, "like", on=True)
    matched = [await publish(article(title=f"高血压{i}", condition_codes=["hypertension"])) for i in range(4)]
    clock.clock.advance(timedelta(days=1))
    newest = await publish(article(title="最新通用", condition_codes=[]))
    viewer_actor = as_patient(patient)
    seen, after = [], None
    async with unit_of_work() as session:
        viewer = await access.load_viewer(session, viewer_actor)
        while True:
            page = await feed.feed(session, viewer, first=2, after=after)
            seen += [i.id for i in page.items]
            # engagement and new items between pages do not shift the snapshot
            await engagement.react(session, viewer_actor, page.items[-1].id, "bookmark", on=True)
            if not page.has_next_page:
                break
            after = page.cursors[-1]
    assert len(seen) == len(set(seen)) == 12
    assert set(seen[:4]) == set(matched)
    assert seen[4] == newest  # then fresh before old
    # without conditions there is no match boost: freshness and engagement decide, newest first among equals
    async with unit_of_work() as session:
        anon = await feed.feed(session, await access.load_viewer(session, ANONYMOUS), first=50, after=None)
    assert len(anon.items) == 12 and anon.items[-1].id in others


async def test_feed_pages_rank_exactly_as_one_long_page_across_match_levels():
    """Pages score only the match levels they can reach; walked page by page the feed is the same list."""
    patient = await _new_patient()
    await _set_conditions(patient, ["diabetes", "hypertension"])
    group = await make_group("content-levels")
    await member_of(group, patient)
    specs = [["diabetes", "hypertension"]] * 3 + [["hypertension"]] * 4 + [["diabetes"]] * 2 + [[]] * 5
    items = []
    for n, codes in enumerate(specs):
        audience = dict(audience_group_ids=[group]) if n % 4 == 0 else {}
        items.append(await publish(article(title=f"分层{n}", condition_codes=codes, **audience)))
        clock.clock.advance(timedelta(hours=n % 3 * 20))
    for i in items[-3:]:
        async with unit_of_work() as session:
            await engagement.react(session, as_patient(patient), i, "like", on=True)
    async with unit_of_work() as session:
        viewer = await access.load_viewer(session, as_patient(patient))
        whole = [i.id for i in (await feed.feed(session, viewer, first=50, after=None)).items]
        for size in (1, 2, 3, 5):
            seen, after = [], None
            while True:
                page = await feed.feed(session, viewer, first=size, after=after)
                seen += [i.id for i in page.items]
                if not page.has_next_page:
                    break
                after = page.cursors[-1]
            assert seen == whole, size
    assert len(whole) == len(items) and set(whole[:3]) == set(items[:3])


async def _new_patient() -> uuid.UUID:
    from tests.factories import new_member

    return await new_member()


async def test_search_chinese_two_character_words_mixed_english_and_highlights():
    a = await publish(article(title="糖尿病患者如何控制血糖", body="每天监测血糖，关注 HbA1c 指标。"))
    b = await publish(article(title="高血压饮食", summary="低盐饮食帮助控制血压", body="Blood pressure 管理。"))
    gated = await publish(article(title="会员：血糖进阶", gate="members"))
    async with unit_of_work() as session:
        anon = await access.load_viewer(session, ANONYMOUS)

        async def find(q: str) -> list[uuid.UUID]:
            return [h.item.id for h in (await search.search(session, anon, q, first=20, after=None)).items]

        assert await find("血糖") == [a]  # the gated one is not returned
        assert await find("控制血糖") == [a]
        assert await find("血压") == [b]
        assert await find("hba1c") == [a] and await find("HbA1c 血糖") == [a]
        assert await find("blood pressure") == [b]
        assert set(await find("控制")) == {a, b}
        hit = (await search.search(session, anon, "控制血糖", first=5, after=None)).items[0]
        assert hit.title_highlight == "糖尿病患者如何<em>控制</em><em>血糖</em>"
        assert "<em>血糖</em>" in hit.snippet
        member = await access.load_viewer(session, as_patient(await _new_patient()))
        assert set(h.item.id for h in (await search.search(session, member, "血糖", first=5, after=None)).items) == {
            a,
            gated,
        }


async def test_search_uses_the_gin_index_for_two_character_words():
    words = ["运动", "睡眠", "饮食", "心理", "用药", "复查", "体重", "戒烟"]
    async with unit_of_work() as session:
        await session.execute(
            text(
                """
                INSERT INTO content_items (id, kind, language, author_id, status, live_revision_id, published_at,
                  title, condition_codes, topics, audience_conditions, audience_group_ids, audience_tiers,
                  audience_stages, gate, search_vector, view_count, read_count, like_count, bookmark_count,
                  share_count, created_at, updated_at)
                SELECT gen_random_uuid(), 'article', 'zh-CN', gen_random_uuid(), 'published', gen_random_uuid(), now(),
                  'filler', '{}', '{}', '{}', '{}', '{}', '{}', 'public',
                  to_tsvector('simple', (CAST(:words AS text[]))[1 + n % 8] || ' '
                    || (CAST(:words AS text[]))[1 + (n / 8) % 8] || ' 健康 科普 ' || n),
                  0, 0, 0, 0, 0, now(), now()
                FROM generate_series(1, 20000) AS n
                """
            ),
            {"words": words},
        )
    await publish(article(title="控制血糖", body="血糖"))
    async with unit_of_work() as session:
        await session.execute(text("ANALYZE content_items"))
        anon = await access.load_viewer(session, ANONYMOUS)
        stmt, _ = search.search_statement(anon, search.segment_query("血糖"))
        compiled = stmt.compile(dialect=session.bind.dialect)
        params = tuple(compiled.params[k] for k in compiled.positiontup or [])
        conn = await session.connection()
        plan = "\n".join(r[0] for r in await conn.exec_driver_sql(f"EXPLAIN {compiled}", params))
        hits = await search.search(session, anon, "血糖", first=5, after=None)
    assert "Bitmap Index Scan on ix_content_items_search" in plan, plan
    assert len(hits.items) == 1


async def test_read_to_end_awards_points_once_per_item_within_the_daily_cap(client):
    patient = await _new_patient()
    items = [await publish(article(title=f"科普{i}")) for i in range(7)]
    awarded = []
    for i in items:
        async with unit_of_work() as session:
            awarded.append((await engagement.record(session, as_patient(patient), i, "read_end")).points_awarded)
    assert awarded == [2, 2, 2, 2, 2, 0, 0]  # article_read: 2 points, daily cap 10
    async with unit_of_work() as session:
        again = await engagement.record(session, as_patient(patient), items[0], "read_end")
    assert again.recorded is False and again.points_awarded == 0
    assert (await balances(patient)).get("available") == 10
    clock.clock.advance(timedelta(days=1))
    more = await publish(article(title="次日科普"))
    async with unit_of_work() as session:
        assert (await engagement.record(session, as_patient(patient), more, "read_end")).points_awarded == 2
        await engagement.record(session, as_patient(patient), more, "view")
        await engagement.react(session, as_patient(patient), more, "like", on=True)
        await engagement.react(session, as_patient(patient), more, "like", on=True)  # repeat: no change
        await engagement.record(session, as_patient(patient), more, "share")
    async with unit_of_work() as session:
        stats = await engagement.stats_by_day(session, MARKETER, more)
        item = await service.get_for_staff(session, SYSTEM, more)
    assert [(s.views, s.reads, s.likes, s.shares) for s in stats] == [(1, 1, 1, 1)]
    assert (item.view_count, item.read_count, item.like_count, item.share_count) == (1, 1, 1, 1)
