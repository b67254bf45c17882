"""Surveys: sent one day after a completed visit (never for a refunded one), exactly once however
often the cron runs; answered once by their own patient; points once; poor answers open complaints."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from care import errors, surveys
from care.models import Complaint, SurveyStatus
from core import clock
from core.db import unit_of_work
from core.errors import PermissionDenied, ValidationFailed
from core.identity import Role
from loyalty.models import Entry
from messaging.models import InboxMessage
from patients import service as patient_service
from tests.care.support import start, survey_count, survey_of, surveyed_visit, visit
from tests.factories import as_patient, make_site, new_member, staff_actor
from tests.loyalty.support import balances
from tests.support import data, gql, patient_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def inbox_count(source_ref: str) -> int:
    async with unit_of_work() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(InboxMessage).where(InboxMessage.source_ref == source_ref)
            )
            or 0
        )


async def test_survey_sent_one_day_after_completed_visit_once_and_never_for_refunded():
    site = await make_site("S1")
    alice, bob = await new_member(), await new_member()
    alice_visit = await visit(alice, site, "V-A")
    bob_visit = await visit(bob, site, "V-B")
    await visit(bob, site, "V-B", status="refunded")  # the HIS refunds Bob's visit

    assert (await surveys.run_due()).created == 0  # not a day yet
    clock.clock.advance(timedelta(hours=23, minutes=59))
    assert (await surveys.run_due()).created == 0
    clock.clock.advance(timedelta(minutes=2))
    first = await surveys.run_due()
    second = await surveys.run_due()
    assert (first.created, first.sent, second.created, second.sent) == (1, 1, 0, 0)

    survey = await survey_of(alice_visit)
    assert survey is not None and survey.status == SurveyStatus.SENT and survey.patient_id == alice
    assert await survey_of(bob_visit) is None
    assert await survey_count() == 1
    assert await inbox_count(f"survey:{survey.id}") == 1


async def test_survey_cancelled_when_visit_refunded_after_sending_and_expires_after_14_days():
    site = await make_site("S1")
    alice, bob = await new_member(), await new_member()
    refunded = await surveyed_visit(alice, site, "V-A")
    kept = await surveyed_visit(bob, site, "V-B")
    await visit(alice, site, "V-A", status="refunded")
    result = await surveys.run_due()
    assert result.cancelled == 1
    with pytest.raises(errors.SurveyClosed):
        async with unit_of_work() as session:
            await surveys.answer(session, as_patient(alice), refunded.id, 9, None)

    clock.clock.advance(timedelta(days=surveys.EXPIRY_DAYS))
    with pytest.raises(errors.SurveyExpired):  # past its date even before the cron marks it
        async with unit_of_work() as session:
            await surveys.answer(session, as_patient(bob), kept.id, 9, None)
    assert (await surveys.run_due()).expired == 1


async def test_no_in_app_service_consent_means_not_pushed_but_answerable():
    site = await make_site("S1")
    alice = await new_member()
    async with unit_of_work() as session:
        await patient_service.update_consents(
            session,
            as_patient(alice),
            [patient_service.ConsentChange(channel="in_app", purpose="service", granted=False)],
            source="app",
        )
    survey = await surveyed_visit(alice, site, "V-A")
    assert survey.status == SurveyStatus.UNSENT
    assert await inbox_count(f"survey:{survey.id}") == 0
    async with unit_of_work() as session:
        answer = await surveys.answer(session, as_patient(alice), survey.id, 10, None)
    assert answer.points == 10


async def test_answer_awards_points_once_and_second_answer_refused():
    site = await make_site("S1")
    alice = await new_member()
    survey = await surveyed_visit(alice, site, "V-A")
    before = (await balances(alice)).get("available", 0)
    async with unit_of_work() as session:
        answer = await surveys.answer(session, as_patient(alice), survey.id, 9, "  医生很耐心  ")
    assert answer.points == 10 and answer.complaint is None
    assert answer.survey.comment == "医生很耐心"
    with pytest.raises(errors.SurveyAlreadyAnswered) as caught:
        async with unit_of_work() as session:
            await surveys.answer(session, as_patient(alice), survey.id, 10, None)
    assert caught.value.code == "SURVEY_ALREADY_ANSWERED"
    assert (await balances(alice))["available"] == before + 10
    async with unit_of_work() as session:
        entries = await session.scalar(
            select(func.count()).select_from(Entry).where(Entry.rule_code == "survey_completed")
        )
    assert entries == 1


async def test_only_the_own_patient_answers_or_reads_and_score_is_validated():
    site = await make_site("S1")
    alice, mallory = await new_member(), await new_member()
    survey = await surveyed_visit(alice, site, "V-A")
    with pytest.raises(errors.SurveyNotFound):
        async with unit_of_work() as session:
            await surveys.answer(session, as_patient(mallory), survey.id, 0, "投诉")
    with pytest.raises(PermissionDenied):  # staff do not answer for patients
        async with unit_of_work() as session:
            await surveys.answer(session, staff_actor(Role.CLINIC_STAFF), survey.id, 5, None)
    with pytest.raises(ValidationFailed):
        async with unit_of_work() as session:
            await surveys.answer(session, as_patient(alice), survey.id, 11, None)
    async with unit_of_work() as session:
        assert await surveys.get_survey(session, as_patient(mallory), survey.id) is None
        assert await surveys.get_survey(session, as_patient(alice), survey.id) is not None
        assert await surveys.get_survey(session, staff_actor(Role.MARKETER), survey.id) is None
        assert await surveys.get_survey(session, staff_actor(Role.HEALTH_MANAGER), survey.id) is not None


@pytest.mark.parametrize(
    ("score", "comment", "reasons"),
    [
        (6, None, ["low_score"]),
        (0, "等 太 久了，态度差", ["low_score", "word:态度差", "word:等太久"]),
        (9, "医生不错，就是收费窗口乱收费", ["word:乱收费"]),
        (7, "还可以", None),
    ],
)
async def test_low_score_or_complaint_words_open_a_complaint(score, comment, reasons):
    site = await make_site("S1")
    alice = await new_member()
    survey = await surveyed_visit(alice, site, "V-A")
    async with unit_of_work() as session:
        answer = await surveys.answer(session, as_patient(alice), survey.id, score, comment)
    if reasons is None:
        assert answer.complaint is None
    else:
        assert answer.complaint is not None
        assert answer.complaint.reasons == reasons
        assert answer.complaint.site_id == site
        assert answer.complaint.due_at == clock.now() + timedelta(hours=24)
    async with unit_of_work() as session:
        count = await session.scalar(select(func.count()).select_from(Complaint))
    assert count == (0 if reasons is None else 1)


ANSWER = """mutation($id: ID!, $score: Int!, $comment: String) {
  surveyAnswer(input: {surveyId: $id, score: $score, comment: $comment}) {
    survey { id status score } pointsAwarded complaint { id status } errors { code message } } }"""
SURVEY = """query($id: ID!) { node(id: $id) { ... on Survey { id score } } }"""
MY = """{ mySurveys(pending: true) { nodes { id status site { name } } } }"""


async def test_graphql_answer_own_survey_and_not_anothers(client):
    from api.relay import to_global_id
    from patients.models import Patient

    site = await make_site("S1")
    alice = await patient_session(client, "13900000001")
    mallory = await patient_session(client, "13900000002")
    async with unit_of_work() as session:
        alice_id = await session.scalar(select(Patient.id).where(Patient.phone == "13900000001"))
    survey = await surveyed_visit(alice_id, site, "V-A")
    gid = to_global_id("Survey", survey.id)
    # a day went by: fresh sign-ins (access tokens live 15 minutes)
    alice = await patient_session(client, "13900000001")
    mallory = await patient_session(client, "13900000002")

    assert data(await gql(client, MY, token=alice.access))["mySurveys"]["nodes"][0]["id"] == gid
    assert data(await gql(client, MY, token=mallory.access))["mySurveys"]["nodes"] == []
    assert data(await gql(client, SURVEY, {"id": gid}, token=mallory.access))["node"] is None
    refused = data(await gql(client, ANSWER, {"id": gid, "score": 3}, token=mallory.access))["surveyAnswer"]
    assert [e["code"] for e in refused["errors"]] == ["SURVEY_NOT_FOUND"]

    done = data(await gql(client, ANSWER, {"id": gid, "score": 3, "comment": "等太久"}, token=alice.access))
    payload = done["surveyAnswer"]
    assert payload["errors"] == [] and payload["pointsAwarded"] == 10
    assert payload["survey"]["status"] == "ANSWERED" and payload["complaint"]["status"] == "OPEN"
    again = data(await gql(client, ANSWER, {"id": gid, "score": 10}, token=alice.access))["surveyAnswer"]
    assert [e["code"] for e in again["errors"]] == ["SURVEY_ALREADY_ANSWERED"]


async def test_two_overlapping_cron_runs_create_and_send_each_survey_once():
    import asyncio

    site = await make_site("S1")
    patients = [await new_member() for _ in range(6)]
    for i, patient in enumerate(patients):
        await visit(patient, site, f"V-{i}")
    clock.clock.advance(timedelta(days=1, minutes=1))
    first, second = await asyncio.gather(surveys.run_due(batch_size=2), surveys.run_due(batch_size=2))
    assert first.created + second.created == 6
    assert first.sent + second.sent == 6
    assert await survey_count() == 6
    async with unit_of_work() as session:
        inbox = await session.scalar(
            select(func.count()).select_from(InboxMessage).where(InboxMessage.source_ref.like("survey:%"))
        )
    assert inbox == 6
