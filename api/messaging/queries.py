"""Messaging queries: the patient's inbox and unread count; the console's template preview."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.messaging.types import (
    InboxMessageType,
    MessageChannel,
    MessagePreviewType,
    WechatBindingType,
    WechatSubscriptionType,
)
from api.relay import Connection, read_page, require_id
from messaging import inbox, templates, wechat_service


@strawberry.input(description="模板变量取值，例如 event_title")
class TemplateVariableInput:
    name: str
    value: str


@strawberry.input
class MessageTemplatePreviewInput:
    channel: MessageChannel
    subject: str | None = None
    body: str
    patient_id: strawberry.ID
    variables: list[TemplateVariableInput] = strawberry.field(default_factory=list)


@strawberry.type
class MessagingQuery:
    @strawberry.field(description="我的站内信，最新在前")
    async def my_inbox(
        self, info: Info, first: int | None = 20, after: str | None = None, unread_only: bool = False
    ) -> Connection[InboxMessageType]:
        return await read_page(
            info,
            lambda s, a: inbox.page(s, a, first=first, after=after, unread_only=unread_only),
            InboxMessageType.from_model,
        )

    @strawberry.field(description="我的未读站内信数量")
    async def inbox_unread_count(self, info: Info) -> int:
        return await info.context.read(inbox.unread_count)

    @strawberry.field(description="按某位患者预览消息模板，并检查模板问题（市场运营）")
    async def message_template_preview(self, info: Info, input: MessageTemplatePreviewInput) -> MessagePreviewType:
        patient_id = require_id(input.patient_id, "Patient", "patientId")
        rendered = await info.context.read(
            templates.staff_preview,
            channel=input.channel,
            subject=input.subject,
            body=input.body,
            patient_id=patient_id,
            extra={v.name: v.value for v in input.variables},
        )
        return MessagePreviewType.of(rendered)

    @strawberry.field(description="我的微信绑定")
    async def my_wechat_bindings(self, info: Info) -> list[WechatBindingType]:
        rows = await info.context.read(wechat_service.my_bindings)
        return [WechatBindingType.from_model(r) for r in rows]

    @strawberry.field(description="我的小程序订阅消息授权余量（每个模板）")
    async def my_wechat_subscriptions(self, info: Info) -> list[WechatSubscriptionType]:
        counts = await info.context.read(wechat_service.my_subscriptions)
        return [WechatSubscriptionType(template_id=t, remaining=n) for t, n in counts.items()]
