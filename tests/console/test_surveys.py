"""The care team's survey results page: counts per question, NPS, the responses with the patient masked,
filters by score and comment; reading the list is on the PHI read record as console:surveyResponses;
other roles are refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from care import surveys
from core import clock
from core.db import unit_of_work
from privacy.models import PhiRead
from tests.care.support import start, surveyed_visit
from tests.console.support import console_sign_in
from tests.factories import as_patient, make_site, make_staff, new_member

DESK = "desk-surveys@console.test"
MARKETER = "mkt-surveys@console.test"


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


async def _answered(site, phone: str, external_id: str, score: int, comment: str | None) -> None:
    patient = await new_member(phone)
    survey = await surveyed_visit(patient, site, external_id)
    async with unit_of_work() as session:
        await surveys.answer(session, as_patient(patient), survey.id, score, comment)


async def test_the_desk_sees_results_per_question_and_masked_responses(client) -> None:
    site = await make_site("N1", "城北院区")
    await _answered(site, "13600000001", "V-1", 10, "医生很耐心")
    await _answered(site, "13600000002", "V-2", 3, "候诊太久了")
    await make_staff(DESK, ["clinic_staff"], name="吴前台")
    await console_sign_in(client, DESK)

    page = (await client.get("/console/care/surveys")).text
    assert 'id="survey-responses">2<' in page and 'id="survey-nps">0.0<' in page
    assert "请为本次就诊体验打分（0-10分）" in page and "作答 2 人" in page  # the score question
    assert "意见与建议（选填）" in page  # the comment question, 2 comments
    assert 'data-chart="' in page
    assert "136****0001" in page and "136****0002" in page and "13600000001" not in page
    assert "候诊太久了" in page and "医生很耐心" in page

    low = (await client.get("/console/care/surveys?band=detractors")).text
    assert "候诊太久了" in low and "医生很耐心" not in low
    assert 'id="survey-responses">2<' in low  # the summary is of the whole period
    empty = (await client.get("/console/care/surveys?since=2000-01-01&until=2000-01-31")).text
    assert "该期间没有作答" in empty and 'id="survey-responses">0<' in empty
    reversed_range = (await client.get("/console/care/surveys?since=2030-02-01&until=2030-01-01")).text
    assert "结束日期不能早于开始日期" in reversed_range

    async with unit_of_work() as session:
        throughs = set(await session.scalars(select(PhiRead.through).where(PhiRead.kind == "survey_answers")))
    assert throughs == {"console:surveyResponses"}


async def test_other_roles_are_refused(client) -> None:
    await make_staff(MARKETER, ["marketer"])
    await console_sign_in(client, MARKETER)
    assert (await client.get("/console/care/surveys")).status_code == 403
    assert "满意度调查" not in (await client.get("/console/")).text
