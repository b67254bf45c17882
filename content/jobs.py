"""Background jobs of the content domain.

Scheduled publishing is database-backed: the schedule is the item row (status `scheduled`,
`publish_at`). A cron runs every minute and at worker start-up, so a worker that was down
publishes everything overdue when it comes back; rows are claimed with FOR UPDATE SKIP LOCKED and
the status is re-checked under the lock, so several workers never publish an item twice.
"""

from __future__ import annotations

from content import service
from core import jobs
from core.db import unit_of_work

PUBLISH_DUE = jobs.register("content.publish_due", "Publish scheduled content whose time has come")


async def publish_due(*, batch_size: int = 100) -> int:
    """One transaction per batch until nothing is due; returns how many items went live."""
    total = 0
    while True:
        async with unit_of_work() as session:
            published = await service.publish_due(session, limit=batch_size)
        total += len(published)
        if len(published) < batch_size:
            return total
