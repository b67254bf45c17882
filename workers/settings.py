"""The arq adapter: which jobs and crons this worker runs. Job bodies live in core/ and the domains."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from arq import cron, func
from arq.worker import Worker

from community import events as community_events
from community import invitations as community_invitations
from content import jobs as content_jobs
from core import channels, jobs, outbox  # noqa: F401  (channels registers the notify.send handler)
from core.db import dispose_engine
from core.logging import configure_logging
from core.queue import close_pool, redis_settings
from core.settings import get_settings
from loyalty import jobs as loyalty_jobs

HEALTH_CHECK_KEY = "portal:worker:health"


async def startup(ctx: dict[str, Any]) -> None:
    configure_logging()


async def shutdown(ctx: dict[str, Any]) -> None:
    await close_pool()
    await dispose_engine()


async def outbox_dispatch(ctx: dict[str, Any], message_id: str) -> str:
    return await outbox.dispatch(uuid.UUID(message_id))


async def outbox_sweep(ctx: dict[str, Any]) -> int:
    return await outbox.sweep()


async def loyalty_settle_due(ctx: dict[str, Any]) -> int:
    return await loyalty_jobs.settle_due()


async def loyalty_expire_due(ctx: dict[str, Any]) -> int:
    return await loyalty_jobs.expire_due()


async def loyalty_nightly(ctx: dict[str, Any]) -> dict[str, int]:
    return await loyalty_jobs.nightly()


async def community_invite_run(ctx: dict[str, Any], run_id: str) -> int:
    return await community_invitations.run_invitation(uuid.UUID(run_id))


async def community_invite_sweep(ctx: dict[str, Any]) -> int:
    return await community_invitations.sweep_runs()


async def community_event_reminders(ctx: dict[str, Any]) -> int:
    return await community_events.send_reminders()


async def community_expire_offers(ctx: dict[str, Any]) -> int:
    return await community_events.expire_offers()


async def content_publish_due(ctx: dict[str, Any]) -> int:
    return await content_jobs.publish_due()


FUNCTIONS = [
    func(outbox_dispatch, name=jobs.OUTBOX_DISPATCH.name, keep_result=0, max_tries=5),
    # Resumable from the run's cursor: a retry after a crash or timeout continues where it stopped.
    func(
        community_invite_run,
        name=community_invitations.INVITE_RUN.name,
        keep_result=0,
        max_tries=10,
        timeout=3600,
    ),
]
CRON_JOBS = [
    cron(outbox_sweep, name=jobs.OUTBOX_SWEEP.name, second={0, 15, 30, 45}, run_at_startup=True, unique=True),
    # Catch up at start-up too: a worker that was down must not leave due points unsettled.
    cron(
        loyalty_settle_due,
        name=loyalty_jobs.SETTLE_DUE.name,
        minute={5, 20, 35, 50},
        run_at_startup=True,
        unique=True,
        timeout=3600,
    ),
    cron(loyalty_expire_due, name=loyalty_jobs.EXPIRE_DUE.name, hour={2}, minute={10}, unique=True, timeout=3600),
    cron(loyalty_nightly, name=loyalty_jobs.NIGHTLY.name, hour={3}, minute={10}, unique=True, timeout=3600),
    # Every minute, and at start-up: idempotent through notice keys and row locks, so a worker that was
    # down catches up and two workers never double-send.
    cron(
        community_event_reminders,
        name=community_events.EVENT_REMINDERS.name,
        second={0},
        run_at_startup=True,
        unique=True,
        timeout=300,
    ),
    cron(
        community_expire_offers,
        name=community_events.EXPIRE_OFFERS.name,
        second={30},
        run_at_startup=True,
        unique=True,
        timeout=300,
    ),
    cron(
        community_invite_sweep,
        name=community_invitations.INVITE_SWEEP.name,
        minute=set(range(0, 60, 5)),
        second={45},
        run_at_startup=True,
        unique=True,
    ),
    # Every minute and at start-up: overdue items are published when a worker comes back; row locks
    # make two workers publish each item once.
    cron(
        content_publish_due,
        name=content_jobs.PUBLISH_DUE.name,
        second={5},
        run_at_startup=True,
        unique=True,
        timeout=300,
    ),
]


def worker_settings() -> dict[str, Any]:
    return {
        "functions": FUNCTIONS,
        "cron_jobs": CRON_JOBS,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": redis_settings(),
        "health_check_key": HEALTH_CHECK_KEY,
        "health_check_interval": 30,
        "max_jobs": 20,
        "timezone": ZoneInfo(get_settings().default_timezone),
        "job_timeout": 300,
    }


def build_worker(*, burst: bool = False, **overrides: Any) -> Worker:
    return Worker(**{**worker_settings(), "burst": burst, **overrides})
