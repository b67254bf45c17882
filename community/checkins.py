"""Daily check-ins (打卡): readings, streaks and milestones, out-of-range alerts, group boards.

Dates. A check-in belongs to the patient's *local calendar date* in the time zone of their profile
at the moment of the check-in, and streaks compare those dates, never timestamps: a patient who
checks in at 23:30 in Shanghai and next on the following calendar date in Los Angeles keeps the
streak. Flying east can swallow a whole calendar date (23:00 in Los Angeles, landing two Shanghai
dates later), so when the zone changed since the last check-in the date in the *previous* zone is
asked too; the streak survives when either zone says "the next day".

One row per (patient, kind, local date). A second check-in of the same kind on the same date
corrects the first: the value is replaced (the row and its streak day stay). A correction never
closes an alert raised by the earlier reading; a new dangerous reading re-opens an acknowledged one.

Streaks: `CheckInStreak` keeps (current, longest, last_date) per patient and is locked for the
whole check-in, so concurrent check-ins of one patient are serial. The start of the current run is
`last_date - (current - 1)`; the milestone idempotency key is derived from it, so each milestone
(7/30/100 days) is awarded once per run, through `loyalty.earning.award` only.

Privacy: values are read only by the patient and the care team (staff with the doctor or health
manager role; admins hold every staff role). Group boards show nicknames and counts, never values.
The care team is notified through one in-app recipient, ``care-team`` (the care-team inbox),
because the staff directory belongs to the identity domain and has no query for "active staff
with role X" yet.
"""

from __future__ import annotations

import enum
import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, errors, moderation
from community.errors import CommunityCode as Code
from community.models import CheckIn, CheckInKind, CheckInStreak, HealthAlert, Membership, MemberState
from core import clock
from core.channels import ChannelName, Message, send_later
from core.errors import CoreCode, NotAuthenticated, NotFound, PermissionDenied, ValidationFailed, Validator
from core.identity import Actor, ActorKind, Role
from core.ids import new_id
from core.pagination import Page, keyset_page
from core.settings import get_settings
from loyalty import earning
from loyalty import errors as loyalty_errors
from oncall import service as oncall
from oncall.models import PageKind
from patients import queries as patient_queries
from patients import service as patient_service
from patients.models import ConsentChannel, ConsentPurpose, Patient
from privacy import reads
from privacy.models import PhiKind

CARE_TEAM_ROLES = (Role.DOCTOR, Role.HEALTH_MANAGER)
CARE_TEAM_RECIPIENT = "care-team"
MILESTONES = (7, 30, 100)
MAX_DAYS = 90  # history window of one read (5 kinds x 90 days at most)
MAX_BOARD_MEMBERS = 100
NOTE_MAX = 200

KIND_LABELS = {
    CheckInKind.GLUCOSE: "血糖",
    CheckInKind.BLOOD_PRESSURE: "血压",
    CheckInKind.WEIGHT: "体重",
    CheckInKind.EXERCISE: "运动",
    CheckInKind.MEDICATION: "用药",
}


class GlucoseContext(enum.StrEnum):
    FASTING = "fasting"
    AFTER_MEAL = "after_meal"
    BEDTIME = "bedtime"


GLUCOSE_CONTEXT_LABELS = {
    GlucoseContext.FASTING: "空腹",
    GlucoseContext.AFTER_MEAL: "餐后",
    GlucoseContext.BEDTIME: "睡前",
}

# Safe ranges: outside them a reading raises an alert for the care team.
GLUCOSE_LOW = 3.9
GLUCOSE_HIGH = 16.7
SYSTOLIC_HIGH = 180
DIASTOLIC_HIGH = 110

