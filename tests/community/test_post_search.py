"""Post search (community/search.py): two-character words and single characters, the one access check
(secret and members-only groups, removed and held posts), ranking and pagination, edits, the length
check before segmentation, and the GIN index serving both kinds of term."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event, text, update

from community import errors, groups, posts, search
from community.models import ContentStatus, Post
from content import search as content_search
from core import clock, rawsql
from core.db import get_engine, unit_of_work
from core.errors import ValidationFailed
from core.identity import ANONYMOUS, Actor, Role
from tests.factories import MODERATOR, as_patient, make_group, member_of, new_member, staff


async def _post(patient: uuid.UUID, group_id: uuid.UUID, title: str, body: str, **kw: Any) -> uuid.UUID:
    async with unit_of_work() as session:
        created = await posts.create_post(
            session, as_patient(patient), group_id=group_id, kind="discussion", title=title, body=body, **kw
        )
    return created.item.id


async def _search(actor: Actor, query: str, *, group_id: uuid.UUID | None = None, first: int = 20, after=None):
    async with unit_of_work() as session:
        return await search.search_posts(session, actor, query, group_id=group_id, first=first, after=after)


async def _ids(actor: Actor, query: str, **kw: Any) -> list[uuid.UUID]:
    return [h.post_id for h in (await _search(actor, query, **kw)).items]


async def test_two_character_words_and_common_single_characters_find_posts():
    group = await make_group()
    alice = await member_of(group)
    glucose = await _post(alice, group, "空腹血糖偏高怎么办", "最近早上测了几次，都在7以上。")
    pressure = await _post(alice, group, "降压药什么时候吃", "医生说早上吃，我总是忘。")
    walk = await _post(alice, group, "今天打卡", "走了一万步，感觉不错。")

    assert await _ids(ANONYMOUS, "血糖") == [glucose]
    assert await _ids(ANONYMOUS, "糖") == [glucose]  # inside 血糖: jieba alone would never find it
    assert set(await _ids(ANONYMOUS, "血")) == {glucose}
    assert await _ids(ANONYMOUS, "药") == [pressure]  # inside 降压药
    assert await _ids(ANONYMOUS, "步") == [walk]
    assert await _ids(ANONYMOUS, "降压药 早上") == [pressure]  # every word must match
    assert await _ids(ANONYMOUS, "的") == []  # a function character alone finds nothing
    assert await _ids(ANONYMOUS, "胰岛素") == []

    hit = (await _search(ANONYMOUS, "糖")).items[0]
    assert hit.title_highlight == "空腹血<em>糖</em>偏高怎么办"
    assert "<em>" not in hit.snippet  # the body does not say 糖


async def test_only_readable_groups_and_published_posts():
    public = await make_group(visibility="public")
    members = await make_group(visibility="members")
    secret = await make_group(visibility="secret", join_policy="invite")
    author = await member_of(public)
    await member_of(members, author)
    async with unit_of_work() as session:
        await groups.invite(session, MODERATOR, secret, author)
        await groups.join(session, as_patient(author), secret)
    in_public = await _post(author, public, "胰岛素笔怎么用", "针头每次都换吗")
    in_members = await _post(author, members, "胰岛素保存", "夏天出门怎么带")
    in_secret = await _post(author, secret, "胰岛素抵抗", "医生说我有胰岛素抵抗")
    removed = await _post(author, public, "胰岛素过期了", "还能用吗")
    held = await _post(author, public, "胰岛素剂量", "晚上打多少")
    hidden = await _post(author, public, "胰岛素泵", "有人用过吗")
    async with unit_of_work() as session:
        await posts.delete_post(session, as_patient(author), removed)
        await session.execute(update(Post).where(Post.id == held).values(status=ContentStatus.HELD))
        await session.execute(update(Post).where(Post.id == hidden).values(status=ContentStatus.HIDDEN))

    outsider = await new_member()
    member = await member_of(members)
    assert await _ids(ANONYMOUS, "胰岛素") == [in_public]
    assert await _ids(as_patient(outsider), "胰岛素") == [in_public]
    assert set(await _ids(as_patient(member), "胰岛素")) == {in_public, in_members}
    assert set(await _ids(as_patient(author), "胰岛素")) == {in_public, in_members, in_secret}  # own held: not here
    assert set(await _ids(staff(Role.MODERATOR), "胰岛素")) == {in_public, in_members, in_secret}
    assert await _ids(staff(Role.DOCTOR), "胰岛素") == [in_public]  # staff read by membership like anyone

    # Limited to one group: the same read check as the group's feed.
    assert await _ids(as_patient(member), "胰岛素", group_id=members) == [in_members]
    with pytest.raises(errors.NotMember):
        await _search(as_patient(outsider), "胰岛素", group_id=members)
    with pytest.raises(errors.GroupNotFound):
        await _search(as_patient(outsider), "胰岛素", group_id=secret)  # a secret group does not exist for them

    # Leaving the group takes its posts out of the member's results.
    async with unit_of_work() as session:
        await groups.leave(session, as_patient(member), members)
    assert await _ids(as_patient(member), "胰岛素") == [in_public]


async def test_relevance_then_recency_and_pages_never_repeat():
    group = await make_group()
    alice = await member_of(group)
    in_body_old = await _post(alice, group, "今日分享", "记录一下血压情况")
    clock.clock.advance(timedelta(hours=1))
    in_title = await _post(alice, group, "血压记录", "早晚各测一次")
    clock.clock.advance(timedelta(hours=1))
    in_body_new = await _post(alice, group, "周末分享", "今天的血压还行")
    order = await _ids(ANONYMOUS, "血压")
    assert order == [in_title, in_body_new, in_body_old]  # a title match first, then the newest

    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = await _search(ANONYMOUS, "血压", first=1, after=after)
        seen += [h.post_id for h in page.items]
        if not page.has_next_page:
            break
        after = page.cursors[-1]
    assert seen == order


async def test_an_edit_reindexes_the_post():
    group = await make_group()
    alice = await member_of(group)
    post_id = await _post(alice, group, "低血糖怎么办", "头晕出汗")
    async with unit_of_work() as session:
        await posts.edit_post(session, as_patient(alice), post_id, title="运动后心慌", body="跑步后心跳很快")
    assert await _ids(ANONYMOUS, "低血糖") == []
    assert await _ids(ANONYMOUS, "心慌") == [post_id]
    assert await _ids(ANONYMOUS, "跑") == [post_id]


async def test_the_query_is_length_checked_before_anything_segments_it(monkeypatch):
    def no_segmenting(*_a: Any, **_k: Any) -> list[str]:
        raise AssertionError("segmented a refused query")

    monkeypatch.setattr(content_search, "segment_query", no_segmenting)
    for bad in ("", "   ", "糖" * 101, "血糖" * 500_000):
        started = time.perf_counter()
        with pytest.raises(ValidationFailed) as refused:
            await _search(ANONYMOUS, bad)
        assert time.perf_counter() - started < 0.5
        assert refused.value.issues[0].code == "SEARCH_QUERY_INVALID"
        assert refused.value.issues[0].field == "query"


async def test_a_cursor_of_another_shape_is_refused():
    group = await make_group()
    alice = await member_of(group)
    await _post(alice, group, "血糖记录", "早餐后")
    from core.pagination import InvalidCursor, encode_cursor

    for bad in ("not-a-cursor", encode_cursor(clock.now(), uuid.uuid4())):
        with pytest.raises(InvalidCursor):
            await _search(ANONYMOUS, "血糖", after=bad)


async def _explain(actor: Actor, query: str, how: str = "") -> str:
    """The plan PostgreSQL chooses for the exact statement `search_posts` sends (`how`: EXPLAIN's options)."""
    sent: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_a: Any) -> None:
        if "search_vector" in statement:
            sent.append((statement, parameters))

    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        await _search(actor, query)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = sent[-1]
    async with unit_of_work() as session:
        conn = await session.connection()
        rows = await conn.exec_driver_sql(f"EXPLAIN {how} " + statement, parameters)
        return "\n".join(r[0] if isinstance(r[0], str) else json.dumps(r[0]) for r in rows)  # FORMAT JSON: decoded


