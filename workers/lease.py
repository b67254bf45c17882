"""Jobs hold a short, renewed lease, so a worker killed mid-job frees its jobs within a minute.

arq marks a running job with an "in progress" key whose lifetime is the longest job timeout of
the worker plus 10 s (3,610 s here): after a `kill -9` the job, and every later run of a unique
job such as the campaign sender, waited about an hour. Here the key lives `job_lease_seconds`
and a heartbeat renews it while the job runs, so long jobs keep their own timeouts while a dead
worker's jobs are picked up again once the lease lapses. Every job is idempotent (see
workers/settings.py), so the rare double start after a stall longer than the lease is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from arq.constants import in_progress_key_prefix
from arq.worker import Worker

from core.settings import get_settings

log = structlog.get_logger(__name__)


class LeasedWorker(Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lease_s = float(get_settings().job_lease_seconds)
        self.in_progress_timeout_s = self.lease_s

    async def run_job(self, job_id: str, score: int) -> None:
        heartbeat = asyncio.create_task(self._renew(job_id))
        try:
            await super().run_job(job_id, score)
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat

    async def _renew(self, job_id: str) -> None:
        key = in_progress_key_prefix + job_id
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                # PEXPIRE never recreates a key the finished job already removed.
                await self.pool.pexpire(key, int(self.lease_s * 1000))
            except Exception:  # Redis away for a moment: the next beat tries again
                log.warning("job_lease_renew_failed", job_id=job_id, exc_info=True)
