"""The PHI read audit in the domains, without HTTP: what is recorded and for whom, batching into one
insert, and who may read the record (privacy/reads.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from care import complaints, surveys
from care.models import Complaint
from community import checkins
from core import clock
from core.db import unit_of_work
from core.errors import NotAuthenticated, PermissionDenied, ValidationFailed
from core.identity import ANONYMOUS, SYSTEM, Role
from loyalty import service as loyalty_service
from loyalty import visits
from patients import queries as patient_queries
from patients import visibility
from patients.models import PatientCondition
from privacy import reads
from privacy.models import PhiKind, PhiRead
from tests.care.support import start, surveyed_visit, visit
from tests.factories import as_patient, make_site, new_member, staff
from tests.support import count_statements

pytestmark = pytest.mark.usefixtures("ledger_invariants")

DOCTOR = staff(Role.DOCTOR)
DESK = staff(Role.CLINIC_STAFF)
ADMIN = staff(Role.ADMIN)


async def _rows(**where: object) -> list[PhiRead]:
    async with unit_of_work() as session:
        stmt = select(PhiRead).order_by(PhiRead.read_at, PhiRead.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(PhiRead, name) == value)
        return list(await session.scalars(stmt))


async def _complaint_from_survey(site: uuid.UUID) -> Complaint:
    """A low survey score with a comment: the ticket it opens."""
    patient = await new_member()
    survey = await surveyed_visit(patient, site, f"V-{patient}")
    async with unit_of_work() as session:
        answer = await surveys.answer(session, as_patient(patient), survey.id, 3, "等太久")
    assert answer.complaint is not None
    return answer.complaint


def _phi_inserts(statements: list[str]) -> int:
    return sum(1 for s in statements if s.lstrip().upper().startswith("INSERT INTO PHI_READS"))


# --- recording ----------------------------------------------------------------------------------


async def test_a_staff_read_is_recorded_with_roles_kind_and_channel():
    patient = await new_member()
    async with unit_of_work() as session:
        await reads.record_reads(session, DOCTOR, PhiKind.CONDITIONS, [patient], through="export")
    [row] = await _rows()
    assert (row.staff_id, row.patient_id, row.kind, row.through) == (DOCTOR.id, patient, "conditions", "export")
    assert row.staff_roles == ["doctor"] and row.request_id is None
    assert abs((row.read_at - clock.now()).total_seconds()) < 60


async def test_patients_reading_their_own_data_and_the_system_leave_no_record():
    patient = await new_member()
    async with unit_of_work() as session:
        await reads.record_reads(session, as_patient(patient), PhiKind.CHECKINS, [patient])
        await reads.record_reads(session, SYSTEM, PhiKind.CHECKINS, [patient])
        await reads.record_reads(session, ANONYMOUS, PhiKind.CHECKINS, [patient])
        reads.note_reads(as_patient(patient), PhiKind.CHECKINS, [patient])  # no log needed: not recorded
    assert await _rows() == []


async def test_a_list_of_one_hundred_reads_costs_one_insert():
    patients = [uuid.uuid4() for _ in range(100)]
    with reads.collecting(through="graphql:patients", request_id="req-1") as log:
        async with unit_of_work() as session:
            for patient in patients:  # one call per row, as a field resolver would
                await reads.record_reads(session, DOCTOR, PhiKind.CONDITIONS, [patient])
            await reads.record_reads(session, DOCTOR, PhiKind.CONDITIONS, patients[:10])
    assert await _rows() == []  # collected, not yet written
    assert len(log) == 100  # each (staff, patient, kind) once per request
    with count_statements() as counter:
        async with unit_of_work() as session:
            assert await reads.flush(session, log) == 100
    assert _phi_inserts(counter.statements) == 1
    rows = await _rows()
    assert {r.patient_id for r in rows} == set(patients)
    assert {(r.through, r.request_id) for r in rows} == {("graphql:patients", "req-1")}
    async with unit_of_work() as session:
        assert await reads.flush(session, log) == 0  # drained: nothing twice


async def test_a_read_noted_outside_an_audited_request_fails_loudly():
    with pytest.raises(reads.UnauditedRead):
        reads.note_reads(DOCTOR, PhiKind.SURVEY_ANSWERS, [uuid.uuid4()])
    with reads.collecting(through="graphql:node") as log:
        assert reads.noted(DOCTOR, PhiKind.SURVEY_ANSWERS, uuid.uuid4(), True) is True
        assert reads.noted(DOCTOR, PhiKind.SURVEY_ANSWERS, uuid.uuid4(), False) is False
    assert len(log) == 1  # a refused read shows nothing and records nothing


# --- the domain services record where they hand the data out -----------------------------------


async def test_conditions_seen_records_staff_viewers_only():
    patient = await new_member()
    async with unit_of_work() as session:
        await session.execute(insert(PatientCondition).values(patient_id=patient, condition_code="diabetes"))
    marketer = staff(Role.MARKETER)
    async with unit_of_work() as session:
        found = await visibility.conditions_seen(
            session, [(DOCTOR, patient), (marketer, patient), (as_patient(patient), patient)]
        )
    assert [c.code for c in found[(DOCTOR, patient)]] == ["diabetes"]
    assert (marketer, patient) not in found  # outside the care team: nothing shown, nothing recorded
    assert [(r.staff_id, r.kind) for r in await _rows()] == [(DOCTOR.id, "conditions")]


async def test_a_patient_list_filtered_by_condition_records_each_listed_patient():
    first, second = await new_member(), await new_member()
    async with unit_of_work() as session:
        for p in (first, second):
            await session.execute(insert(PatientCondition).values(patient_id=p, condition_code="hypertension"))
    marketer = staff(Role.MARKETER)
    async with unit_of_work() as session:
        await patient_queries.page_patients(session, marketer, first=10, after=None)
        assert await _rows() == []  # an unfiltered list tells nothing of health
        await patient_queries.page_patients(session, marketer, first=10, after=None, condition_code="hypertension")
    assert {(r.patient_id, r.kind) for r in await _rows()} == {(first, "conditions"), (second, "conditions")}


async def test_check_in_reads_by_the_care_team_are_recorded():
    clock.clock.freeze(start())
    patient = await new_member()
    async with unit_of_work() as session:
        await checkins.check_in(session, as_patient(patient), kind="glucose", value={"mmol": 25.0})
    async with unit_of_work() as session:
        await checkins.patient_check_ins(session, as_patient(patient), patient)  # their own: no record
        assert await _rows() == []
        await checkins.patient_check_ins(session, DOCTOR, patient)
        page = await checkins.open_alerts(session, DOCTOR)
        assert [a.patient_id for a in page.items] == [patient]
    rows = await _rows()
    assert {(r.staff_id, r.patient_id, r.kind) for r in rows} == {(DOCTOR.id, patient, "checkins")}
    assert len(rows) == 2  # outside a request each call is its own insert


async def test_complaint_queue_and_survey_reads_are_recorded():
    clock.clock.freeze(start())
    site = await make_site("S1")
    complaint = await _complaint_from_survey(site)
    async with unit_of_work() as session:
        page = await complaints.staff_page(session, DESK, status=None, mine=False, overdue=False, first=10, after=None)
        assert [c.id for c in page.items] == [complaint.id]
    # A ticket opened from a survey shows its score and comment: both kinds are on record.
    assert {(r.patient_id, r.kind) for r in await _rows()} == {
        (complaint.patient_id, "complaints"),
        (complaint.patient_id, "survey_answers"),
    }

    patient = await new_member()
    survey = await surveyed_visit(patient, site, "V-SURVEY-READ")
    async with unit_of_work() as session:
        assert await surveys.get_survey(session, as_patient(patient), survey.id) is not None
        assert await surveys.get_survey(session, staff(Role.MARKETER), survey.id) is None
        assert await surveys.get_survey(session, DESK, survey.id) is not None
    assert [(r.staff_id, r.kind) for r in await _rows(patient_id=patient)] == [(DESK.id, "survey_answers")]


async def test_points_history_with_visit_points_and_a_replayed_visit_are_visit_reads():
    clock.clock.freeze(start())
    site = await make_site("S1")
    patient = await new_member()
    async with unit_of_work() as session:
        await loyalty_service.history(session, DESK, patient, first=10, after=None)
    assert await _rows() == []  # no visit behind any entry yet
    await visit(patient, site, "V-READ-1")
    async with unit_of_work() as session:
        await loyalty_service.history(session, DESK, patient, first=10, after=None)
        await loyalty_service.history(session, as_patient(patient), patient, first=10, after=None)
    assert [(r.staff_id, r.kind) for r in await _rows()] == [(DESK.id, "visits")]

    replay = visits.VisitData(
        external_id="V-READ-1",
        visited_at=clock.now(),
        status="completed",
        department="内分泌科",
        patient_id=patient,
        site_id=site,
        items=[visits.VisitItem("consultation", 5000, 0)],
    )
    async with unit_of_work() as session:
        outcome = await visits.record(session, DESK, replay, source="staff")
    assert outcome.result == "unchanged"  # the stored visit comes back: a read of it
    assert len(await _rows(kind="visits")) == 2


# --- reading the record -------------------------------------------------------------------------


async def _seed_log() -> tuple[uuid.UUID, uuid.UUID]:
    alice, bob = uuid.uuid4(), uuid.uuid4()
    async with unit_of_work() as session:
        await reads.record_reads(session, DOCTOR, PhiKind.CONDITIONS, [alice, bob])
        clock.clock.advance(timedelta(hours=1))
        await reads.record_reads(session, DESK, PhiKind.COMPLAINTS, [alice])
        clock.clock.advance(timedelta(hours=1))
        await reads.record_reads(session, DOCTOR, PhiKind.CHECKINS, [alice])
    return alice, bob


async def test_admins_filter_the_record_by_patient_staff_kind_and_time():
    clock.clock.freeze(start())
    began = clock.now()
    alice, bob = await _seed_log()
    async with unit_of_work() as session:

        async def kinds(**filters: Any) -> list[str]:
            page = await reads.page_log(session, ADMIN, first=20, after=None, **filters)
            return [r.kind for r in page.items]

        assert await kinds() == ["checkins", "complaints", "conditions", "conditions"]  # newest first
        assert await kinds(patient_id=alice) == ["checkins", "complaints", "conditions"]
        assert await kinds(patient_id=bob) == ["conditions"]
        assert await kinds(staff_id=DESK.id) == ["complaints"]
        assert await kinds(kind=PhiKind.CONDITIONS) == ["conditions", "conditions"]
        assert await kinds(since=began + timedelta(minutes=30), until=began + timedelta(minutes=90)) == ["complaints"]
        assert await kinds(since=began + timedelta(hours=5)) == []

        paged = await reads.page_log(session, ADMIN, first=2, after=None)
        rest = await reads.page_log(session, ADMIN, first=2, after=paged.cursors[-1])
        assert paged.has_next_page and [r.kind for r in rest.items] == ["conditions", "conditions"]

        with pytest.raises(ValidationFailed) as refused:
            await reads.page_log(session, ADMIN, since=began, until=began - timedelta(days=1), first=5, after=None)
        assert refused.value.issues[0].code == "PHI_READ_RANGE_INVALID"


async def test_only_admins_read_the_record():
    await _seed_log()
    async with unit_of_work() as session:
        for actor in (DOCTOR, DESK, staff(Role.MODERATOR), as_patient(uuid.uuid4())):
            with pytest.raises(PermissionDenied):
                await reads.page_log(session, actor, first=5, after=None)
        with pytest.raises(NotAuthenticated):
            await reads.page_log(session, ANONYMOUS, first=5, after=None)


async def test_a_patient_reads_who_read_their_data_and_nobody_elses():
    clock.clock.freeze(start())
    alice, bob = await _seed_log()
    async with unit_of_work() as session:
        mine = await reads.my_reads(session, as_patient(alice), first=10, after=None)
        assert [(r.staff_id, r.kind) for r in mine.items] == [
            (DOCTOR.id, "checkins"),
            (DESK.id, "complaints"),
            (DOCTOR.id, "conditions"),
        ]
        theirs = await reads.my_reads(session, as_patient(bob), first=10, after=None)
        assert [r.patient_id for r in theirs.items] == [bob]
        with pytest.raises(PermissionDenied):
            await reads.my_reads(session, DOCTOR, first=10, after=None)
        with pytest.raises(NotAuthenticated):
            await reads.my_reads(session, ANONYMOUS, first=10, after=None)
        count = await session.scalar(select(func.count()).select_from(PhiRead))
    assert count == 4


def test_labels_are_chinese_and_keep_unknown_values():
    assert reads.kind_label("survey_answers") == "满意度调查答卷"
    assert reads.kind_label("checkins") == "健康打卡"
    assert reads.role_labels(["doctor", "clinic_staff", "retired_role"]) == ["医生", "门诊前台", "retired_role"]


async def test_a_condition_targeted_segment_sample_and_its_deliveries_are_condition_reads():
    from campaigns import segments
    from campaigns import service as campaign_service
    from campaigns.segments import SegmentCriteria
    from tests.campaigns.support import approved_campaign, deliveries, make_patient, run

    patient = await make_patient(conditions=["diabetes"])
    await make_patient()
    marketer, reviewer = staff(Role.MARKETER), staff(Role.REVIEWER)
    async with unit_of_work() as session:
        unfiltered = await segments.preview(session, marketer, SegmentCriteria())
        assert patient in unfiltered.sample
    assert await _rows() == []  # a list not chosen by condition says nothing of anyone's health
    async with unit_of_work() as session:
        chosen = await segments.preview(session, marketer, SegmentCriteria(conditions=["diabetes"]))
        assert chosen.sample == [patient]
    assert [(r.staff_id, r.patient_id, r.kind) for r in await _rows()] == [(marketer.id, patient, "conditions")]

    campaign = await approved_campaign(SegmentCriteria(conditions=["diabetes"]))
    await run(campaign)
    assert list(await deliveries(campaign)) == [patient]
    async with unit_of_work() as session:
        page = await campaign_service.deliveries_page(session, reviewer, campaign, status=None, first=10, after=None)
        assert [d.patient_id for d in page.items] == [patient]
    assert [(r.patient_id, r.kind) for r in await _rows(staff_id=reviewer.id)] == [(patient, "conditions")]
