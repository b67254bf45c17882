"""Memberships seen by their holder: my groups, my notification level per group; the payload every
membership mutation answers with (the resulting membership, so a client need not read it again)."""

from __future__ import annotations

import strawberry

from api.community.types import MemberRole, MembershipConnection, MembershipType, MemberState, NotificationLevel
from api.context import Info
from api.error_types import CommunityError
from api.mutations import mutate, on_id
from api.relay import read_page, require_id, require_id_of
from community import groups
from community.models import Membership


@strawberry.type
class MembershipPayload:
    state: MemberState | None = None
    role: MemberRole | None = None
    membership: MembershipType | None = strawberry.field(default=None, description="操作后的成员身份")
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: Membership, info: Info) -> MembershipPayload:
        return cls(
            state=MemberState(v.state),
            role=MemberRole(v.role),
            membership=MembershipType.from_model(v, viewer=info.context.actor),
            errors=[],
        )


_ACCOUNTS = {"patient": "Patient", "staff": "Staff"}


def member_ref(membership_id: object, group_id: object, account_id: object) -> groups.MemberRef:
    """The membership a moderator names: by its id, or by group and account (Patient or Staff id)."""
    return groups.MemberRef(
        membership_id=require_id(membership_id, "Membership", "membershipId") if membership_id else None,
        group_id=require_id(group_id, "Group", "groupId") if group_id else None,
        account=require_id_of(account_id, _ACCOUNTS, "accountId") if account_id else None,
    )


@strawberry.input
class GroupNotificationLevelSetInput:
    group_id: strawberry.ID
    level: NotificationLevel


@strawberry.type
class MembershipQuery:
    @strawberry.field(
        description="我加入、申请中、受邀和被移出的社群（患者或工作人员本人），最新的在前；可按状态筛选（含已退出、被拒绝）"
    )
    async def my_groups(
        self, info: Info, first: int | None = 20, after: str | None = None, state: MemberState | None = None
    ) -> MembershipConnection:
        actor = info.context.actor
        page = await read_page(
            info,
            lambda s, a: groups.my_memberships_page(
                s, a, state=state.value if state else None, first=first, after=after
            ),
            lambda m: MembershipType.from_model(m, viewer=actor),
        )
        return MembershipConnection.of(page)


@strawberry.type
class MembershipMutation:
    @strawberry.mutation(description="设置本群的消息通知级别（本群成员）：全部、仅精选或不通知")
    async def group_notification_level_set(
        self, info: Info, input: GroupNotificationLevelSetInput
    ) -> MembershipPayload:
        return await mutate(
            info,
            MembershipPayload,
            on_id(groups.set_notification_level, input.group_id, "Group", "groupId", input.level.value),
        )
