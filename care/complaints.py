"""Complaint tickets: opened by a poor survey (score 0-6 or a complaint word) or filed by the patient.

Every ticket has a 24-hour response clock (`due_at`). It is assigned at once to the least busy
clinic staff / health manager of the visit's site (or stays unassigned, for the desk to pick up);
staff assign, respond (the reply reaches the patient in-app, the first response time is kept),
resolve and close. Every step lands in `care_complaint_actions`. The cron `care.escalate` marks
tickets without a first response past their clock as escalated (once: the UPDATE only touches rows
not yet escalated) and alerts the on-duty care team through the outbox.

Status: open -> in_progress (assigned) -> responded -> resolved -> closed; a response may come
straight from open; resolve and close are allowed from any earlier state; closed is final.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from care import errors, notify
from care.errors import CareCode as Code
from care.models import Complaint, ComplaintAction, ComplaintSource, ComplaintStatus, Survey
from community import moderation
from core import clock, jobs
from core.channels import ChannelName, Message, send_later
from core.db import unit_of_work
from core.errors import FieldIssue, PermissionDenied, ValidationFailed
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from oncall import service as oncall
from oncall.models import PageKind
from privacy import reads
from privacy.models import PhiKind

ESCALATE_DUE = jobs.register("care.escalate", "Escalate complaints without a response after 24 hours")

RESPONSE_CLOCK = timedelta(hours=24)
DETRACTOR_MAX = 6  # NPS: 0-6 detractors, 7-8 passives, 9-10 promoters
DESK_ROLES = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)  # admins hold every role
ASSIGNABLE_ROLES = ("clinic_staff", "health_manager", "admin")
ON_DUTY_RECIPIENT = "care-team"  # the on-duty care-team inbox (as community's emergency alerts)
BODY_MAX = 1000
FINAL = (ComplaintStatus.CLOSED,)


def _actor_kind(actor: Actor) -> str:
    return actor.kind.value


def _record(
    session: AsyncSession,
    complaint: Complaint,
    action: str,
    actor: Actor | None,
    from_status: str | None,
    *,
    note: str | None = None,
) -> None:
    session.add(
        ComplaintAction(
            id=new_id(),
            complaint_id=complaint.id,
            action=action,
            actor_kind=_actor_kind(actor) if actor else "system",
            actor_id=actor.id if actor else None,
            from_status=from_status,
            to_status=complaint.status,
            assignee_id=complaint.assignee_id,
            note=note,
            created_at=clock.now(),
        )
    )


# Read-only look at the patients domain: active staff at the site with a desk role, least open
# tickets first (ties by id, so the choice is stable).
_PICK_ASSIGNEE = text(
    """
    SELECT s.id FROM staff s
    WHERE s.active AND s.site_id = :site
      AND EXISTS (SELECT 1 FROM staff_roles r WHERE r.staff_id = s.id AND r.role IN ('clinic_staff', 'health_manager'))
    ORDER BY (SELECT count(*) FROM care_complaints c
              WHERE c.assignee_id = s.id AND c.status NOT IN ('resolved', 'closed')), s.id
    LIMIT 1
    """
)


async def _auto_assignee(session: AsyncSession, site_id: uuid.UUID | None) -> uuid.UUID | None:
    if site_id is None:
        return None
    found: uuid.UUID | None = await session.scalar(_PICK_ASSIGNEE, {"site": site_id})
    return found


async def _open(
    session: AsyncSession,
    *,
    patient_id: uuid.UUID,
    source: ComplaintSource,
    body: str,
    reasons: list[str],
    actor: Actor | None,
    survey: Survey | None = None,
    visit_id: uuid.UUID | None = None,
    site_id: uuid.UUID | None = None,
) -> Complaint:
    now = clock.now()
    assignee = await _auto_assignee(session, site_id)
    complaint = Complaint(
        id=new_id(),
        patient_id=patient_id,
        source=source,
        survey_id=survey.id if survey else None,
        visit_id=visit_id,
        site_id=site_id,
        score=survey.score if survey else None,
        reasons=reasons,
        body=body,
        status=ComplaintStatus.IN_PROGRESS if assignee else ComplaintStatus.OPEN,
        assignee_id=assignee,
        created_at=now,
        updated_at=now,
        due_at=now + RESPONSE_CLOCK,
    )
    session.add(complaint)
    await session.flush()
    _record(session, complaint, "opened", actor, None, note=",".join(reasons))
    return complaint


async def open_from_survey(session: AsyncSession, survey: Survey, found_words: list[str]) -> Complaint:
    reasons = []
    if survey.score is not None and survey.score <= DETRACTOR_MAX:
        reasons.append("low_score")
    reasons += [f"word:{w}" for w in found_words]
    body = survey.comment or f"满意度调查评分{survey.score}分（未填写意见）"
    return await _open(
        session,
        patient_id=survey.patient_id,
        source=ComplaintSource.SURVEY,
        body=body,
        reasons=reasons,
        actor=None,
        survey=survey,
        visit_id=survey.visit_id,
        site_id=survey.site_id,
    )


# Read-only look at loyalty's visits: the patient's own visit gives the ticket its site.
_VISIT_OF = text("SELECT site_id FROM visits WHERE id = :id AND patient_id = :patient")


async def file(session: AsyncSession, actor: Actor, *, body: str, visit_id: uuid.UUID | None) -> Complaint:
    """A patient files a complaint directly (about a visit of theirs, or in general)."""
    patient_id = actor.require_patient()
    cleaned = body.strip()
    issues = []
    if not 5 <= len(cleaned) <= BODY_MAX:
        issues.append(FieldIssue(code=Code.COMPLAINT_BODY_LENGTH, message=f"投诉内容需为5到{BODY_MAX}字", field="body"))
    site_id = None
    if visit_id is not None:
        site_id = await session.scalar(_VISIT_OF, {"id": visit_id, "patient": patient_id})
        if site_id is None:
            issues.append(FieldIssue(code=Code.VISIT_NOT_FOUND, message="就诊记录不存在", field="visitId"))
    # Crisis first: an emergency word brings help and a page even when the complaint itself is refused.
    crisis = await moderation.is_crisis(session, actor, cleaned)
    if issues:
        if crisis:
            await moderation.help_in_crisis(
                session, actor, where="投诉", ref=f"complaint:{patient_id}:{cleaned}", kept=False
            )
        refusal = ValidationFailed(issues)
        refusal.keep_changes = crisis
        raise refusal
    complaint = await _open(
        session,
        patient_id=patient_id,
        source=ComplaintSource.PATIENT,
        body=cleaned,
        reasons=["filed"],
        actor=actor,
        visit_id=visit_id,
        site_id=site_id,
    )
    if crisis:
        await moderation.help_in_crisis(session, actor, where="投诉", ref=f"complaint:{complaint.id}", kept=True)
    return complaint


# --- staff steps ------------------------------------------------------------------------------


async def _locked(session: AsyncSession, actor: Actor, complaint_id: uuid.UUID) -> Complaint:
    actor.require_role(*DESK_ROLES)
    complaint = await session.get(Complaint, complaint_id, with_for_update=True)
    if complaint is None:
        raise errors.ComplaintNotFound(field="complaintId")
    if complaint.status in FINAL:
        raise errors.ComplaintInvalidTransition(field="complaintId")
    await record_reads(session, actor, [complaint])  # the desk step answers with the ticket
    return complaint


_ASSIGNEE_OK = text(
    """
    SELECT s.site_id, array_agg(r.role) AS roles FROM staff s JOIN staff_roles r ON r.staff_id = s.id
    WHERE s.id = :id AND s.active GROUP BY s.id
    """
)


async def assign(session: AsyncSession, actor: Actor, complaint_id: uuid.UUID, staff_id: uuid.UUID) -> Complaint:
    complaint = await _locked(session, actor, complaint_id)
    row = (await session.execute(_ASSIGNEE_OK, {"id": staff_id})).first()
    roles = set(row.roles) if row else set()
    if row is None or not roles & set(ASSIGNABLE_ROLES):
        raise errors.AssigneeInvalid(field="staffId")
    # Desk staff of another site cannot take the ticket; admins (and staff without a site) can.
    if "admin" not in roles and complaint.site_id and row.site_id and row.site_id != complaint.site_id:
        raise errors.AssigneeInvalid(field="staffId")
    before = complaint.status
    complaint.assignee_id = staff_id
    if complaint.status == ComplaintStatus.OPEN:
        complaint.status = ComplaintStatus.IN_PROGRESS
    complaint.updated_at = clock.now()
    _record(session, complaint, "assigned", actor, before)
    return complaint


async def respond(session: AsyncSession, actor: Actor, complaint_id: uuid.UUID, message: str) -> Complaint:
    cleaned = message.strip()
    if not 2 <= len(cleaned) <= BODY_MAX:
        raise ValidationFailed(
            [FieldIssue(code=Code.COMPLAINT_RESPONSE_LENGTH, message=f"回复内容需为2到{BODY_MAX}字", field="message")]
        )
    complaint = await _locked(session, actor, complaint_id)
    if complaint.status == ComplaintStatus.RESOLVED:
        raise errors.ComplaintInvalidTransition(field="complaintId")
    now = clock.now()
    before = complaint.status
    complaint.status = ComplaintStatus.RESPONDED
    complaint.responded_at = now
    if complaint.first_response_at is None:
        complaint.first_response_at = now
    if complaint.assignee_id is None and actor.is_staff:
        complaint.assignee_id = actor.id
    complaint.updated_at = now
    action_id = new_id()
    session.add(
        ComplaintAction(
            id=action_id,
            complaint_id=complaint.id,
            action="responded",
            actor_kind=_actor_kind(actor),
            actor_id=actor.id,
            from_status=before,
            to_status=complaint.status,
            assignee_id=complaint.assignee_id,
            note=cleaned,
            created_at=now,
        )
    )
    if complaint.patient_id in await notify.service_consenting(session, [complaint.patient_id]):
        await notify.send_in_app(
            session,
            complaint.patient_id,
            subject="您的投诉已有回复",
            body=cleaned,
            link=f"/care/complaints/{complaint.id}",
            source_ref=f"complaint_response:{action_id}",
        )
    return complaint


async def resolve(session: AsyncSession, actor: Actor, complaint_id: uuid.UUID, note: str | None) -> Complaint:
    complaint = await _locked(session, actor, complaint_id)
    if complaint.status == ComplaintStatus.RESOLVED:
        raise errors.ComplaintInvalidTransition(field="complaintId")
    before = complaint.status
    complaint.status = ComplaintStatus.RESOLVED
    complaint.resolved_at = complaint.updated_at = clock.now()
    _record(session, complaint, "resolved", actor, before, note=(note or "").strip() or None)
    return complaint


async def close(session: AsyncSession, actor: Actor, complaint_id: uuid.UUID, note: str | None) -> Complaint:
    complaint = await _locked(session, actor, complaint_id)
    before = complaint.status
    complaint.status = ComplaintStatus.CLOSED
    complaint.closed_at = complaint.updated_at = clock.now()
    _record(session, complaint, "closed", actor, before, note=(note or "").strip() or None)
    return complaint


# --- escalation -------------------------------------------------------------------------------

_ESCALATE = text(
    """
    UPDATE care_complaints SET escalated_at = :now, updated_at = :now
    WHERE id IN (
        SELECT id FROM care_complaints
        WHERE first_response_at IS NULL AND escalated_at IS NULL AND due_at <= :now
          AND status NOT IN ('resolved', 'closed')
        ORDER BY due_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, status, assignee_id, site_id, due_at, body
    """
)


async def escalate_batch(session: AsyncSession, *, limit: int = 500) -> int:
    """Overdue tickets escalated once each; one alert per ticket to the on-duty care team."""
    now = clock.now()
    rows = (await session.execute(_ESCALATE, {"now": now, "limit": limit})).all()
    for row in rows:
        session.add(
            ComplaintAction(
                id=new_id(),
                complaint_id=row.id,
                action="escalated",
                actor_kind="system",
                actor_id=None,
                from_status=row.status,
                to_status=row.status,
                assignee_id=row.assignee_id,
                note="超过24小时未回复，已升级",
                created_at=now,
            )
        )
        who = "已指派" if row.assignee_id else "未指派"
        alert_text = f"投诉工单{str(row.id)[:8]}（{who}）超过24小时未回复，请值班人员立即处理。"
        await send_later(
            session,
            Message(ChannelName.IN_APP, ON_DUTY_RECIPIENT, alert_text, subject="投诉超时升级提醒"),
            sensitive=True,
        )
        # Page the clinic desk on duty at the ticket's site (once per ticket: the page is unique).
        await oncall.page(
            session,
            kind=PageKind.COMPLAINT_OVERDUE,
            ref=str(row.id),
            site_id=row.site_id,
            role=Role.CLINIC_STAFF,
            subject="投诉超时升级提醒",
            body=alert_text,
            sms_text="您有一条投诉超时提醒，请立即登录工作台处理",
        )
    return len(rows)


async def escalate_due(*, batch_size: int = 500) -> int:
    """Cron `care.escalate`."""
    total = 0
    while True:
        async with unit_of_work() as session:
            done = await escalate_batch(session, limit=batch_size)
        total += done
        if done < batch_size:
            return total


# --- reading ----------------------------------------------------------------------------------


def can_read(actor: Actor, complaint: Complaint) -> bool:
    return (actor.is_patient and actor.id == complaint.patient_id) or actor.has_role(*DESK_ROLES)


def _kinds(complaint: Complaint) -> tuple[PhiKind, ...]:
    # A ticket opened from a survey shows its score and comment: the survey answers are read too.
    if complaint.source == ComplaintSource.SURVEY:
        return (PhiKind.COMPLAINTS, PhiKind.SURVEY_ANSWERS)
    return (PhiKind.COMPLAINTS,)


async def record_reads(session: AsyncSession, actor: Actor, rows: Sequence[Complaint]) -> None:
    """A staff member's read of these tickets, on the PHI read record (privacy.reads)."""
    for kind in (PhiKind.COMPLAINTS, PhiKind.SURVEY_ANSWERS):
        await reads.record_reads(session, actor, kind, [c.patient_id for c in rows if kind in _kinds(c)])


def shows(actor: Actor, complaint: Complaint) -> bool:
    """`can_read` for a ticket about to be shown (by id); a staff read is recorded."""
    allowed = can_read(actor, complaint)
    for kind in _kinds(complaint):
        reads.noted(actor, kind, complaint.patient_id, allowed)
    return allowed


async def complaints_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Complaint]:
    return {c.id: c for c in await session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}


