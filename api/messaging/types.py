"""GraphQL views of messaging: inbox messages, template previews and their issues."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import strawberry

from api.context import Info
from api.relay import Node, node_fetcher, read_nodes
from api.views import node_view, view
from core.channels import ChannelName
from messaging import inbox
from messaging.models import InboxMessage, WechatBinding
from messaging.templates import RenderedMessage, TemplateIssue
from messaging.wechat_service import WechatApp

MessageChannel = ChannelName
strawberry.enum(MessageChannel, name="MessageChannel")


@strawberry.type(name="InboxMessage", description="站内信：服务通知与活动消息")
class InboxMessageType(Node):
    model: strawberry.Private[InboxMessage]

    subject: str | None
    body: str
    link: str | None = strawberry.field(description="详情链接；请通过 inboxOpenLink 打开（记录点击）")
    created_at: datetime
    read_at: datetime | None
    is_read: bool

    @classmethod
    def from_model(cls, row: InboxMessage) -> InboxMessageType:
        return node_view(cls, row, is_read=row.read_at is not None)


@node_fetcher("InboxMessage")
async def _fetch_nodes(info: Info, raw: Sequence[str]) -> list[InboxMessageType | None]:
    return await read_nodes(info, raw, inbox.messages_by_ids, InboxMessageType.from_model)


@strawberry.type(name="MessageTemplateIssue", description="模板问题：位置为该字段文本中的字符偏移（从0开始）")
class TemplateIssueType:
    code: str
    message: str
    field: str
    start: int
    end: int

    @classmethod
    def of(cls, issue: TemplateIssue) -> TemplateIssueType:
        return view(cls, issue)


@strawberry.type(name="MessagePreview", description="按某位患者渲染后的消息及模板问题")
class MessagePreviewType:
    channel: MessageChannel
    subject: str | None
    body: str
    issues: list[TemplateIssueType]

    @classmethod
    def of(cls, rendered: RenderedMessage) -> MessagePreviewType:
        return view(cls, rendered, issues=[TemplateIssueType.of(i) for i in rendered.issues])


WechatAppEnum = WechatApp
strawberry.enum(WechatAppEnum, name="WechatApp", description="微信应用：小程序或公众号")


@strawberry.type(name="WechatBinding", description="我的微信绑定（不返回 openid）")
class WechatBindingType:
    model: strawberry.Private[WechatBinding]

    app: WechatAppEnum
    bound_at: datetime = strawberry.field(description="绑定时间")

    @classmethod
    def from_model(cls, row: WechatBinding) -> WechatBindingType:
        return cls(
            model=row,
            app=WechatApp(row.app),
            bound_at=row.created_at,
        )


@strawberry.type(name="WechatSubscription", description="小程序订阅消息：某模板尚余的一次性授权次数")
class WechatSubscriptionType:
    template_id: str
    remaining: int
