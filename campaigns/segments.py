"""Segments: a saved, named filter over patients, compiled to ONE SQL query.

The filter reads other domains' tables read-only (lifecycle, tiers, visits, ledger balances, group
memberships, consents): a set-based query is the only way to select 100,000 patients quickly, and it
never writes there. Suppression is part of the same query: `audience_select` returns every patient
matching the filter with a `suppressed` column (the reason, or NULL), so the runner can record why a
patient was skipped, and `preview` counts only the unsuppressed.

Suppression (always, whatever the filter says): deceased or admitted patients, patients who are also
active staff (same phone: staff are never an audience), and for marketing campaigns patients who
opted out of all marketing. Care campaigns still reach a patient who opted out of marketing.

Sensitive conditions (depression, pregnancy ... PIPL art. 28-29): a marketing segment may name one,
but it matches only patients who gave the separate consent to be chosen by it (MARKETING_SENSITIVE).
Consent is read through patients.consents.in_force_sql, the one test every sender applies.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    func,
    or_,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from campaigns import errors
from campaigns.errors import CampaignsCode as Code
from campaigns.models import AudienceKind, Campaign, CampaignClass, CampaignStatus, JourneyOccasion, Segment
from community.models import EventInvitation, EventRsvp, Group, Membership
from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from loyalty.models import Account, LifecycleStage, MemberTier, PatientLifecycle, Tier, Visit
from messaging.outreach import purpose_of, suppression
from patients.consents import in_force_sql
from patients.models import (
    Condition,
    Consent,
    ConsentChannel,
    ConsentPurpose,
    Gender,
    Patient,
    PatientCondition,
    Site,
)
from privacy import reads
from privacy.models import PhiKind

CAMPAIGN_ROLES = (Role.MARKETER,)  # admins hold every role
READ_ROLES = (Role.MARKETER, Role.REVIEWER)
SAMPLE_SIZE = 10
MAX_LIST = 50


def _dt(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class ConsentRequirement:
    channel: str
    purpose: str


@dataclass(frozen=True)
class SegmentCriteria:
    """Every field narrows the audience; empty lists and None mean "any". Lists match any of their values."""

    stages: list[str] = field(default_factory=list)
    tiers: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    group_ids: list[uuid.UUID] = field(default_factory=list)
    last_visit_before: datetime | None = None  # the last completed visit is before this (a visit needed)
    last_visit_after: datetime | None = None  # ... at or after this
    visits_since: datetime | None = None  # completed visits counted in [since, until)
    visits_until: datetime | None = None
    visits_min: int | None = None
    visits_max: int | None = None
    site_ids: list[uuid.UUID] = field(default_factory=list)  # home site
    age_min: int | None = None  # from the birth year, in the current year (Asia/Shanghai)
    age_max: int | None = None
    genders: list[str] = field(default_factory=list)
    consents: list[ConsentRequirement] = field(default_factory=list)  # all of them granted
    points_min: int | None = None  # available balance
    points_max: int | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value == []:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif f.name in ("group_ids", "site_ids"):
                value = [str(v) for v in value]
            elif f.name == "consents":
                value = [{"channel": c.channel, "purpose": c.purpose} for c in value]
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> SegmentCriteria:
        d = dict(data or {})
        return cls(
            stages=list(d.get("stages", [])),
            tiers=list(d.get("tiers", [])),
            conditions=list(d.get("conditions", [])),
            group_ids=[uuid.UUID(str(g)) for g in d.get("group_ids", [])],
            last_visit_before=_dt(d.get("last_visit_before")),
            last_visit_after=_dt(d.get("last_visit_after")),
            visits_since=_dt(d.get("visits_since")),
            visits_until=_dt(d.get("visits_until")),
            visits_min=d.get("visits_min"),
            visits_max=d.get("visits_max"),
            site_ids=[uuid.UUID(str(s)) for s in d.get("site_ids", [])],
            age_min=d.get("age_min"),
            age_max=d.get("age_max"),
            genders=list(d.get("genders", [])),
            consents=[ConsentRequirement(c["channel"], c["purpose"]) for c in d.get("consents", [])],
            points_min=d.get("points_min"),
            points_max=d.get("points_max"),
        )


# --- compiling --------------------------------------------------------------------------------


def _lowest_tier() -> Any:
    return select(Tier.code).order_by(Tier.rank).limit(1).scalar_subquery()


def _visits(*conds: ColumnElement[bool]) -> Any:
    return (Visit.patient_id == Patient.id, Visit.status == "completed", *conds)


def filter_clauses(c: SegmentCriteria, now: datetime, *, kind: str) -> list[ColumnElement[bool]]:
    """The WHERE terms of a segment over `patients` outer-joined with lifecycle, tier and balance, for
    a campaign of `kind` (marketing: sensitive conditions need the separate consent)."""
    where: list[ColumnElement[bool]] = []
    if c.stages:
        where.append(func.coalesce(PatientLifecycle.stage, LifecycleStage.ACQUISITION.value).in_(c.stages))
    if c.tiers:
        where.append(func.coalesce(MemberTier.tier_code, _lowest_tier()).in_(c.tiers))
    if c.conditions:
        where.append(_has_condition(c.conditions, kind))
    if c.group_ids:
        where.append(
            exists().where(
                Membership.account_id == Patient.id,
                Membership.account_kind == "patient",
                Membership.state == "active",
                Membership.group_id.in_(c.group_ids),
            )
        )
    if c.last_visit_before is not None or c.last_visit_after is not None:
        last = select(func.max(Visit.visited_at)).where(*_visits()).scalar_subquery()
        if c.last_visit_before is not None:
            where.append(last < c.last_visit_before)
        if c.last_visit_after is not None:
            where.append(last >= c.last_visit_after)
    if c.visits_min is not None or c.visits_max is not None:
        period: list[ColumnElement[bool]] = []
        if c.visits_since is not None:
            period.append(Visit.visited_at >= c.visits_since)
        if c.visits_until is not None:
            period.append(Visit.visited_at < c.visits_until)
        count = select(func.count()).where(*_visits(*period)).scalar_subquery()
        if c.visits_min is not None:
            where.append(count >= c.visits_min)
        if c.visits_max is not None:
            where.append(count <= c.visits_max)
    if c.site_ids:
        where.append(Patient.home_site_id.in_(c.site_ids))
    if c.age_min is not None or c.age_max is not None:
        year = now.astimezone(_tz()).year
        where.append(Patient.birth_year.is_not(None))
        if c.age_min is not None:
            where.append(Patient.birth_year <= year - c.age_min)
        if c.age_max is not None:
            where.append(Patient.birth_year >= year - c.age_max)
    if c.genders:
        where.append(Patient.gender.in_(c.genders))
    for req in c.consents:
        where.append(_has_consent(req.channel, req.purpose))
    if c.points_min is not None:
        where.append(func.coalesce(Account.balance, 0) >= c.points_min)
    if c.points_max is not None:
        where.append(func.coalesce(Account.balance, 0) <= c.points_max)
    return where


def _tz() -> Any:
    return ZoneInfo(get_settings().default_timezone)


def _has_consent(channel: str, purpose: str) -> ColumnElement[bool]:
    return exists().where(
        Consent.patient_id == Patient.id,
        Consent.channel == channel,
        Consent.purpose == purpose,
        text(in_force_sql()),
    )


def _has_condition(codes: list[str], kind: str) -> ColumnElement[bool]:
    """Has one of the conditions. For marketing a sensitive one counts only with the separate consent
    in force on any channel: it is consent to being chosen by the diagnosis; which channels may carry
    the message stays each channel's MARKETING consent (the runner checks it per channel)."""

    def having(*conds: ColumnElement[bool]) -> ColumnElement[bool]:
        return exists().where(
            PatientCondition.patient_id == Patient.id,
            PatientCondition.condition_code.in_(codes),
            Condition.code == PatientCondition.condition_code,
            *conds,
        )

    if kind == CampaignClass.CARE:
        return having()
    separate = exists().where(
        Consent.patient_id == Patient.id,
        Consent.purpose == ConsentPurpose.MARKETING_SENSITIVE.value,
        text(in_force_sql()),
    )
    return or_(having(Condition.sensitive.is_(False)), and_(having(Condition.sensitive.is_(True)), separate))


