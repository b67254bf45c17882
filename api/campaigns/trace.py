"""patientMessageTrace: why did this patient get this message (campaigns/trace.py decides who may read
it and records the PHI reads; this module only shapes the answer)."""

from __future__ import annotations

import enum
from datetime import datetime

import strawberry

from api.campaigns.types import CampaignType, DeliveryType
from api.context import Info
from api.relay import Connection, read_page, require_id
from campaigns import service, trace


@strawberry.enum(name="PatientMessageKind", description="消息来源：营销或关怀活动的投递，或其他经外呼策略发出的消息")
class PatientMessageKind(enum.StrEnum):
    CAMPAIGN = "campaign"
    OUTREACH = "outreach"


@strawberry.type(name="PatientMessage", description="发给一位患者的一条消息（或一次被跳过的活动投递）及其原因")
class PatientMessageType:
    entry: strawberry.Private[trace.Entry]

    at: datetime = strawberry.field(description="活动投递的生成时间，或消息的发出时间")
    kind: PatientMessageKind
    message_class: str = strawberry.field(description="marketing / care / notice")
    channel: str | None
    source: str = strawberry.field(description="来源：活动名称，或邀请、活动通知、积分提醒等")
    policy: str | None = strawberry.field(description="非活动消息：外呼策略为何放行（授权、频次、免打扰）")
    delivery: DeliveryType | None = strawberry.field(description="活动投递（含状态与说明）")

    @classmethod
    def of(cls, entry: trace.Entry) -> PatientMessageType:
        d, s = entry.delivery, entry.sent
        return cls(
            entry=entry,
            at=entry.at,
            kind=PatientMessageKind.CAMPAIGN if d is not None else PatientMessageKind.OUTREACH,
            message_class=d.kind if d is not None else s.message_class if s is not None else "",
            channel=d.channel if d is not None else s.channel if s is not None else None,
            source=s.source if s is not None else "营销或关怀活动",
            policy=s.explanation if s is not None else None,
            delivery=DeliveryType.from_model(d) if d is not None else None,
        )

    @strawberry.field(description="所属活动（活动投递）")
    async def campaign(self, info: Info) -> CampaignType | None:
        if self.entry.delivery is None:
            return None
        found = await info.context.load(service.campaigns_by_ids, self.entry.delivery.campaign_id)
        return CampaignType.from_model(found) if found else None


@strawberry.type
class TraceQuery:
    @strawberry.field(
        description="为什么这位患者收到（或没收到）这条消息：全部活动投递与其他外呼消息，最新在前（营销运营与管理员）"
    )
    async def patient_message_trace(
        self, info: Info, patient_id: strawberry.ID, first: int | None = 20, after: str | None = None
    ) -> Connection[PatientMessageType]:
        raw = require_id(patient_id, "Patient", "patientId")
        return await read_page(
            info, lambda s, a: trace.patient_trace(s, a, raw, first=first, after=after), PatientMessageType.of
        )