async def test_the_gin_index_serves_single_characters_and_words():
    group = await make_group()
    alice = await member_of(group)
    cancer = await _post(alice, group, "术后复查", "医生说癌胚抗原正常")
    insulin = await _post(alice, group, "胰岛素笔", "针头怎么处理")
    # 20,000 other posts of the same group, indexed the way posts.create_post indexes them.
    filler_title, filler_body = search.document_texts("每日打卡", "今天走路一小时，早餐吃了燕麦和鸡蛋，血压正常")
    async with unit_of_work() as session:
        await session.execute(
            text(
                """INSERT INTO community_posts (id, group_id, author_kind, author_id, anonymous, kind, title, body_md,
                   body_html, image_urls, status, pinned, locked, comment_count, last_activity_at, tags, created_at,
                   updated_at, search_vector)
                SELECT gen_random_uuid(), :g, 'patient', :a, false, 'discussion', '每日打卡', 'x', 'x', '[]',
                       'published', false, false, 0, now(), '{}', now() - i * interval '1 minute',
                       now() - i * interval '1 minute',
                       setweight(to_tsvector('simple', :t), 'A') || setweight(to_tsvector('simple', :b), 'B')
                FROM generate_series(1, 20000) AS i"""
            ),
            {"g": group, "a": alice, "t": filler_title, "b": filler_body},
        )
        await session.execute(text("ANALYZE community_posts"))

    assert await _ids(ANONYMOUS, "癌") == [cancer]
    assert await _ids(ANONYMOUS, "胰岛素") == [insulin]
    for term in ("癌", "胰岛素"):
        plan = await _explain(ANONYMOUS, term)
        assert "ix_posts_search" in plan, plan
        # (The page's cards look up the author's staff roles, a small table the planner may scan.)
        assert "Seq Scan on community_posts" not in plan, plan