def _base(columns: list[Any]) -> Select[Any]:
    return (
        select(*columns)
        .select_from(Patient)
        .outerjoin(PatientLifecycle, PatientLifecycle.patient_id == Patient.id)
        .outerjoin(MemberTier, MemberTier.patient_id == Patient.id)
        .outerjoin(Account, and_(Account.patient_id == Patient.id, Account.kind == "available"))
    )


def segment_select(criteria: SegmentCriteria, *, kind: str, now: datetime) -> Select[Any]:
    """(patient_id, suppressed) of every patient matching the filter; unordered."""
    return _base([Patient.id.label("patient_id"), suppression(kind).label("suppressed")]).where(
        *filter_clauses(criteria, now, kind=kind)
    )


def event_select(event_id: uuid.UUID, which: str, *, kind: str) -> Select[Any]:
    """Invitees and/or registrants (going, waitlisted or offered a seat) of a community event."""
    parts: list[ColumnElement[bool]] = []
    if which in ("invited", "both"):
        parts.append(Patient.id.in_(select(EventInvitation.patient_id).where(EventInvitation.event_id == event_id)))
    if which in ("registered", "both"):
        registered = select(EventRsvp.patient_id).where(
            EventRsvp.event_id == event_id, EventRsvp.status.in_(("going", "waitlisted", "offered"))
        )
        parts.append(Patient.id.in_(registered))
    return select(Patient.id.label("patient_id"), suppression(kind).label("suppressed")).where(or_(*parts))


