"""The automated journeys (campaigns/journeys.py) as staff read them: what starts each one, its steps and
message; the day campaigns each journey produced come from `campaigns(journey:)` with their stats."""

from __future__ import annotations

import strawberry

from api.campaigns.types import CampaignClass
from api.context import Info
from campaigns import journeys


@strawberry.type(name="Journey", description="自动旅程：由规则触发、每天生成一个活动的消息模板（营销运营与审核可见）")
class JourneyType:
    code: str = strawberry.field(description="旅程编码（活动的 journeyKey 为“编码:日期”）")
    name: str
    kind: CampaignClass
    trigger: str = strawberry.field(description="触发条件")
    steps: list[str] = strawberry.field(description="旅程步骤：触发、生成活动、渠道、发送规则、消息")
    channels: list[str] = strawberry.field(description="渠道顺序")
    subject: str
    body: str = strawberry.field(description="消息模板（变量如 {nickname}）")

    @classmethod
    def of(cls, j: journeys.Journey) -> JourneyType:
        return cls(
            code=j.code,
            name=j.name,
            kind=CampaignClass(j.kind),
            trigger=journeys.trigger_of(j),
            steps=journeys.steps_of(j),
            channels=list(j.channels),
            subject=j.subject,
            body=j.body,
        )


@strawberry.type
class JourneyQuery:
    @strawberry.field(description="全部自动旅程（营销运营与审核）")
    def journeys(self, info: Info) -> list[JourneyType]:
        return [JourneyType.of(j) for j in journeys.catalogue(info.context.actor)]