# value key -> the input field name clients know (used in UserError.field)
FIELD_NAMES = {
    "mmol": "glucoseMmol",
    "context": "glucoseContext",
    "systolic": "systolic",
    "diastolic": "diastolic",
    "pulse": "pulse",
    "kg": "weightKg",
    "minutes": "exerciseMinutes",
    "type": "exerciseType",
    "taken": "medicationTaken",
    "name": "medicationName",
}
KIND_KEYS: dict[CheckInKind, tuple[str, ...]] = {
    CheckInKind.GLUCOSE: ("mmol", "context"),
    CheckInKind.BLOOD_PRESSURE: ("systolic", "diastolic", "pulse"),
    CheckInKind.WEIGHT: ("kg",),
    CheckInKind.EXERCISE: ("minutes", "type"),
    CheckInKind.MEDICATION: ("taken", "name"),
}


# --- errors -----------------------------------------------------------------------------------


class HealthAlertNotFound(NotFound):
    code = Code.HEALTH_ALERT_NOT_FOUND
    default_message = "健康预警不存在"


class NotCareTeam(PermissionDenied):
    code = Code.NOT_CARE_TEAM
    default_message = "仅医生和健康管理师可以查看健康数据"


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Streak:
    current: int
    longest: int
    last_date: date | None
    start_date: date | None


@dataclass(frozen=True)
class MilestoneAward:
    days: int
    points: int  # 0 when the rule is switched off or its cap is used up
    capped: bool


@dataclass(frozen=True)
class CheckInResult:
    check_in: CheckIn
    streak: Streak
    milestone: MilestoneAward | None  # a milestone reached by this check-in
    alert: HealthAlert | None  # the alert this check-in raised or renewed
    updated: bool  # True when it corrected an earlier check-in of the same kind and date


@dataclass(frozen=True)
class BoardMember:
    nickname: str


@dataclass(frozen=True)
class Board:
    """Who checked in in a group on a date: names and a count, never a value."""

    date: date
    count: int
    members: list[BoardMember]


@dataclass(frozen=True)
class _Assessment:
    reading: str
    message: str  # for the alert (care team)
    advice: str  # for the patient


# --- permissions ------------------------------------------------------------------------------


def is_care_team(actor: Actor) -> bool:
    return actor.has_role(*CARE_TEAM_ROLES)


def can_read_values(actor: Actor, patient_id: uuid.UUID) -> bool:
    return (actor.is_patient and actor.id == patient_id) or is_care_team(actor)


def shows_values(actor: Actor, check_in: CheckIn) -> bool:
    """`can_read_values` for a check-in about to be shown (by id); a staff read is recorded."""
    return reads.noted(actor, PhiKind.CHECKINS, check_in.patient_id, can_read_values(actor, check_in.patient_id))


def shows_alert(actor: Actor, alert: HealthAlert) -> bool:
    """Whether an alert (it carries the reading) is shown to the actor; a staff read is recorded."""
    return reads.noted(actor, PhiKind.CHECKINS, alert.patient_id, is_care_team(actor))


def _require_value_reader(actor: Actor, patient_id: uuid.UUID) -> None:
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    if not can_read_values(actor, patient_id):
        raise NotCareTeam()


def _require_care_team(actor: Actor) -> None:
    if actor.kind is ActorKind.ANONYMOUS:
        raise NotAuthenticated()
    if not is_care_team(actor):
        raise NotCareTeam("仅医生和健康管理师可以处理健康预警")


# --- validation -------------------------------------------------------------------------------


def _number(v: Validator, value: Mapping[str, Any], key: str, low: float, high: float, label: str) -> float | None:
    field = FIELD_NAMES[key]
    raw = value.get(key)
    if raw is None:
        v.add(field, "VALUE_REQUIRED", f"请填写{label}")
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        v.add(field, "VALUE_NOT_NUMBER", f"{label}需为数字")
        return None
    if not low <= raw <= high:
        v.add(field, "VALUE_OUT_OF_RANGE", f"{label}需在{low:g}到{high:g}之间")
        return None
    return float(raw)


def _whole(v: Validator, value: Mapping[str, Any], key: str, low: int, high: int, label: str) -> int | None:
    number = _number(v, value, key, low, high, label)
    if number is None:
        return None
    if not number.is_integer():
        v.add(FIELD_NAMES[key], "VALUE_NOT_INTEGER", f"{label}需为整数")
        return None
    return int(number)


