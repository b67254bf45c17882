"""Notification retention (social/retention.py) against the real database: read notifications go after
PORTAL_NOTIFICATION_READ_RETENTION_DAYS of quiet, every one after PORTAL_NOTIFICATION_RETENTION_DAYS; a
grouped notification that grew is young again; batches; a second run and a run killed midway; the plans
walk the indexes; the worker's cron runs it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from core import clock
from core.db import unit_of_work
from core.identity import Actor
from core.ids import first_id_at, new_id
from core.settings import reset_settings
from social import centre, retention
from social.kinds import NotificationKind
from social.models import Notification, NotifyRun
from tests.social.support import account_of, patient


def _draft(to: Actor, key: str, *, count: int = 0) -> centre.Draft:
    kind = NotificationKind.REACTION if count else NotificationKind.FOLLOWED_POST
    return centre.Draft(recipient=account_of(to), kind=kind, key=key, title="王医生发布了新帖", actor_count=count)


async def _write(to: Actor, *keys: str) -> None:
    async with unit_of_work() as session:
        assert await centre.write(session, [_draft(to, k) for k in keys]) == len(keys)


async def _read(to: Actor, *keys: str) -> None:
    account = account_of(to)
    async with unit_of_work() as session:
        await session.execute(
            update(Notification)
            .where(
                Notification.recipient_kind == account.kind,
                Notification.recipient_id == account.id,
                Notification.key.in_(keys),
            )
            .values(read_at=clock.now())
        )


async def _keys(to: Actor) -> set[str]:
    account = account_of(to)
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(Notification.key).where(
                Notification.recipient_kind == account.kind, Notification.recipient_id == account.id
            )
        )
        return set(rows)


def _later(days: int) -> None:
    clock.clock.advance(timedelta(days=days))


async def test_read_ones_go_after_ninety_quiet_days_and_every_one_after_a_year():
    alice = await patient()
    await _write(alice, "read", "unread", "read-late")
    async with unit_of_work() as session:  # a grouped notification: 1 reaction
        await centre.regroup(session, _draft(alice, "grouped", count=1))
    await _read(alice, "read", "grouped")

    _later(60)
    async with unit_of_work() as session:  # it grew: unread and young again
        assert await centre.regroup(session, _draft(alice, "grouped", count=2))
    await _read(alice, "grouped")
    _later(25)
    await _read(alice, "read-late")  # read 85 days in: its age counts from its last activity, not reading

    _later(6)  # day 91
    assert await retention.prune() == {"read": 2, "old": 0, "runs": 0}
    assert await _keys(alice) == {"unread", "grouped"}
    assert await retention.prune() == {"read": 0, "old": 0, "runs": 0}  # a second run finds nothing due

    _later(60)  # day 151: the grouped one was last active on day 60
    assert await retention.prune() == {"read": 1, "old": 0, "runs": 0}
    assert await _keys(alice) == {"unread"}

    _later(213)  # day 364: not yet a year
    assert await retention.prune() == {"read": 0, "old": 0, "runs": 0}
    _later(2)
    assert await retention.prune() == {"read": 0, "old": 1, "runs": 0}
    assert await _keys(alice) == set()


async def _runs(*keys_and_statuses: tuple[str, str]) -> None:
    async with unit_of_work() as session:
        for key, status in keys_and_statuses:
            session.add(NotifyRun(id=new_id(), key=key, kind="post", payload={}, status=status, created_at=clock.now()))


async def test_finished_fan_out_runs_go_after_a_year_unfinished_ones_never():
    tag = uuid.uuid4().hex[:8]
    await _runs((f"{tag}-done-old", "done"), (f"{tag}-running-old", "running"))
    _later(200)
    await _runs((f"{tag}-done-young", "done"))
    _later(166)  # a year and a day for the first two, 166 days for the young one
    assert (await retention.prune())["runs"] == 1
    async with unit_of_work() as session:
        left = set(await session.scalars(select(NotifyRun.key).where(NotifyRun.key.like(f"{tag}-%"))))
    assert left == {f"{tag}-running-old", f"{tag}-done-young"}
    assert (await retention.prune())["runs"] == 0  # a second run finds nothing due


@pytest.fixture
def short_retention(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PORTAL_NOTIFICATION_READ_RETENTION_DAYS", "7")
    monkeypatch.setenv("PORTAL_NOTIFICATION_RETENTION_DAYS", "30")
    reset_settings()
    yield
    monkeypatch.undo()
    reset_settings()


async def test_the_retention_days_are_settings(short_retention: None):
    bob = await patient()
    await _write(bob, "read", "unread")
    await _read(bob, "read")
    _later(8)
    assert await retention.prune() == {"read": 1, "old": 0, "runs": 0}
    _later(23)
    assert await retention.prune() == {"read": 0, "old": 1, "runs": 0}
    assert await _keys(bob) == set()


async def test_batches_and_a_run_killed_midway_leave_exactly_what_is_not_due(monkeypatch: pytest.MonkeyPatch):
    carol, dave = await patient(), await patient()
    read_keys = [f"r{n}" for n in range(23)]
    await _write(carol, *read_keys, "unread")
    await _read(carol, *read_keys)
    _later(91)
    await _write(dave, "fresh")
    await _read(dave, "fresh")  # read today: not due

    batch, calls = retention._batch, 0

    async def killed_in_the_third(sql: Any, **values: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise RuntimeError("worker killed")
        return await batch(sql, **values)

    monkeypatch.setattr(retention, "_batch", killed_in_the_third)
    with pytest.raises(RuntimeError):
        await retention.prune(batch=5)
    monkeypatch.undo()
    assert len(await _keys(carol)) == 24 - 10  # two whole batches committed, the third none

    assert await retention.prune(batch=5) == {"read": 13, "old": 0, "runs": 0}
    assert await _keys(carol) == {"unread"} and await _keys(dave) == {"fresh"}


async def test_a_notification_locked_by_someone_else_is_left_for_the_next_run():
    erin = await patient()
    await _write(erin, "busy", "idle")
    await _read(erin, "busy", "idle")
    _later(91)
    account = account_of(erin)
    async with unit_of_work() as holder:  # a patient's own request holds the row (mark read, regroup)
        await holder.execute(
            select(Notification.id)
            .where(Notification.recipient_id == account.id, Notification.key == "busy")
            .with_for_update()
        )
        assert await retention.prune() == {"read": 1, "old": 0, "runs": 0}  # not kept waiting
    assert await _keys(erin) == {"busy"}
    assert await retention.prune() == {"read": 1, "old": 0, "runs": 0}
    assert await _keys(erin) == set()


async def test_the_walks_use_their_indexes_not_the_table():
    """A year of a big table: each batch must start where the last one stopped, through an index."""
    frank = await patient()
    async with unit_of_work() as session:  # 30,000 rows, a third of them read, over the past 400 days
        await session.execute(
            text(
                """INSERT INTO social_notifications (id, recipient_kind, recipient_id, kind, key, title, created_at,
                   updated_at, read_at)
                SELECT uuidv7(- i * interval '20 minutes'), 'patient', :p, 'followed_post', 'k' || i, '新帖',
                       now() - i * interval '20 minutes', now() - i * interval '20 minutes',
                       CASE WHEN i % 3 = 0 THEN now() END
                FROM generate_series(1, 30000) AS i"""
            ),
            {"p": frank.id},
        )
        await session.execute(text("ANALYZE social_notifications"))
    now = clock.now()
    cutoff = now - timedelta(days=90)
    plans = {}
    async with unit_of_work() as session:
        for name, sql, values in (
            (
                "read",
                retention._READ_SQL,
                {"cutoff": cutoff, "last_at": now - timedelta(days=500), "last_id": uuid.UUID(int=0)},
            ),
            (
                "old",
                retention._OLD_SQL,
                {
                    "cutoff": now - timedelta(days=365),
                    "last_id": uuid.UUID(int=0),
                    "bound": first_id_at(now - timedelta(days=364)),
                },
            ),
        ):
            rows = await session.execute(text(f"EXPLAIN {sql.text}"), {**values, "batch": retention.BATCH})
            # How the batch is found (the delete after it joins its ids, by size: a hash here, an index
            # lookup per id in a table of millions).
            plans[name] = "\n".join(r[0] for r in rows).split("CTE gone")[0]
        await session.rollback()
    assert "Index Scan using ix_social_notifications_read_age" in plans["read"], plans["read"]
    assert "Index Scan using pk_social_notifications" in plans["old"], plans["old"]
    for plan in plans.values():
        assert "Seq Scan" not in plan and "Sort" not in plan, plan

    read_due = 30000 // 3 - (90 * 72) // 3  # every third row, older than 90 days (72 rows a day)
    result = await retention.prune()
    assert abs(result["read"] - read_due) <= 2, result
    async with unit_of_work() as session:
        left = await session.scalar(
            select(func.count()).select_from(Notification).where(Notification.recipient_id == frank.id)
        )
    assert left == 30000 - result["read"] - result["old"]


def test_ids_made_before_a_moment_sort_below_its_first_id():
    moment = clock.now()
    assert new_id() > first_id_at(moment - timedelta(milliseconds=5))
    assert first_id_at(moment) < first_id_at(moment + timedelta(milliseconds=1))
    assert first_id_at(moment).version == 7


async def test_the_worker_runs_it_daily():
    from workers.settings import CRON_JOBS, social_notifications_prune

    [job] = [c for c in CRON_JOBS if c.name == retention.PRUNE.name]
    assert job.coroutine is social_notifications_prune and job.unique and job.timeout_s == 3600
    grace = await patient()
    await _write(grace, "old")
    await _read(grace, "old")
    _later(91)
    assert await social_notifications_prune({}) == {"read": 1, "old": 0, "runs": 0}
    assert await _keys(grace) == set()
