"""The registry of background jobs: names and their deterministic ids.

Domains put the bodies of their jobs in their own jobs.py; workers/ maps names to bodies. A job id
is derived from what the job is about, so enqueueing the same work twice yields one job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core import queue


@dataclass(frozen=True)
class JobSpec:
    name: str
    description: str

    def job_id(self, *key: object) -> str:
        return ":".join([self.name, *(str(k) for k in key)])

    async def enqueue(self, *args: Any, key: tuple[object, ...], defer_until: datetime | None = None) -> bool:
        return await queue.enqueue(self.name, *args, job_id=self.job_id(*key), defer_until=defer_until)


REGISTRY: dict[str, JobSpec] = {}


def register(name: str, description: str) -> JobSpec:
    if name in REGISTRY:
        raise ValueError(f"job {name} registered twice")
    spec = JobSpec(name, description)
    REGISTRY[name] = spec
    return spec


OUTBOX_DISPATCH = register("outbox.dispatch", "Deliver one outbox message through its channel")
OUTBOX_SWEEP = register("outbox.sweep", "Re-enqueue outbox messages whose dispatch was missed")
