"""Marketing dashboards: SQL aggregates over read-only views of the other domains' tables, for staff
with the marketer role (and admins).

Definitions (also in README.md):
- Return-visit rate (复诊率) of a period and site: among the distinct patients with a completed
  visit at that site in the period, the share whose visit had an earlier completed visit (at any
  site) within the `window_days` (default 180) before it. Refunded visits count for neither side.
  The all-sites row counts each patient once per period.
- Lifecycle funnel: patients per stage now (no stage yet = acquisition). Movement: stage changes
  recorded in the period, per (from, to).
- NPS of a month: answered surveys, 100 x (promoters 9-10 - detractors 0-6) / answers.
- Referral conversion of a month (cohort by registration month): referrals converted or rewarded /
  referrals not rejected.
- Campaign conversion: campaigns started in the range, from campaigns.stats (a completed visit
  within the attribution window of a delivered message converts, last touch).
- Community activity of a week: distinct patients who posted, commented or checked in; counts of each.
Periods: `week` starts on Monday, `month` on the 1st, both in the deployment's time zone. The range
is given as local calendar dates, both inclusive; the first and last buckets are clipped to it.

Periods are cut in Python once (the UTC instants where local weeks/months begin) and rows are put in
buckets with `width_bucket(timestamp, boundaries)`: a binary search per row instead of a time-zone
conversion and `date_trunc` per row, which dominated the cost on a million visits.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import stats
from care import surveys
from core.errors import DomainError
from core.identity import Actor, Role
from core.settings import get_settings
from dashboards.errors import DashboardsCode as Code
from loyalty import service as loyalty_service

DEFAULT_WINDOW_DAYS = 180
MAX_RANGE_DAYS = 800
EARLIEST_YEAR, LATEST_YEAR = 1900, 2200
STAGES = ("acquisition", "conversion", "retention", "loyalty", "dormant")


class Period(enum.StrEnum):
    WEEK = "week"
    MONTH = "month"


def require_reader(actor: Actor) -> None:
    """Marketers and admins; patients, doctors and other staff may not read the dashboards."""
    actor.require_role(Role.MARKETER)


@dataclass(frozen=True)
class Buckets:
    """The range [start, end) cut into local periods: bucket i (1-based) begins at bounds[i - 1]."""

    start: datetime
    end: datetime
    bounds: list[datetime]  # UTC-aware instants: the range start, then every later period start
    labels: list[date]  # the local first day of each bucket's period (Monday or the 1st)

    def label(self, bucket: int) -> date:
        return self.labels[bucket - 1]


def _period_start(day: date, period: Period) -> date:
    return day - timedelta(days=day.weekday()) if period is Period.WEEK else day.replace(day=1)


def _next_period(day: date, period: Period) -> date:
    if period is Period.WEEK:
        return day + timedelta(days=7)
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def buckets(since: date, until: date, period: Period) -> Buckets:
    # Plain DomainErrors (one code each): query fields have no payload, so the code must be the error's own.
    if until < since:
        raise DomainError("结束日期不能早于开始日期", field="until", code=Code.DASHBOARD_RANGE)
    if (until - since).days > MAX_RANGE_DAYS:
        raise DomainError(f"查询范围不能超过{MAX_RANGE_DAYS}天", field="until", code=Code.DASHBOARD_RANGE)
    if since.year < EARLIEST_YEAR or until.year > LATEST_YEAR:
        # The look-back window and the period after `until` are computed in Python: near year 1 or
        # 9999 they overflow (the API's Date scalar already keeps to this range; workers may not).
        raise DomainError(f"日期需在{EARLIEST_YEAR}年到{LATEST_YEAR}年之间", field="since", code=Code.DASHBOARD_RANGE)
    tz = ZoneInfo(get_settings().default_timezone)
    first = _period_start(since, period)
    bounds, labels = [datetime.combine(since, time(), tz)], [first]
    day = _next_period(first, period)
    while day <= until:
        bounds.append(datetime.combine(day, time(), tz))
        labels.append(day)
        day = _next_period(day, period)
    return Buckets(bounds[0], datetime.combine(until + timedelta(days=1), time(), tz), bounds, labels)


def _params(b: Buckets, **extra: object) -> dict[str, object]:
    return {"start": b.start, "end": b.end, "bounds": b.bounds, **extra}


async def _roomy(session: AsyncSession) -> None:
    """Hash tables and sorts of a year of visits stay in memory (this transaction only)."""
    await session.execute(text("SET LOCAL work_mem = '64MB'"))


# --- return-visit rate --------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnVisitRow:
    period: date
    site_id: uuid.UUID | None  # None: all sites
    patients: int
    returning: int

    @property
    def rate(self) -> float:
        return round(self.returning / self.patients, 4) if self.patients else 0.0


# lag() over each patient's completed visits gives the previous one (the partial index on
# (patient_id, visited_at) hands them over already sorted); the scan starts `window` days before the
# range so its first visits see their predecessors. Per (bucket, site, patient) and (bucket, patient)
# a patient returns if any of their visits does; GROUPING SETS give both from one pass.
_RETURN_VISITS = text(
    """
    WITH v AS (
        SELECT patient_id, site_id, visited_at,
               lag(visited_at) OVER (PARTITION BY patient_id ORDER BY visited_at) AS prev_at
        FROM visits
        WHERE status = 'completed' AND visited_at >= :scan_start AND visited_at < :end
    ), in_range AS (
        SELECT width_bucket(visited_at, CAST(:bounds AS timestamptz[])) AS bucket, site_id, patient_id,
               prev_at >= visited_at - make_interval(days => :window) AS is_return
        FROM v
        WHERE visited_at >= :start AND (CAST(:site AS uuid) IS NULL OR site_id = CAST(:site AS uuid))
    ), per_patient AS (
        SELECT bucket, site_id, patient_id, GROUPING(site_id) AS all_sites, bool_or(is_return) AS is_return
        FROM in_range
        GROUP BY GROUPING SETS ((bucket, site_id, patient_id), (bucket, patient_id))
    )
    SELECT bucket, CASE WHEN all_sites = 1 THEN NULL ELSE site_id END AS site_id,
           count(*) AS patients, count(*) FILTER (WHERE is_return) AS returned
    FROM per_patient
    GROUP BY bucket, all_sites, 2
    ORDER BY bucket, all_sites DESC, 2
    """
)


async def return_visit_rate(
    session: AsyncSession,
    actor: Actor,
    *,
    period: Period,
    since: date,
    until: date,
    site_id: uuid.UUID | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> list[ReturnVisitRow]:
    require_reader(actor)
    if not 1 <= window_days <= 730:
        raise DomainError("复诊窗口需为1到730天", field="windowDays", code=Code.DASHBOARD_WINDOW)
    b = buckets(since, until, period)
    await _roomy(session)
    rows = await session.execute(
        _RETURN_VISITS,
        _params(b, window=window_days, scan_start=b.start - timedelta(days=window_days), site=site_id),
    )
    return [ReturnVisitRow(b.label(x.bucket), x.site_id, int(x.patients), int(x.returned)) for x in rows]


# --- lifecycle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StageCount:
    stage: str
    patients: int


_FUNNEL = text(
    """
    SELECT coalesce(l.stage, 'acquisition') AS stage, count(*) AS n
    FROM patients p LEFT JOIN patient_lifecycle l ON l.patient_id = p.id
    GROUP BY 1
    """
)


async def lifecycle_funnel(session: AsyncSession, actor: Actor) -> list[StageCount]:
    require_reader(actor)
    counts = {row.stage: int(row.n) for row in await session.execute(_FUNNEL)}
    return [StageCount(s, counts.get(s, 0)) for s in STAGES]


@dataclass(frozen=True)
class StageMove:
    period: date
    from_stage: str | None  # None: the first stage a new patient got
    to_stage: str
    changes: int


_MOVEMENT = text(
    """
    SELECT width_bucket(changed_at, CAST(:bounds AS timestamptz[])) AS bucket, from_stage, to_stage, count(*) AS n
    FROM lifecycle_changes
    WHERE changed_at >= :start AND changed_at < :end
    GROUP BY 1, 2, 3
    ORDER BY 1, 2 NULLS FIRST, 3
    """
)


async def lifecycle_movement(
    session: AsyncSession, actor: Actor, *, period: Period, since: date, until: date
) -> list[StageMove]:
    require_reader(actor)
    b = buckets(since, until, period)
    rows = await session.execute(_MOVEMENT, _params(b))
    return [StageMove(b.label(x.bucket), x.from_stage, x.to_stage, int(x.n)) for x in rows]


# --- NPS --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NpsRow:
    month: date
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def nps(self) -> float:
        return surveys.nps(self.promoters, self.detractors, self.answers)


_NPS = text(
    """
    SELECT width_bucket(answered_at, CAST(:bounds AS timestamptz[])) AS bucket, count(*) AS n,
           count(*) FILTER (WHERE score >= 9) AS promoters,
           count(*) FILTER (WHERE score BETWEEN 7 AND 8) AS passives,
           count(*) FILTER (WHERE score <= 6) AS detractors
    FROM care_surveys
    WHERE status = 'answered' AND answered_at >= :start AND answered_at < :end
      AND (CAST(:site AS uuid) IS NULL OR site_id = CAST(:site AS uuid))
    GROUP BY 1 ORDER BY 1
    """
)


async def nps_trend(
    session: AsyncSession, actor: Actor, *, since: date, until: date, site_id: uuid.UUID | None = None
) -> list[NpsRow]:
    require_reader(actor)
    b = buckets(since, until, Period.MONTH)
    rows = await session.execute(_NPS, _params(b, site=site_id))
    return [NpsRow(b.label(x.bucket), int(x.n), int(x.promoters), int(x.passives), int(x.detractors)) for x in rows]


# --- referrals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralRow:
    month: date
    referrals: int
    rejected: int
    converted: int

    @property
    def conversion_rate(self) -> float:
        valid = self.referrals - self.rejected
        return round(self.converted / valid, 4) if valid else 0.0


_REFERRALS = text(
    """
    SELECT width_bucket(created_at, CAST(:bounds AS timestamptz[])) AS bucket, count(*) AS n,
           count(*) FILTER (WHERE status = 'rejected') AS rejected,
           count(*) FILTER (WHERE status IN ('converted', 'rewarded')) AS converted
    FROM referrals
    WHERE created_at >= :start AND created_at < :end
    GROUP BY 1 ORDER BY 1
    """
)


async def referral_conversion(session: AsyncSession, actor: Actor, *, since: date, until: date) -> list[ReferralRow]:
    require_reader(actor)
    b = buckets(since, until, Period.MONTH)
    rows = await session.execute(_REFERRALS, _params(b))
    return [ReferralRow(b.label(x.bucket), int(x.n), int(x.rejected), int(x.converted)) for x in rows]


# --- community --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityRow:
    week: date
    active_members: int
    posts: int
    comments: int
    checkins: int


# Two hash aggregates (per week and patient, then per week) instead of count(DISTINCT), which sorts.
_ACTIVITY = text(
    """
    WITH acts AS (
        SELECT author_id AS patient_id, created_at, 1 AS post, 0 AS comment, 0 AS checkin FROM community_posts
        WHERE author_kind = 'patient' AND created_at >= :start AND created_at < :end
        UNION ALL
        SELECT author_id, created_at, 0, 1, 0 FROM community_comments
        WHERE author_kind = 'patient' AND created_at >= :start AND created_at < :end
        UNION ALL
        SELECT patient_id, created_at, 0, 0, 1 FROM community_checkins
        WHERE created_at >= :start AND created_at < :end
    ), per_member AS (
        SELECT width_bucket(created_at, CAST(:bounds AS timestamptz[])) AS bucket, patient_id,
               sum(post) AS posts, sum(comment) AS comments, sum(checkin) AS checkins
        FROM acts GROUP BY 1, 2
    )
    SELECT bucket, count(*) AS active, sum(posts) AS posts, sum(comments) AS comments, sum(checkins) AS checkins
    FROM per_member GROUP BY 1 ORDER BY 1
    """
)


async def community_activity(session: AsyncSession, actor: Actor, *, since: date, until: date) -> list[ActivityRow]:
    require_reader(actor)
    b = buckets(since, until, Period.WEEK)
    await _roomy(session)
    rows = await session.execute(_ACTIVITY, _params(b))
    return [ActivityRow(b.label(x.bucket), int(x.active), int(x.posts), int(x.comments), int(x.checkins)) for x in rows]


# --- campaigns ------------------------------------------------------------------------------


async def campaign_conversion(
    session: AsyncSession, actor: Actor, *, since: date, until: date
) -> list[stats.CampaignConversion]:
    """Campaigns started in the range, newest first, with campaigns' own attribution (last touch)."""
    require_reader(actor)
    b = buckets(since, until, Period.MONTH)
    return await stats.conversion_summary(session, since=b.start, until=b.end)


# --- points liability -------------------------------------------------------------------------


async def points_liability(session: AsyncSession, actor: Actor) -> loyalty_service.Liability:
    require_reader(actor)
    return await loyalty_service.liability(session, actor)
