"""Social mutations: follow and unfollow (a person or a tag), block and unblock, socialProfileUpdate (bio,
avatar, allowFollow, privacy settings; `profileUpdate` is the patient's identity profile)."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from api.context import Info
from api.error_types import SocialError
from api.mutations import Work, mutate
from api.relay import require_id_of
from api.social.queries import ACCOUNT_TYPES
from api.social.types import Profile, ProfileAudience
from core.identity import Actor
from social import blocks, errors, follows, profiles
from social.accounts import Account


@dataclass(frozen=True)
class _Followed:
    account: Account | None
    tag: str | None
    following: bool


async def _profile(info: Info, account: Account | None) -> Profile | None:
    """The profile as the actor sees it after the change (read from the primary: the request wrote)."""
    if account is None:
        return None
    found = await info.context.read(profiles.profile, account)
    return Profile.of(found) if found is not None else None


@strawberry.input(description="关注对象：一个人（accountId）或一个话题（tag），二选一")
class FollowInput:
    account_id: strawberry.ID | None = strawberry.field(default=None, description="Patient 或 Staff 的全局编号")
    tag: str | None = strawberry.field(default=None, description="话题，如 控糖 或 #控糖#")


@strawberry.type
class FollowPayload:
    following: bool | None = strawberry.field(default=None, description="操作后是否在关注")
    tag: str | None = strawberry.field(default=None, description="规范化后的话题")
    errors: list[SocialError]
    account: strawberry.Private[Account | None] = None

    @classmethod
    def of(cls, v: _Followed, _info: Info) -> FollowPayload:
        return cls(following=v.following, tag=v.tag, account=v.account, errors=[])

    @strawberry.field(description="被关注的人的主页（关注话题时为 null）")
    async def profile(self, info: Info) -> Profile | None:
        return await _profile(info, self.account)


@strawberry.input
class BlockInput:
    account_id: strawberry.ID = strawberry.field(description="Patient 或 Staff 的全局编号")


@strawberry.type
class BlockPayload:
    blocked: bool | None = strawberry.field(default=None, description="操作后是否在屏蔽")
    errors: list[SocialError]
    account: strawberry.Private[Account | None] = None

    @classmethod
    def of(cls, v: tuple[Account, bool], _info: Info) -> BlockPayload:
        return cls(blocked=v[1], account=v[0], errors=[])

    @strawberry.field(description="对方的主页")
    async def profile(self, info: Info) -> Profile | None:
        return await _profile(info, self.account)


@strawberry.input(description="只改填写的项；avatarKey 为空字符串或 null 时移除头像")
class SocialProfileUpdateInput:
    bio: str | None = strawberry.field(default=None, description="个人简介（300字以内）")
    avatar_key: str | None = strawberry.field(
        default=strawberry.UNSET, description="已上传头像图片的存储路径，如 avatars/2026/a1.jpg"
    )
    allow_follow: bool | None = None
    groups_visible_to: ProfileAudience | None = None
    badges_visible_to: ProfileAudience | None = None
    followers_visible_to: ProfileAudience | None = None


@strawberry.type
class SocialProfilePayload:
    errors: list[SocialError]
    account: strawberry.Private[Account | None] = None

    @classmethod
    def of(cls, v: Account, _info: Info) -> SocialProfilePayload:
        return cls(account=v, errors=[])

    @strawberry.field(description="更新后的个人主页")
    async def profile(self, info: Info) -> Profile | None:
        return await _profile(info, self.account)


def _target(input: FollowInput) -> tuple[Account | None, str | None]:
    if (input.account_id is None) == (input.tag is None):
        raise errors.FollowTargetRequired(field="accountId")
    if input.account_id is not None:
        kind, raw = require_id_of(input.account_id, ACCOUNT_TYPES, "accountId")
        return Account(kind, raw), None
    return None, input.tag


def _following(input: FollowInput, on: bool) -> Work[_Followed]:
    """Follow (`on`) or unfollow the person or the tag of `input`."""

    async def work(s: AsyncSession, a: Actor) -> _Followed:
        account, tag = _target(input)
        if account is not None:
            return _Followed(await (follows.follow if on else follows.unfollow)(s, a, account), None, on)
        assert tag is not None
        return _Followed(None, await (follows.follow_tag if on else follows.unfollow_tag)(s, a, tag), on)

    return work


def _blocking(input: BlockInput, on: bool) -> Work[tuple[Account, bool]]:
    """Block (`on`) or unblock the person of `input`."""

    async def work(s: AsyncSession, a: Actor) -> tuple[Account, bool]:
        kind, raw = require_id_of(input.account_id, ACCOUNT_TYPES, "accountId")
        return await (blocks.block if on else blocks.unblock)(s, a, Account(kind, raw)), on

    return work


@strawberry.type
class SocialMutation:
    @strawberry.mutation(description="关注一个人（医生、健康管理师或开放关注的病友）或一个话题；重复关注无副作用")
    async def follow(self, info: Info, input: FollowInput) -> FollowPayload:
        return await mutate(info, FollowPayload, _following(input, True))

    @strawberry.mutation(description="取消关注一个人或一个话题；未关注时无副作用")
    async def unfollow(self, info: Info, input: FollowInput) -> FollowPayload:
        return await mutate(info, FollowPayload, _following(input, False))

    @strawberry.mutation(description="屏蔽一个人：不再看到其帖子和评论，双方不能互相关注或回复（不影响版主和医护履职）")
    async def block(self, info: Info, input: BlockInput) -> BlockPayload:
        return await mutate(info, BlockPayload, _blocking(input, True))

    @strawberry.mutation(description="解除屏蔽；之前因屏蔽取消的关注不会恢复")
    async def unblock(self, info: Info, input: BlockInput) -> BlockPayload:
        return await mutate(info, BlockPayload, _blocking(input, False))

    @strawberry.mutation(description="更新我的个人主页：简介、头像、是否允许关注、隐私设置")
    async def social_profile_update(self, info: Info, input: SocialProfileUpdateInput) -> SocialProfilePayload:
        avatar = input.avatar_key
        data = profiles.ProfileUpdate(
            bio=input.bio,
            avatar_key=None if avatar is strawberry.UNSET else (avatar or ""),
            allow_follow=input.allow_follow,
            groups_visible_to=input.groups_visible_to.value if input.groups_visible_to else None,
            badges_visible_to=input.badges_visible_to.value if input.badges_visible_to else None,
            followers_visible_to=input.followers_visible_to.value if input.followers_visible_to else None,
        )
        return await mutate(info, SocialProfilePayload, lambda s, a: profiles.update(s, a, data))