def journey_select(campaign_id: uuid.UUID, *, kind: str) -> Select[Any]:
    return select(Patient.id.label("patient_id"), suppression(kind).label("suppressed")).where(
        Patient.id.in_(select(JourneyOccasion.patient_id).where(JourneyOccasion.campaign_id == campaign_id))
    )


def campaign_audience(campaign: Campaign, now: datetime) -> Select[Any]:
    kind = campaign.kind
    if campaign.audience_kind == AudienceKind.EVENT:
        assert campaign.event_id is not None
        return event_select(campaign.event_id, campaign.event_audience or "both", kind=kind)
    if campaign.audience_kind == AudienceKind.JOURNEY:
        return journey_select(campaign.id, kind=kind)
    return segment_select(SegmentCriteria.from_json(campaign.criteria_snapshot), kind=kind, now=now)


# --- validation and CRUD ----------------------------------------------------------------------


async def validate_criteria(session: AsyncSession, c: SegmentCriteria, v: Validator) -> None:
    stages = {s.value for s in LifecycleStage}
    v.check(all(s in stages for s in c.stages), "criteria.stages", Code.STAGE_INVALID, "生命周期阶段无效")
    v.check(
        all(g in {x.value for x in Gender} for g in c.genders),
        "criteria.genders",
        CoreCode.GENDER_INVALID,
        "性别取值无效",
    )
    for name in ("stages", "tiers", "conditions", "group_ids", "site_ids", "genders", "consents"):
        v.check(len(getattr(c, name)) <= MAX_LIST, f"criteria.{name}", Code.LIST_TOO_LONG, f"最多选择{MAX_LIST}项")

    async def known(column: Any, values: list[Any]) -> bool:
        if not values:
            return True
        found = set(await session.scalars(select(column).where(column.in_(values))))
        return all(x in found for x in values)

    v.check(await known(Tier.code, c.tiers), "criteria.tiers", CoreCode.TIER_UNKNOWN, "会员等级不存在")
    v.check(await known(Condition.code, c.conditions), "criteria.conditions", CoreCode.CONDITION_UNKNOWN, "病种不存在")
    v.check(await known(Group.id, c.group_ids), "criteria.groupIds", CoreCode.GROUP_NOT_FOUND, "社群不存在")
    v.check(await known(Site.id, c.site_ids), "criteria.siteIds", CoreCode.SITE_NOT_FOUND, "院区不存在")
    channels, purposes = {x.value for x in ConsentChannel}, {x.value for x in ConsentPurpose}
    v.check(
        all(r.channel in channels and r.purpose in purposes for r in c.consents),
        "criteria.consents",
        Code.CONSENT_INVALID,
        "授权渠道或用途无效",
    )

    def pair(lo: Any, hi: Any, name: str, label: str) -> None:
        for value in (lo, hi):
            v.check(value is None or value >= 0, f"criteria.{name}", Code.RANGE_NEGATIVE, f"{label}不能为负")
        v.check(
            lo is None or hi is None or lo <= hi,
            f"criteria.{name}",
            Code.RANGE_INVALID,
            f"{label}下限不能大于上限",
        )

    pair(c.age_min, c.age_max, "age", "年龄")
    pair(c.points_min, c.points_max, "points", "积分")
    pair(c.visits_min, c.visits_max, "visits", "就诊次数")
    v.check(
        c.visits_since is None or c.visits_until is None or c.visits_since < c.visits_until,
        "criteria.visitsSince",
        Code.PERIOD_INVALID,
        "统计期间的开始需早于结束",
    )
    v.check(
        (c.visits_since is None and c.visits_until is None) or c.visits_min is not None or c.visits_max is not None,
        "criteria.visitsMin",
        Code.VISITS_RANGE_REQUIRED,
        "设置了统计期间时请填写就诊次数范围",
    )
    for value, name in ((c.last_visit_before, "lastVisitBefore"), (c.last_visit_after, "lastVisitAfter")):
        v.check(value is None or value.tzinfo is not None, f"criteria.{name}", Code.DATETIME_NAIVE, "时间需带时区")


def _check_name(v: Validator, name: str) -> str:
    name = (name or "").strip()
    v.check(1 <= len(name) <= 60, "name", CoreCode.NAME_LENGTH, "名称需为1到60个字符")
    return name


