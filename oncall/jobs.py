"""Bodies of the on-call background jobs (workers/settings.py schedules them)."""

from __future__ import annotations

from core import jobs
from core.db import unit_of_work
from oncall import service

ESCALATE_DUE = jobs.register("oncall.escalate", "Escalate unacknowledged staff pages one level")


async def escalate_due(*, batch_size: int = 100) -> int:
    """Cron `oncall.escalate`: one transaction per batch, so a crash loses at most one batch of work,
    which the next run redoes (rows stay due until their escalation commits)."""
    total = 0
    while True:
        async with unit_of_work() as session:
            done = await service.escalate_batch(session, limit=batch_size)
        total += done
        if done < batch_size:
            return total
