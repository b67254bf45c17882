"""Campaign mutations: segments CRUD, the campaign workflow, patients' suppression flags. Each maps
input to a campaigns (or patients) service call; rules and authorization live there."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.campaigns.types import AudienceKind, CampaignClass, CampaignType, SegmentCriteriaInput, SegmentType
from api.context import Info
from api.error_types import CampaignsError
from api.identity.types import PatientType
from api.mutations import ModelPayload, ValuePayload, mutate, on_id
from api.relay import optional_id, require_id
from campaigns import segments, service
from campaigns.models import AudienceKind as DomainAudience
from core.identity import Actor
from patients import service as patient_service


@strawberry.input
class SegmentCreateInput:
    name: str
    description: str = ""
    criteria: SegmentCriteriaInput


@strawberry.input
class SegmentUpdateInput:
    segment_id: strawberry.ID
    name: str | None = None
    description: str | None = None
    criteria: SegmentCriteriaInput | None = None


@strawberry.input
class SegmentDeleteInput:
    segment_id: strawberry.ID


@strawberry.type
class SegmentPayload(ModelPayload):
    segment: SegmentType | None = None
    errors: list[CampaignsError]


@strawberry.type
class SegmentDeletePayload(ValuePayload):
    deleted: bool = False
    errors: list[CampaignsError]


@strawberry.input(description="一个渠道单独使用的正文")
class CampaignChannelBodyInput:
    channel: str = strawberry.field(description="in_app / sms / wechat / email，须为活动选用的渠道")
    body: str


@strawberry.input(description="活动内容：模板变量如 {nickname}；短信与微信正文不得出现病种名称")
class CampaignInput:
    name: str
    kind: CampaignClass
    channels: list[str] = strawberry.field(description="渠道顺序，如 [wechat, sms, in_app]")
    body: str
    subject: str | None = None
    link: str | None = None
    audience_kind: AudienceKind = DomainAudience.SEGMENT
    segment_id: strawberry.ID | None = None
    event_id: strawberry.ID | None = None
    event_audience: str | None = strawberry.field(default=None, description="invited | registered | both")
    scheduled_at: datetime | None = strawberry.field(default=None, description="为空则审批通过后立即发送")
    channel_bodies: list[CampaignChannelBodyInput] = strawberry.field(
        default_factory=list, description="按渠道单独填写的正文（如不含病种名称的短信）；未填写的渠道使用 body"
    )

    def to_domain(self) -> service.CampaignInput:
        return service.CampaignInput(
            name=self.name,
            kind=self.kind.value,
            channels=list(self.channels),
            body=self.body,
            subject=self.subject,
            link=self.link,
            audience_kind=self.audience_kind.value,
            segment_id=optional_id(self.segment_id, "Segment", "segmentId"),
            event_id=optional_id(self.event_id, "Event", "eventId"),
            event_audience=self.event_audience,
            scheduled_at=self.scheduled_at,
            channel_bodies=tuple((b.channel, b.body) for b in self.channel_bodies),
        )


@strawberry.input
class CampaignUpdateInput:
    campaign_id: strawberry.ID
    campaign: CampaignInput


@strawberry.input
class CampaignIdInput:
    campaign_id: strawberry.ID


@strawberry.input
class CampaignReviewInput:
    campaign_id: strawberry.ID
    comment: str | None = None


@strawberry.type
class CampaignPayload(ModelPayload):
    campaign: CampaignType | None = None
    errors: list[CampaignsError]


@strawberry.input(description="患者屏蔽标记：为空表示不变")
class PatientSuppressionInput:
    patient_id: strawberry.ID
    marketing_opt_out: bool | None = None
    deceased: bool | None = None
    admitted: bool | None = None


@strawberry.type
class PatientSuppressionPayload(ModelPayload):
    patient: PatientType | None = None
    errors: list[CampaignsError]


@strawberry.type
class CampaignMutation:
    @strawberry.mutation(description="新建人群（营销运营）")
    async def segment_create(self, info: Info, input: SegmentCreateInput) -> SegmentPayload:
        async def work(session: AsyncSession, actor: Actor):
            return await segments.create_segment(
                session, actor, name=input.name, description=input.description, criteria=input.criteria.to_domain()
            )

        return await mutate(info, SegmentPayload, work)

    @strawberry.mutation(description="修改人群；进行中的活动使用开始时冻结的条件，不受影响")
    async def segment_update(self, info: Info, input: SegmentUpdateInput) -> SegmentPayload:
        async def work(session: AsyncSession, actor: Actor):
            return await segments.update_segment(
                session,
                actor,
                require_id(input.segment_id, "Segment", "segmentId"),
                name=input.name,
                description=input.description,
                criteria=input.criteria.to_domain() if input.criteria else None,
            )

        return await mutate(info, SegmentPayload, work)

    @strawberry.mutation(description="删除人群（未结束的活动正在使用时不可删除）")
    async def segment_delete(self, info: Info, input: SegmentDeleteInput) -> SegmentDeletePayload:
        async def work(session: AsyncSession, actor: Actor) -> bool:
            await segments.delete_segment(session, actor, require_id(input.segment_id, "Segment", "segmentId"))
            return True

        return await mutate(info, SegmentDeletePayload, work)

    @strawberry.mutation(description="新建活动草稿（营销运营）")
    async def campaign_create(self, info: Info, input: CampaignInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, lambda s, a: service.create_campaign(s, a, input.to_domain()))

    @strawberry.mutation(description="修改活动；已审批的活动修改后需重新提交审批")
    async def campaign_update(self, info: Info, input: CampaignUpdateInput) -> CampaignPayload:
        return await mutate(
            info,
            CampaignPayload,
            lambda s, a: service.update_campaign(
                s, a, require_id(input.campaign_id, "Campaign", "campaignId"), input.campaign.to_domain()
            ),
        )

    @strawberry.mutation(description="提交审批")
    async def campaign_submit(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, on_id(service.submit, input.campaign_id, "Campaign", "campaignId"))

    @strawberry.mutation(description="审批通过（审核员或管理员，不能审批自己创建的活动）；未设定时间则立即开始发送")
    async def campaign_approve(self, info: Info, input: CampaignReviewInput) -> CampaignPayload:
        return await mutate(
            info,
            CampaignPayload,
            on_id(service.approve, input.campaign_id, "Campaign", "campaignId", comment=input.comment),
        )

    @strawberry.mutation(description="驳回（需填写意见），活动回到草稿")
    async def campaign_reject(self, info: Info, input: CampaignReviewInput) -> CampaignPayload:
        return await mutate(
            info,
            CampaignPayload,
            on_id(service.reject, input.campaign_id, "Campaign", "campaignId", comment=input.comment or ""),
        )

    @strawberry.mutation(description="立即发送已审批的定时活动；未审批的活动不能发送")
    async def campaign_send_now(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, on_id(service.send_now, input.campaign_id, "Campaign", "campaignId"))

    @strawberry.mutation(description="暂停发送")
    async def campaign_pause(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, on_id(service.pause, input.campaign_id, "Campaign", "campaignId"))

    @strawberry.mutation(description="恢复发送")
    async def campaign_resume(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, on_id(service.resume, input.campaign_id, "Campaign", "campaignId"))

    @strawberry.mutation(description="取消活动：未发送的投递不再发送")
    async def campaign_cancel(self, info: Info, input: CampaignIdInput) -> CampaignPayload:
        return await mutate(info, CampaignPayload, on_id(service.cancel, input.campaign_id, "Campaign", "campaignId"))

    @strawberry.mutation(description="设置患者屏蔽标记：退订全部营销（营销运营或医护）、住院与身故（仅医护）")
    async def patient_suppression_set(self, info: Info, input: PatientSuppressionInput) -> PatientSuppressionPayload:
        return await mutate(
            info,
            PatientSuppressionPayload,
            on_id(
                patient_service.set_suppression,
                input.patient_id,
                "Patient",
                "patientId",
                marketing_opt_out=input.marketing_opt_out,
                deceased=input.deceased,
                admitted=input.admitted,
            ),
        )