async def test_a_common_term_ranks_only_its_newest_matches_and_more_words_reach_older_posts():
    group = await make_group()
    alice = await member_of(group)
    clock.clock.advance(timedelta(days=-30))
    older = await _post(alice, group, "低血糖的处理", "出汗手抖时先吃几块饼干")  # 糖 in the title: ranked high
    clock.clock.advance(timedelta(days=30))
    # SEARCH_CANDIDATES newer posts that say 糖 in the body only, indexed as posts.create_post indexes them.
    filler_title, filler_body = search.document_texts("每日打卡", "今天控糖很好")
    async with unit_of_work() as session:
        await session.execute(
            text(
                """INSERT INTO community_posts (id, group_id, author_kind, author_id, anonymous, kind, title, body_md,
                   body_html, image_urls, status, pinned, locked, comment_count, last_activity_at, tags, created_at,
                   updated_at, search_vector)
                SELECT gen_random_uuid(), :g, 'patient', :a, false, 'discussion', '每日打卡', '今天控糖很好', 'x',
                       '[]', 'published', false, false, 0, now(), '{}',
                       CAST(:now AS timestamptz) - i * interval '1 minute',
                       CAST(:now AS timestamptz) - i * interval '1 minute',
                       setweight(to_tsvector('simple', :t), 'A') || setweight(to_tsvector('simple', :b), 'B')
                FROM generate_series(1, :n) AS i"""
            ),
            {
                "g": group,
                "a": alice,
                "t": filler_title,
                "b": filler_body,
                "now": clock.now(),
                "n": search.SEARCH_CANDIDATES,
            },
        )
        await session.execute(text("ANALYZE community_posts"))

    # The older post would rank first, but only the newest SEARCH_CANDIDATES matches are ranked.
    found = await _search(ANONYMOUS, "糖", first=100)
    assert older not in [h.post_id for h in found.items] and len(found.items) == 100
    assert [h.title_highlight for h in found.items[:1]] == ["每日打卡"]
    plan = json.loads(await _explain(ANONYMOUS, "糖", "(ANALYZE, FORMAT JSON)"))
    ranked = [n for n in _nodes(plan[0]["Plan"]) if n.get("CTE Name") == "candidates" and n["Node Type"] == "CTE Scan"]
    assert [n["Actual Rows"] for n in ranked] == [search.SEARCH_CANDIDATES]
    # Words that fewer posts say reach it: every one of their matches is ranked.
    assert await _ids(ANONYMOUS, "低血糖") == [older]
    assert await _ids(ANONYMOUS, "糖 饼干") == [older]


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node, *(n for child in node.get("Plans", []) for n in _nodes(child))]


async def test_every_search_is_planned_with_its_own_words(monkeypatch):
    """A common word wants the newest posts read in order, a rare one the GIN index: a statement prepared
    once would switch to one generic plan for all words after five runs (core/rawsql.py PLAN_PER_CALL)."""
    group = await make_group()
    alice = await member_of(group)
    await _post(alice, group, "血糖记录", "早餐后两小时血糖7.2")
    kept: list[Any] = []  # held here, so asyncpg does not close them before PostgreSQL is asked
    prepare = asyncpg.Connection.prepare

    async def keeping(self: asyncpg.Connection, query: str, **kw: Any) -> Any:
        statement = await prepare(self, query, **kw)
        kept.append(statement)
        return statement

    monkeypatch.setattr(asyncpg.Connection, "prepare", keeping)
    terms = ["糖", "血糖", "早餐", "血", "两小时", "记录", "糖", "血糖"]
    async with unit_of_work() as session:
        for term in terms:
            page = await search.search_posts(session, ANONYMOUS, term, first=5, after=None)
            assert len(page.items) == 1, term
        plans = (
            await session.execute(
                text("SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement LIKE :mark"),
                {"mark": rawsql.PLAN_PER_CALL + "%"},
            )
        ).all()
    assert len(plans) == len(terms) and all(generic == 0 and custom == 1 for generic, custom in plans), plans
