"""GraphQL views of care: surveys, complaints and their history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import PatientType, SiteType, StaffType, patient_of, site_of, staff_of
from api.relay import Node, load_nodes, node_fetcher
from api.views import node_view, related, view
from care import complaints, surveys
from care import models as m
from patients import queries as patient_queries
from patients.auth import mask_phone

SurveyStatus = m.SurveyStatus
strawberry.enum(SurveyStatus, name="SurveyStatus")
ComplaintStatus = m.ComplaintStatus
strawberry.enum(ComplaintStatus, name="ComplaintStatus")
ComplaintSource = m.ComplaintSource
strawberry.enum(ComplaintSource, name="ComplaintSource")

# What a patient sees of their own ticket's history; assignments and escalations are internal.
PATIENT_VISIBLE_ACTIONS = {"opened", "responded", "resolved", "closed"}


async def _survey_site(root: SurveyType, info: Info) -> SiteType | None:
    return await site_of(info, root.model.site_id)


@strawberry.type(name="SurveyRespondent", description="作答患者（社区昵称与脱敏手机号）")
class SurveyRespondent:
    nickname: str
    masked_phone: str


async def _survey_respondent(root: SurveyType, info: Info) -> SurveyRespondent | None:
    # For the care desk reading results only (the patient knows who they are); the read of the answers
    # is recorded where the survey was handed out (surveys.shows, survey_results.responses_page).
    actor = info.context.actor
    if not actor.is_staff or not surveys.can_read(actor, root.model):
        return None
    return await related(
        info,
        patient_queries.patients_by_ids,
        root.model.patient_id,
        lambda p: SurveyRespondent(nickname=p.nickname, masked_phone=mask_phone(p.phone)),
    )


@strawberry.type(name="Survey", description="就诊满意度调查（NPS 0-10分 + 意见）")
class SurveyType(Node):
    model: strawberry.Private[m.Survey]

    status: SurveyStatus
    visited_at: datetime = strawberry.field(description="就诊时间")
    site: SiteType | None = strawberry.field(resolver=_survey_site)
    created_at: datetime
    expires_at: datetime
    answered_at: datetime | None
    score: int | None = strawberry.field(description="0-10分，未作答为 null")
    comment: str | None
    points_awarded: int = strawberry.field(description="作答获得的积分")
    respondent: SurveyRespondent | None = strawberry.field(
        resolver=_survey_respondent, description="作答患者（仅门诊前台、健康管理师与管理员可见，手机号脱敏）"
    )

    @classmethod
    def from_model(cls, row: m.Survey) -> SurveyType:
        return node_view(cls, row, status=m.SurveyStatus(row.status))


@strawberry.type(name="ComplaintAction", description="投诉工单的一步处理记录")
class ComplaintActionType:
    model: strawberry.Private[m.ComplaintAction]
    staff_view: strawberry.Private[bool]

    action: str = strawberry.field(description="opened / assigned / responded / resolved / closed / escalated")
    from_status: ComplaintStatus | None
    to_status: ComplaintStatus
    note: str | None = strawberry.field(description="处理说明或回复内容")
    created_at: datetime

    @classmethod
    def from_model(cls, row: m.ComplaintAction, *, staff_view: bool) -> ComplaintActionType:
        return view(
            cls,
            row,
            model=row,
            staff_view=staff_view,
            from_status=m.ComplaintStatus(row.from_status) if row.from_status else None,
            to_status=m.ComplaintStatus(row.to_status),
        )

    @strawberry.field(description="操作人（仅工作人员可见）")
    async def actor(self, info: Info) -> StaffType | None:
        if not self.staff_view or self.model.actor_kind != "staff" or self.model.actor_id is None:
            return None
        return await staff_of(info, self.model.actor_id)


@strawberry.type(name="Complaint", description="投诉工单：24小时内首次回复，超时自动升级")
class ComplaintType(Node):
    model: strawberry.Private[m.Complaint]
    staff_view: strawberry.Private[bool]

    status: ComplaintStatus
    source: ComplaintSource
    score: int | None = strawberry.field(description="来自满意度调查时的评分")
    reasons: list[str] = strawberry.field(description="low_score / word:<投诉词> / filed（仅工作人员可见）")
    body: str
    created_at: datetime
    due_at: datetime = strawberry.field(description="首次回复期限（创建后24小时）")
    first_response_at: datetime | None
    first_response_seconds: int | None = strawberry.field(description="首次回复用时（秒）")
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalated_at: datetime | None = strawberry.field(description="超时升级时间（仅工作人员可见）")

    @classmethod
    def from_model(cls, row: m.Complaint, *, staff_view: bool) -> ComplaintType:
        """`staff_view`: the desk and care staff see the reasons and the escalation."""
        first = row.first_response_at
        return node_view(
            cls,
            row,
            staff_view=staff_view,
            status=m.ComplaintStatus(row.status),
            source=m.ComplaintSource(row.source),
            reasons=list(row.reasons) if staff_view else [],
            first_response_seconds=int((first - row.created_at).total_seconds()) if first is not None else None,
            escalated_at=row.escalated_at if staff_view else None,
        )

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        return await site_of(info, self.model.site_id)

    @strawberry.field(description="负责人（仅工作人员可见）")
    async def assignee(self, info: Info) -> StaffType | None:
        if not self.staff_view or self.model.assignee_id is None:
            return None
        return await staff_of(info, self.model.assignee_id)

    @strawberry.field(description="投诉人（仅工作人员可见）")
    async def patient(self, info: Info) -> PatientType | None:
        if not self.staff_view:
            return None
        return await patient_of(info, self.model.patient_id)

    @strawberry.field(description="处理记录（患者只看到受理、回复、解决与关闭）")
    async def history(self, info: Info) -> list[ComplaintActionType]:
        actions = await info.context.load_many(complaints.actions_by_complaint, self.model.id)
        return [
            ComplaintActionType.from_model(a, staff_view=self.staff_view)
            for a in actions
            if self.staff_view or a.action in PATIENT_VISIBLE_ACTIONS
        ]


def wrap_complaint(model: m.Complaint, info: Info) -> ComplaintType:
    return ComplaintType.from_model(model, staff_view=info.context.actor.has_role(*complaints.DESK_ROLES))


@node_fetcher("Survey")
async def _fetch_surveys(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(info, raw, surveys.surveys_by_ids, SurveyType.from_model, visible=surveys.shows)


@node_fetcher("Complaint")
async def _fetch_complaints(info: Info, raw: Sequence[str]) -> list[Any]:
    return await load_nodes(
        info,
        raw,
        complaints.complaints_by_ids,
        lambda c: wrap_complaint(c, info),
        visible=complaints.shows,
    )
