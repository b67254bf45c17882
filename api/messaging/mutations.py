"""Inbox mutations: mark read (an open), mark all read, open the link (a click). WeChat: bind the
openid the mini program's login code resolves to, unbind, report one-time subscribe grants."""

from __future__ import annotations

import uuid

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import MessagingError, payload_errors
from api.messaging.types import InboxMessageType, WechatAppEnum, WechatBindingType, WechatSubscriptionType
from api.mutations import ModelPayload, ValuePayload, mutate
from api.relay import require_id
from core.errors import DomainError
from core.identity import Actor
from messaging import inbox, wechat_service
from messaging.models import InboxMessage, WechatBinding
from messaging.wechat_service import WechatApp


@strawberry.input
class InboxMessageInput:
    id: strawberry.ID


@strawberry.type
class InboxMessagePayload:
    message: InboxMessageType | None = None
    unread_count: int | None = None
    errors: list[MessagingError]

    @classmethod
    def of(cls, v: tuple[InboxMessage, int], _info: Info) -> InboxMessagePayload:
        return cls(message=InboxMessageType.from_model(v[0]), unread_count=v[1], errors=[])


@strawberry.type
class InboxMarkAllReadPayload:
    marked: int = 0
    unread_count: int | None = None
    errors: list[MessagingError]

    @classmethod
    def of(cls, marked: int, _info: Info) -> InboxMarkAllReadPayload:
        return cls(marked=marked, unread_count=0, errors=[])


@strawberry.type
class InboxOpenLinkPayload:
    link: str | None = None
    message: InboxMessageType | None = None
    errors: list[MessagingError]

    @classmethod
    def of(cls, v: InboxMessage, _info: Info) -> InboxOpenLinkPayload:
        return cls(link=v.link, message=InboxMessageType.from_model(v), errors=[])


@strawberry.input(
    description="小程序登录后 wx.login 得到的 code（公众号网页授权的 code 亦可，app 设为 OFFICIAL_ACCOUNT）"
)
class WechatBindInput:
    code: str
    app: WechatAppEnum = WechatApp.MINI_PROGRAM


@strawberry.input
class WechatUnbindInput:
    app: WechatAppEnum = WechatApp.MINI_PROGRAM


@strawberry.input(description="wx.requestSubscribeMessage 中用户同意（accept）的模板，每个一次授权")
class WechatSubscriptionsGrantInput:
    template_ids: list[str]


@strawberry.type
class WechatBindPayload(ModelPayload):
    binding: WechatBindingType | None = None
    errors: list[MessagingError]


@strawberry.type
class WechatUnbindPayload(ValuePayload):
    unbound: bool = False
    errors: list[MessagingError]


@strawberry.type
class WechatSubscriptionsPayload:
    subscriptions: list[WechatSubscriptionType] | None = None
    errors: list[MessagingError]

    @classmethod
    def of(cls, counts: dict[str, int], _info: Info) -> WechatSubscriptionsPayload:
        return cls(subscriptions=_subscriptions(counts), errors=[])


def _subscriptions(counts: dict[str, int]) -> list[WechatSubscriptionType]:
    return [WechatSubscriptionType(template_id=t, remaining=n) for t, n in counts.items()]


def _id(value: strawberry.ID) -> uuid.UUID:
    return require_id(value, "InboxMessage", "id")


@strawberry.type
class MessagingMutation:
    @strawberry.mutation(description="标记站内信为已读")
    async def inbox_mark_read(self, info: Info, input: InboxMessageInput) -> InboxMessagePayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[InboxMessage, int]:
            message = await inbox.mark_read(s, a, _id(input.id))
            return message, await inbox.unread_count(s, a)

        return await mutate(info, InboxMessagePayload, work)

    @strawberry.mutation(description="全部标记为已读")
    async def inbox_mark_all_read(self, info: Info) -> InboxMarkAllReadPayload:
        async def work(s: AsyncSession, a: Actor) -> int:
            return await inbox.mark_all_read(s, a)

        return await mutate(info, InboxMarkAllReadPayload, work)

    @strawberry.mutation(description="打开站内信中的链接（记录点击），返回要跳转的地址")
    async def inbox_open_link(self, info: Info, input: InboxMessageInput) -> InboxOpenLinkPayload:
        return await mutate(info, InboxOpenLinkPayload, lambda s, a: inbox.open_link(s, a, _id(input.id)))

    @strawberry.mutation(description="绑定微信：小程序登录后上报 code，服务端换取 openid")
    async def wechat_bind(self, info: Info, input: WechatBindInput) -> WechatBindPayload:
        # The code is exchanged with WeChat before the unit of work: no pooled connection waits
        # on WeChat's answer.
        await info.context.db.release()
        try:
            identity = await wechat_service.resolve_code(
                info.context.actor, code=input.code, app=WechatApp(input.app).value
            )
        except DomainError as exc:
            return WechatBindPayload(errors=payload_errors(WechatBindPayload, exc))

        async def work(s: AsyncSession, a: Actor) -> WechatBinding:
            return await wechat_service.bind(s, a, identity)

        return await mutate(info, WechatBindPayload, work)

    @strawberry.mutation(description="解除微信绑定（小程序解绑时未用的订阅授权一并作废）")
    async def wechat_unbind(self, info: Info, input: WechatUnbindInput) -> WechatUnbindPayload:
        async def work(s: AsyncSession, a: Actor) -> bool:
            await wechat_service.unbind(s, a, app=WechatApp(input.app).value)
            return True

        return await mutate(info, WechatUnbindPayload, work)

    @strawberry.mutation(description="上报小程序订阅消息授权：每个同意的模板记一次，每发一条消息用掉一次")
    async def wechat_subscriptions_grant(
        self, info: Info, input: WechatSubscriptionsGrantInput
    ) -> WechatSubscriptionsPayload:
        return await mutate(
            info, WechatSubscriptionsPayload, lambda s, a: wechat_service.record_grants(s, a, input.template_ids)
        )
