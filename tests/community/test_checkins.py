"""Daily check-ins: validation, streaks (across time zones), milestones, alerts, privacy, group boards."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import strawberry
from sqlalchemy import func, select

from community import checkins, groups
from community.models import CheckIn, CheckInStreak, HealthAlert
from core import clock
from core.db import RequestDB, unit_of_work
from core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from core.identity import ANONYMOUS, Actor, Role
from core.outbox import OutboxMessage
from loyalty import service as loyalty_service
from loyalty.models import Entry
from patients import service as patient_service
from tests import factories
from tests.factories import as_patient, join, new_member, staff

SHANGHAI = "Asia/Shanghai"
LOS_ANGELES = "America/Los_Angeles"


pytestmark = pytest.mark.usefixtures("ledger_invariants")


DOCTOR = staff(Role.DOCTOR)
HEALTH_MANAGER = staff(Role.HEALTH_MANAGER)
MARKETER = staff(Role.MARKETER)
MODERATOR = staff(Role.MODERATOR)


def at(local: str, tz: str = SHANGHAI) -> None:
    """Freeze the clock at a wall-clock time ('2025-03-01 08:00') in a zone."""
    clock.clock.freeze(datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(tz)))


async def set_timezone(patient_id: uuid.UUID, tz: str) -> None:
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient_id), patient_service.ProfileChanges(timezone=tz)
        )


async def set_nickname(patient_id: uuid.UUID, nickname: str) -> None:
    async with unit_of_work() as session:
        await patient_service.update_profile(
            session, as_patient(patient_id), patient_service.ProfileChanges(nickname=nickname)
        )


DEFAULT_VALUES: dict[str, dict[str, Any]] = {
    "weight": {"kg": 68.5},
    "exercise": {"minutes": 30},
    "medication": {"taken": True},
}


async def check_in(
    patient_id: uuid.UUID,
    kind: str = "weight",
    *,
    group_id: uuid.UUID | None = None,
    note: str | None = None,
    **value: Any,
) -> checkins.CheckInResult:
    if not value:
        value = DEFAULT_VALUES.get(kind, {})
    async with unit_of_work() as session:
        return await checkins.check_in(
            session, as_patient(patient_id), kind=kind, value=value, note=note, group_id=group_id
        )


async def issues_of(patient_id: uuid.UUID, kind: str, value: dict[str, Any], note: str | None = None) -> set[tuple]:
    with pytest.raises(ValidationFailed) as caught:
        async with unit_of_work() as session:
            await checkins.check_in(session, as_patient(patient_id), kind=kind, value=value, note=note)
    return {(i.field, i.code) for i in caught.value.issues}


async def streak_row(patient_id: uuid.UUID) -> CheckInStreak | None:
    async with unit_of_work() as session:
        return await session.get(CheckInStreak, patient_id)


async def streak_now(patient_id: uuid.UUID) -> checkins.Streak:
    async with unit_of_work() as session:
        return await checkins.streak_of(session, as_patient(patient_id))


async def count(model: Any, *where: Any) -> int:
    async with unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def messages_to(recipient: str) -> list[dict[str, Any]]:
    async with unit_of_work() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.payload["recipient"].astext == recipient)
            .order_by(OutboxMessage.created_at)
        )
        return [r.payload for r in rows]


async def make_group(slug: str, visibility: str = "members") -> uuid.UUID:
    """Check-in groups: members-only unless told, tied to no condition."""
    return await factories.make_group(
        slug, name=f"打卡测试群{slug}", visibility=visibility, condition_code=None, alias_prefix="病友", by=MODERATOR
    )


# --- validation -------------------------------------------------------------------------------


async def test_validation_reports_every_problem_in_chinese_and_writes_nothing():
    p = await new_member()
    assert await issues_of(p, "blood_pressure", {"systolic": 300, "diastolic": 20, "mmol": 5.0}) == {
        ("systolic", "VALUE_OUT_OF_RANGE"),
        ("diastolic", "VALUE_OUT_OF_RANGE"),
        ("glucoseMmol", "VALUE_UNEXPECTED"),
    }
    assert await issues_of(p, "blood_pressure", {"systolic": 90, "diastolic": 100}) == {
        ("systolic", "SYSTOLIC_NOT_ABOVE_DIASTOLIC")
    }
    assert await issues_of(p, "blood_pressure", {"systolic": 120.5, "diastolic": 80, "pulse": 10}) == {
        ("systolic", "VALUE_NOT_INTEGER"),
        ("pulse", "VALUE_OUT_OF_RANGE"),
    }
    assert await issues_of(p, "glucose", {"mmol": 0.5, "context": "noon"}) == {
        ("glucoseMmol", "VALUE_OUT_OF_RANGE"),
        ("glucoseContext", "GLUCOSE_CONTEXT_INVALID"),
    }
    assert await issues_of(p, "glucose", {}) == {("glucoseMmol", "VALUE_REQUIRED")}
    assert await issues_of(p, "weight", {"kg": True}) == {("weightKg", "VALUE_NOT_NUMBER")}
    assert await issues_of(p, "weight", {"kg": float("nan")}) == {("weightKg", "VALUE_NOT_NUMBER")}
    assert await issues_of(p, "exercise", {"minutes": 0, "type": "跑" * 21}) == {
        ("exerciseMinutes", "VALUE_OUT_OF_RANGE"),
        ("exerciseType", "TEXT_TOO_LONG"),
    }
    assert await issues_of(p, "medication", {}, note="备" * 201) == {
        ("medicationTaken", "VALUE_REQUIRED"),
        ("note", "NOTE_TOO_LONG"),
    }
    assert await issues_of(p, "sleep", {"hours": 8}) == {("kind", "CHECKIN_KIND_INVALID")}
    with pytest.raises(ValidationFailed) as caught:
        await check_in(p, "glucose", mmol=50)
    assert caught.value.issues[0].message == "血糖值（mmol/L）需在1到35之间"
    assert await count(CheckIn) == 0
    assert await streak_row(p) is None

    # Boundaries are accepted; values are normalised.
    result = await check_in(p, "glucose", mmol=7.04, context="fasting")
    assert result.check_in.value == {"mmol": 7.0, "context": "fasting"}
    result = await check_in(p, "blood_pressure", systolic=260, diastolic=30, pulse=72)
    assert result.check_in.value == {"systolic": 260, "diastolic": 30, "pulse": 72}


async def test_only_the_patient_checks_in_for_themself():
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await checkins.check_in(session, DOCTOR, kind="weight", value={"kg": 70})
        with pytest.raises(NotAuthenticated):
            await checkins.check_in(session, ANONYMOUS, kind="weight", value={"kg": 70})


# --- streaks ----------------------------------------------------------------------------------


async def test_streak_counts_consecutive_local_dates_and_a_missed_day_breaks_it():
    p = await new_member()
    at("2025-03-01 08:00")
    first = await check_in(p, "weight")
    assert (first.streak.current, first.streak.longest, first.streak.start_date) == (1, 1, date(2025, 3, 1))
    at("2025-03-01 21:00")
    same_day = await check_in(p, "exercise")  # another kind the same date: still one day
    assert same_day.streak.current == 1
    at("2025-03-02 00:05")  # just after local midnight (16:05 UTC the day before)
    assert (await check_in(p, "weight")).streak.current == 2
    at("2025-03-03 23:59")
    third = await check_in(p, "medication")
    assert (third.streak.current, third.streak.longest, third.streak.start_date) == (3, 3, date(2025, 3, 1))
    assert await streak_now(p) == checkins.Streak(3, 3, date(2025, 3, 3), date(2025, 3, 1))

    at("2025-03-05 09:00")  # 3月4日 missed
    assert (await streak_now(p)).current == 0  # the run is over even before the next check-in
    broken = await check_in(p, "weight")
    assert (broken.streak.current, broken.streak.longest, broken.streak.start_date) == (1, 3, date(2025, 3, 5))
    row = await streak_row(p)
    assert row is not None and (row.current, row.longest, row.last_date) == (1, 3, date(2025, 3, 5))


async def test_streak_across_a_time_zone_change_flying_west():
    p = await new_member()
    at("2025-06-10 23:30", SHANGHAI)
    assert (await check_in(p, "glucose", mmol=6.1)).streak.current == 1
    await set_timezone(p, LOS_ANGELES)
    # Landed the same evening in Los Angeles: still 6月10日 there, so the same streak day.
    at("2025-06-10 20:30", LOS_ANGELES)
    landed = await check_in(p, "weight")
    assert landed.check_in.local_date == date(2025, 6, 10) and landed.streak.current == 1
    # The next Los Angeles calendar date continues the streak.
    at("2025-06-11 09:00", LOS_ANGELES)
    next_day = await check_in(p, "glucose", mmol=5.8)
    assert next_day.check_in.local_date == date(2025, 6, 11)
    assert next_day.check_in.timezone == LOS_ANGELES
    assert (next_day.streak.current, next_day.streak.start_date) == (2, date(2025, 6, 10))
    at("2025-06-12 07:00", LOS_ANGELES)
    assert (await check_in(p, "weight")).streak.current == 3
    # A day skipped in the new zone breaks it.
    at("2025-06-14 07:00", LOS_ANGELES)
    skipped = await check_in(p, "weight")
    assert (skipped.streak.current, skipped.streak.longest) == (1, 3)
    async with unit_of_work() as session:
        stored = set(
            (await session.execute(select(CheckIn.local_date, CheckIn.timezone).where(CheckIn.patient_id == p))).all()
        )
    assert stored == {
        (date(2025, 6, 10), LOS_ANGELES),  # the glucose row (Shanghai) and the weight row share the date
        (date(2025, 6, 10), SHANGHAI),
        (date(2025, 6, 11), LOS_ANGELES),
        (date(2025, 6, 12), LOS_ANGELES),
        (date(2025, 6, 14), LOS_ANGELES),
    }


async def test_streak_across_a_time_zone_change_flying_east_skipping_a_calendar_date():
    p = await new_member()
    await set_timezone(p, LOS_ANGELES)
    at("2025-06-09 08:00", LOS_ANGELES)
    await check_in(p, "weight")
    at("2025-06-10 23:00", LOS_ANGELES)
    assert (await check_in(p, "weight")).streak.current == 2
    await set_timezone(p, SHANGHAI)
    # 13 hours later it is 6月12日 in Shanghai: the Shanghai 6月11日 passed in the air. In Los Angeles,
    # where the last check-in was, it is only the next day, so the streak goes on.
    at("2025-06-12 07:00", SHANGHAI)
    assert (await streak_now(p)).current == 2
    landed = await check_in(p, "weight")
    assert landed.check_in.local_date == date(2025, 6, 12)
    assert landed.streak.current == 3
    # Without a zone change a two-date gap still breaks the streak.
    at("2025-06-14 07:00", SHANGHAI)
    assert (await check_in(p, "weight")).streak.current == 1


# --- milestones -------------------------------------------------------------------------------


async def test_seven_day_milestone_is_awarded_once_per_run():
    p = await new_member()
    results = []
    for day in range(1, 8):
        at(f"2025-04-{day:02d} 08:00")
        results.append(await check_in(p, "weight"))
    assert [r.milestone for r in results[:6]] == [None] * 6
    assert results[6].streak.current == 7
    assert results[6].milestone == checkins.MilestoneAward(days=7, points=20, capped=False)

    # The same day again (same kind: a correction; another kind): no second award.
    at("2025-04-07 20:00")
    again = await check_in(p, "weight", kg=68.0)
    assert again.updated and again.milestone is None and again.streak.current == 7
    assert (await check_in(p, "medication")).milestone is None
    at("2025-04-08 08:00")
    assert (await check_in(p, "weight")).milestone is None

    async with unit_of_work() as session:
        summary = (await loyalty_service.summaries(session, [p]))[p]
        entries = (
            await session.execute(
                select(Entry.rule_code, Entry.amount, Entry.source_ref, Entry.idempotency_key).where(
                    Entry.patient_id == p
                )
            )
        ).all()
    assert summary.available == 20
    assert entries == [
        (
            "checkin_streak_7",
            20,
            f"streak:{p}:2025-04-01:7",
            f"checkin:streak:{p}:2025-04-01:7",
        )
    ]

    # A new run (after a missed day) reaches 7 again and earns again.
    for day in range(10, 17):
        at(f"2025-04-{day:02d} 08:00")
        last = await check_in(p, "weight")
    assert last.milestone == checkins.MilestoneAward(days=7, points=20, capped=False)
    assert last.streak.start_date == date(2025, 4, 10)
    assert await count(Entry, Entry.patient_id == p, Entry.rule_code == "checkin_streak_7") == 2
    async with unit_of_work() as session:
        assert (await loyalty_service.summaries(session, [p]))[p].available == 40


async def test_thirty_day_milestone_and_longest():
    p = await new_member()
    reached = []
    for offset in range(30):
        clock.clock.freeze(datetime(2025, 1, 1, 1, 0, tzinfo=ZoneInfo(SHANGHAI)) + timedelta(days=offset))
        result = await check_in(p, "exercise")
        if result.milestone:
            reached.append((result.streak.current, result.milestone.days, result.milestone.points))
    assert reached == [(7, 7, 20), (30, 30, 100)]
    row = await streak_row(p)
    assert row is not None and (row.current, row.longest) == (30, 30)


# --- alerts -----------------------------------------------------------------------------------


async def test_out_of_range_readings_raise_alerts_and_notify_the_care_team():
    p = await new_member()
    at("2025-05-01 07:30")
    in_range: list[tuple[str, dict[str, Any]]] = [
        ("glucose", {"mmol": 3.9}),
        ("blood_pressure", {"systolic": 179, "diastolic": 109}),
        ("weight", {"kg": 300}),
    ]
    for kind, value in in_range:
        result = await check_in(p, kind, **value)
        assert result.alert is None and not result.check_in.out_of_range
    high_glucose = await check_in(p, "glucose", mmol=16.8)
    assert high_glucose.updated and high_glucose.check_in.out_of_range
    assert high_glucose.alert is not None and high_glucose.alert.reading == "血糖 16.8 mmol/L"
    bp = await check_in(p, "blood_pressure", systolic=150, diastolic=110)
    assert bp.alert is not None and bp.alert.reading == "血压 150/110 mmHg"
    assert await count(HealthAlert) == 2

    care = await messages_to(checkins.CARE_TEAM_RECIPIENT)
    assert len(care) == 2
    assert all(m["channel"] == "in_app" and m["subject"] == "健康预警" for m in care)
    assert "16.8" not in care[0]["body"] and "超出安全范围" in care[0]["body"]
    mine = await messages_to(str(p))
    assert len(mine) == 2 and "偏高" in mine[0]["body"]
    async with unit_of_work() as session:
        sensitive = await session.scalars(select(OutboxMessage.sensitive))
        assert all(sensitive)

    # Low glucose on another day: a hypoglycaemia alert and gentle advice for the patient.
    at("2025-05-02 07:30")
    low = await check_in(p, "glucose", mmol=2.8, context="fasting")
    assert low.alert is not None and "低血糖" in low.alert.message
    assert "含糖食物" in (await messages_to(str(p)))[-1]["body"]


async def test_alert_queue_acknowledgement_and_corrections():
    p = await new_member()
    at("2025-05-01 07:30")
    first = await check_in(p, "glucose", mmol=2.5)
    assert first.alert is not None
    alert_id = first.alert.id

    # A correction into the safe range keeps the alert: the dangerous reading was recorded.
    corrected = await check_in(p, "glucose", mmol=5.5)
    assert corrected.updated and corrected.alert is None and not corrected.check_in.out_of_range
    async with unit_of_work() as session:
        page = await checkins.open_alerts(session, HEALTH_MANAGER, first=10)
    assert [a.id for a in page.items] == [alert_id]
    assert len(await messages_to(checkins.CARE_TEAM_RECIPIENT)) == 1

    for outsider in (MARKETER, MODERATOR, as_patient(p)):
        async with unit_of_work() as session:
            with pytest.raises(PermissionDenied):
                await checkins.open_alerts(session, outsider, first=10)
            with pytest.raises(PermissionDenied):
                await checkins.acknowledge_alert(session, outsider, alert_id)

    async with unit_of_work() as session:
        acked = await checkins.acknowledge_alert(session, DOCTOR, alert_id)
        assert acked.acknowledged_by == DOCTOR.id and acked.acknowledged_at == clock.now()
    clock.clock.advance(timedelta(hours=1))
    async with unit_of_work() as session:
        again = await checkins.acknowledge_alert(session, HEALTH_MANAGER, alert_id)
        assert again.acknowledged_by == DOCTOR.id  # the first acknowledgement counts
        assert (await checkins.open_alerts(session, DOCTOR, first=10)).items == []

    # A dangerous reading again the same day re-opens the alert and tells the care team again.
    reopened = await check_in(p, "glucose", mmol=2.9)
    assert reopened.alert is not None and reopened.alert.id == alert_id
    assert reopened.alert.acknowledged_at is None and reopened.alert.reading == "血糖 2.9 mmol/L"
    assert len(await messages_to(checkins.CARE_TEAM_RECIPIENT)) == 2
    async with unit_of_work() as session:
        assert [a.id for a in (await checkins.open_alerts(session, DOCTOR, first=10)).items] == [alert_id]


# --- privacy ----------------------------------------------------------------------------------


async def test_values_are_only_for_the_patient_and_the_care_team():
    owner, other = await new_member(), await new_member()
    at("2025-05-01 07:30")
    await check_in(owner, "glucose", mmol=6.2)
    await check_in(owner, "blood_pressure", systolic=128, diastolic=82)
    await check_in(other, "weight")

    async with unit_of_work() as session:
        mine = await checkins.my_check_ins(session, as_patient(owner))
        assert {c.kind for c in mine} == {"glucose", "blood_pressure"}
        only_bp = await checkins.my_check_ins(session, as_patient(owner), kind="blood_pressure")
        assert [c.value for c in only_bp] == [{"systolic": 128, "diastolic": 82}]
        for reader in (DOCTOR, HEALTH_MANAGER, as_patient(owner)):
            assert len(await checkins.patient_check_ins(session, reader, owner)) == 2
        assert (await checkins.streak_of(session, DOCTOR, owner)).current == 1
        for intruder in (as_patient(other), MARKETER, MODERATOR, staff(Role.CLINIC_STAFF)):
            with pytest.raises(PermissionDenied):
                await checkins.patient_check_ins(session, intruder, owner)
            with pytest.raises(PermissionDenied):
                await checkins.streak_of(session, intruder, owner)
        with pytest.raises(NotAuthenticated):
            await checkins.patient_check_ins(session, ANONYMOUS, owner)
        with pytest.raises(PermissionDenied):
            await checkins.my_check_ins(session, DOCTOR)
        with pytest.raises(ValidationFailed):
            await checkins.my_check_ins(session, as_patient(owner), days=91)

    # The history window follows the patient's own calendar.
    at("2025-05-30 07:30")
    async with unit_of_work() as session:
        assert len(await checkins.my_check_ins(session, as_patient(owner), days=30)) == 2
        assert await checkins.my_check_ins(session, as_patient(owner), days=29) == []


# --- group boards -----------------------------------------------------------------------------


async def test_group_board_shows_names_never_values_and_only_to_readers():
    group = await make_group("tnb-daka")
    alice, bob, carol, dave, outsider = [await new_member() for _ in range(5)]
    for p, name in ((alice, "甜甜圈"), (bob, "老王"), (carol, "小林"), (dave, "阿德")):
        await set_nickname(p, name)
        await join(group, p)
    at("2025-05-01 07:30")
    await check_in(alice, "glucose", group_id=group, mmol=7.2)
    await check_in(alice, "weight", group_id=group, kg=61.5)  # two kinds: counted once
    at("2025-05-01 08:30")
    await check_in(bob, "blood_pressure", group_id=group, systolic=185, diastolic=100)
    await check_in(carol, "weight", kg=55.0)  # not shared with the group
    # dave did not check in

    async with unit_of_work() as session:
        board = await checkins.group_board(session, as_patient(dave), group)
    assert board.date == date(2025, 5, 1) and board.count == 2
    assert [m.nickname for m in board.members] == ["甜甜圈", "老王"]
    shown = str(asdict(board))
    for value in ("7.2", "61.5", "185", "100", "glucose", "blood_pressure", "weight"):
        assert value not in shown
    assert set(asdict(board.members[0])) == {"nickname"}

    async with unit_of_work() as session:
        other_day = await checkins.group_board(session, MODERATOR, group, date(2025, 4, 30))
        assert (other_day.count, other_day.members) == (0, [])
        for stranger in (as_patient(outsider), MARKETER, ANONYMOUS):
            with pytest.raises(PermissionDenied) as caught:
                await checkins.group_board(session, stranger, group)
            assert caught.value.code == "NOT_A_MEMBER"

    # Only active members may put a check-in on the board.
    with pytest.raises(PermissionDenied):
        await check_in(outsider, "weight", group_id=group)

    # Someone who left no longer shows.
    async with unit_of_work() as session:
        await groups.leave(session, as_patient(bob), group)
    async with unit_of_work() as session:
        board = await checkins.group_board(session, as_patient(alice), group)
    assert (board.count, [m.nickname for m in board.members]) == (1, ["甜甜圈"])


async def test_public_group_board_follows_the_group_access_rules():
    group = await make_group("gxy-daka", visibility="public")
    member, outsider = await new_member(), await new_member()
    await join(group, member)
    at("2025-05-01 07:30")
    await check_in(member, "exercise", group_id=group, minutes=45)
    async with unit_of_work() as session:
        board = await checkins.group_board(session, as_patient(outsider), group)
    assert board.count == 1


# --- GraphQL smoke test -----------------------------------------------------------------------


def _schema() -> strawberry.Schema:
    from api.community.checkins import CheckInMutation, CheckInQuery

    @strawberry.type
    class Query(CheckInQuery):
        pass

    @strawberry.type
    class Mutation(CheckInMutation):
        pass

    return strawberry.Schema(query=Query, mutation=Mutation)


async def _run(schema: strawberry.Schema, actor: Actor, query: str, variables: dict[str, Any] | None = None) -> Any:
    from api.context import Context

    db = RequestDB()
    try:
        context = Context(request=None, response=None, actor=actor, db=db, request_id="test")  # type: ignore[arg-type]
        result = await schema.execute(query, variable_values=variables, context_value=context)
    finally:
        await db.close()
    assert result.errors is None, result.errors
    return result.data


CHECK_IN = """mutation($input: CheckInInput!) { checkIn(input: $input) {
  checkIn { id kind localDate glucoseMmol glucoseContext weightKg outOfRange groupId }
  streak { current longest } milestoneAwarded { days points } updated
  alert { id reading patientNickname checkIn { glucoseMmol } }
  errors { field code message } } }"""


async def test_graphql_check_in_board_and_alerts():
    from api.relay import to_global_id

    schema = _schema()
    group = await make_group("tnb-gql")
    p = await new_member()
    await set_nickname(p, "糖友小周")
    await join(group, p)
    me = as_patient(p)
    at("2025-05-01 07:30")

    data = await _run(
        schema,
        me,
        CHECK_IN,
        {
            "input": {
                "kind": "GLUCOSE",
                "glucoseMmol": 2.6,
                "glucoseContext": "FASTING",
                "groupId": to_global_id("Group", group),
            }
        },
    )
    payload = data["checkIn"]
    assert payload["errors"] == []
    assert payload["checkIn"]["kind"] == "GLUCOSE" and payload["checkIn"]["localDate"] == "2025-05-01"
    assert payload["checkIn"]["glucoseMmol"] == 2.6 and payload["checkIn"]["outOfRange"] is True
    assert payload["checkIn"]["groupId"] == to_global_id("Group", group)
    assert payload["streak"] == {"current": 1, "longest": 1}
    assert payload["alert"]["reading"] == "血糖 2.6 mmol/L（空腹）"
    assert payload["alert"]["patientNickname"] == "糖友小周"

    bad = (await _run(schema, me, CHECK_IN, {"input": {"kind": "GLUCOSE", "weightKg": 60}}))["checkIn"]
    assert bad["checkIn"] is None
    assert {(e["field"], e["code"]) for e in bad["errors"]} == {
        ("glucoseMmol", "VALUE_REQUIRED"),
        ("weightKg", "VALUE_UNEXPECTED"),
    }

    mine = await _run(schema, me, "{ myCheckIns(days: 7) { kind glucoseMmol } myCheckInStreak { current } }")
    assert mine == {"myCheckIns": [{"kind": "GLUCOSE", "glucoseMmol": 2.6}], "myCheckInStreak": {"current": 1}}

    board = await _run(
        schema,
        me,
        "query($g: ID!) { checkInBoard(groupId: $g) { date count members { nickname } } }",
        {"g": to_global_id("Group", group)},
    )
    assert board == {"checkInBoard": {"date": "2025-05-01", "count": 1, "members": [{"nickname": "糖友小周"}]}}

    alerts = await _run(schema, DOCTOR, "{ healthAlerts(first: 5) { edges { node { id reading } } } }")
    alert_id = alerts["healthAlerts"]["edges"][0]["node"]["id"]
    ack = await _run(
        schema,
        DOCTOR,
        """mutation($id: ID!) { healthAlertAcknowledge(input: {alertId: $id}) {
          alert { acknowledgedAt } errors { code } } }""",
        {"id": alert_id},
    )
    assert ack["healthAlertAcknowledge"]["errors"] == []
    assert ack["healthAlertAcknowledge"]["alert"]["acknowledgedAt"] is not None
    refused = await _run(
        schema,
        MARKETER,
        "mutation($id: ID!) { healthAlertAcknowledge(input: {alertId: $id}) { alert { id } errors { code } } }",
        {"id": alert_id},
    )
    assert refused["healthAlertAcknowledge"] == {"alert": None, "errors": [{"code": "NOT_CARE_TEAM"}]}
