"""GraphQL views of care: surveys, complaints and their history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import strawberry

from api.context import Info
from api.identity.types import PatientType, SiteType, StaffType
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from care import complaints, surveys
from care import models as m
from patients import queries as patient_queries

SurveyStatus = strawberry.enum(m.SurveyStatus, name="SurveyStatus")
ComplaintStatus = strawberry.enum(m.ComplaintStatus, name="ComplaintStatus")
ComplaintSource = strawberry.enum(m.ComplaintSource, name="ComplaintSource")

# What a patient sees of their own ticket's history; assignments and escalations are internal.
PATIENT_VISIBLE_ACTIONS = {"opened", "responded", "resolved", "closed"}


@strawberry.type(name="Survey", description="就诊满意度调查（NPS 0-10分 + 意见）")
class SurveyType(Node):
    model: strawberry.Private[m.Survey]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Survey", self.model.id)

    @strawberry.field
    def status(self) -> SurveyStatus:  # type: ignore[valid-type]
        return m.SurveyStatus(self.model.status)

    @strawberry.field(description="就诊时间")
    def visited_at(self) -> datetime:
        return self.model.visited_at

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        if self.model.site_id is None:
            return None
        site = await info.context.load(patient_queries.sites_by_ids, self.model.site_id)
        return SiteType(model=site) if site else None

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def expires_at(self) -> datetime:
        return self.model.expires_at

    @strawberry.field
    def answered_at(self) -> datetime | None:
        return self.model.answered_at

    @strawberry.field(description="0-10分，未作答为 null")
    def score(self) -> int | None:
        return self.model.score

    @strawberry.field
    def comment(self) -> str | None:
        return self.model.comment

    @strawberry.field(description="作答获得的积分")
    def points_awarded(self) -> int:
        return self.model.points_awarded


@strawberry.type(name="ComplaintAction", description="投诉工单的一步处理记录")
class ComplaintActionType:
    model: strawberry.Private[m.ComplaintAction]
    staff_view: strawberry.Private[bool]

    @strawberry.field(description="opened / assigned / responded / resolved / closed / escalated")
    def action(self) -> str:
        return self.model.action

    @strawberry.field
    def from_status(self) -> ComplaintStatus | None:  # type: ignore[valid-type]
        return m.ComplaintStatus(self.model.from_status) if self.model.from_status else None

    @strawberry.field
    def to_status(self) -> ComplaintStatus:  # type: ignore[valid-type]
        return m.ComplaintStatus(self.model.to_status)

    @strawberry.field(description="处理说明或回复内容")
    def note(self) -> str | None:
        return self.model.note

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="操作人（仅工作人员可见）")
    async def actor(self, info: Info) -> StaffType | None:
        if not self.staff_view or self.model.actor_kind != "staff" or self.model.actor_id is None:
            return None
        staff = await info.context.load(patient_queries.staff_by_ids, self.model.actor_id)
        return StaffType(model=staff) if staff else None


@strawberry.type(name="Complaint", description="投诉工单：24小时内首次回复，超时自动升级")
class ComplaintType(Node):
    model: strawberry.Private[m.Complaint]
    staff_view: strawberry.Private[bool]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("Complaint", self.model.id)

    @strawberry.field
    def status(self) -> ComplaintStatus:  # type: ignore[valid-type]
        return m.ComplaintStatus(self.model.status)

    @strawberry.field
    def source(self) -> ComplaintSource:  # type: ignore[valid-type]
        return m.ComplaintSource(self.model.source)

    @strawberry.field(description="来自满意度调查时的评分")
    def score(self) -> int | None:
        return self.model.score

    @strawberry.field(description="low_score / word:<投诉词> / filed（仅工作人员可见）")
    def reasons(self) -> list[str]:
        return list(self.model.reasons) if self.staff_view else []

    @strawberry.field
    def body(self) -> str:
        return self.model.body

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field(description="首次回复期限（创建后24小时）")
    def due_at(self) -> datetime:
        return self.model.due_at

    @strawberry.field
    def first_response_at(self) -> datetime | None:
        return self.model.first_response_at

    @strawberry.field(description="首次回复用时（秒）")
    def first_response_seconds(self) -> int | None:
        if self.model.first_response_at is None:
            return None
        return int((self.model.first_response_at - self.model.created_at).total_seconds())

    @strawberry.field
    def responded_at(self) -> datetime | None:
        return self.model.responded_at

    @strawberry.field
    def resolved_at(self) -> datetime | None:
        return self.model.resolved_at

    @strawberry.field
    def closed_at(self) -> datetime | None:
        return self.model.closed_at

    @strawberry.field(description="超时升级时间（仅工作人员可见）")
    def escalated_at(self) -> datetime | None:
        return self.model.escalated_at if self.staff_view else None

    @strawberry.field
    async def site(self, info: Info) -> SiteType | None:
        if self.model.site_id is None:
            return None
        site = await info.context.load(patient_queries.sites_by_ids, self.model.site_id)
        return SiteType(model=site) if site else None

    @strawberry.field(description="负责人（仅工作人员可见）")
    async def assignee(self, info: Info) -> StaffType | None:
        if not self.staff_view or self.model.assignee_id is None:
            return None
        staff = await info.context.load(patient_queries.staff_by_ids, self.model.assignee_id)
        return StaffType(model=staff) if staff else None

    @strawberry.field(description="投诉人（仅工作人员可见）")
    async def patient(self, info: Info) -> PatientType | None:
        if not self.staff_view:
            return None
        patient = await info.context.load(patient_queries.patients_by_ids, self.model.patient_id)
        return PatientType(model=patient) if patient else None

    @strawberry.field(description="处理记录（患者只看到受理、回复、解决与关闭）")
    async def history(self, info: Info) -> list[ComplaintActionType]:
        actions = await info.context.load_many(complaints.actions_by_complaint, self.model.id)
        return [
            ComplaintActionType(model=a, staff_view=self.staff_view)
            for a in actions
            if self.staff_view or a.action in PATIENT_VISIBLE_ACTIONS
        ]


def wrap_complaint(model: m.Complaint, info: Info) -> ComplaintType:
    return ComplaintType(model=model, staff_view=info.context.actor.has_role(*complaints.DESK_ROLES))


@node_fetcher("Survey")
async def _fetch_surveys(info: Info, raw: Sequence[str]) -> list[Any]:
    ids = raw_uuids(raw)
    wanted = [i for i in ids if i is not None]
    found = dict(zip(wanted, await info.context.loaders.get(surveys.surveys_by_ids).load_many(wanted), strict=True))
    actor = info.context.actor
    out: list[Any] = []
    for i in ids:
        survey = found.get(i) if i is not None else None
        out.append(SurveyType(model=survey) if survey is not None and surveys.can_read(actor, survey) else None)
    return out


@node_fetcher("Complaint")
async def _fetch_complaints(info: Info, raw: Sequence[str]) -> list[Any]:
    ids = raw_uuids(raw)
    wanted = [i for i in ids if i is not None]
    loader = info.context.loaders.get(complaints.complaints_by_ids)
    found = dict(zip(wanted, await loader.load_many(wanted), strict=True))
    actor = info.context.actor
    out: list[Any] = []
    for i in ids:
        c = found.get(i) if i is not None else None
        out.append(wrap_complaint(c, info) if c is not None and complaints.can_read(actor, c) else None)
    return out
