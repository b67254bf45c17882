"""Satisfaction surveys (NPS 0-10 + comment), one per completed visit, sent one day after it.

The cron `care.surveys` works set-based and in batches (one transaction each):
  1. surveys of visits refunded since are cancelled, unanswered surveys past their date expire;
  2. INSERT ... SELECT from completed visits visited at least a day ago (and not longer ago than a
     survey lives) that have no survey yet, ON CONFLICT (visit_id) DO NOTHING RETURNING the new
     rows, so two overlapping runs create and send each survey exactly once;
  3. the new surveys go to the in-app inbox (messaging, idempotent per `survey:{id}`) when the
     patient consents to in-app service messages; otherwise they stay `unsent` (still answerable
     in the app, never pushed).
Answering is for the patient the survey belongs to only, once; it awards `survey_completed` points
(idempotency key per survey) and a score of 0-6 or a complaint word opens a complaint ticket.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from care import complaints, errors, notify, words
from care.errors import CareCode as Code
from care.models import OPEN_SURVEY, Complaint, Survey, SurveyStatus
from core import clock, jobs
from core.db import unit_of_work
from core.errors import FieldIssue, PermissionDenied, ValidationFailed
from core.identity import Actor, Role
from core.pagination import Page, keyset_page
from core.settings import get_settings
from loyalty import earning
from loyalty import errors as loyalty_errors
from privacy import reads
from privacy.models import PhiKind

SURVEYS_DUE = jobs.register("care.surveys", "Send satisfaction surveys one day after completed visits; expire old ones")

SEND_AFTER = timedelta(days=1)
EXPIRY_DAYS = 14
BATCH_SIZE = 500
COMMENT_MAX = 500
RULE = "survey_completed"
# Who may read individual surveys besides their patient: the care desk (admins hold every role).
READER_ROLES = (Role.CLINIC_STAFF, Role.HEALTH_MANAGER)

_CREATE = text(
    """
    WITH due AS (
        SELECT v.id, v.patient_id, v.site_id, v.visited_at
        FROM visits v
        WHERE v.status = 'completed'
          AND v.visited_at <= :send_before AND v.visited_at > :oldest
          AND NOT EXISTS (SELECT 1 FROM care_surveys s WHERE s.visit_id = v.id)
        ORDER BY v.visited_at, v.id
        LIMIT :limit
    ), created AS (
        INSERT INTO care_surveys (id, visit_id, patient_id, site_id, visited_at, status, created_at, expires_at,
                                  points_awarded)
        SELECT gen_random_uuid(), due.id, due.patient_id, due.site_id, due.visited_at, 'unsent', :now, :expires, 0
        FROM due
        ON CONFLICT (visit_id) DO NOTHING
        RETURNING id, patient_id, site_id, visited_at
    )
    SELECT created.id, created.patient_id, created.visited_at, sites.name AS site_name,
           (SELECT count(*) FROM due) AS picked
    FROM created LEFT JOIN sites ON sites.id = created.site_id
    """
)
# Open surveys only, through their partial index (answered ones pile up by the million).
_CANCEL_REFUNDED = text(
    """
    UPDATE care_surveys s SET status = 'cancelled'
    FROM visits v
    WHERE v.id = s.visit_id AND s.status IN ('sent', 'unsent') AND s.expires_at > :now AND v.status <> 'completed'
    """
)
_EXPIRE = text("UPDATE care_surveys SET status = 'expired' WHERE status IN ('sent', 'unsent') AND expires_at <= :now")


@dataclass(frozen=True)
class RunResult:
    created: int
    sent: int
    expired: int
    cancelled: int


async def create_batch(session: AsyncSession, *, limit: int = BATCH_SIZE) -> tuple[int, int, int]:
    """One batch: (visits picked, surveys created, surveys sent)."""
    now = clock.now()
    rows = (
        await session.execute(
            _CREATE,
            {
                "send_before": now - SEND_AFTER,
                "oldest": now - timedelta(days=EXPIRY_DAYS),
                "limit": limit,
                "now": now,
                "expires": now + timedelta(days=EXPIRY_DAYS),
            },
        )
    ).all()
    if not rows:
        return 0, 0, 0
    consenting = await notify.service_consenting(session, [r.patient_id for r in rows])
    tz = ZoneInfo(get_settings().default_timezone)
    sent_ids = []
    for row in rows:
        if row.patient_id not in consenting:
            continue
        day = row.visited_at.astimezone(tz)
        where = f"在{row.site_name}" if row.site_name else ""
        delivered = await notify.send_in_app(
            session,
            row.patient_id,
            subject="就诊满意度调查",
            body=(
                f"感谢您于{day.month}月{day.day}日{where}就诊。请花一分钟为本次就诊体验打分（0-10分），"
                f"完成即可获得积分。调查{EXPIRY_DAYS}天内有效。"
            ),
            link=f"/care/surveys/{row.id}",
            source_ref=f"survey:{row.id}",
        )
        if delivered:
            sent_ids.append(row.id)
    if sent_ids:
        await session.execute(
            text("UPDATE care_surveys SET status = 'sent', sent_at = :now WHERE id = ANY(:ids)"),
            {"now": now, "ids": sent_ids},
        )
    return int(rows[0].picked), len(rows), len(sent_ids)


async def run_due(*, batch_size: int = BATCH_SIZE, max_batches: int | None = None) -> RunResult:
    """Cron `care.surveys`. Safe to run twice at once and to kill midway: batches commit whole."""
    async with unit_of_work() as session:
        cancelled = (await session.execute(_CANCEL_REFUNDED, {"now": clock.now()})).rowcount  # type: ignore[attr-defined]
        expired = (await session.execute(_EXPIRE, {"now": clock.now()})).rowcount  # type: ignore[attr-defined]
    created = sent = batches = 0
    while max_batches is None or batches < max_batches:
        async with unit_of_work() as session:
            picked, made, delivered = await create_batch(session, limit=batch_size)
        created += made
        sent += delivered
        batches += 1
        if picked < batch_size:
            break
    return RunResult(created=created, sent=sent, expired=int(expired), cancelled=int(cancelled))


# --- answering --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    survey: Survey
    points: int
    complaint: Complaint | None


def _validate(score: int, comment: str | None) -> str | None:
    issues = []
    if not 0 <= score <= 10:
        issues.append(FieldIssue(code=Code.SURVEY_SCORE_RANGE, message="评分需为0到10的整数", field="score"))
    cleaned = (comment or "").strip() or None
    if cleaned is not None and len(cleaned) > COMMENT_MAX:
        issues.append(
            FieldIssue(code=Code.SURVEY_COMMENT_TOO_LONG, message=f"意见不能超过{COMMENT_MAX}字", field="comment")
        )
    if issues:
        raise ValidationFailed(issues)
    return cleaned


async def answer(session: AsyncSession, actor: Actor, survey_id: uuid.UUID, score: int, comment: str | None) -> Answer:
    patient_id = actor.require_patient()
    cleaned = _validate(score, comment)
    survey = await session.get(Survey, survey_id, with_for_update=True)
    # Another patient's survey does not exist for this one: same answer as a wrong id.
    if survey is None or survey.patient_id != patient_id:
        raise errors.SurveyNotFound(field="surveyId")
    if survey.status == SurveyStatus.ANSWERED:
        raise errors.SurveyAlreadyAnswered(field="surveyId")
    now = clock.now()
    if survey.status == SurveyStatus.EXPIRED or (survey.status in OPEN_SURVEY and survey.expires_at <= now):
        raise errors.SurveyExpired(field="surveyId")
    if survey.status not in OPEN_SURVEY:
        raise errors.SurveyClosed(field="surveyId")

    survey.status = SurveyStatus.ANSWERED
    survey.score = score
    survey.comment = cleaned
    survey.answered_at = now
    try:
        award = await earning.award(session, patient_id, RULE, f"survey:{survey.id}", f"{RULE}:{survey.id}")
        survey.points_awarded = award.points
    except loyalty_errors.RuleNotFound:  # the rule switched off by an admin: no points, still an answer
        survey.points_awarded = 0
    found = words.matches(cleaned, await words.active_words(session))
    complaint = None
    if score <= complaints.DETRACTOR_MAX or found:
        complaint = await complaints.open_from_survey(session, survey, found)
    await session.flush()
    return Answer(survey=survey, points=survey.points_awarded, complaint=complaint)


# --- reading ----------------------------------------------------------------------------------


def can_read(actor: Actor, survey: Survey) -> bool:
    return (actor.is_patient and actor.id == survey.patient_id) or actor.has_role(*READER_ROLES)


def shows(actor: Actor, survey: Survey) -> bool:
    """`can_read` for a survey about to be shown (by id); a staff read of the answers is recorded."""
    return reads.noted(actor, PhiKind.SURVEY_ANSWERS, survey.patient_id, can_read(actor, survey))


async def surveys_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Survey]:
    return {s.id: s for s in await session.scalars(select(Survey).where(Survey.id.in_(ids)))}


async def get_survey(session: AsyncSession, actor: Actor, survey_id: uuid.UUID) -> Survey | None:
    survey = await session.get(Survey, survey_id)
    if survey is None or not can_read(actor, survey):
        return None
    await reads.record_reads(session, actor, PhiKind.SURVEY_ANSWERS, [survey.patient_id])
    return survey


async def my_surveys(
    session: AsyncSession, actor: Actor, *, pending_only: bool, first: int | None, after: str | None
) -> Page[Survey]:
    patient_id = actor.require_patient()
    stmt = select(Survey).where(Survey.patient_id == patient_id)
    if pending_only:
        stmt = stmt.where(Survey.status.in_(list(OPEN_SURVEY)), Survey.expires_at > clock.now())
    return await keyset_page(
        session, stmt, sort=Survey.created_at, id_=Survey.id, first=first, after=after, descending=True
    )


# NPS bands: 0-6 detractors (complaints.DETRACTOR_MAX), 7-8 passives, 9-10 promoters.
PROMOTER_MIN = 9


def nps(promoters: int, detractors: int, answers: int) -> float:
    """100 x (promoters - detractors) / answers, one decimal; 0 without answers. The one formula of the
    care desk's results and the dashboards."""
    return round(100 * (promoters - detractors) / answers, 1) if answers else 0.0


def require_reader(actor: Actor) -> None:
    if not actor.has_role(*READER_ROLES):
        actor.require_authenticated()
        raise PermissionDenied()
