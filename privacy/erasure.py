"""Erasure of a patient's account (PIPL art. 47): asked for by the patient, carried out by a job within
the legal time limit, every step on record.

`request_erasure` schedules it: `execute_after` = now + PORTAL_ERASURE_GRACE_DAYS (the patient may take
it back with `cancel_erasure` until then), `due_by` = now + PORTAL_ERASURE_DUE_DAYS (the limit this product
holds itself to; the grace period always ends well before it). The cron `privacy.erasure_due` enqueues
`privacy.erasure_run` for every request whose grace period ended (and every one left running by a worker
that died); admins see the list with an overdue flag and may run one at once.

The job: states scheduled -> running -> done. It claims the request (running, committed: from then on it
cannot be taken back), then runs the steps of privacy/erase_steps.py in order, each in its own
transaction with the request row locked, recording the step's time and counts in `steps` in that same
transaction. A job killed anywhere leaves whole steps done and recorded; a rerun (or a second copy of
the job waiting on the row lock) skips recorded steps, so every step runs exactly once and the request
finishes once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, jobs
from core.db import after_commit, unit_of_work
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from messaging import inbox
from patients.models import Patient
from privacy import erase_steps, errors
from privacy.config import get_privacy_settings
from privacy.export import in_person, local_text
from privacy.models import OPEN_ERASURE, ErasureRequest, ErasureStatus, PostsChoice

log = structlog.get_logger(__name__)

ERASURE_RUN = jobs.register("privacy.erasure_run", "Erase one patient's account, step by step (resumable)")
ERASURE_DUE = jobs.register("privacy.erasure_due", "Enqueue erasures whose grace period ended (and lost ones)")


async def enqueue_erasure(request_id: uuid.UUID) -> bool:
    return await ERASURE_RUN.enqueue(str(request_id), key=(request_id,))


def overdue(row: ErasureRequest, now: datetime) -> bool:
    """Past the legal time limit: still open after `due_by`, or finished after it."""
    if row.status in OPEN_ERASURE:
        return now > row.due_by
    return row.status == ErasureStatus.DONE and row.finished_at is not None and row.finished_at > row.due_by


def _overdue_sql(now: datetime) -> Any:
    return or_(
        and_(ErasureRequest.status.in_(OPEN_ERASURE), ErasureRequest.due_by < now),
        and_(ErasureRequest.status == ErasureStatus.DONE, ErasureRequest.finished_at > ErasureRequest.due_by),
    )


def _after_commit_enqueue(session: AsyncSession, request_id: uuid.UUID) -> None:
    async def enqueue() -> None:
        await enqueue_erasure(request_id)

    after_commit(session, enqueue)


async def request_erasure(session: AsyncSession, actor: Actor, *, posts: PostsChoice) -> ErasureRequest:
    """The signed-in patient asks for their account to be erased; one open request at a time."""
    patient_id = in_person(actor)
    # The patient's row lock serialises two requests (the partial unique index backs it up).
    await session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    open_one = await session.scalar(
        select(ErasureRequest.id).where(
            ErasureRequest.patient_id == patient_id, ErasureRequest.status.in_(OPEN_ERASURE)
        )
    )
    if open_one is not None:
        raise errors.ErasureAlreadyRequested()
    settings = get_privacy_settings()
    now = clock.now()
    row = ErasureRequest(
        id=new_id(),
        patient_id=patient_id,
        status=ErasureStatus.SCHEDULED,
        posts=PostsChoice(posts).value,
        requested_at=now,
        execute_after=now + timedelta(days=settings.erasure_grace_days),
        due_by=now + timedelta(days=settings.erasure_due_days),
        attempts=0,
        steps={},
    )
    session.add(row)
    await session.flush()
    keep = "匿名保留（作者显示为“已注销用户”）" if row.posts == PostsChoice.ANONYMISE else "全部删除"
    await inbox.put(
        session,
        patient_id=patient_id,
        subject="注销申请已受理",
        body=(
            f"您的账号注销申请已受理，将于{local_text(row.execute_after)}后执行，执行前可在“隐私与授权”中撤回。"
            f"执行后您的个人资料、健康信息与站内消息将被删除，积分清零且不可恢复，您发布的帖子与评论将{keep}。"
            "如需保留个人数据，请先申请个人数据副本。"
        ),
        link=None,
        source_ref=f"erasure:{row.id}:requested",
        tracked=False,
    )
    if row.execute_after <= now:
        _after_commit_enqueue(session, row.id)
    return row


async def _own(session: AsyncSession, actor: Actor, request_id: uuid.UUID) -> ErasureRequest:
    patient_id = in_person(actor)
    row = await session.scalar(select(ErasureRequest).where(ErasureRequest.id == request_id).with_for_update())
    if row is None or row.patient_id != patient_id:
        raise errors.ErasureNotFound(field="requestId")  # another patient's is not found, never forbidden
    return row


async def cancel_erasure(session: AsyncSession, actor: Actor, request_id: uuid.UUID) -> ErasureRequest:
    """The patient takes their request back while it is still scheduled (the job never started)."""
    row = await _own(session, actor, request_id)
    if row.status != ErasureStatus.SCHEDULED:
        raise errors.ErasureNotCancellable(field="requestId")
    row.status = ErasureStatus.CANCELLED
    row.cancelled_at = clock.now()
    return row


async def run_now(session: AsyncSession, actor: Actor, request_id: uuid.UUID) -> ErasureRequest:
    """An admin runs a request at once instead of after its grace period (or a stuck one again)."""
    actor.require_role(Role.ADMIN)
    row = await session.scalar(select(ErasureRequest).where(ErasureRequest.id == request_id).with_for_update())
    if row is None:
        raise errors.ErasureNotFound(field="requestId")
    if row.status not in OPEN_ERASURE:
        raise errors.ErasureNotRunnable(field="requestId")
    now = clock.now()
    row.execute_after = min(row.execute_after, now)
    row.run_by = actor.id
    _after_commit_enqueue(session, row.id)
    return row


async def requests_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: ErasureStatus | None = None,
    overdue_only: bool | None = None,
    first: int | None,
    after: str | None,
) -> Page[ErasureRequest]:
    """Every erasure request for admins, newest first; `overdue_only` True: past the time limit only,
    False: within it only."""
    actor.require_role(Role.ADMIN)
    stmt = select(ErasureRequest)
    if status is not None:
        stmt = stmt.where(ErasureRequest.status == status.value)
    if overdue_only is not None:
        condition = _overdue_sql(clock.now())
        stmt = stmt.where(condition if overdue_only else ~condition)
    return await keyset_page(
        session,
        stmt,
        sort=ErasureRequest.requested_at,
        id_=ErasureRequest.id,
        first=first,
        after=after,
        descending=True,
    )


async def my_latest(session: AsyncSession, actor: Actor) -> ErasureRequest | None:
    """The signed-in patient's latest request (to see when it runs, and to take it back)."""
    patient_id = in_person(actor)
    return await session.scalar(
        select(ErasureRequest)
        .where(ErasureRequest.patient_id == patient_id)
        .order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id.desc())
        .limit(1)
    )