def _text(v: Validator, value: Mapping[str, Any], key: str, max_len: int, label: str) -> str | None:
    raw = value.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        v.add(FIELD_NAMES[key], "VALUE_NOT_TEXT", f"{label}需为文字")
        return None
    text = raw.strip()
    if len(text) > max_len:
        v.add(FIELD_NAMES[key], "TEXT_TOO_LONG", f"{label}不能超过{max_len}个字符")
        return None
    return text or None


def validate(
    kind: str, value: Mapping[str, Any] | None, note: str | None
) -> tuple[CheckInKind, dict[str, Any], str | None]:
    """The kind, the normalised value and the note, or ValidationFailed listing every problem."""
    v = Validator()
    clean_note = (note or "").strip() or None
    v.check(
        clean_note is None or len(clean_note) <= NOTE_MAX,
        "note",
        Code.NOTE_TOO_LONG,
        f"备注不能超过{NOTE_MAX}个字符",
    )
    try:
        the_kind = CheckInKind(kind)
    except ValueError:
        v.add("kind", Code.CHECKIN_KIND_INVALID, "打卡类型无效，可选：血糖、血压、体重、运动、用药")
        raise ValidationFailed(v.issues) from None
    value = value or {}
    for key in value:
        if key not in KIND_KEYS[the_kind]:
            v.add(
                FIELD_NAMES.get(key, str(key)),
                "VALUE_UNEXPECTED",
                f"{KIND_LABELS[the_kind]}打卡不需要填写此项",
            )
    out: dict[str, Any] = {}
    if the_kind is CheckInKind.GLUCOSE:
        mmol = _number(v, value, "mmol", 1.0, 35.0, "血糖值（mmol/L）")
        if mmol is not None:
            out["mmol"] = round(mmol, 1)
        context = value.get("context")
        if context is not None:
            if context in {c.value for c in GlucoseContext}:
                out["context"] = str(context)
            else:
                v.add("glucoseContext", Code.GLUCOSE_CONTEXT_INVALID, "测量时段无效，可选：空腹、餐后、睡前")
    elif the_kind is CheckInKind.BLOOD_PRESSURE:
        systolic = _whole(v, value, "systolic", 60, 260, "收缩压（mmHg）")
        diastolic = _whole(v, value, "diastolic", 30, 160, "舒张压（mmHg）")
        if systolic is not None and diastolic is not None:
            if systolic > diastolic:
                out["systolic"], out["diastolic"] = systolic, diastolic
            else:
                v.add("systolic", Code.SYSTOLIC_NOT_ABOVE_DIASTOLIC, "收缩压应高于舒张压，请检查是否填反")
        if value.get("pulse") is not None:
            pulse = _whole(v, value, "pulse", 30, 220, "心率（次/分）")
            if pulse is not None:
                out["pulse"] = pulse
    elif the_kind is CheckInKind.WEIGHT:
        kg = _number(v, value, "kg", 20, 300, "体重（公斤）")
        if kg is not None:
            out["kg"] = round(kg, 1)
    elif the_kind is CheckInKind.EXERCISE:
        minutes = _whole(v, value, "minutes", 1, 600, "运动时长（分钟）")
        if minutes is not None:
            out["minutes"] = minutes
        exercise_type = _text(v, value, "type", 20, "运动类型")
        if exercise_type:
            out["type"] = exercise_type
    elif the_kind is CheckInKind.MEDICATION:
        taken = value.get("taken")
        if not isinstance(taken, bool):
            v.add("medicationTaken", Code.VALUE_REQUIRED, "请选择今天是否已按时用药")
        else:
            out["taken"] = taken
        name = _text(v, value, "name", 50, "药品名称")
        if name:
            out["name"] = name
    v.raise_if_any()
    return the_kind, out, clean_note


