"""Survey results for the care desk: answers per question (scores 0-10, comments) and NPS over a period of
local days and per site; the answered surveys listed newest first, filtered by score and comment, each
page a recorded PHI read; only the desk (clinic staff, health managers, admins) reads them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from care import survey_results, surveys
from care.survey_results import Period
from core import clock
from core.db import unit_of_work
from core.errors import DomainError, PermissionDenied
from core.identity import Role
from privacy.models import PhiRead
from tests.care.support import SHANGHAI, start, surveyed_visit
from tests.factories import as_patient, make_site, new_member, staff

pytestmark = pytest.mark.usefixtures("ledger_invariants")

DESK = staff(Role.CLINIC_STAFF)


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def _answered(site, external_id: str, score: int, comment: str | None = None):
    patient = await new_member()
    survey = await surveyed_visit(patient, site, external_id)
    async with unit_of_work() as session:
        answered = await surveys.answer(session, as_patient(patient), survey.id, score, comment)
    return patient, answered.survey


async def test_results_count_answers_per_question_and_nps_by_site_and_period():
    north, south = await make_site("N1"), await make_site("S1")
    await _answered(north, "V-1", 10, "医生很耐心")
    _, second = await _answered(north, "V-2", 9)  # each answer a day after the one before
    await _answered(north, "V-3", 7, "停车不方便")
    await _answered(north, "V-4", 3, "候诊太久")  # a detractor (also opens a complaint)
    await _answered(south, "V-5", 10)
    unanswered = await surveyed_visit(await new_member(), north, "V-6")
    assert unanswered.answered_at is None

    async with unit_of_work() as session:
        everything = await survey_results.results(session, DESK, period=Period(), site_id=None)
        north_only = await survey_results.results(session, DESK, period=Period(), site_id=north)
    assert (everything.responses, everything.promoters, everything.passives, everything.detractors) == (5, 3, 1, 1)
    assert everything.nps == 40.0
    score, comment = everything.questions
    assert score.key == "score" and score.answered == 5
    assert [o.label for o in score.options] == [str(s) for s in range(11)]
    assert {o.label: o.count for o in score.options if o.count} == {"3": 1, "7": 1, "9": 1, "10": 2}
    assert comment.key == "comment" and comment.answered == 3 and comment.options == []
    assert north_only.responses == 4 and north_only.nps == 25.0

    assert second.answered_at is not None
    day = second.answered_at.astimezone(SHANGHAI).date()
    today = clock.now().astimezone(SHANGHAI).date()
    async with unit_of_work() as session:
        tomorrow = await survey_results.results(
            session, DESK, period=Period(today + timedelta(days=1), None), site_id=None
        )
        that_day = await survey_results.results(session, DESK, period=Period(day, day), site_id=None)
        until_then = await survey_results.results(session, DESK, period=Period(None, day), site_id=None)
    assert tomorrow.responses == 0 and tomorrow.nps == 0.0
    assert that_day.responses == 1 and that_day.promoters == 1
    assert until_then.responses == 2


async def test_responses_newest_first_filtered_paged_and_recorded_as_reads():
    site = await make_site("N1")
    low, _ = await _answered(site, "V-1", 2, "态度差")
    await _answered(site, "V-2", 10)
    last, last_survey = await _answered(site, "V-3", 8, "挺好")
    reader = staff(Role.HEALTH_MANAGER)

    async with unit_of_work() as session:
        first = await survey_results.responses_page(session, reader, period=Period(), site_id=None, first=2, after=None)
        rest = await survey_results.responses_page(
            session, reader, period=Period(), site_id=None, first=2, after=first.cursors[-1]
        )
    assert first.items[0].id == last_survey.id and first.has_next_page
    assert len(rest.items) == 1 and not rest.has_next_page
    async with unit_of_work() as session:
        detractors = await survey_results.responses_page(
            session, reader, period=Period(), site_id=None, score_max=6, first=10, after=None
        )
        commented = await survey_results.responses_page(
            session, reader, period=Period(), site_id=None, with_comment=True, first=10, after=None
        )
    assert [s.patient_id for s in detractors.items] == [low]
    assert {s.comment for s in commented.items} == {"态度差", "挺好"}

    async with unit_of_work() as session:
        recorded = set(
            await session.scalars(
                select(PhiRead.patient_id).where(PhiRead.staff_id == reader.id, PhiRead.kind == "survey_answers")
            )
        )
    assert low in recorded and last in recorded and len(recorded) == 3


async def test_only_the_care_desk_reads_results_and_bad_ranges_are_refused():
    site = await make_site("N1")
    patient, _ = await _answered(site, "V-1", 9)
    for outsider in (staff(Role.MARKETER), staff(Role.MODERATOR), staff(Role.DOCTOR), as_patient(patient)):
        with pytest.raises(PermissionDenied):
            async with unit_of_work() as session:
                await survey_results.results(session, outsider, period=Period(), site_id=None)
        with pytest.raises(PermissionDenied):
            async with unit_of_work() as session:
                await survey_results.responses_page(
                    session, outsider, period=Period(), site_id=None, first=5, after=None
                )
    async with unit_of_work() as session:
        assert (await survey_results.results(session, staff(Role.ADMIN), period=Period(), site_id=None)).responses == 1

    today = clock.now().date()
    bad: list[dict[str, Any]] = [
        {"period": Period(today, today - timedelta(days=1))},
        {"period": Period(today - timedelta(days=900), today)},
        {"period": Period(), "score_min": -1},
        {"period": Period(), "score_max": 11},
        {"period": Period(), "score_min": 8, "score_max": 3},
    ]
    for args in bad:
        with pytest.raises(DomainError) as caught:
            async with unit_of_work() as session:
                await survey_results.responses_page(session, DESK, site_id=None, first=5, after=None, **args)
        assert caught.value.code in ("SURVEY_RANGE_INVALID", "SURVEY_SCORE_RANGE")
