"""GraphQL views of messaging: inbox messages, template previews and their issues."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from api.context import Info
from api.relay import Node, node_fetcher, raw_uuids, to_global_id
from core.channels import ChannelName
from messaging import inbox
from messaging.models import InboxMessage, WechatBinding
from messaging.templates import RenderedMessage, TemplateIssue
from messaging.wechat_service import WechatApp

MessageChannel = strawberry.enum(ChannelName, name="MessageChannel")


@strawberry.type(name="InboxMessage", description="站内信：服务通知与活动消息")
class InboxMessageType(Node):
    model: strawberry.Private[InboxMessage]

    @strawberry.field
    def id(self) -> strawberry.ID:
        return to_global_id("InboxMessage", self.model.id)

    @strawberry.field
    def subject(self) -> str | None:
        return self.model.subject

    @strawberry.field
    def body(self) -> str:
        return self.model.body

    @strawberry.field(description="详情链接；请通过 inboxOpenLink 打开（记录点击）")
    def link(self) -> str | None:
        return self.model.link

    @strawberry.field
    def created_at(self) -> datetime:
        return self.model.created_at

    @strawberry.field
    def read_at(self) -> datetime | None:
        return self.model.read_at

    @strawberry.field
    def is_read(self) -> bool:
        return self.model.read_at is not None


@node_fetcher("InboxMessage")
async def _fetch_nodes(info: Info, raw: Sequence[str]) -> list[InboxMessageType | None]:
    ids = raw_uuids(raw)
    async with info.context.db.read() as session:
        found = await inbox.messages_by_ids(session, info.context.actor, [i for i in ids if i is not None])
    return [InboxMessageType(model=found[i]) if i is not None and i in found else None for i in ids]


@strawberry.type(name="MessageTemplateIssue", description="模板问题：位置为该字段文本中的字符偏移（从0开始）")
class TemplateIssueType:
    code: str
    message: str
    field: str
    start: int
    end: int

    @classmethod
    def of(cls, issue: TemplateIssue) -> TemplateIssueType:
        return cls(code=issue.code, message=issue.message, field=issue.field, start=issue.start, end=issue.end)


@strawberry.type(name="MessagePreview", description="按某位患者渲染后的消息及模板问题")
class MessagePreviewType:
    channel: MessageChannel  # type: ignore[valid-type]
    subject: str | None
    body: str
    issues: list[TemplateIssueType]

    @classmethod
    def of(cls, rendered: RenderedMessage) -> MessagePreviewType:
        return cls(
            channel=rendered.channel,
            subject=rendered.subject,
            body=rendered.body,
            issues=[TemplateIssueType.of(i) for i in rendered.issues],
        )


WechatAppEnum = strawberry.enum(WechatApp, name="WechatApp", description="微信应用：小程序或公众号")


@strawberry.type(name="WechatBinding", description="我的微信绑定（不返回 openid）")
class WechatBindingType:
    model: strawberry.Private[WechatBinding]

    @strawberry.field
    def app(self) -> WechatAppEnum:  # type: ignore[valid-type]
        return WechatApp(self.model.app)

    @strawberry.field(description="绑定时间")
    def bound_at(self) -> datetime:
        return self.model.created_at


@strawberry.type(name="WechatSubscription", description="小程序订阅消息：某模板尚余的一次性授权次数")
class WechatSubscriptionType:
    template_id: str
    remaining: int
