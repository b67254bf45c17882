"""The notification centre over GraphQL: my notifications, the unread count, marking read, preferences
per kind and channel, @mention autocomplete, and the live `notificationAdded` subscription (cross-process
through Redis pub/sub; each event re-read as the subscriber)."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Sequence
from datetime import datetime
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.community.types import MemberRole
from api.context import Info
from api.error_types import SocialError
from api.live import announced, one_of
from api.mutations import mutate
from api.relay import Connection, Node, node_fetcher, read_nodes, read_page, require_id, require_ids, to_global_id
from api.social.types import PersonKind, account_gid
from api.views import node_view
from core.identity import Actor
from social import accounts, centre, mentions, notifications
from social.accounts import Account
from social.kinds import NotificationChannel, NotificationKind
from social.models import Notification

strawberry.enum(NotificationKind, name="NotificationKind", description="通知类型")
strawberry.enum(
    NotificationChannel,
    name="NotificationChannel",
    description="通知渠道：站内、微信订阅消息；社区通知从不通过短信发送（SMS 仅用于得到明确的拒绝）",
)


@strawberry.enum(description="通知所指的对象类型")
class NotificationTargetKind(enum.Enum):
    POST = "post"
    COMMENT = "comment"
    EVENT = "event"
    CONTENT = "content"
    PERSON = "person"


_TARGET_TYPES = {"post": "Post", "comment": "Comment", "event": "Event", "content": "ContentItem"}
_PERSON_TYPES = {"patient": "Patient", "staff": "Staff"}


@strawberry.type(description="引发通知的人：匿名发帖者只显示其化名，不给出账号")
class NotificationActor:
    display_name: str
    account_id: strawberry.ID | None = strawberry.field(description="Patient 或 Staff 的全局编号；匿名时为 null")

    @classmethod
    def of(cls, entry: dict[str, Any]) -> NotificationActor:
        kind, raw = entry.get("kind"), entry.get("id")
        gid = to_global_id(_PERSON_TYPES[kind], raw) if kind in _PERSON_TYPES and raw else None
        return cls(display_name=str(entry.get("name", "")), account_id=gid)


@strawberry.type(name="Notification", description="通知中心的一条通知（同一帖子的同类反馈合并为一条）")
class NotificationType(Node):
    model: strawberry.Private[Notification]

    kind: NotificationKind
    title: str = strawberry.field(description="如「3 人觉得有帮助」")
    body: str
    actor_count: int = strawberry.field(description="引发这条通知的人数（合并的反馈为总人数）")
    actors: list[NotificationActor] = strawberry.field(description="至多3位引发者（反馈通知不列出姓名）")
    target_kind: NotificationTargetKind | None
    target_id: strawberry.ID | None = strawberry.field(
        description="Post、Comment、Event、ContentItem、Patient 或 Staff 的全局编号"
    )
    post_id: strawberry.ID | None = strawberry.field(description="相关帖子的全局编号")
    group_id: strawberry.ID | None = strawberry.field(description="所在社群的全局编号")
    created_at: datetime
    updated_at: datetime = strawberry.field(description="最近一次更新（合并的反馈有新增时更新）")
    read_at: datetime | None
    is_read: bool

    @classmethod
    def from_model(cls, row: Notification) -> NotificationType:
        target_id = None
        if row.target_kind == "person" and row.actors:
            target_id = NotificationActor.of(row.actors[0]).account_id
        elif row.target_kind in _TARGET_TYPES and row.target_id is not None:
            target_id = to_global_id(_TARGET_TYPES[row.target_kind], row.target_id)
        return node_view(
            cls,
            row,
            kind=NotificationKind(row.kind),
            actors=[NotificationActor.of(a) for a in row.actors or []],
            target_kind=NotificationTargetKind(row.target_kind) if row.target_kind else None,
            target_id=target_id,
            post_id=to_global_id("Post", row.post_id) if row.post_id else None,
            group_id=to_global_id("Group", row.group_id) if row.group_id else None,
            is_read=row.read_at is not None,
        )


@node_fetcher("Notification")
async def _fetch_nodes(info: Info, raw: Sequence[str]) -> list[NotificationType | None]:
    return await read_nodes(info, raw, notifications.by_ids, NotificationType.from_model)


@strawberry.type(description="一类通知在一个渠道上的开关")
class NotificationPreference:
    kind: NotificationKind
    channel: NotificationChannel
    enabled: bool
    locked: bool = strawberry.field(description="不可关闭（社区审核结果的站内通知）")

    @classmethod
    def of(cls, p: notifications.Preference) -> NotificationPreference:
        return cls(kind=p.kind, channel=p.channel, enabled=p.enabled, locked=p.locked)


@strawberry.type(description="@提及候选：本群中昵称以输入开头的成员")
class MentionCandidate:
    account_id: strawberry.ID
    kind: PersonKind
    display_name: str = strawberry.field(description="写在 @ 之后的昵称")
    role: MemberRole

    @classmethod
    def of(cls, c: mentions.Candidate) -> MentionCandidate:
        return cls(
            account_id=account_gid(c.account),
            kind=PersonKind(c.account.kind),
            display_name=c.display_name,
            role=MemberRole(c.role),
        )


@strawberry.type
class NotificationQuery:
    @strawberry.field(description="我的通知，最近有动态的在前；unreadOnly 只看未读")
    async def notifications(
        self, info: Info, first: int | None = 20, after: str | None = None, unread_only: bool = False
    ) -> Connection[NotificationType]:
        return await read_page(
            info,
            lambda s, a: notifications.page(s, a, first=first, after=after, unread_only=unread_only),
            NotificationType.from_model,
        )

    @strawberry.field(description="未读通知数")
    async def notification_unread_count(self, info: Info) -> int:
        return await info.context.read(notifications.unread_count)

    @strawberry.field(description="我的通知设置：每类通知在站内和微信上的开关（未设置的为默认值）")
    async def notification_preferences(self, info: Info) -> list[NotificationPreference]:
        found = await info.context.read(notifications.preferences)
        return [NotificationPreference.of(p) for p in found]

    @strawberry.field(description="@提及自动补全：本群成员中昵称以 prefix 开头的人（不含我和屏蔽关系中的人）")
    async def mention_candidates(
        self, info: Info, group_id: strawberry.ID, prefix: str = "", first: int = 10
    ) -> list[MentionCandidate]:
        gid = require_id(group_id, "Group", "groupId")
        found = await info.context.read(mentions.candidates, gid, prefix, first=first)
        return [MentionCandidate.of(c) for c in found]


@strawberry.input
class NotificationMarkReadInput:
    ids: list[strawberry.ID] = strawberry.field(description="通知的全局编号（1到100个）")


@strawberry.type
class NotificationMarkReadPayload:
    notifications: list[NotificationType] | None = None
    unread_count: int | None = None
    errors: list[SocialError]

    @classmethod
    def of(cls, v: tuple[list[Notification], int], _info: Info) -> NotificationMarkReadPayload:
        return cls(notifications=[NotificationType.from_model(n) for n in v[0]], unread_count=v[1], errors=[])


@strawberry.type
class NotificationMarkAllReadPayload:
    marked: int = 0
    unread_count: int | None = None
    errors: list[SocialError]

    @classmethod
    def of(cls, marked: int, _info: Info) -> NotificationMarkAllReadPayload:
        return cls(marked=marked, unread_count=0, errors=[])


@strawberry.input(description="一类通知在一个渠道上的开关")
class NotificationPreferenceInput:
    kind: NotificationKind
    channel: NotificationChannel
    enabled: bool


@strawberry.input
class NotificationPreferencesUpdateInput:
    preferences: list[NotificationPreferenceInput] = strawberry.field(description="要修改的项（1到40项）")


@strawberry.type
class NotificationPreferencesPayload:
    preferences: list[NotificationPreference] | None = None
    errors: list[SocialError]

    @classmethod
    def of(cls, v: list[notifications.Preference], _info: Info) -> NotificationPreferencesPayload:
        return cls(preferences=[NotificationPreference.of(p) for p in v], errors=[])


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(description="把通知标记为已读（重复标记无副作用）")
    async def notification_mark_read(self, info: Info, input: NotificationMarkReadInput) -> NotificationMarkReadPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[list[Notification], int]:
            ids = require_ids(input.ids, "Notification", "ids")
            marked = await notifications.mark_read(s, a, ids)
            return marked, await notifications.unread_count(s, a)

        return await mutate(info, NotificationMarkReadPayload, work)

    @strawberry.mutation(description="全部通知标记为已读")
    async def notification_mark_all_read(self, info: Info) -> NotificationMarkAllReadPayload:
        return await mutate(info, NotificationMarkAllReadPayload, notifications.mark_all_read)

    @strawberry.mutation(description="修改通知设置（每类通知在站内、微信上的开关；短信不可选）")
    async def notification_preferences_update(
        self, info: Info, input: NotificationPreferencesUpdateInput
    ) -> NotificationPreferencesPayload:
        changes = [
            notifications.Change(kind=p.kind.value, channel=p.channel.value, enabled=p.enabled)
            for p in input.preferences
        ]
        return await mutate(
            info, NotificationPreferencesPayload, lambda s, a: notifications.update_preferences(s, a, changes)
        )


@strawberry.type
class NotificationSubscription:
    @strawberry.subscription(description="我的新通知（及合并反馈的更新），仅推送给收件人本人")
    async def notification_added(self, info: Info) -> AsyncGenerator[NotificationType, None]:
        me: Account = accounts.of(info.context.actor)
        async for notification in announced(
            info, centre.live_channel(me), "notification_id", one_of(notifications.by_ids), NotificationType.from_model
        ):
            yield notification