def can_read(actor: Actor, row: ErasureRequest) -> bool:
    return (actor.is_patient and actor.id == row.patient_id) or (actor.is_staff and actor.has_role(Role.ADMIN))


async def requests_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, ErasureRequest]:
    return {r.id: r for r in await session.scalars(select(ErasureRequest).where(ErasureRequest.id.in_(ids)))}


# --- the job ----------------------------------------------------------------------------------------


async def _lock(session: AsyncSession, request_id: uuid.UUID) -> ErasureRequest | None:
    return await session.scalar(
        select(ErasureRequest)
        .where(ErasureRequest.id == request_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def _claim(request_id: uuid.UUID) -> bool:
    """scheduled (and due) -> running, committed; True when there is work to do."""
    async with unit_of_work() as session:
        row = await _lock(session, request_id)
        if row is None or row.status not in OPEN_ERASURE:
            return False
        now = clock.now()
        if row.status == ErasureStatus.SCHEDULED and row.execute_after > now:
            return False  # still in its grace period (the patient may take it back)
        row.status = ErasureStatus.RUNNING
        row.started_at = row.started_at or now
        row.attempts += 1
        return True


async def _run_step(request_id: uuid.UUID, step: erase_steps.Step) -> bool:
    """One step in its own transaction, recorded with it; False when the request is no longer running."""
    async with unit_of_work() as session:
        row = await _lock(session, request_id)
        if row is None or row.status != ErasureStatus.RUNNING:
            return False
        if step.name in row.steps:
            return True  # done by an earlier (killed) run
        counts = await step.run(session, row)
        row.steps = {**row.steps, step.name: {"at": clock.now().isoformat(), "counts": counts}}
        log.info("erasure_step", request_id=str(request_id), step=step.name, counts=counts)
        return True


async def _finish(request_id: uuid.UUID) -> bool:
    async with unit_of_work() as session:
        row = await _lock(session, request_id)
        if row is None or row.status != ErasureStatus.RUNNING:
            return False
        missing = [s.name for s in erase_steps.STEPS if s.name not in row.steps]
        if missing:
            return False
        row.status = ErasureStatus.DONE
        row.finished_at = clock.now()
        return True


async def run_erasure(request_id: uuid.UUID) -> str:
    """Job `privacy.erasure_run`: resumable, every step exactly once (see the module docstring)."""
    if not await _claim(request_id):
        return "skipped"
    for step in erase_steps.STEPS:
        if not await _run_step(request_id, step):
            return "skipped"
    return "done" if await _finish(request_id) else "skipped"


async def enqueue_due(*, limit: int = 200) -> int:
    """Cron `privacy.erasure_due`: enqueue the job of every request whose grace period ended, and of
    every one still running (a worker died mid-way; a no-op while its job is queued or running, since
    the job id is the request's id). Oldest deadline first."""
    now = clock.now()
    async with unit_of_work() as session:
        ids = list(
            await session.scalars(
                select(ErasureRequest.id)
                .where(ErasureRequest.status.in_(OPEN_ERASURE), ErasureRequest.execute_after <= now)
                .order_by(ErasureRequest.due_by)
                .limit(limit)
            )
        )
    enqueued = 0
    for request_id in ids:
        if await enqueue_erasure(request_id):
            enqueued += 1
    return enqueued
