"""State that several API processes and workers must share lives in Redis or PostgreSQL.

A second process is a real one where that is cheap (`portal migrate`, a short Python script on
the same DATABASE_URL / REDIS_URL); otherwise a second copy of a module-level cache stands in for
the other process's memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from campaigns import config, sender
from core import queue, versions
from core.channels import ChannelName
from core.db import unit_of_work
from messaging import templates
from patients.models import Condition

BIN = Path(sys.executable).parent
NEW_CODE, NEW_NAME = "mp_test_condition", "跨进程测试病"


def _run(args: list[str], servers: dict[str, str], **env: str) -> str:
    result = subprocess.run(
        args,
        env={**os.environ, "DATABASE_URL": servers["database_url"], "REDIS_URL": servers["redis_url"], **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


async def _sms_issues(body: str) -> list[templates.TemplateIssue]:
    async with unit_of_work() as session:
        return await templates.condition_issues(session, ChannelName.SMS, None, body)


@pytest.fixture
async def condition_cleanup() -> AsyncIterator[None]:
    """`conditions` survives the per-test clean-up (reference data): remove the test's row here."""
    yield
    async with unit_of_work() as session:
        await session.execute(delete(Condition).where(Condition.code == NEW_CODE))
        templates.conditions_changed(session)


async def test_portal_migrate_in_another_process_refreshes_the_condition_words(servers, condition_cleanup):
    body = f"您的{NEW_NAME}复诊提醒"
    templates._words_cache.clear()
    assert await _sms_issues(body) == []  # this process now holds a copy of the catalogue
    async with unit_of_work() as session:  # a row added without telling anyone ...
        session.add(Condition(code=NEW_CODE, name=NEW_NAME, sensitive=True, sort_order=999))
    assert await _sms_issues(body) == []  # ... is not seen: the copy is in use
    # `portal migrate`, the catalogue's writer, runs as a separate process and bumps the version.
    _run([str(BIN / "portal"), "migrate"], servers)
    issues = await _sms_issues(body)
    assert [body[i.start : i.end] for i in issues] == [NEW_NAME]


async def test_a_committed_change_invalidates_every_copy_and_a_rollback_none():
    other_process = versions.VersionedCache[tuple[str, ...]](templates.CONDITIONS_VERSION, ttl=60)
    loads: list[str] = []

    async def load() -> tuple[str, ...]:
        loads.append("load")
        return ("a",)

    await other_process.get(load)
    await other_process.get(load)
    assert len(loads) == 1  # a copy while the version stands

    with pytest.raises(RuntimeError):
        async with unit_of_work() as session:
            templates.conditions_changed(session)
            raise RuntimeError("rolled back")
    await other_process.get(load)
    assert len(loads) == 1  # nothing committed, nothing to reload

    async with unit_of_work() as session:
        templates.conditions_changed(session)
    await other_process.get(load)
    assert len(loads) == 2


async def test_a_copy_expires_even_without_a_bump():
    """Changes made outside the application (SQL by hand) are picked up within the TTL."""
    cache = versions.VersionedCache[int]("test-ttl", ttl=0.0)
    values = iter([1, 2])

    async def load() -> int:
        return next(values)

    assert await cache.get(load) == 1
    assert await cache.get(load) == 2


async def test_send_rate_is_one_budget_for_all_processes(servers, monkeypatch):
    """A worker process takes 30 of the 50 SMS slots of a second; this process gets the other 20."""
    second = 2_000_000.5
    script = textwrap.dedent(
        f"""
        import asyncio, time
        from campaigns import sender
        from core import queue

        sender.time.time = lambda: {second}

        async def main():
            try:
                print(await sender.reserve("sms", 30))
            finally:
                await queue.close_pool()

        asyncio.run(main())
        """
    )
    monkeypatch.setenv("PORTAL_CAMPAIGN_RATE_SMS", "50")
    config.reset_campaign_settings()
    try:
        assert _run([sys.executable, "-c", script], servers, PORTAL_CAMPAIGN_RATE_SMS="50").strip() == "30"
        monkeypatch.setattr(sender.time, "time", lambda: second)
        assert await sender.reserve("sms", 30) == 20
        assert await sender.reserve("sms", 1) == 0
    finally:
        config.reset_campaign_settings()
    pool = await queue.get_pool()
    ttl = await pool.ttl(f"portal:campaigns:rate:sms:{int(second)}")
    assert 0 < ttl <= 5  # the counter never outlives its second by much
