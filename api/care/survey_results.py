"""Survey results for the care desk: surveyResults (per question) and surveyResponses (the answered
surveys). Rules, authorization and the PHI read audit live in care/survey_results.py."""

from __future__ import annotations

from datetime import date

import strawberry

from api.care.types import SurveyType
from api.context import Info
from api.relay import Connection, optional_id, read_page
from api.views import view
from care import survey_results


@strawberry.type(name="SurveyAnswerCount", description="一道题的一个选项的作答人数")
class SurveyAnswerCount:
    question_key: str
    label: str = strawberry.field(description="选项（评分题为0到10）")
    count: int


@strawberry.type(name="SurveyQuestionResult", description="一道题的作答情况")
class SurveyQuestionResult:
    key: str = strawberry.field(description="score（评分题）或 comment（意见，选填）")
    title: str
    answered: int = strawberry.field(description="作答人数")


# The option counts sit beside the questions, not inside them: a list in a list costs its page size
# squared in the query-cost check (api/cost.py), for eleven numbers.
@strawberry.type(name="SurveyResults", description="满意度调查结果：期间内（按作答时间）的作答数、NPS 与每题作答情况")
class SurveyResultsType:
    title: str
    responses: int = strawberry.field(description="作答数")
    promoters: int = strawberry.field(description="推荐者（9-10分）")
    passives: int = strawberry.field(description="中立者（7-8分）")
    detractors: int = strawberry.field(description="贬损者（0-6分）")
    nps: float = strawberry.field(description="100 ×（推荐者 − 贬损者）/ 作答数")
    questions: list[SurveyQuestionResult]
    answer_counts: list[SurveyAnswerCount] = strawberry.field(description="选择题各选项的人数（文字题没有选项）")

    @classmethod
    def of(cls, r: survey_results.Results) -> SurveyResultsType:
        return view(
            cls,
            r,
            nps=r.nps,
            questions=[SurveyQuestionResult(key=q.key, title=q.title, answered=q.answered) for q in r.questions],
            answer_counts=[
                SurveyAnswerCount(question_key=q.key, label=o.label, count=o.count)
                for q in r.questions
                for o in q.options
            ],
        )


@strawberry.type
class SurveyResultsQuery:
    @strawberry.field(description="满意度调查结果（门诊前台、健康管理师与管理员）；日期为本地日期，含首尾")
    async def survey_results(
        self,
        info: Info,
        since: date | None = None,
        until: date | None = None,
        site_id: strawberry.ID | None = None,
    ) -> SurveyResultsType:
        site = optional_id(site_id, "Site", "siteId")
        found = await info.context.read(
            survey_results.results, period=survey_results.Period(since, until), site_id=site
        )
        return SurveyResultsType.of(found)

    @strawberry.field(
        description="已作答的满意度调查，最新作答在前（门诊前台、健康管理师与管理员；记入健康信息查看记录）"
    )
    async def survey_responses(
        self,
        info: Info,
        since: date | None = None,
        until: date | None = None,
        site_id: strawberry.ID | None = None,
        min_score: int | None = None,
        max_score: int | None = None,
        with_comment: bool = False,
        first: int | None = 20,
        after: str | None = None,
    ) -> Connection[SurveyType]:
        site = optional_id(site_id, "Site", "siteId")
        return await read_page(
            info,
            lambda s, a: survey_results.responses_page(
                s,
                a,
                period=survey_results.Period(since, until),
                site_id=site,
                score_min=min_score,
                score_max=max_score,
                with_comment=with_comment,
                first=first,
                after=after,
            ),
            SurveyType.from_model,
        )