def _assess(kind: CheckInKind, value: Mapping[str, Any]) -> _Assessment | None:
    """An assessment when the reading is outside the safe range, else None."""
    team = "您的医护团队已收到提醒，会尽快与您联系。"
    if kind is CheckInKind.GLUCOSE:
        mmol = float(value["mmol"])
        context = value.get("context")
        when = f"（{GLUCOSE_CONTEXT_LABELS[GlucoseContext(context)]}）" if context else ""
        reading = f"血糖 {mmol:g} mmol/L{when}"
        if mmol < GLUCOSE_LOW:
            return _Assessment(
                reading,
                f"血糖{mmol:g} mmol/L，低于{GLUCOSE_LOW} mmol/L，提示低血糖",
                "您今天记录的血糖偏低。如有心慌、出汗、手抖或头晕，请马上吃些含糖食物（如糖块、果汁），"
                "15分钟后复测；若仍不缓解请及时就医。" + team,
            )
        if mmol > GLUCOSE_HIGH:
            return _Assessment(
                reading,
                f"血糖{mmol:g} mmol/L，高于{GLUCOSE_HIGH} mmol/L，血糖明显升高",
                "您今天记录的血糖偏高。请多喝水、注意休息并按时复测；如出现明显口渴、恶心呕吐或乏力，"
                "请及时就医。" + team,
            )
        return None
    if kind is CheckInKind.BLOOD_PRESSURE:
        systolic, diastolic = int(value["systolic"]), int(value["diastolic"])
        if systolic >= SYSTOLIC_HIGH or diastolic >= DIASTOLIC_HIGH:
            return _Assessment(
                f"血压 {systolic}/{diastolic} mmHg",
                f"血压{systolic}/{diastolic} mmHg，达到收缩压≥{SYSTOLIC_HIGH}或舒张压≥{DIASTOLIC_HIGH}的警戒值",
                "您今天记录的血压偏高。请先安静休息，15分钟后复测；如伴有剧烈头痛、胸闷胸痛、"
                "视物模糊或肢体无力，请立即就医或拨打120。" + team,
            )
    return None


# --- helpers ----------------------------------------------------------------------------------


def _zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or get_settings().default_timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(get_settings().default_timezone)


def _local_date(moment: datetime, tz: str | None) -> date:
    return moment.astimezone(_zone(tz)).date()


async def _patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    patient = (await patient_queries.patients_by_ids(session, [patient_id])).get(patient_id)
    if patient is None:
        raise NotFound("患者不存在", code=CoreCode.PATIENT_NOT_FOUND)
    return patient


