"""Survey results for the care desk: the satisfaction survey's answers over a period, per question,
and the answered surveys themselves.

Who: the staff who may read single surveys (surveys.READER_ROLES: the clinic desk and the health
managers; admins hold every role). The summary is counts only; the list of responses hands out
patients' answers, so each page is recorded in the PHI read audit (privacy/reads.py) as survey answers
of the listed patients. A period is local calendar days (Asia/Shanghai), both inclusive, on the
answer's time: the partial index on answered surveys serves every statement here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from care.complaints import DETRACTOR_MAX
from care.errors import CareCode as Code
from care.models import Survey, SurveyStatus
from care.surveys import PROMOTER_MIN, nps, require_reader
from core.errors import DomainError, Validator
from core.identity import Actor
from core.pagination import Page, keyset_page
from core.settings import get_settings
from privacy import reads
from privacy.models import PhiKind

TITLE = "就诊满意度调查"
SCORE_QUESTION = "请为本次就诊体验打分（0-10分）"
COMMENT_QUESTION = "意见与建议（选填）"
SCORES = range(0, 11)
MAX_RANGE_DAYS = 800


@dataclass(frozen=True)
class Period:
    """Local calendar days [since, until], both inclusive; either end open."""

    since: date | None = None
    until: date | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        tz = ZoneInfo(get_settings().default_timezone)
        start = datetime.combine(self.since, time(), tz) if self.since else None
        end = datetime.combine(self.until + timedelta(days=1), time(), tz) if self.until else None
        return start, end


@dataclass(frozen=True)
class Option:
    label: str
    count: int


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    answered: int
    options: list[Option] = field(default_factory=list)  # empty for free text


@dataclass(frozen=True)
class Results:
    title: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    questions: list[Question]

    @property
    def nps(self) -> float:
        return nps(self.promoters, self.detractors, self.responses)


def _check(period: Period, score_min: int | None = None, score_max: int | None = None) -> None:
    v = Validator()
    if period.since and period.until:
        v.check(period.since <= period.until, "until", Code.SURVEY_RANGE_INVALID, "结束日期不能早于开始日期")
        v.check(
            (period.until - period.since).days <= MAX_RANGE_DAYS,
            "until",
            Code.SURVEY_RANGE_INVALID,
            f"查询范围不能超过{MAX_RANGE_DAYS}天",
        )
    for name, value in (("minScore", score_min), ("maxScore", score_max)):
        v.check(value is None or 0 <= value <= 10, name, Code.SURVEY_SCORE_RANGE, "评分需为0到10的整数")
    if score_min is not None and score_max is not None:
        v.check(score_min <= score_max, "maxScore", Code.SURVEY_RANGE_INVALID, "评分上限不能低于下限")
    if v.issues:
        # A query has no payload: the first problem's own code is the GraphQL error's code.
        first = v.issues[0]
        raise DomainError(first.message, field=first.field, code=first.code)


def _answered(period: Period, site_id: uuid.UUID | None) -> list[ColumnElement[bool]]:
    start, end = period.bounds()
    where = [Survey.status == SurveyStatus.ANSWERED]
    if start is not None:
        where.append(Survey.answered_at >= start)
    if end is not None:
        where.append(Survey.answered_at < end)
    if site_id is not None:
        where.append(Survey.site_id == site_id)
    return where


async def results(session: AsyncSession, actor: Actor, *, period: Period, site_id: uuid.UUID | None) -> Results:
    """The answers of the period per question: scores 0-10 with their counts, comments given."""
    require_reader(actor)
    _check(period)
    rows = (
        await session.execute(
            select(Survey.score, func.count(), func.count(Survey.comment))
            .where(*_answered(period, site_id))
            .group_by(Survey.score)
        )
    ).all()
    by_score = {int(score): int(n) for score, n, _ in rows if score is not None}
    commented = sum(int(c) for _, _, c in rows)
    responses = sum(int(n) for _, n, _ in rows)
    return Results(
        title=TITLE,
        responses=responses,
        promoters=sum(n for s, n in by_score.items() if s >= PROMOTER_MIN),
        passives=sum(n for s, n in by_score.items() if DETRACTOR_MAX < s < PROMOTER_MIN),
        detractors=sum(n for s, n in by_score.items() if s <= DETRACTOR_MAX),
        questions=[
            Question(
                "score",
                SCORE_QUESTION,
                sum(by_score.values()),
                [Option(str(s), by_score.get(s, 0)) for s in SCORES],
            ),
            Question("comment", COMMENT_QUESTION, commented),
        ],
    )


async def responses_page(
    session: AsyncSession,
    actor: Actor,
    *,
    period: Period,
    site_id: uuid.UUID | None,
    score_min: int | None = None,
    score_max: int | None = None,
    with_comment: bool = False,
    first: int | None,
    after: str | None,
) -> Page[Survey]:
    """Answered surveys, newest answer first; each listed patient's answers are a recorded read."""
    require_reader(actor)
    _check(period, score_min, score_max)
    stmt = select(Survey).where(*_answered(period, site_id))
    if score_min is not None:
        stmt = stmt.where(Survey.score >= score_min)
    if score_max is not None:
        stmt = stmt.where(Survey.score <= score_max)
    if with_comment:
        stmt = stmt.where(Survey.comment.is_not(None))
    page = await keyset_page(
        session, stmt, sort=Survey.answered_at, id_=Survey.id, first=first, after=after, descending=True
    )
    await reads.record_reads(session, actor, PhiKind.SURVEY_ANSWERS, [s.patient_id for s in page.items])
    return page
