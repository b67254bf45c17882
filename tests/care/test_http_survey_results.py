"""surveyResults and surveyResponses over HTTP with signed-in actors: the care desk reads the answers per
question and the responses with the patient masked, each listed patient's answers land in the PHI read
audit (through graphql:surveyResponses); marketers, doctors and patients are refused; malformed ids,
reversed ranges, scores outside 0-10, oversized pages and null bytes get their typed errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from api.relay import to_global_id
from core import clock
from core.db import unit_of_work
from privacy.models import PhiRead
from tests.care.support import start, surveyed_visit
from tests.factories import make_site, new_member
from tests.support import data, gql, patient_session, staff_session

pytestmark = pytest.mark.usefixtures("ledger_invariants")

RESULTS = """query($since: Date, $until: Date, $site: ID) {
  surveyResults(since: $since, until: $until, siteId: $site) { title responses promoters passives detractors nps
    questions { key title answered } answerCounts { questionKey label count } } }"""
RESPONSES = """query($site: ID, $min: Int, $max: Int, $comment: Boolean! = false, $first: Int, $after: String) {
  surveyResponses(siteId: $site, minScore: $min, maxScore: $max, withComment: $comment, first: $first,
    after: $after) {
    nodes { id score comment answeredAt site { id } respondent { nickname maskedPhone } }
    pageInfo { hasNextPage endCursor } } }"""
MY = """{ mySurveys(first: 5) { nodes { id respondent { nickname } } } }"""
ANSWER = """mutation($id: ID!, $score: Int!, $comment: String) {
  surveyAnswer(input: {surveyId: $id, score: $score, comment: $comment}) { survey { id } errors { code } } }"""


@pytest.fixture(autouse=True)
async def _frozen() -> None:
    clock.clock.freeze(start())


def _codes(result: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in result.get("errors") or []]


async def _answer(client: Any, phone: str, site, external_id: str, score: int, comment: str | None) -> str:
    pid = await new_member(phone)
    survey = await surveyed_visit(pid, site, external_id)  # a day later: sign in afterwards
    patient = await patient_session(client, phone)
    survey_gid = to_global_id("Survey", survey.id)
    answered = data(
        await gql(client, ANSWER, {"id": survey_gid, "score": score, "comment": comment}, token=patient.access)
    )
    assert answered["surveyAnswer"]["errors"] == [], answered
    own = data(await gql(client, MY, token=patient.access))["mySurveys"]["nodes"]
    assert own[0]["respondent"] is None  # the patient is not shown to themselves
    return survey_gid


async def test_the_desk_reads_results_and_masked_responses_and_the_reads_are_recorded(client) -> None:
    site = await make_site("N1")
    await _answer(client, "13700000001", site, "V-1", 10, "医生很耐心")
    low = await _answer(client, "13700000002", site, "V-2", 4, "候诊太久了")
    desk = await staff_session(client, "desk-survey@example.cn", ["clinic_staff"])
    clock.clock.advance(timedelta(minutes=1))

    results = data(await gql(client, RESULTS, {"site": to_global_id("Site", site)}, token=desk.access))
    summary = results["surveyResults"]
    assert (summary["title"], summary["responses"], summary["promoters"], summary["detractors"]) == (
        "就诊满意度调查",
        2,
        1,
        1,
    )
    assert summary["nps"] == 0.0
    score, comment = summary["questions"]
    assert score["key"] == "score" and score["answered"] == 2
    assert comment == {"key": "comment", "title": "意见与建议（选填）", "answered": 2}
    counts = summary["answerCounts"]
    assert {c["questionKey"] for c in counts} == {"score"} and [c["label"] for c in counts] == [
        str(s) for s in range(11)
    ]
    assert {c["label"]: c["count"] for c in counts if c["count"]} == {"4": 1, "10": 1}

    listed = data(await gql(client, RESPONSES, {"max": 6}, token=desk.access))["surveyResponses"]
    assert [n["id"] for n in listed["nodes"]] == [low]
    node = listed["nodes"][0]
    assert node["score"] == 4 and node["comment"] == "候诊太久了" and node["site"] == {"id": to_global_id("Site", site)}
    assert node["respondent"]["maskedPhone"] == "137****0002"
    page = data(await gql(client, RESPONSES, {"first": 1}, token=desk.access))["surveyResponses"]
    assert page["pageInfo"]["hasNextPage"]
    rest = data(await gql(client, RESPONSES, {"first": 1, "after": page["pageInfo"]["endCursor"]}, token=desk.access))
    assert len(rest["surveyResponses"]["nodes"]) == 1 and not rest["surveyResponses"]["pageInfo"]["hasNextPage"]

    async with unit_of_work() as session:
        reads = (await session.execute(select(PhiRead.kind, PhiRead.through))).all()
    assert set(reads) == {("survey_answers", "graphql:surveyResponses")}
    assert len(reads) == 3  # both patients on the first page, the next page's patient once more


async def test_others_are_refused_and_bad_inputs_get_typed_errors(client) -> None:
    site = await make_site("N1")
    await _answer(client, "13700000003", site, "V-1", 9, None)
    manager = await staff_session(client, "hm-survey@example.cn", ["health_manager"])
    assert data(await gql(client, RESULTS, token=manager.access))["surveyResults"]["responses"] == 1
    for roles in (["marketer"], ["doctor"], ["moderator"]):
        other = await staff_session(client, f"{roles[0]}-survey@example.cn", roles)
        assert _codes(await gql(client, RESULTS, token=other.access)) == ["PERMISSION_DENIED"]
        assert _codes(await gql(client, RESPONSES, token=other.access)) == ["PERMISSION_DENIED"]
    patient = await patient_session(client, "13700000004")
    assert _codes(await gql(client, RESPONSES, token=patient.access)) == ["PERMISSION_DENIED"]
    assert _codes(await gql(client, RESULTS)) == ["NOT_AUTHENTICATED"]

    bad: list[tuple[str, dict[str, Any], str]] = [
        (RESULTS, {"since": "2026-03-02", "until": "2026-03-01"}, "SURVEY_RANGE_INVALID"),
        (RESULTS, {"since": "2020-01-01", "until": "2026-03-01"}, "SURVEY_RANGE_INVALID"),
        (RESULTS, {"site": "not-an-id"}, "ID_INVALID"),
        (RESULTS, {"site": "U2l0ZTo\u0000"}, "INVALID_STRING"),  # refused at the input boundary
        (RESULTS, {"site": to_global_id("Survey", site)}, "ID_INVALID"),
        (RESPONSES, {"min": 11}, "SURVEY_SCORE_RANGE"),
        (RESPONSES, {"min": 8, "max": 2}, "SURVEY_RANGE_INVALID"),
        (RESPONSES, {"first": 10_000}, "PAGE_SIZE_INVALID"),
        (RESPONSES, {"after": "x" * 5000}, "CURSOR_INVALID"),
    ]
    for query, variables, code in bad:
        assert _codes(await gql(client, query, variables, token=manager.access)) == [code], variables