async def _lock_streak(session: AsyncSession, patient_id: uuid.UUID) -> CheckInStreak:
    """The patient's streak row, created on first use, locked until the transaction ends."""
    await session.execute(
        insert(CheckInStreak)
        .values(patient_id=patient_id, current=0, longest=0, last_date=None)
        .on_conflict_do_nothing(index_elements=["patient_id"])
    )
    row = await session.scalar(
        select(CheckInStreak)
        .where(CheckInStreak.patient_id == patient_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _view(row: CheckInStreak | None, *, alive: bool = True) -> Streak:
    if row is None or row.last_date is None or row.current <= 0:
        return Streak(0, row.longest if row else 0, row.last_date if row else None, None)
    if not alive:
        return Streak(0, row.longest, row.last_date, None)
    return Streak(row.current, row.longest, row.last_date, row.last_date - timedelta(days=row.current - 1))


async def _continues(
    session: AsyncSession, patient_id: uuid.UUID, last_date: date, today: date, tz: str, now: datetime
) -> bool:
    """Whether a check-in on `today` (current zone) continues a run that ended on `last_date`."""
    if (today - last_date).days <= 1:
        return True
    previous_tz = await session.scalar(
        select(CheckIn.timezone)
        .where(CheckIn.patient_id == patient_id, CheckIn.local_date == last_date)
        .order_by(CheckIn.created_at.desc())
        .limit(1)
    )
    if previous_tz is None or previous_tz == tz:
        return False
    # The zone changed (travel): in the zone of the last check-in it may still be the next day.
    return (_local_date(now, previous_tz) - last_date).days <= 1


async def _advance_streak(
    session: AsyncSession, row: CheckInStreak, today: date, tz: str, now: datetime
) -> tuple[Streak, MilestoneAward | None]:
    last = row.last_date
    if last is not None and today <= last:
        # The same day again, or an earlier date after flying west: the run is unchanged.
        return _view(row), None
    if last is not None and row.current > 0 and await _continues(session, row.patient_id, last, today, tz, now):
        row.current += 1
    else:
        row.current = 1
    row.last_date = today
    row.longest = max(row.longest, row.current)
    streak = _view(row)
    milestone = None
    if row.current in MILESTONES:
        milestone = await _award_milestone(session, row.patient_id, row.current, streak.start_date or today)
    return streak, milestone


async def _award_milestone(session: AsyncSession, patient_id: uuid.UUID, days: int, start: date) -> MilestoneAward:
    """Once per run: the key names the run by its first date, so a repeat is a no-op in the ledger."""
    ref = f"streak:{patient_id}:{start.isoformat()}:{days}"
    try:
        award = await earning.award(session, patient_id, f"checkin_streak_{days}", ref, f"checkin:{ref}")
    except loyalty_errors.RuleNotFound:  # an admin switched the rule off: the streak still counts
        return MilestoneAward(days, 0, False)
    return MilestoneAward(days, award.points, award.capped)


async def _raise_alert(
    session: AsyncSession, patient: Patient, check_in: CheckIn, assessment: _Assessment, now: datetime
) -> HealthAlert:
    """One alert per check-in row. A correction updates it; a dangerous reading after an
    acknowledgement re-opens it. The care team and the patient are told when it opens."""
    alert = await session.scalar(select(HealthAlert).where(HealthAlert.checkin_id == check_in.id).with_for_update())
    notify = False
    if alert is None:
        alert = HealthAlert(
            id=new_id(),
            patient_id=check_in.patient_id,
            checkin_id=check_in.id,
            kind=check_in.kind,
            reading=assessment.reading[:60],
            message=assessment.message[:200],
            created_at=now,
        )
        session.add(alert)
        notify = True
    else:
        alert.reading = assessment.reading[:60]
        alert.message = assessment.message[:200]
        if alert.acknowledged_at is not None:
            alert.acknowledged_at = None
            alert.acknowledged_by = None
            alert.created_at = now  # back into the open queue as a new reading
            notify = True
    if notify:
        label = KIND_LABELS[CheckInKind(check_in.kind)]
        day = check_in.local_date.strftime("%m月%d日")
        # No values in the message: the care team reads them in the alert list, behind their role.
        care_text = f"患者「{patient.nickname}」{day}的{label}打卡超出安全范围，请在「健康预警」中查看并及时跟进。"
        await send_later(
            session,
            Message(ChannelName.IN_APP, CARE_TEAM_RECIPIENT, care_text, subject="健康预警"),
            sensitive=True,
        )
        # Page the health manager on duty at the patient's site; a re-opened alert is a new page.
        await oncall.page(
            session,
            kind=PageKind.HEALTH_ALERT,
            ref=f"{alert.id}:{alert.created_at.isoformat()}",
            site_id=patient.home_site_id,
            role=Role.HEALTH_MANAGER,
            subject="健康预警",
            body=care_text,
        )
        if await patient_service.has_consent(session, patient.id, ConsentChannel.IN_APP, ConsentPurpose.SERVICE):
            await send_later(
                session,
                Message(ChannelName.IN_APP, str(patient.id), assessment.advice, subject="健康提醒"),
                sensitive=True,
            )
    await session.flush()
    return alert


# --- check in ---------------------------------------------------------------------------------


async def check_in(
    session: AsyncSession,
    actor: Actor,
    *,
    kind: str,
    value: Mapping[str, Any] | None,
    note: str | None = None,
    group_id: uuid.UUID | None = None,
) -> CheckInResult:
    """The patient checks in for today (their local date). A second check-in of the same kind on the
    same date replaces the value. `group_id` shows the check-in on that group's board (active
    members only)."""
    patient_id = actor.require_patient()
    the_kind, clean, clean_note = validate(kind, value, note)
    # Crisis first: an emergency word in the note brings help and a page, before the group check decides.
    crisis = await moderation.is_crisis(session, actor, clean_note)
    if group_id is not None:
        _, m = await access.get_group(session, actor, group_id)
        if not access.is_active(m):
            if crisis:
                await moderation.help_in_crisis(
                    session, actor, where="健康打卡备注", ref=f"checkin:{patient_id}:{clean_note}", kept=False
                )
                refusal = errors.NotMember("加入社群后才能在社群打卡")
                refusal.keep_changes = True  # the help and the page commit with the refusal
                raise refusal
            raise errors.NotMember("加入社群后才能在社群打卡")
    patient = await _patient(session, patient_id)
    now = clock.now()
    tz = patient.timezone or get_settings().default_timezone
    today = _local_date(now, tz)

    row = await _lock_streak(session, patient_id)  # serialises every check-in of this patient
    assessment = _assess(the_kind, clean)
    existing = await session.scalar(
        select(CheckIn).where(
            CheckIn.patient_id == patient_id, CheckIn.kind == the_kind.value, CheckIn.local_date == today
        )
    )
    if existing is None:
        record = CheckIn(
            id=new_id(),
            patient_id=patient_id,
            group_id=group_id,
            kind=the_kind.value,
            local_date=today,
            timezone=tz,
            value=clean,
            note=clean_note,
            out_of_range=assessment is not None,
            created_at=now,
        )
        session.add(record)
    else:
        record = existing
        record.value = clean
        record.note = clean_note
        record.out_of_range = assessment is not None
        record.timezone = tz
        if group_id is not None:
            record.group_id = group_id
    await session.flush()

    if crisis:
        await moderation.help_in_crisis(
            session, actor, where="健康打卡备注", ref=f"checkin:{record.id}:{clean_note}", kept=True
        )
    streak, milestone = await _advance_streak(session, row, today, tz, now)
    alert = await _raise_alert(session, patient, record, assessment, now) if assessment else None
    return CheckInResult(record, streak, milestone, alert, updated=existing is not None)


# --- reads ------------------------------------------------------------------------------------


async def _history(session: AsyncSession, patient_id: uuid.UUID, days: int, kind: str | None) -> list[CheckIn]:
    v = Validator()
    v.check(1 <= days <= MAX_DAYS, "days", Code.DAYS_OUT_OF_RANGE, f"天数需在1到{MAX_DAYS}之间")
    v.check(
        kind is None or kind in {k.value for k in CheckInKind},
        "kind",
        Code.CHECKIN_KIND_INVALID,
        "打卡类型无效",
    )
    v.raise_if_any()
    patient = await _patient(session, patient_id)
    since = _local_date(clock.now(), patient.timezone) - timedelta(days=days - 1)
    stmt = select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.local_date >= since)
    if kind is not None:
        stmt = stmt.where(CheckIn.kind == kind)
    return list(await session.scalars(stmt.order_by(CheckIn.local_date.desc(), CheckIn.kind, CheckIn.id)))


async def my_check_ins(
    session: AsyncSession, actor: Actor, *, days: int = 30, kind: str | None = None
) -> list[CheckIn]:
    """The patient's own check-ins of the last `days` local dates, newest first."""
    return await _history(session, actor.require_patient(), days, kind)


async def patient_check_ins(
    session: AsyncSession, actor: Actor, patient_id: uuid.UUID, *, days: int = 30, kind: str | None = None
) -> list[CheckIn]:
    """A patient's check-ins for the care team (or the patient)."""
    _require_value_reader(actor, patient_id)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [patient_id])
    return await _history(session, patient_id, days, kind)


