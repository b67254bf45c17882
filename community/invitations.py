"""Event invitations: staff invite groups, listed patients and/or a campaign segment; a worker fans
the run out.

`start_invitation` only writes an InvitationRun (the audience as group ids, patient ids and the
segment's criteria, frozen then so editing the segment later never changes who this run reaches) and
enqueues `community.invite_run` after commit. The job pages the audience by patient id (keyset on
`InvitationRun.cursor`), one transaction per batch:

1. lock the run row (a second copy of the job waits, then continues from the advanced cursor);
2. read the next `batch_size` patient ids of the audience (active patient members of the groups
   UNION the listed ids, deduplicated and ordered in SQL; then the segment's next page, merged: the
   audience never sits in memory whole);
3. ask the one outreach policy (messaging/outreach.py, class marketing) about each patient: the
   deceased, the admitted, staff and whoever opted out are not invited at all (counted in
   `suppressed`); for the others each channel (in-app, SMS) needs marketing consent on it, waits for
   the end of the patient's quiet hours, and the marketing frequency cap (shared with campaigns)
   may hold the message back. Why a channel was skipped is kept on the invitation;
4. insert the invitations ON CONFLICT (event_id, patient_id) DO NOTHING RETURNING patient_id;
5. queue notices only for the rows just inserted, through the outbox in the same transaction, and
   count them for the cap;
6. advance the cursor.

A run killed anywhere and run again therefore yields exactly one invitation and one set of notices
per (event, patient), also across overlapping runs for the same event. A sweeper cron re-enqueues
runs whose job was lost (Redis down at enqueue time, a worker gone for good).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns.errors import SegmentNotFound
from campaigns.models import Segment
from campaigns.segments import SegmentCriteria, segment_select
from community import audit
from community.errors import CommunityCode as Code
from community.errors import EventCancelled, EventEnded, EventNotFound
from community.events import EVENT_ADMIN_ROLES, local_text
from community.groups import groups_by_ids
from community.models import Event, EventInvitation, EventStatus, InvitationRun
from core import clock, jobs
from core.channels import ChannelName, Message, send_later
from core.db import after_commit, unit_of_work
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.settings import get_settings
from messaging import outreach
from messaging.outreach import MessageClass, Verdict
from patients.models import Patient
from patients.queries import patients_by_ids

INVITE_RUN = jobs.register("community.invite_run", "Fan an event invitation out to its audience in batches")
INVITE_SWEEP = jobs.register("community.invite_sweep", "Re-enqueue invitation runs whose job was lost")

MAX_GROUPS = 20
MAX_PATIENTS = 10_000  # larger audiences are groups or a campaign segment
DEFAULT_BATCH_SIZE = 500


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


async def enqueue_run(run_id: uuid.UUID) -> bool:
    return await INVITE_RUN.enqueue(str(run_id), key=(run_id,))


async def start_invitation(
    session: AsyncSession,
    actor: Actor,
    event_id: uuid.UUID,
    *,
    group_ids: Sequence[uuid.UUID] = (),
    patient_ids: Sequence[uuid.UUID] = (),
    segment_id: uuid.UUID | None = None,
) -> InvitationRun:
    """Staff (marketing, moderators) invite one or more groups and/or a list of patients; marketing
    (whose segments they are) may also invite a saved campaign segment."""
    actor.require_role(*EVENT_ADMIN_ROLES)
    if segment_id is not None:
        actor.require_role(Role.MARKETER)
    groups = list(dict.fromkeys(group_ids))
    patients = list(dict.fromkeys(patient_ids))
    v = Validator()
    v.check(
        bool(groups or patients or segment_id),
        "groupIds",
        Code.AUDIENCE_EMPTY,
        "请至少选择一个社群、一位患者或一个人群",
    )
    v.check(len(groups) <= MAX_GROUPS, "groupIds", Code.TOO_MANY_GROUPS, f"一次最多邀请{MAX_GROUPS}个社群")
    v.check(
        len(patients) <= MAX_PATIENTS,
        "patientIds",
        Code.TOO_MANY_PATIENTS,
        f"一次最多邀请{MAX_PATIENTS}位患者",
    )
    v.raise_if_any()
    event = await session.get(Event, event_id)
    if event is None:
        raise EventNotFound(field="eventId")
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled()
    if clock.now() >= event.ends_at:
        raise EventEnded()
    found_groups = await groups_by_ids(session, groups) if groups else {}
    missing_groups = [g for g in groups if g not in found_groups]
    found_patients = set(await patients_by_ids(session, patients)) if patients else set()
    missing_patients = [p for p in patients if p not in found_patients]
    v.check(not missing_groups, "groupIds", CoreCode.GROUP_NOT_FOUND, f"有{len(missing_groups)}个社群不存在")
    v.check(not missing_patients, "patientIds", CoreCode.PATIENT_NOT_FOUND, f"有{len(missing_patients)}位患者不存在")
    v.raise_if_any()
    audience: dict[str, Any] = {"group_ids": [str(g) for g in groups], "patient_ids": [str(p) for p in patients]}
    if segment_id is not None:
        segment = await session.get(Segment, segment_id)
        if segment is None:
            raise SegmentNotFound(field="segmentId")
        audience["segment"] = {"id": str(segment.id), "name": segment.name, "criteria": segment.criteria}
    run = InvitationRun(
        id=new_id(),
        event_id=event.id,
        audience=audience,
        status=RunStatus.QUEUED,
        cursor=None,
        invited=0,
        created_by=actor.id,
        created_at=clock.now(),
    )
    session.add(run)
    await session.flush()
    await audit.record(
        session,
        actor,
        "event_invite",
        target_kind="event",
        target_id=event.id,
        group_id=event.group_id,
        detail={
            "run_id": str(run.id),
            "groups": len(groups),
            "patients": len(patients),
            **({"segment": audience["segment"]["name"]} if segment_id is not None else {}),
        },
    )
    run_id = run.id

    async def enqueue() -> None:
        await enqueue_run(run_id)

    after_commit(session, enqueue)
    return run


# The next page of the audience after :after, deduplicated by UNION and ordered by patient id. Each
# group is read through the (group_id, account_kind, account_id) unique index, at most :n rows each.
_AUDIENCE_PAGE = text(
    """
    WITH run AS (SELECT audience FROM community_invitation_runs WHERE id = :run_id)
    SELECT pid FROM (
        SELECT m.account_id AS pid
        FROM jsonb_array_elements_text((SELECT audience -> 'group_ids' FROM run)) AS g(id)
        CROSS JOIN LATERAL (
            SELECT account_id FROM community_memberships
            WHERE group_id = CAST(g.id AS uuid) AND account_kind = 'patient' AND state = 'active'
              AND account_id > :after
            ORDER BY account_id LIMIT :n
        ) AS m
        UNION
        SELECT CAST(p.id AS uuid) AS pid
        FROM jsonb_array_elements_text((SELECT audience -> 'patient_ids' FROM run)) AS p(id)
        WHERE CAST(p.id AS uuid) > :after
    ) AS audience
    ORDER BY pid
    LIMIT :n
    """
)
_NIL = uuid.UUID(int=0)


def _in_app_text(event: Event) -> str:
    where = "线上参加" if event.location is None else f"地点：{event.location}"
    return (
        f"诚邀您参加「{event.title}」，时间：{local_text(event.starts_at)}，{where}。"
        "名额有限，请在“活动”中查看详情并报名。"
    )


def _sms_text() -> str:
    # Deliberately generic: an SMS shows on a lock screen, and an event title may name a condition.
    brand = get_settings().brand_name
    return f"【{brand}】您收到一场健康活动邀请，请打开{brand}App查看详情并报名。回复TD退订"


async def invite_batch(run_id: uuid.UUID, *, batch_size: int = DEFAULT_BATCH_SIZE) -> tuple[int, bool]:
    """One batch in one transaction: (invitations created, whether the run is finished)."""
    async with unit_of_work() as session:
        return await _invite_batch(session, run_id, batch_size)


async def _finish(session: AsyncSession, run_id: uuid.UUID) -> None:
    await session.execute(
        update(InvitationRun).where(InvitationRun.id == run_id).values(status=RunStatus.DONE, finished_at=clock.now())
    )


async def _audience_page(
    session: AsyncSession, run_id: uuid.UUID, audience: dict[str, Any], after: uuid.UUID, n: int, now: datetime
) -> list[uuid.UUID]:
    ids = set(await session.scalars(_AUDIENCE_PAGE, {"run_id": run_id, "after": after, "n": n}))
    segment = audience.get("segment")
    if segment:
        page = (
            segment_select(SegmentCriteria.from_json(segment["criteria"]), kind=MessageClass.MARKETING, now=now)
            .where(Patient.id > after)
            .order_by(Patient.id)
            .limit(n)
        )
        ids.update(r.patient_id for r in await session.execute(page))
    # Both parts are the first n ids after the cursor of their source, so the first n of the union
    # are the first n of the audience.
    return sorted(ids)[:n]


async def _invite_batch(session: AsyncSession, run_id: uuid.UUID, batch_size: int) -> tuple[int, bool]:
    run = (
        await session.execute(
            select(InvitationRun.event_id, InvitationRun.status, InvitationRun.cursor, InvitationRun.audience)
            .where(InvitationRun.id == run_id)
            .with_for_update()
        )
    ).one_or_none()
    if run is None or run.status == RunStatus.DONE:
        return 0, True
    event = await session.get(Event, run.event_id)
    if event is None or event.status == EventStatus.CANCELLED or clock.now() >= event.ends_at:
        await _finish(session, run_id)  # nothing more to invite to
        return 0, True
    now = clock.now()
    ids = await _audience_page(session, run_id, run.audience, run.cursor or _NIL, batch_size, now)
    if not ids:
        await _finish(session, run_id)
        return 0, True
    await outreach.lock(session, ids)  # the cap is shared with campaign senders running meanwhile
    policy = await outreach.recipients(session, ids, now)  # a patient deleted meanwhile is left out
    phones = {pid: p.phone for pid, p in (await patients_by_ids(session, list(policy))).items()}
    plans: dict[uuid.UUID, dict[str, datetime | None]] = {}
    rows: list[dict[str, Any]] = []
    suppressed = 0
    for pid in ids:
        r = policy.get(pid)
        if r is None:
            continue
        admitted = outreach.admit(r, MessageClass.MARKETING)
        if admitted.reason == outreach.SkipReason.SUPPRESSED:
            suppressed += 1
            continue
        plan: dict[str, datetime | None] = {}
        skipped: dict[str, str] = {}
        for channel in (ChannelName.IN_APP, ChannelName.SMS):
            decision = outreach.decide(r, MessageClass.MARKETING, channel, now)
            if decision.verdict == Verdict.SKIP:
                skipped[channel.value] = str(decision.reason)
            else:
                plan[channel.value] = decision.until
        plans[pid] = plan
        rows.append(
            {
                "id": new_id(),
                "event_id": event.id,
                "patient_id": pid,
                "run_id": run_id,
                "channels": list(plan),
                "skipped": skipped,
                "created_at": now,
            }
        )
    inserted: set[uuid.UUID] = set()
    if rows:
        inserted = set(
            await session.scalars(
                insert(EventInvitation)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["event_id", "patient_id"])
                .returning(EventInvitation.patient_id)
            )
        )
    in_app, sms = _in_app_text(event), _sms_text()
    sends = outreach.Sends()
    for pid in sorted(inserted):
        plan = plans[pid]
        if ChannelName.IN_APP.value in plan:
            message = Message(ChannelName.IN_APP, str(pid), in_app, subject="活动邀请")
            await send_later(session, message, not_before=plan[ChannelName.IN_APP.value])
        if ChannelName.SMS.value in plan:
            await send_later(
                session, Message(ChannelName.SMS, phones[pid], sms), not_before=plan[ChannelName.SMS.value]
            )
        if plan:  # one invitation is one message for the cap, on however many channels
            sends.add(policy[pid], MessageClass.MARKETING, next(iter(plan)), f"invitation:{event.id}:{pid}", now)
    await sends.flush(session)
    done = len(ids) < batch_size
    await session.execute(
        update(InvitationRun)
        .where(InvitationRun.id == run_id)
        .values(
            cursor=ids[-1],
            invited=InvitationRun.invited + len(inserted),
            suppressed=InvitationRun.suppressed + suppressed,
            status=RunStatus.DONE if done else RunStatus.RUNNING,
            finished_at=now if done else None,
        )
    )
    return len(inserted), done


async def run_invitation(run_id: uuid.UUID, *, batch_size: int = DEFAULT_BATCH_SIZE) -> int:
    """Job `community.invite_run`: fan the run out batch by batch until the audience is exhausted.
    Resumable: it starts from the run's cursor, so a retry after a crash continues where it stopped."""
    total = 0
    while True:
        created, done = await invite_batch(run_id, batch_size=batch_size)
        total += created
        if done:
            return total


async def sweep_runs(*, stale_after: timedelta = timedelta(minutes=2), limit: int = 100) -> int:
    """Cron `community.invite_sweep`: enqueue unfinished runs again (a no-op while their job is still
    queued or running, since the job id is the run id)."""
    cutoff = clock.now() - stale_after
    async with unit_of_work() as session:
        run_ids = list(
            await session.scalars(
                select(InvitationRun.id)
                .where(InvitationRun.status != RunStatus.DONE, InvitationRun.created_at <= cutoff)
                .order_by(InvitationRun.created_at)
                .limit(limit)
            )
        )
    enqueued = 0
    for run_id in run_ids:
        if await enqueue_run(run_id):
            enqueued += 1
    return enqueued


async def runs_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, InvitationRun]:
    return {r.id: r for r in await session.scalars(select(InvitationRun).where(InvitationRun.id.in_(ids)))}


async def invitation_count(session: AsyncSession, event_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(EventInvitation).where(EventInvitation.event_id == event_id)
        )
        or 0
    )
