"""The content feed reads at a fixed number of statements (the token check; the viewer with the page), the
one-statement viewer sees what the batch form (`load_viewers`, five statements) sees, and the merged
statement pages exactly as the viewer read apart does, also when the viewer changes between pages."""

from __future__ import annotations

from content import access
from core.db import unit_of_work
from core.identity import Actor, ActorKind
from loyalty import earning, tiers
from patients import service as patient_service
from patients.queries import patient_by_phone
from tests.content.support import article, publish
from tests.factories import as_patient, make_group, member_of
from tests.support import count_statements, data, gql, patient_session

FEED = """query($first: Int!, $after: String) { contentFeed(first: $first, after: $after) {
  edges { cursor node { id kind title summary coverUrl publishedAt gate topics conditionCodes
    counts { reads likes bookmarks } viewerHasLiked viewerHasBookmarked } }
  pageInfo { hasNextPage endCursor } } }"""


async def test_a_feed_page_is_two_statements_whatever_its_size(client, unique_phone):
    group = await make_group("content-feed-count")
    session = await patient_session(client, unique_phone)
    async with unit_of_work() as s:
        me = (await patient_by_phone(s, unique_phone)).id
    await member_of(group, me)
    for n in range(4):
        await publish(article(title=f"糖尿病文章{n}"))
    await publish(article(title="社群文章", audience_group_ids=[group], condition_codes=[]))
    await publish(article(title="公开文章", condition_codes=[]))
    with count_statements() as counter:
        data(await gql(client, FEED, {"first": 1}, token=session.access))
    assert counter.count <= 3  # this process learns the shape of the viewer (no conditions, one group)
    counts = []
    for first in (2, 6):
        with count_statements() as counter:
            page = data(await gql(client, FEED, {"first": first}, token=session.access))["contentFeed"]
        assert len(page["edges"]) == first
        counts.append(counter.count)
        with count_statements() as counter:
            after = page["pageInfo"]["endCursor"]
            data(await gql(client, FEED, {"first": first, "after": after}, token=session.access))
        counts.append(counter.count)
    assert counts == [2, 2, 2, 2]  # the token check; the viewer, the access check and the page with its cards


async def test_the_one_statement_viewer_matches_the_batch_form(unique_phone):
    group = await make_group("content-viewer")
    other_group = await make_group("content-viewer-left")
    patient = await member_of(group)
    await member_of(other_group, patient)
    newcomer = await member_of(group)
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient), patient_service.ProfileChanges(condition_codes=["diabetes", "hypertension"])
        )
        for n in range(5):
            await earning.award(session, patient, "referral_converted", f"ref-{n}", f"viewer-{patient}-{n}")
        await tiers.evaluate(session, patient, reason="test")
    for pid in (patient, newcomer):
        async with unit_of_work() as session:
            one = await access.load_viewer(session, Actor(kind=ActorKind.PATIENT, id=pid))
            batch = (await access.load_viewers(session, [pid]))[pid]
        assert (one.patient_id, one.conditions, one.group_ids, one.tier_code, one.tier_rank, one.stage) == (
            batch.patient_id,
            batch.conditions,
            batch.group_ids,
            batch.tier_code,
            batch.tier_rank,
            batch.stage,
        )
        if pid == patient:
            assert one.conditions == {"diabetes", "hypertension"} and one.group_ids == {group, other_group}
            assert one.tier_rank > 0


async def test_the_merged_feed_pages_as_the_viewer_read_apart_even_when_the_viewer_changes():
    from content import feed
    from core.pagination import Page

    group = await make_group("content-feed-merged")
    patient = await member_of(group)
    for n in range(3):
        await publish(article(title=f"糖尿病{n}"))
        await publish(article(title=f"高血压{n}", condition_codes=["hypertension"]))
        await publish(article(title=f"社群{n}", condition_codes=[], audience_group_ids=[group]))
        await publish(article(title=f"只给糖尿病{n}", condition_codes=[], audience_conditions=["diabetes"]))
    actor = as_patient(patient)

    async def pages(merged: bool) -> list[list[str]]:
        out, after = [], None
        while True:
            async with unit_of_work() as session:
                if merged:
                    page: Page = await feed.feed_of(session, actor, first=4, after=after)
                else:
                    viewer = await access.load_viewer(session, actor)
                    page = await feed.feed(session, viewer, first=4, after=after)
            out.append([i.title for i in page.items])
            if not page.has_next_page:
                return out
            after = page.cursors[-1]

    for codes in ([], ["diabetes"], ["diabetes", "hypertension"], ["hypertension"]):
        async with unit_of_work() as session:
            await patient_service.update_profile(
                session, as_patient(patient), patient_service.ProfileChanges(condition_codes=codes)
            )
        merged, apart = await pages(True), await pages(False)
        assert merged == apart, codes
        titles = [t for page in merged for t in page]
        assert len(titles) == len(set(titles))
        assert any(t.startswith("只给糖尿病") for t in titles) == ("diabetes" in codes)