async def streak_of(session: AsyncSession, actor: Actor, patient_id: uuid.UUID | None = None) -> Streak:
    """The streak as it stands today: `current` is 0 once a calendar date was missed."""
    target = actor.require_patient() if patient_id is None else patient_id
    _require_value_reader(actor, target)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [target])
    row = await session.get(CheckInStreak, target, populate_existing=True)
    if row is None or row.last_date is None:
        return _view(row)
    patient = await _patient(session, target)
    now = clock.now()
    tz = patient.timezone or get_settings().default_timezone
    alive = await _continues(session, target, row.last_date, _local_date(now, tz), tz, now)
    return _view(row, alive=alive)


async def check_ins_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, CheckIn]:
    """Batch read for DataLoaders; callers check `can_read_values` before showing a value."""
    return {c.id: c for c in await session.scalars(select(CheckIn).where(CheckIn.id.in_(ids)))}


async def alerts_by_ids(session: AsyncSession, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, HealthAlert]:
    """Batch read for DataLoaders; callers check `is_care_team` (or that it is the patient's own)."""
    return {a.id: a for a in await session.scalars(select(HealthAlert).where(HealthAlert.id.in_(ids)))}


async def _viewer_today(session: AsyncSession, actor: Actor) -> date:
    tz: str | None = None
    if actor.is_patient and actor.id is not None:
        patient = (await patient_queries.patients_by_ids(session, [actor.id])).get(actor.id)
        tz = patient.timezone if patient is not None else None
    return _local_date(clock.now(), tz)


