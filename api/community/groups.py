"""Community queries and mutations: groups, memberships, posts, comments, reactions, answers."""

from __future__ import annotations

import uuid
from typing import Any

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.community.comments import CommentMutation, CommentPayload
from api.community.members import MembershipMutation, MembershipPayload, MembershipQuery, member_ref
from api.community.types import (
    GroupType,
    GroupVisibility,
    JoinPolicy,
    MemberRole,
    PostKind,
    PostType,
    ReactionKind,
    post_view,
)
from api.context import Info
from api.error_types import CommunityError
from api.mutations import ModelPayload, ValuePayload, mutate, on_id
from api.relay import Connection, read_page, require_id, require_id_of, require_ids, to_global_id
from community import access, groups, posts
from community.models import Post
from core.identity import Actor


@strawberry.input
class GroupCreateInput:
    slug: str
    name: str
    visibility: GroupVisibility
    join_policy: JoinPolicy
    condition_code: str | None = None
    description: str = ""
    rules_text: str = ""
    cover_url: str | None = None
    allow_anonymous: bool = False
    alias_prefix: str = "病友"
    join_question: str | None = strawberry.field(
        default=None, description="入群问题（最多200个字符）：申请加入审核群或确诊群时须回答"
    )


@strawberry.type
class GroupPayload(ModelPayload):
    group: GroupType | None = None
    errors: list[CommunityError]


@strawberry.input
class GroupJoinInput:
    group_id: strawberry.ID
    note: str | None = strawberry.field(default=None, description="入群申请说明")
    answer: str | None = strawberry.field(
        default=None, description="对本群入群问题的回答（社群设有问题且需审核时必填，最多500个字符；退出时忽略）"
    )


@strawberry.input(description="指定成员：membershipId，或 groupId 加 accountId（二选一）")
class GroupRequestDecideInput:
    approve: bool
    membership_id: strawberry.ID | None = None
    group_id: strawberry.ID | None = None
    account_id: strawberry.ID | None = strawberry.field(default=None, description="申请人的 Patient 或 Staff 全局编号")
    reason: str | None = None


@strawberry.input
class GroupInviteInput:
    group_id: strawberry.ID
    patient_id: strawberry.ID


@strawberry.input
class GroupSetRoleInput:
    group_id: strawberry.ID
    account_id: strawberry.ID = strawberry.field(description="Patient 或 Staff 的全局编号")
    role: MemberRole


@strawberry.input
class PostCreateInput:
    group_id: strawberry.ID
    kind: PostKind
    title: str
    body: str = strawberry.field(description="Markdown")
    image_urls: list[str] = strawberry.field(default_factory=list)
    anonymous: bool = False
    image_ids: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="已上传的图片（imageUpload，用途 POST、同一社群），与 imageUrls 合计最多9张"
    )


@strawberry.type
class PostPayload:
    post: PostType | None = None
    help_text: str | None = strawberry.field(default=None, description="紧急情况时立即给作者的求助信息")
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: Post | posts.Created, info: Info) -> PostPayload:
        if isinstance(v, posts.Created):  # a new or edited post, with the help text an emergency needs
            assert isinstance(v.item, Post)
            return cls(post=post_view(v.item, info), help_text=v.help_text, errors=[])
        return cls(post=post_view(v, info), errors=[])


@strawberry.input
class PostEditInput:
    post_id: strawberry.ID
    title: str
    body: str
    image_urls: list[str] | None = None


@strawberry.input
class PostIdInput:
    post_id: strawberry.ID


@strawberry.input
class PostFlagsInput:
    post_id: strawberry.ID
    pinned: bool | None = None
    locked: bool | None = None
    reason: str | None = None


@strawberry.input
class CommentCreateInput:
    post_id: strawberry.ID
    body: str
    parent_id: strawberry.ID | None = None
    anonymous: bool = False


@strawberry.input
class ReactInput:
    target_id: strawberry.ID = strawberry.field(description="Post 或 Comment 的全局编号")
    kind: ReactionKind
    on: bool = True


@strawberry.type
class ReactPayload(ValuePayload):
    ok: bool = False
    errors: list[CommunityError]