async def _name_free(session: AsyncSession, name: str, except_id: uuid.UUID | None = None) -> None:
    stmt = select(Segment.id).where(Segment.name == name)
    if except_id is not None:
        stmt = stmt.where(Segment.id != except_id)
    if await session.scalar(stmt) is not None:
        raise errors.SegmentNameTaken(field="name")


async def create_segment(
    session: AsyncSession, actor: Actor, *, name: str, description: str = "", criteria: SegmentCriteria
) -> Segment:
    actor.require_role(*CAMPAIGN_ROLES)
    v = Validator()
    name = _check_name(v, name)
    v.check(len(description or "") <= 300, "description", CoreCode.DESCRIPTION_LENGTH, "说明不能超过300个字符")
    await validate_criteria(session, criteria, v)
    v.raise_if_any()
    await _name_free(session, name)
    now = clock.now()
    segment = Segment(
        id=new_id(),
        name=name,
        description=description or "",
        criteria=criteria.to_json(),
        created_by=actor.id,
        created_at=now,
        updated_at=now,
    )
    session.add(segment)
    await session.flush()
    return segment


async def get_segment(session: AsyncSession, actor: Actor, segment_id: uuid.UUID) -> Segment:
    actor.require_role(*READ_ROLES)
    segment = await session.get(Segment, segment_id)
    if segment is None:
        raise errors.SegmentNotFound(field="segmentId")
    return segment


async def update_segment(
    session: AsyncSession,
    actor: Actor,
    segment_id: uuid.UUID,
    *,
    name: str | None = None,
    description: str | None = None,
    criteria: SegmentCriteria | None = None,
) -> Segment:
    """Running campaigns keep the criteria they started with (a snapshot), so edits are always safe."""
    actor.require_role(*CAMPAIGN_ROLES)
    segment = await get_segment(session, actor, segment_id)
    v = Validator()
    if name is not None:
        name = _check_name(v, name)
    if description is not None:
        v.check(len(description) <= 300, "description", CoreCode.DESCRIPTION_LENGTH, "说明不能超过300个字符")
    if criteria is not None:
        await validate_criteria(session, criteria, v)
    v.raise_if_any()
    if name is not None:
        await _name_free(session, name, segment.id)
        segment.name = name
    if description is not None:
        segment.description = description
    if criteria is not None:
        segment.criteria = criteria.to_json()
    segment.updated_at = clock.now()
    await session.flush()
    return segment


async def delete_segment(session: AsyncSession, actor: Actor, segment_id: uuid.UUID) -> None:
    actor.require_role(*CAMPAIGN_ROLES)
    segment = await get_segment(session, actor, segment_id)
    unfinished = await session.scalar(
        select(Campaign.id)
        .where(
            Campaign.segment_id == segment.id,
            Campaign.status.not_in((CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)),
        )
        .limit(1)
    )
    if unfinished is not None:
        raise errors.SegmentInUse()
    await session.delete(segment)


async def segments_page(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Any]:
    actor.require_role(*READ_ROLES)
    return await keyset_page(session, select(Segment), sort=Segment.name, id_=Segment.id, first=first, after=after)


async def segments_by_ids(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, Segment]:
    return {s.id: s for s in await session.scalars(select(Segment).where(Segment.id.in_(ids)))}


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[uuid.UUID]
    suppressed: int  # matched the filter but may not be messaged


async def preview(
    session: AsyncSession,
    actor: Actor,
    criteria: SegmentCriteria,
    *,
    kind: str = CampaignClass.MARKETING.value,
    channels: list[str] | None = None,
    sample_size: int = SAMPLE_SIZE,
) -> Preview:
    """Who a campaign of `kind` would reach: suppression always applies; with `channels`, only patients
    holding consent for at least one of them (for the campaign's purpose) count."""
    actor.require_role(*READ_ROLES)
    v = Validator()
    await validate_criteria(session, criteria, v)
    v.raise_if_any()
    base = segment_select(criteria, kind=kind, now=clock.now())
    if channels:
        purpose = purpose_of(kind)
        base = base.where(or_(*[_has_consent(ch, purpose) for ch in channels]))
    sub = base.subquery()
    counts = (
        await session.execute(
            select(
                func.count().filter(sub.c.suppressed.is_(None)),
                func.count().filter(sub.c.suppressed.is_not(None)),
            )
        )
    ).one()
    sample = list(
        await session.scalars(
            select(sub.c.patient_id).where(sub.c.suppressed.is_(None)).order_by(sub.c.patient_id).limit(sample_size)
        )
    )
    if criteria.conditions:
        # Patients listed for having these conditions: a read of each one's conditions.
        await reads.record_reads(session, actor, PhiKind.CONDITIONS, sample)
    return Preview(count=int(counts[0]), sample=sample, suppressed=int(counts[1]))
