"""The arq adapter: which jobs and crons this worker runs. Job bodies live in core/ and the domains."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo

from arq import cron, func
from arq.worker import Worker

import messaging  # noqa: F401  (registers the in-app inbox for IN_APP notices)
from campaigns import jobs as campaign_jobs
from campaigns import journeys as campaign_journeys
from campaigns import runner as campaign_runner
from campaigns import sender as campaign_sender
from care import complaints as care_complaints
from care import conversations as care_conversations
from care import surveys as care_surveys
from community import credentials as community_credentials
from community import events as community_events
from community import invitations as community_invitations
from content import jobs as content_jobs
from core import channels, jobs, outbox  # noqa: F401  (channels registers the notify.send handler)
from core.db import dispose_engine
from core.logging import configure_logging
from core.queue import close_pool, redis_settings
from core.settings import get_settings
from loyalty import benefits as loyalty_benefits
from loyalty import jobs as loyalty_jobs
from oncall import jobs as oncall_jobs
from privacy import erasure as privacy_erasure
from privacy import export as privacy_export
from social import fanout as social_fanout
from social import notify as social_notify
from social import retention as social_retention
from workers.lease import LeasedWorker

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


async def loyalty_tier_vouchers(ctx: dict[str, Any]) -> int:
    return await loyalty_benefits.issue_monthly_vouchers()


async def community_invite_run(ctx: dict[str, Any], run_id: str) -> int:
    return await community_invitations.run_invitation(uuid.UUID(run_id))


async def community_invite_sweep(ctx: dict[str, Any]) -> int:
    return await community_invitations.sweep_runs()


async def community_event_reminders(ctx: dict[str, Any]) -> int:
    return await community_events.send_reminders()


async def community_expire_offers(ctx: dict[str, Any]) -> int:
    return await community_events.expire_offers()


async def community_credentials_expire(ctx: dict[str, Any]) -> dict[str, int]:
    return await community_credentials.expire_due()


async def content_publish_due(ctx: dict[str, Any]) -> int:
    return await content_jobs.publish_due()


async def care_surveys_due(ctx: dict[str, Any]) -> int:
    return (await care_surveys.run_due()).created


async def care_escalate(ctx: dict[str, Any]) -> int:
    return await care_complaints.escalate_due()


async def care_conversations_escalate(ctx: dict[str, Any]) -> int:
    return await care_conversations.escalate_due()


async def oncall_escalate(ctx: dict[str, Any]) -> int:
    return await oncall_jobs.escalate_due()


async def privacy_export_run(ctx: dict[str, Any], export_id: str) -> str:
    return await privacy_export.run_export(uuid.UUID(export_id))


async def privacy_export_sweep(ctx: dict[str, Any]) -> dict[str, int]:
    return await privacy_export.sweep()


async def privacy_erasure_run(ctx: dict[str, Any], request_id: str) -> str:
    return await privacy_erasure.run_erasure(uuid.UUID(request_id))


async def privacy_erasure_due(ctx: dict[str, Any]) -> int:
    return await privacy_erasure.enqueue_due()


async def social_notify_run(ctx: dict[str, Any], run_id: str) -> int:
    return await social_fanout.run(uuid.UUID(run_id))


async def social_notify_sweep(ctx: dict[str, Any]) -> int:
    return await social_fanout.sweep()


async def social_notifications_prune(ctx: dict[str, Any]) -> dict[str, int]:
    return await social_retention.prune()


async def campaigns_materialise(ctx: dict[str, Any], campaign_id: str) -> int:
    return await campaign_runner.materialise(uuid.UUID(campaign_id))


async def campaigns_send(ctx: dict[str, Any], channel: str) -> int:
    return await campaign_sender.send_due(channel)


async def campaigns_tick(ctx: dict[str, Any]) -> dict[str, int]:
    return await campaign_jobs.tick()


async def campaigns_journeys(ctx: dict[str, Any]) -> dict[str, int]:
    return await campaign_journeys.run_all()


FUNCTIONS = [
    # Campaign runner: resumable from the campaign's cursor; deliveries unique per (campaign, patient).
    func(campaigns_materialise, name=campaign_runner.MATERIALISE.name, keep_result=0, max_tries=10, timeout=3600),
    # One sender per channel at a time (job id = channel); it stops after ~50 s, the tick wakes it again.
    func(campaigns_send, name=campaign_sender.SEND.name, keep_result=0, max_tries=5, timeout=120),
    func(outbox_dispatch, name=jobs.OUTBOX_DISPATCH.name, keep_result=0, max_tries=5),
    # Resumable from the run's cursor: a retry after a crash or timeout continues where it stopped.
    func(
        community_invite_run,
        name=community_invitations.INVITE_RUN.name,
        keep_result=0,
        max_tries=10,
        timeout=3600,
    ),
    # A copy of a patient's data: claimed (running) then made and stored in one transaction; a rerun of
    # a finished copy does nothing, a copy made meanwhile by another run is left as it is.
    func(privacy_export_run, name=privacy_export.EXPORT_RUN.name, keep_result=0, max_tries=5, timeout=600),
    # Erasure: resumable step by step (each step recorded in its own transaction, skipped when rerun).
    func(privacy_erasure_run, name=privacy_erasure.ERASURE_RUN.name, keep_result=0, max_tries=10, timeout=1800),
    # Notification fan-out: resumable from the run's step and cursor; notifications unique per (recipient,
    # key), so a retry after a crash or timeout adds nothing twice.
    func(social_notify_run, name=social_notify.RUN.name, keep_result=0, max_tries=10, timeout=1800),
]
CRON_JOBS = [
    # Every minute and at start-up: start due campaigns, wake runners/senders, finish done campaigns.
    cron(campaigns_tick, name=campaign_jobs.TICK.name, second={20}, run_at_startup=True, unique=True, timeout=120),
    # Journeys hourly (occasions are unique, so repeats add nothing); deliveries honour quiet hours.
    cron(
        campaigns_journeys,
        name=campaign_journeys.JOURNEYS_RUN.name,
        minute={12},
        run_at_startup=True,
        unique=True,
        timeout=1800,
    ),
    # Surveys every 15 minutes and at start-up (one per visit: the unique visit id makes overlapping
    # runs harmless); complaint escalation every minute (escalated once: guarded by escalated_at).
    cron(
        care_surveys_due,
        name=care_surveys.SURVEYS_DUE.name,
        minute={7, 22, 37, 52},
        run_at_startup=True,
        unique=True,
        timeout=1800,
    ),
    cron(care_escalate, name=care_complaints.ESCALATE_DUE.name, second={40}, run_at_startup=True, unique=True),
    # Conversations past their reply clock every minute: escalated_at is set by one guarded UPDATE and
    # the page is unique per (conversation, clock start), so a repeat or overlapping run pages nobody twice.
    cron(
        care_conversations_escalate,
        name=care_conversations.ESCALATE_DUE.name,
        second={45},
        run_at_startup=True,
        unique=True,
    ),
    # Staff pages every minute and at start-up: each due page is row-locked (SKIP LOCKED) and moves up
    # one level only when its escalation time passed, and recipients are unique per (page, staff), so
    # a second or concurrent run escalates nothing twice and notifies nobody twice.
    cron(oncall_escalate, name=oncall_jobs.ESCALATE_DUE.name, second={50}, run_at_startup=True, unique=True),
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
    # Daily after the tier run, and at start-up: this month's tier vouchers. One per member and month
    # (a unique ledger key), so a repeat, an overlapping run or a run after a crash issues nothing twice;
    # a member who reached the tier during the month gets theirs the next morning.
    cron(
        loyalty_tier_vouchers,
        name=loyalty_benefits.TIER_VOUCHERS.name,
        hour={4},
        minute={20},
        run_at_startup=True,
        unique=True,
        timeout=3600,
    ),
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
    # Daily, and at start-up: lapsed credentials marked expired and expert roles without a valid one
    # dropped. Only VERIFIED rows past expiry and EXPERT roles are picked (locked, SKIP LOCKED), so a
    # repeat or a concurrent run changes nothing twice; the badge never waited for it anyway.
    cron(
        community_credentials_expire,
        name=community_credentials.EXPIRE_DUE.name,
        hour={1},
        minute={30},
        run_at_startup=True,
        unique=True,
        timeout=600,
    ),
    # Every minute: notification runs whose job was lost (Redis down at commit, a worker killed) are
    # enqueued again; a run still queued or running keeps its one job (the job id is the run id).
    cron(
        social_notify_sweep,
        name=social_notify.SWEEP.name,
        second={25},
        run_at_startup=True,
        unique=True,
        timeout=300,
    ),
    # Daily in the quiet of the night: notifications past retention deleted in keyset batches, each its
    # own transaction; a repeat, an overlapping run or one killed midway deletes only what is still due.
    cron(
        social_notifications_prune,
        name=social_retention.PRUNE.name,
        hour={4},
        minute={40},
        unique=True,
        timeout=3600,
    ),
    cron(
        community_invite_sweep,
        name=community_invitations.INVITE_SWEEP.name,
        minute=set(range(0, 60, 5)),
        second={45},
        run_at_startup=True,
        unique=True,
    ),
    # Every 5 minutes and at start-up: lost copies enqueued again (their job id is the copy's id, so a
    # queued or running one is not doubled) and expired copies emptied (an UPDATE of what is past due).
    cron(
        privacy_export_sweep,
        name=privacy_export.EXPORT_SWEEP.name,
        minute=set(range(2, 60, 5)),
        second={10},
        run_at_startup=True,
        unique=True,
        timeout=300,
    ),
    # Every 5 minutes and at start-up: erasures past their grace period (and ones a dead worker left
    # running) enqueued, oldest deadline first; the job id is the request's, so nothing runs twice.
    cron(
        privacy_erasure_due,
        name=privacy_erasure.ERASURE_DUE.name,
        minute=set(range(4, 60, 5)),
        second={25},
        run_at_startup=True,
        unique=True,
        timeout=300,
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
    return LeasedWorker(**{**worker_settings(), "burst": burst, **overrides})
