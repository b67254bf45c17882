"""Migration 0029 on a database with posts written before post search: every post is segmented (in
batches of 500, so this takes three) the way new posts are, and the downgrade drops the column."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
from alembic import command
from alembic.config import Config

from core.settings import PROJECT_ROOT
from tests.conftest import _create_database, _with_database


def _config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    return config


async def _old_posts(dsn: str, group: uuid.UUID, author: uuid.UUID, special: uuid.UUID) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO community_groups (id, slug, name, description, rules_text, visibility, join_policy,"
            " allow_anonymous, alias_prefix, member_count, created_at, updated_at)"
            " VALUES ($1, 'old-group', '糖友群', '', '', 'public', 'open', false, '糖友', 0, now(), now())",
            group,
        )
        insert = (
            "INSERT INTO community_posts (id, group_id, author_kind, author_id, anonymous, kind, title, body_md,"
            " body_html, image_urls, status, pinned, locked, comment_count, last_activity_at, created_at, updated_at)"
            " VALUES ($1, $2, 'patient', $3, false, 'discussion', $4, $5, '', '[]', 'published', false, false, 0,"
            " now(), now(), now())"
        )
        await conn.executemany(
            insert, [(uuid.uuid4(), group, author, "每日打卡", f"今天走了{i}步") for i in range(1200)]
        )
        await conn.execute(insert, special, group, author, "空腹血糖", "**早上**测了一次，7.2")
    finally:
        await conn.close()


async def _fetch(dsn: str, sql: str) -> list[Any]:
    conn = await asyncpg.connect(dsn)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def test_existing_posts_are_segmented_in_batches_like_new_ones(servers):
    name = f"portal_postsearch_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(servers["database_url"], name))
    url = _with_database(servers["database_url"], name)
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    config = _config(url)
    command.upgrade(config, "0028")
    special = uuid.uuid4()
    asyncio.run(_old_posts(dsn, uuid.uuid4(), uuid.uuid4(), special))
    command.upgrade(config, "0029")

    assert asyncio.run(_fetch(dsn, "SELECT count(*) FROM community_posts WHERE search_vector IS NULL")) == [(0,)]
    for term in ("血糖", "糖", "早上"):
        found = asyncio.run(
            _fetch(dsn, f"SELECT id FROM community_posts WHERE search_vector @@ plainto_tsquery('simple', '{term}')")
        )
        assert found == [(special,)], term
    weights = asyncio.run(
        _fetch(dsn, f"SELECT ts_filter(search_vector, '{{a}}')::text FROM community_posts WHERE id = '{special}'")
    )
    assert weights == [("'空':3A '空腹':1A '糖':6A '腹':4A '血':5A '血糖':2A",)]  # the title: weight A

    command.downgrade(config, "0028")
    columns = asyncio.run(
        _fetch(
            dsn,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'community_posts' AND column_name = 'search_vector'",
        )
    )
    assert columns == []
