"""Migrations build the schema from nothing and match the models exactly."""

from __future__ import annotations

import asyncio
import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from core.settings import PROJECT_ROOT, get_settings
from migrations.metadata import metadata
from tests.conftest import _create_database, _with_database


def test_upgrade_head_on_empty_database_then_no_autogenerate_diff(servers):
    name = f"portal_migcheck_{uuid.uuid4().hex[:8]}"
    asyncio.run(_create_database(servers["database_url"], name))
    url = _with_database(servers["database_url"], name)
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.attributes["database_url"] = url
    command.upgrade(config, "head")

    async def diff() -> list:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(sync, opts={"compare_type": True}), metadata
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    assert get_settings().database_url != url  # the application database was not touched