async def actions_by_complaint(
    session: AsyncSession, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[ComplaintAction]]:
    out: dict[uuid.UUID, list[ComplaintAction]] = {}
    rows = await session.scalars(
        select(ComplaintAction)
        .where(ComplaintAction.complaint_id.in_(ids))
        .order_by(ComplaintAction.created_at, ComplaintAction.id)
    )
    for action in rows:
        out.setdefault(action.complaint_id, []).append(action)
    return out


async def my_complaints(
    session: AsyncSession, actor: Actor, *, first: int | None, after: str | None
) -> Page[Complaint]:
    patient_id = actor.require_patient()
    stmt = select(Complaint).where(Complaint.patient_id == patient_id)
    return await keyset_page(
        session, stmt, sort=Complaint.created_at, id_=Complaint.id, first=first, after=after, descending=True
    )


async def staff_page(
    session: AsyncSession,
    actor: Actor,
    *,
    status: str | None,
    mine: bool,
    overdue: bool,
    first: int | None,
    after: str | None,
) -> Page[Complaint]:
    """The desk's queue: soonest due first."""
    if not actor.has_role(*DESK_ROLES):
        actor.require_authenticated()
        raise PermissionDenied()
    stmt = select(Complaint)
    if status:
        stmt = stmt.where(Complaint.status == status)
    if mine:
        stmt = stmt.where(Complaint.assignee_id == actor.id)
    if overdue:
        stmt = stmt.where(Complaint.first_response_at.is_(None), Complaint.due_at <= clock.now())
    page = await keyset_page(session, stmt, sort=Complaint.due_at, id_=Complaint.id, first=first, after=after)
    await record_reads(session, actor, page.items)
    return page