async def group_board(
    session: AsyncSession,
    actor: Actor,
    group_id: uuid.UUID,
    on: date | None = None,
    *,
    limit: int = MAX_BOARD_MEMBERS,
) -> Board:
    """Members who checked in to the group on a date (default: the viewer's today), earliest first.

    Only for those who may read the group and see its members. Shows nicknames and the count of
    people, never a kind or a value; check-ins of people no longer active in the group are left out.
    """
    group, m = await access.require_reader(session, actor, group_id)
    if not access.can_see_members(actor, group, m):
        raise errors.NotMember()
    day = on or await _viewer_today(session, actor)
    people = (
        select(CheckIn.patient_id)
        .join(
            Membership,
            and_(
                Membership.group_id == CheckIn.group_id,
                Membership.account_kind == "patient",
                Membership.account_id == CheckIn.patient_id,
                Membership.state == MemberState.ACTIVE,
            ),
        )
        .where(CheckIn.group_id == group_id, CheckIn.local_date == day)
        .group_by(CheckIn.patient_id)
    )
    count = await session.scalar(select(func.count()).select_from(people.subquery())) or 0
    size = max(1, min(limit, MAX_BOARD_MEMBERS))
    ids = list(await session.scalars(people.order_by(func.min(CheckIn.created_at), CheckIn.patient_id).limit(size)))
    # No values, but who checked in to a condition's group that day is check-in data too.
    await reads.record_reads(session, actor, PhiKind.CHECKINS, ids)
    names = await patient_queries.patients_by_ids(session, ids) if ids else {}
    members = [BoardMember(nickname=names[i].nickname) for i in ids if i in names]
    return Board(date=day, count=int(count), members=members)


# --- alerts -----------------------------------------------------------------------------------


async def open_alerts(
    session: AsyncSession, actor: Actor, *, first: int | None = None, after: str | None = None
) -> Page[HealthAlert]:
    """Unacknowledged alerts for the care team, oldest first (a queue to work through)."""
    _require_care_team(actor)
    stmt = select(HealthAlert).where(HealthAlert.acknowledged_at.is_(None))
    page = await keyset_page(session, stmt, sort=HealthAlert.created_at, id_=HealthAlert.id, first=first, after=after)
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [a.patient_id for a in page.items])
    return page


async def acknowledge_alert(session: AsyncSession, actor: Actor, alert_id: uuid.UUID) -> HealthAlert:
    """The care team takes the alert in hand. Repeating it changes nothing (the first one counts)."""
    _require_care_team(actor)
    alert = await session.get(HealthAlert, alert_id, with_for_update=True, populate_existing=True)
    if alert is None:
        raise HealthAlertNotFound(field="alertId")
    await reads.record_reads(session, actor, PhiKind.CHECKINS, [alert.patient_id])
    if alert.acknowledged_at is None:
        alert.acknowledged_at = clock.now()
        alert.acknowledged_by = actor.id
        await session.flush()
    return alert
