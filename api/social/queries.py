"""Social queries: profiles (as their owners' privacy settings allow), doctor profiles, the following
feed, my followers, whom I follow, my followed tags and my blocks."""

from __future__ import annotations

import strawberry

from api.context import Info
from api.relay import Connection, require_id, require_id_of
from api.social.types import DoctorProfile, FollowingItem, Profile, ProfileCard, cards, follow_cards, following_feed
from social import accounts, blocks, follows, profiles
from social.accounts import Account

ACCOUNT_TYPES = {"patient": "Patient", "staff": "Staff"}


@strawberry.type
class SocialQuery:
    @strawberry.field(description="个人主页（需登录）：按本人的隐私设置显示；用户不存在时为 null")
    async def profile(self, info: Info, account_id: strawberry.ID) -> Profile | None:
        kind, raw = require_id_of(account_id, ACCOUNT_TYPES, "accountId")
        found = await info.context.read(profiles.profile, Account(kind, raw))
        return Profile.of(found) if found is not None else None

    @strawberry.field(description="我的个人主页（含隐私设置）")
    async def my_profile(self, info: Info) -> Profile:
        async with info.context.db.read() as session:
            me = accounts.of(info.context.actor)
            found = await profiles.profile(session, info.context.actor, me)
        assert found is not None  # the signed-in account exists
        return Profile.of(found)

    @strawberry.field(description="医生或健康管理师的公开主页（无需登录）；不是在职医生或健康管理师时为 null")
    async def doctor_profile(self, info: Info, staff_id: strawberry.ID) -> DoctorProfile | None:
        raw = require_id(staff_id, "Staff", "staffId")
        async with info.context.db.read() as session:
            found = await profiles.doctor_profile(session, raw)
        return DoctorProfile.of(found) if found is not None else None

    @strawberry.field(description="关注动态：关注的人的帖子和回答、关注话题下的帖子，仅限我能阅读的社群，新的在前")
    async def following_feed(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[FollowingItem]:
        return await following_feed(info, first, after)

    @strawberry.field(description="关注我的人，新关注的在前")
    async def my_followers(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ProfileCard]:
        return await follow_cards(info, accounts.of(info.context.actor), "follower", first, after)

    @strawberry.field(description="我关注的人，新关注的在前")
    async def my_following(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ProfileCard]:
        return await follow_cards(info, accounts.of(info.context.actor), "followee", first, after)

    @strawberry.field(description="我关注的话题，新关注的在前")
    async def my_followed_tags(self, info: Info) -> list[str]:
        return await info.context.read(follows.my_tags)

    @strawberry.field(description="我屏蔽的人，新屏蔽的在前（只有我能看到）")
    async def my_blocks(self, info: Info, first: int | None = 20, after: str | None = None) -> Connection[ProfileCard]:
        page = await info.context.read(blocks.my_blocks, first=first, after=after)
        return await cards(info, page, "blocked")