@strawberry.input
class AnswerInput:
    post_id: strawberry.ID
    comment_id: strawberry.ID


@strawberry.input
class AuthorRevealInput:
    target_id: strawberry.ID
    reason: str


@strawberry.type
class AuthorRevealPayload:
    account_id: strawberry.ID | None = None
    errors: list[CommunityError]

    @classmethod
    def of(cls, v: tuple[str, uuid.UUID], _info: Info) -> AuthorRevealPayload:
        kind, account_id = v
        return cls(account_id=to_global_id("Patient" if kind == "patient" else "Staff", account_id), errors=[])


_TARGETS = {"post": "Post", "comment": "Comment"}
_ACCOUNTS = {"patient": "Patient", "staff": "Staff"}


@strawberry.type
class CommunityQuery(MembershipQuery):
    @strawberry.field(description="社群列表（私密社群仅成员可见）")
    async def groups(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[GroupType]:
        return await read_page(
            info, lambda s, a: groups.groups_page(s, a, first=first, after=after), GroupType.from_model
        )

    @strawberry.field(description="按标识取社群；看不到的社群为 null")
    async def group(self, info: Info, slug: str) -> GroupType | None:
        async with info.context.db.read() as session:
            try:
                group, member = await access.group_by_slug(session, info.context.actor, slug)
            except groups.errors.GroupNotFound:
                return None
        return GroupType.from_model(group, member=member)


@strawberry.type
class CommunityMutation(MembershipMutation, CommentMutation):
    @strawberry.mutation(description="新建社群（版主或运营）")
    async def group_create(self, info: Info, input: GroupCreateInput) -> GroupPayload:
        data = groups.GroupInput(
            slug=input.slug,
            name=input.name,
            visibility=input.visibility.value,
            join_policy=input.join_policy.value,
            condition_code=input.condition_code,
            description=input.description,
            rules_text=input.rules_text,
            cover_url=input.cover_url,
            allow_anonymous=input.allow_anonymous,
            alias_prefix=input.alias_prefix,
            join_question=input.join_question,
        )
        return await mutate(info, GroupPayload, lambda s, a: groups.create_group(s, a, data))

    @strawberry.mutation(description="加入社群：开放群立即加入，审核群提交申请")
    async def group_join(self, info: Info, input: GroupJoinInput) -> MembershipPayload:
        return await mutate(
            info,
            MembershipPayload,
            on_id(groups.join, input.group_id, "Group", "groupId", note=input.note, answer=input.answer),
        )

    @strawberry.mutation(description="退出社群")
    async def group_leave(self, info: Info, input: GroupJoinInput) -> MembershipPayload:
        return await mutate(info, MembershipPayload, on_id(groups.leave, input.group_id, "Group", "groupId"))

    @strawberry.mutation(
        description="审批入群申请（版主；确诊群由医护人员确认诊断）：按 membershipId，或按 groupId 加 accountId"
    )
    async def group_request_decide(self, info: Info, input: GroupRequestDecideInput) -> MembershipPayload:
        return await mutate(
            info,
            MembershipPayload,
            lambda s, a: groups.decide_request(
                s,
                a,
                member_ref(input.membership_id, input.group_id, input.account_id),
                approve=input.approve,
                reason=input.reason,
            ),
        )

    @strawberry.mutation(description="邀请患者加入社群（版主）")
    async def group_invite(self, info: Info, input: GroupInviteInput) -> MembershipPayload:
        return await mutate(
            info,
            MembershipPayload,
            lambda s, a: groups.invite(
                s,
                a,
                require_id(input.group_id, "Group", "groupId"),
                require_id(input.patient_id, "Patient", "patientId"),
            ),
        )

    @strawberry.mutation(description="设置群内角色（群主或平台版主）")
    async def group_set_role(self, info: Info, input: GroupSetRoleInput) -> MembershipPayload:
        async def work(s: AsyncSession, a: Actor) -> Any:
            kind, account_id = require_id_of(input.account_id, _ACCOUNTS, "accountId")
            return await groups.set_role(
                s,
                a,
                require_id(input.group_id, "Group", "groupId"),
                account_kind=kind,
                account_id=account_id,
                role=input.role.value,
            )

        return await mutate(info, MembershipPayload, work)

    @strawberry.mutation(description="发帖")
    async def post_create(self, info: Info, input: PostCreateInput) -> PostPayload:
        return await mutate(
            info,
            PostPayload,
            lambda s, a: posts.create_post(
                s,
                a,
                group_id=require_id(input.group_id, "Group", "groupId"),
                kind=input.kind.value,
                title=input.title,
                body=input.body,
                image_urls=input.image_urls,
                anonymous=input.anonymous,
                image_ids=require_ids(input.image_ids, "Image", "imageIds"),
            ),
        )

    @strawberry.mutation(description="编辑自己的帖子（保留修改历史）")
    async def post_edit(self, info: Info, input: PostEditInput) -> PostPayload:
        return await mutate(
            info,
            PostPayload,
            on_id(
                posts.edit_post,
                input.post_id,
                "Post",
                "postId",
                title=input.title,
                body=input.body,
                image_urls=input.image_urls,
            ),
        )

    @strawberry.mutation(description="删除自己的帖子")
    async def post_delete(self, info: Info, input: PostIdInput) -> PostPayload:
        return await mutate(info, PostPayload, on_id(posts.delete_post, input.post_id, "Post", "postId"))

    @strawberry.mutation(description="置顶或锁定帖子（版主）")
    async def post_set_flags(self, info: Info, input: PostFlagsInput) -> PostPayload:
        return await mutate(
            info,
            PostPayload,
            on_id(
                posts.set_flags,
                input.post_id,
                "Post",
                "postId",
                pinned=input.pinned,
                locked=input.locked,
                reason=input.reason,
            ),
        )

    @strawberry.mutation(description="评论或回复")
    async def comment_create(self, info: Info, input: CommentCreateInput) -> CommentPayload:
        return await mutate(
            info,
            CommentPayload,
            lambda s, a: posts.create_comment(
                s,
                a,
                post_id=require_id(input.post_id, "Post", "postId"),
                body=input.body,
                parent_id=require_id(input.parent_id, "Comment", "parentId") if input.parent_id else None,
                anonymous=input.anonymous,
            ),
        )

    @strawberry.mutation(description="表情：点赞、有帮助、抱抱；每种每人一次")
    async def react(self, info: Info, input: ReactInput) -> ReactPayload:
        async def work(s: AsyncSession, a: Actor) -> bool:
            kind, target_id = require_id_of(input.target_id, _TARGETS, "targetId")
            await posts.react(s, a, target_kind=kind, target_id=target_id, kind=input.kind.value, on=input.on)
            return True

        return await mutate(info, ReactPayload, work)

    @strawberry.mutation(description="认证回答（本群专家：医生或健康管理师）")
    async def answer_verify(self, info: Info, input: AnswerInput) -> PostPayload:
        return await mutate(
            info,
            PostPayload,
            lambda s, a: posts.verify_answer(
                s,
                a,
                post_id=require_id(input.post_id, "Post", "postId"),
                comment_id=require_id(input.comment_id, "Comment", "commentId"),
            ),
        )

    @strawberry.mutation(description="采纳回答（提问者）")
    async def answer_accept(self, info: Info, input: AnswerInput) -> PostPayload:
        return await mutate(
            info,
            PostPayload,
            lambda s, a: posts.accept_answer(
                s,
                a,
                post_id=require_id(input.post_id, "Post", "postId"),
                comment_id=require_id(input.comment_id, "Comment", "commentId"),
            ),
        )

    @strawberry.mutation(description="查看匿名作者的真实身份（管理员，须填写理由并记入审计日志）")
    async def author_reveal(self, info: Info, input: AuthorRevealInput) -> AuthorRevealPayload:
        async def work(s: AsyncSession, a: Actor) -> tuple[str, uuid.UUID]:
            kind, target_id = require_id_of(input.target_id, _TARGETS, "targetId")
            return await posts.reveal_author(s, a, target_kind=kind, target_id=target_id, reason=input.reason)

        return await mutate(info, AuthorRevealPayload, work)
