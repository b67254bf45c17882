"""Care mutations: answering a survey, filing a complaint, the desk's steps on a ticket."""

from __future__ import annotations

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.care.types import ComplaintType, SurveyType, wrap_complaint
from api.context import Info
from api.error_types import CareError
from api.mutations import mutate, on_id
from api.relay import optional_id, require_id
from care import complaints, surveys
from care.models import Complaint
from core.identity import Actor


@strawberry.input
class SurveyAnswerInput:
    survey_id: strawberry.ID
    score: int = strawberry.field(description="0-10分：您有多大可能向亲友推荐我们？")
    comment: str | None = None


@strawberry.type
class SurveyAnswerPayload:
    survey: SurveyType | None = None
    points_awarded: int = 0
    complaint: ComplaintType | None = strawberry.field(default=None, description="低分或投诉内容自动生成的工单")
    errors: list[CareError]

    @classmethod
    def of(cls, v: surveys.Answer, info: Info) -> SurveyAnswerPayload:
        complaint = wrap_complaint(v.complaint, info) if v.complaint else None
        return cls(survey=SurveyType.from_model(v.survey), points_awarded=v.points, complaint=complaint, errors=[])


@strawberry.input
class ComplaintFileInput:
    body: str
    visit_id: strawberry.ID | None = strawberry.field(default=None, description="相关就诊（可选）")


@strawberry.input
class ComplaintAssignInput:
    complaint_id: strawberry.ID
    staff_id: strawberry.ID


@strawberry.input
class ComplaintRespondInput:
    complaint_id: strawberry.ID
    message: str = strawberry.field(description="回复内容，站内信发送给患者")


@strawberry.input
class ComplaintNoteInput:
    complaint_id: strawberry.ID
    note: str | None = None


@strawberry.type
class ComplaintPayload:
    complaint: ComplaintType | None = None
    errors: list[CareError]

    @classmethod
    def of(cls, v: Complaint, info: Info) -> ComplaintPayload:
        return cls(complaint=wrap_complaint(v, info), errors=[])


@strawberry.type
class CareMutation:
    @strawberry.mutation(description="患者作答本人的满意度调查（每份只能作答一次），完成即得积分")
    async def survey_answer(self, info: Info, input: SurveyAnswerInput) -> SurveyAnswerPayload:
        return await mutate(
            info,
            SurveyAnswerPayload,
            on_id(surveys.answer, input.survey_id, "Survey", "surveyId", input.score, input.comment),
        )

    @strawberry.mutation(description="患者直接投诉")
    async def complaint_file(self, info: Info, input: ComplaintFileInput) -> ComplaintPayload:
        async def work(session: AsyncSession, actor: Actor) -> Complaint:
            visit_id = optional_id(input.visit_id, "Visit", "visitId")
            return await complaints.file(session, actor, body=input.body, visit_id=visit_id)

        return await mutate(info, ComplaintPayload, work)

    @strawberry.mutation(description="指派投诉负责人（该院区门诊前台、健康管理师或管理员）")
    async def complaint_assign(self, info: Info, input: ComplaintAssignInput) -> ComplaintPayload:
        async def work(session: AsyncSession, actor: Actor) -> Complaint:
            complaint_id = require_id(input.complaint_id, "Complaint", "complaintId")
            staff_id = require_id(input.staff_id, "Staff", "staffId")
            return await complaints.assign(session, actor, complaint_id, staff_id)

        return await mutate(info, ComplaintPayload, work)

    @strawberry.mutation(description="回复投诉（站内信通知患者，记录首次回复时间）")
    async def complaint_respond(self, info: Info, input: ComplaintRespondInput) -> ComplaintPayload:
        return await mutate(
            info,
            ComplaintPayload,
            on_id(complaints.respond, input.complaint_id, "Complaint", "complaintId", input.message),
        )

    @strawberry.mutation(description="标记投诉已解决")
    async def complaint_resolve(self, info: Info, input: ComplaintNoteInput) -> ComplaintPayload:
        return await mutate(
            info,
            ComplaintPayload,
            on_id(complaints.resolve, input.complaint_id, "Complaint", "complaintId", input.note),
        )

    @strawberry.mutation(description="关闭投诉工单")
    async def complaint_close(self, info: Info, input: ComplaintNoteInput) -> ComplaintPayload:
        return await mutate(
            info, ComplaintPayload, on_id(complaints.close, input.complaint_id, "Complaint", "complaintId", input.note)
        )
