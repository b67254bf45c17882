"""Notification retention: the centre keeps what people may still look at, not every "王医生发布了新帖"
forever (a doctor's post to 50,000 followers is 50,000 rows).

The daily cron `social.notifications_prune` deletes read notifications whose last activity (updated_at:
a grouped reaction notification that grew yesterday is not old) is older than
PORTAL_NOTIFICATION_READ_RETENTION_DAYS (90), and every notification older than
PORTAL_NOTIFICATION_RETENTION_DAYS (365), read or not; with the latter, the finished fan-out runs
(social_notify_runs, one per occasion) that made them: their unique key stops a repeated trigger from
notifying twice, which matters for minutes, not for a year.

Bounded work: batches of BATCH rows, each its own short transaction (no long lock, no long-running
snapshot holding back vacuum), rows locked with SKIP LOCKED so a patient marking one read is never kept
waiting. Each rule walks an index in keyset order, never from the start again within a run:
- read ones by (updated_at, id) through the partial index ix_social_notifications_read_age, which
  unread rows (every insert of a fan-out) never enter;
- old ones by primary key: ids are UUIDv7 (core/ids.py), made when the row was written, so every row
  last active before the cutoff has an id below `first_id_at(cutoff)` (a day of margin for clocks);
  the walk only narrows where to look, the rule is checked on updated_at.
Safe to run twice, at once or killed midway: a batch deletes only rows that still match when locked,
a killed run leaves whole batches done, and the next run finds only what is still due.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import TextClause, text

from core import clock, jobs
from core.db import unit_of_work
from core.ids import first_id_at
from core.settings import get_settings

PRUNE = jobs.register(
    "social.notifications_prune", "Delete read notifications past retention and every notification past the longer one"
)
BATCH = 5000
_ID_MARGIN = timedelta(days=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NIL = uuid.UUID(int=0)

# One batch: deletes it and returns the last key it took, how many rows it took (fewer than the batch:
# the walk is done) and how many it deleted.
_READ_SQL = text("""
WITH batch AS (
    SELECT id, updated_at FROM social_notifications
    WHERE read_at IS NOT NULL AND updated_at < :cutoff AND (updated_at, id) > (:last_at, :last_id)
    ORDER BY updated_at, id LIMIT :batch
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM social_notifications n USING batch b WHERE n.id = b.id RETURNING 1
)
SELECT (SELECT updated_at FROM batch ORDER BY updated_at DESC, id DESC LIMIT 1) AS last_at,
       (SELECT id FROM batch ORDER BY updated_at DESC, id DESC LIMIT 1) AS last_id,
       (SELECT count(*) FROM batch) AS seen, (SELECT count(*) FROM gone) AS deleted
""")


def _walk_by_id(table: str, due: str) -> TextClause:
    """One batch along the primary key up to `bound` (the first id after the cutoff, with the margin):
    the rows that are `due`, deleted; the last id it took, how many it took and how many it deleted."""
    return text(f"""
WITH batch AS (
    SELECT id FROM {table}
    WHERE id > :last_id AND id < :bound AND {due}
    ORDER BY id LIMIT :batch
    FOR UPDATE SKIP LOCKED
), gone AS (
    DELETE FROM {table} t USING batch b WHERE t.id = b.id RETURNING 1
)
SELECT (SELECT id FROM batch ORDER BY id DESC LIMIT 1) AS last_id,
       (SELECT count(*) FROM batch) AS seen, (SELECT count(*) FROM gone) AS deleted
""")


_OLD_SQL = _walk_by_id("social_notifications", "updated_at < :cutoff")
# Finished fan-out runs the same way (ids are UUIDv7 too); an unfinished run is never deleted.
_RUNS_SQL = _walk_by_id("social_notify_runs", "status = 'done' AND created_at < :cutoff")


async def _batch(sql: TextClause, **values: Any) -> Any:
    async with unit_of_work() as session:
        return (await session.execute(sql, values)).mappings().one()


async def prune_read(cutoff: datetime, *, batch: int = BATCH) -> int:
    """Read notifications last active before `cutoff`, deleted in keyset batches; how many."""
    deleted, last_at, last_id = 0, _EPOCH, _NIL
    while True:
        r = await _batch(_READ_SQL, cutoff=cutoff, last_at=last_at, last_id=last_id, batch=batch)
        deleted += r["deleted"]
        if r["seen"] < batch:
            return deleted
        last_at, last_id = r["last_at"], r["last_id"]


async def prune_old(cutoff: datetime, *, batch: int = BATCH, sql: TextClause = _OLD_SQL) -> int:
    """Every notification last active before `cutoff` (with `_RUNS_SQL`: every finished run made before
    it), deleted in batches along the primary key; how many."""
    deleted, last_id, bound = 0, _NIL, first_id_at(cutoff + _ID_MARGIN)
    while True:
        r = await _batch(sql, cutoff=cutoff, last_id=last_id, bound=bound, batch=batch)
        deleted += r["deleted"]
        if r["seen"] < batch:
            return deleted
        last_id = r["last_id"]


async def prune(*, batch: int = BATCH) -> dict[str, int]:
    """The cron body: read notifications past the read retention, then all past the longer one."""
    settings = get_settings()
    now = clock.now()
    read = await prune_read(now - timedelta(days=settings.notification_read_retention_days), batch=batch)
    cutoff = now - timedelta(days=settings.notification_retention_days)
    old = await prune_old(cutoff, batch=batch)
    runs = await prune_old(cutoff, batch=batch, sql=_RUNS_SQL)
    return {"read": read, "old": old, "runs": runs}
