"""GraphQL views of profiles, badges, doctor profiles and the following feed."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, Literal

import strawberry

from api.community.types import CommentType, GroupType, MemberRole, PostType, feed_post_view
from api.context import Info
from api.identity.types import SiteType
from api.relay import Connection, connection, read_page, to_global_id
from community import models as community_models
from core.pagination import Page
from social import feed, follows, models, profiles
from social.accounts import Account

ProfileAudience = models.Audience
strawberry.enum(ProfileAudience, name="ProfileAudience", description="谁能看到：所有登录用户、关注我的人、仅自己")

_TYPE_NAMES = {"patient": "Patient", "staff": "Staff"}


@strawberry.enum(description="用户类型")
class PersonKind(enum.Enum):
    PATIENT = "patient"
    STAFF = "staff"


@strawberry.enum(description="徽章类型")
class BadgeKind(enum.Enum):
    STREAK = "streak"  # 连续打卡里程碑（7/30/100天）
    VERIFIED_CLINICIAN = "verified_clinician"  # 执业资质经核验且在有效期内的医生或健康管理师
    GROUP_ROLE = "group_role"  # 社群专家、版主、群主


@strawberry.enum(description="关注动态条目类型")
class FollowingItemKind(enum.Enum):
    POST = "post"
    ANSWER = "answer"  # 关注的人对提问帖的回答


def account_gid(account: Account) -> strawberry.ID:
    return to_global_id(_TYPE_NAMES[account.kind], account.id)


@strawberry.type(description="徽章")
class Badge:
    kind: BadgeKind
    label: str
    days: int | None = strawberry.field(description="连续打卡徽章：达到的天数")
    group: GroupType | None = strawberry.field(description="社群角色徽章：所在社群")
    role: MemberRole | None = strawberry.field(description="社群角色徽章：角色")

    @classmethod
    def of(cls, b: profiles.Badge) -> Badge:
        return cls(
            kind=BadgeKind(b.kind),
            label=b.label,
            days=b.days,
            group=GroupType.from_model(b.group) if b.group is not None else None,
            role=community_models.MemberRole(b.role) if b.role is not None else None,
        )


@strawberry.type(description="公开的社群身份")
class ProfileGroup:
    group: GroupType
    role: MemberRole


@strawberry.type(description="隐私设置（仅本人可见）")
class ProfileSettings:
    allow_follow: bool = strawberry.field(description="是否允许他人关注我")
    groups_visible_to: ProfileAudience = strawberry.field(description="谁能看到我加入的社群")
    badges_visible_to: ProfileAudience = strawberry.field(description="谁能看到我的徽章")
    followers_visible_to: ProfileAudience = strawberry.field(description="谁能看到我的关注与粉丝")


@strawberry.type(description="用户卡片（列表中的一项）")
class ProfileCard:
    account_id: strawberry.ID = strawberry.field(description="Patient 或 Staff 的全局编号")
    kind: PersonKind
    display_name: str
    avatar_key: str | None
    is_self: bool
    viewer_follows: bool
    can_follow: bool = strawberry.field(description="我此刻能否关注对方")
    since: datetime = strawberry.field(description="关注或屏蔽的时间")

    @classmethod
    def of(cls, v: profiles.ProfileView, since: datetime) -> ProfileCard:
        return cls(
            account_id=account_gid(v.person.account),
            kind=PersonKind(v.person.account.kind),
            display_name=v.person.display_name,
            avatar_key=v.avatar_key,
            is_self=v.is_self,
            viewer_follows=v.viewer_follows,
            can_follow=v.can_follow,
            since=since,
        )


async def cards(info: Info, page: Page[Any], side: str) -> Connection[ProfileCard]:
    """A page of follows or blocks as cards of the people on `side` ('follower', 'followee', 'blocked')."""
    people = [Account(getattr(r, f"{side}_kind"), getattr(r, f"{side}_id")) for r in page.items]
    views = await info.context.read(profiles.load_views, people, detail=False)
    items, cursors = [], []
    for row, account, cursor in zip(page.items, people, page.cursors, strict=True):
        if account in views:  # an account gone since (never for patients: erased ones stay)
            items.append(ProfileCard.of(views[account], row.created_at))
            cursors.append(cursor)
    return connection(Page(items, cursors, page.has_next_page, page.has_previous_page), lambda c: c)


async def follow_cards(
    info: Info, owner: Account, side: Literal["follower", "followee"], first: int | None, after: str | None
) -> Connection[ProfileCard]:
    """A page of the people who follow `owner` (side 'follower') or whom `owner` follows ('followee'),
    as cards, newest follow first."""
    fetch = follows.followers_page if side == "follower" else follows.following_page
    async with info.context.db.read() as session:
        page = await fetch(session, owner, first=first, after=after)
    return await cards(info, page, side)


@strawberry.type(description="个人主页：各部分按本人的隐私设置显示，看不到的为 null")
class Profile:
    view: strawberry.Private[profiles.ProfileView]

    account_id: strawberry.ID = strawberry.field(description="Patient 或 Staff 的全局编号")
    kind: PersonKind
    display_name: str
    bio: str
    avatar_key: str | None = strawberry.field(description="头像图片的存储路径")
    is_self: bool
    viewer_follows: bool = strawberry.field(description="我是否关注了对方")
    viewer_blocked: bool = strawberry.field(description="我是否屏蔽了对方")
    can_follow: bool = strawberry.field(description="我此刻能否关注对方（对方开放关注、无屏蔽、不是自己）")
    follower_count: int | None = strawberry.field(description="粉丝数；对方不公开时为 null")
    following_count: int | None = strawberry.field(description="关注数；对方不公开时为 null")
    badges: list[Badge] | None = strawberry.field(description="徽章；对方不公开时为 null")
    groups: list[ProfileGroup] | None = strawberry.field(
        description="加入的社群（仅列出我能看到成员的社群）；对方不公开时为 null"
    )
    settings: ProfileSettings | None = strawberry.field(description="隐私设置，仅本人可见")

    @classmethod
    def of(cls, v: profiles.ProfileView) -> Profile:
        s = v.settings
        return cls(
            view=v,
            account_id=account_gid(v.person.account),
            kind=PersonKind(v.person.account.kind),
            display_name=v.person.display_name,
            bio=v.bio,
            avatar_key=v.avatar_key,
            is_self=v.is_self,
            viewer_follows=v.viewer_follows,
            viewer_blocked=v.viewer_blocked,
            can_follow=v.can_follow,
            follower_count=v.follower_count,
            following_count=v.following_count,
            badges=[Badge.of(b) for b in v.badges] if v.badges is not None else None,
            groups=(
                [ProfileGroup(group=GroupType.from_model(g.group), role=MemberRole(g.role)) for g in v.groups]
                if v.groups is not None
                else None
            ),
            settings=(
                ProfileSettings(
                    allow_follow=s.allow_follow,
                    groups_visible_to=ProfileAudience(s.groups_visible_to),
                    badges_visible_to=ProfileAudience(s.badges_visible_to),
                    followers_visible_to=ProfileAudience(s.followers_visible_to),
                )
                if s is not None
                else None
            ),
        )

    @strawberry.field(description="粉丝列表，新关注的在前；对方不公开时为 null")
    async def followers(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ProfileCard] | None:
        if not self.view.followers_visible:
            return None
        return await follow_cards(info, self.view.person.account, "follower", first, after)

    @strawberry.field(description="关注的人，新关注的在前；对方不公开时为 null")
    async def following(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> Connection[ProfileCard] | None:
        if not self.view.followers_visible:
            return None
        return await follow_cards(info, self.view.person.account, "followee", first, after)


@strawberry.type(description="医生或健康管理师的公开主页")
class DoctorProfile:
    view: strawberry.Private[profiles.DoctorView]

    staff_id: strawberry.ID
    name: str
    role_labels: list[str] = strawberry.field(description="医生 / 健康管理师")
    bio: str
    avatar_key: str | None
    specialty: str | None = strawberry.field(description="执业专业（来自此刻有效的执业资质；无则为 null）")
    site: SiteType | None = strawberry.field(description="所在院区")
    credential_verified: bool = strawberry.field(description="执业资质此刻经核验且在有效期内")
    answer_count: int = strawberry.field(description="回答数：对公开可知社群中提问帖的已发布、非匿名回答")
    accepted_count: int = strawberry.field(description="被提问者采纳的回答数")
    verified_count: int = strawberry.field(description="被专家认证的回答数")
    accepted_rate: float | None = strawberry.field(description="被采纳或认证的回答占比（0到1）；尚无回答时为 null")

    @classmethod
    def of(cls, v: profiles.DoctorView) -> DoctorProfile:
        labels = [
            label for role, label in (("doctor", "医生"), ("health_manager", "健康管理师")) if role in v.person.roles
        ]
        return cls(
            view=v,
            staff_id=to_global_id("Staff", v.person.account.id),
            name=v.person.display_name,
            role_labels=labels,
            bio=v.bio,
            avatar_key=v.avatar_key,
            specialty=v.specialty,
            site=SiteType.from_model(v.site) if v.site is not None else None,
            credential_verified=v.credential_verified,
            answer_count=v.answer_count,
            accepted_count=v.accepted_count,
            verified_count=v.verified_count,
            accepted_rate=v.accepted_rate,
        )

    @strawberry.field(description="完整的个人主页（需登录；按本人的隐私设置显示）")
    async def profile(self, info: Info) -> Profile | None:
        if info.context.actor.id is None:
            return None
        found = await info.context.read(profiles.profile, self.view.person.account)
        return Profile.of(found) if found is not None else None


@strawberry.type(description="关注动态的一条：关注的人的帖子或回答，或关注话题下的帖子")
class FollowingItem:
    kind: FollowingItemKind
    post: PostType
    answer: CommentType | None = strawberry.field(description="回答（kind 为 ANSWER 时）")
    via_tag: str | None = strawberry.field(description="因关注的话题出现时为该话题")
    created_at: datetime

    @classmethod
    def of(cls, item: feed.FollowingItem) -> FollowingItem:
        """From the feed's plain rows: every field a plain attribute, so a page completes in one walk
        (api/plain.py), as the group feed does."""
        r = item.post
        return cls(
            kind=FollowingItemKind(item.kind),
            post=feed_post_view(r, r["alias_prefix"]),
            answer=CommentType.from_model(item.answer, group_id=r["group_id"]) if item.answer else None,
            via_tag=item.via_tag,
            created_at=item.created_at,
        )


async def following_feed(info: Info, first: int | None, after: str | None) -> Connection[FollowingItem]:
    return await read_page(info, lambda s, a: feed.following_feed(s, a, first=first, after=after), FollowingItem.of)
