"""Profiles: bio, avatar, badges and the privacy settings that decide who sees what.

Parts of a profile and who sees them:
- name, avatar, bio: every signed-in viewer (what a post's author line shows anyway);
- groups (the disease groups a person is active in, with their role): `groupsVisibleTo`, default
  nobody, because membership of a disease group is health data; and even when shared, a group is
  listed only where the viewer may see its members (community/access.py `can_see_members`), so a
  secret or members-only group never shows to outsiders;
- badges (check-in streak milestones, verified clinician, group roles): `badgesVisibleTo`; a group
  role badge also needs the groups to be visible, as above;
- followers and following (lists and counts): `followersVisibleTo`, default followers.
Each of the three is everyone (signed in), followers (people who follow this person) or nobody;
the person always sees all of their own profile. A staff reader who is shown a patient's streak badge
has read check-in data: it is recorded like any other (privacy/reads.py).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from community import access, credentials, moderation, wordfilter
from community.checkins import MILESTONES
from community.models import (
    CheckInStreak,
    Comment,
    ContentStatus,
    CredentialStatus,
    Group,
    GroupVisibility,
    MemberRole,
    Membership,
    MemberState,
    Post,
    PostKind,
    StaffCredential,
    WordCategory,
)
from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from patients import queries as patient_queries
from patients.models import Site
from privacy import reads
from privacy.models import PhiKind
from social import accounts, blocks, errors, follows
from social.accounts import Account, Person
from social.errors import SocialCode as Code
from social.models import Audience, Profile

MAX_BIO = 300
MAX_AVATAR_KEY = 200
# An object-storage key of an uploaded image (`avatars/2026/a1.jpg`): path segments of safe characters,
# each starting with a letter or digit (no `..`, no leading slash, no `scheme:`), an image extension.
_AVATAR_KEY = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9._-]*/){0,8}[A-Za-z0-9][A-Za-z0-9._-]*\.(?i:jpe?g|png|webp)")
# Control characters other than the line break a bio may have.
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
_AUDIENCES = {a.value for a in Audience}
ROLE_LABELS = {
    MemberRole.EXPERT: "专家",
    MemberRole.MODERATOR: "版主",
    MemberRole.OWNER: "群主",
    MemberRole.MEMBER: "成员",
}
BADGE_ROLES = (MemberRole.EXPERT, MemberRole.MODERATOR, MemberRole.OWNER)


@dataclass(frozen=True)
class Settings:
    allow_follow: bool = True
    groups_visible_to: str = Audience.NOBODY
    badges_visible_to: str = Audience.EVERYONE
    followers_visible_to: str = Audience.FOLLOWERS


@dataclass(frozen=True)
class Badge:
    kind: str  # streak | verified_clinician | group_role
    label: str
    days: int | None = None  # streak: the milestone reached (7, 30, 100)
    group: Group | None = None  # group_role
    role: str | None = None  # group_role


@dataclass(frozen=True)
class GroupRole:
    group: Group
    role: str


@dataclass(frozen=True)
class ProfileView:
    """A profile as one viewer may see it: parts they may not see are None."""

    person: Person
    bio: str
    avatar_key: str | None
    is_self: bool
    viewer_follows: bool
    viewer_blocked: bool  # the viewer blocked this person
    can_follow: bool  # the viewer may follow this person now
    settings: Settings | None  # only for the person themselves
    follower_count: int | None
    following_count: int | None
    badges: list[Badge] | None
    groups: list[GroupRole] | None
    followers_visible: bool


def admits(audience: str, *, is_self: bool, follower: bool) -> bool:
    return is_self or audience == Audience.EVERYONE or (audience == Audience.FOLLOWERS and follower)


def _settings(row: Profile | None) -> Settings:
    if row is None:
        return Settings()
    return Settings(row.allow_follow, row.groups_visible_to, row.badges_visible_to, row.followers_visible_to)


async def _rows(session: AsyncSession, owners: Sequence[Account]) -> dict[Account, Profile]:
    if not owners:
        return {}
    rows = await session.scalars(
        select(Profile).where(tuple_(Profile.account_kind, Profile.account_id).in_([(o.kind, o.id) for o in owners]))
    )
    return {Account(r.account_kind, r.account_id): r for r in rows}


# --- reading ----------------------------------------------------------------------------------------


async def load_views(
    session: AsyncSession, actor: Actor, owners: Sequence[Account], *, detail: bool = True
) -> dict[Account, ProfileView]:
    """The profiles of `owners` that exist, as the signed-in `actor` may see them, in a fixed number of
    statements whatever the number of owners (a page of followers costs what one profile costs).
    Without `detail` (cards in a list) counts, badges and groups are not loaded (None)."""
    viewer = accounts.of(actor)
    found = await accounts.people(session, owners)
    owners = [o for o in dict.fromkeys(owners) if o in found]
    if not owners:
        return {}
    rows = await _rows(session, owners)
    settings = {o: _settings(rows.get(o)) for o in owners}
    followed = await follows.follows_of(session, viewer, owners)
    i_blocked, blocked_me = await blocks.pairs(session, viewer, owners)
    followable = {o for o in owners if follows.followable(found[o], allow_follow=settings[o].allow_follow)}

    def sees(o: Account, audience: str) -> bool:
        return admits(audience, is_self=o == viewer, follower=o in followed)

    with_followers = [o for o in owners if sees(o, settings[o].followers_visible_to)]
    with_badges = [o for o in owners if detail and sees(o, settings[o].badges_visible_to)]
    with_groups = [o for o in owners if detail and sees(o, settings[o].groups_visible_to)]
    counts = await follows.counts(session, with_followers if detail else [])
    groups = await _groups(session, actor, with_groups)  # group role badges need the groups shown too
    badges = await _badges(session, actor, with_badges, groups)
    out: dict[Account, ProfileView] = {}
    for o in owners:
        is_self = o == viewer
        row = rows.get(o)
        n = counts.get(o)
        out[o] = ProfileView(
            person=found[o],
            bio=row.bio if row else "",
            avatar_key=row.avatar_key if row else None,
            is_self=is_self,
            viewer_follows=o in followed,
            viewer_blocked=o in i_blocked,
            can_follow=not is_self and o in followable and o not in i_blocked and o not in blocked_me,
            settings=settings[o] if is_self else None,
            follower_count=n[0] if n else None,
            following_count=n[1] if n else None,
            badges=badges.get(o) if o in with_badges else None,
            groups=groups.get(o, []) if o in with_groups else None,
            followers_visible=o in with_followers,
        )
    return out


async def profile(session: AsyncSession, actor: Actor, owner: Account) -> ProfileView | None:
    return (await load_views(session, actor, [owner])).get(owner)


async def _groups(session: AsyncSession, actor: Actor, owners: Sequence[Account]) -> dict[Account, list[GroupRole]]:
    """Each owner's active memberships in groups whose members the viewer may see (the community's
    access check with the viewer's own membership), by group name."""
    if not owners:
        return {}
    rows = (
        await session.execute(
            select(Membership, Group)
            .join(Group, Group.id == Membership.group_id)
            .where(
                tuple_(Membership.account_kind, Membership.account_id).in_([(o.kind, o.id) for o in owners]),
                Membership.state == MemberState.ACTIVE,
            )
            .order_by(Group.name, Group.id)
        )
    ).all()
    mine = await access.memberships_of(session, actor, list({g.id for _, g in rows}))
    out: dict[Account, list[GroupRole]] = {}
    for m, g in rows:
        viewer_m = mine.get(g.id)
        if access.can_see_group(actor, g, viewer_m) and access.can_see_members(actor, g, viewer_m):
            out.setdefault(Account(m.account_kind, m.account_id), []).append(GroupRole(g, m.role))
    return out


async def _badges(
    session: AsyncSession, actor: Actor, owners: Sequence[Account], groups: dict[Account, list[GroupRole]]
) -> dict[Account, list[Badge]]:
    """Streak milestones (patients), verified clinician (staff with a credential valid now), and the
    group roles among the groups the viewer may see (only where the groups are shown too)."""
    out: dict[Account, list[Badge]] = {o: [] for o in owners}
    patient_ids = [o.id for o in owners if o.kind == "patient"]
    staff_ids = [o.id for o in owners if o.kind == "staff"]
    if patient_ids:
        streaks = await session.execute(
            select(CheckInStreak.patient_id, CheckInStreak.longest).where(CheckInStreak.patient_id.in_(patient_ids))
        )
        shown: list[uuid.UUID] = []
        for pid, longest in streaks:
            reached = [m for m in MILESTONES if longest >= m]
            if reached:
                out[Account("patient", pid)].append(Badge("streak", f"连续打卡{reached[-1]}天", days=reached[-1]))
                shown.append(pid)
        # Streaks come from check-ins: a staff reader of the badge is recorded like any check-in read.
        await reads.record_reads(session, actor, PhiKind.CHECKINS, shown)
    if staff_ids:
        experts = await credentials.experts_now(session, staff_ids)
        roles = await patient_queries.roles_by_staff(session, staff_ids)
        for sid in staff_ids:
            if experts.get(sid):
                label = "认证医生" if Role.DOCTOR.value in roles.get(sid, ()) else "认证健康管理师"
                out[Account("staff", sid)].append(Badge("verified_clinician", label))
    for o in owners:
        for gr in groups.get(o, []):
            if gr.role in BADGE_ROLES:
                out[o].append(
                    Badge(
                        "group_role",
                        f"{gr.group.name}·{ROLE_LABELS[MemberRole(gr.role)]}",
                        group=gr.group,
                        role=gr.role,
                    )
                )
    return out


# --- updating ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileUpdate:
    """What to change; None leaves a part as it is. `avatar_key=""` removes the avatar."""

    bio: str | None = None
    avatar_key: str | None = None
    allow_follow: bool | None = None
    groups_visible_to: str | None = None
    badges_visible_to: str | None = None
    followers_visible_to: str | None = None


def _validate(data: ProfileUpdate) -> ProfileUpdate:
    """Every problem at once; lengths are checked before any pattern runs. Returns the input cleaned."""
    v = Validator()
    bio = data.bio
    if bio is not None:
        bio = bio.strip() if len(bio) <= 4 * MAX_BIO else None
        v.check(
            bio is not None and len(bio) <= MAX_BIO and not _CONTROL.search(bio),
            "bio",
            Code.BIO_LENGTH,
            "个人简介不能超过300个字符，且不能包含控制字符",
        )
    avatar = data.avatar_key
    if avatar is not None:
        avatar = avatar.strip() if len(avatar) <= MAX_AVATAR_KEY else "\x00"
        v.check(
            avatar == "" or bool(_AVATAR_KEY.fullmatch(avatar)),
            "avatarKey",
            Code.AVATAR_KEY_INVALID,
            "头像需为已上传图片的存储路径（如 avatars/2026/a1.jpg，jpg/png/webp，不超过200个字符）",
        )
    for name, value in (
        ("groupsVisibleTo", data.groups_visible_to),
        ("badgesVisibleTo", data.badges_visible_to),
        ("followersVisibleTo", data.followers_visible_to),
    ):
        v.check(value is None or value in _AUDIENCES, name, CoreCode.INVALID_INPUT, "可见范围无效")
    v.raise_if_any()
    return ProfileUpdate(
        bio, avatar, data.allow_follow, data.groups_visible_to, data.badges_visible_to, data.followers_visible_to
    )


async def _screen_bio(session: AsyncSession, actor: Actor, bio: str) -> None:
    """A bio is public text: the word filter's block words refuse it, and for patients so do hold and
    advertising words (a bio cannot wait for review, and contact details in a bio are how fake-cure
    sellers move people off the platform). A crisis in a bio brings help first (crisis first)."""
    if not bio:
        return
    if await moderation.is_crisis(session, actor, bio):
        await moderation.help_refused_crisis(session, actor, group_id=None)
        refusal = errors.BioContentBlocked(
            "个人简介不能保存。如您正处于危险中，请立即拨打120或心理援助热线", field="bio"
        )
        refusal.keep_changes = True  # the help and the page are sent all the same
        raise refusal
    result = (await wordfilter.load(session)).scan(bio)
    refused = [WordCategory.BLOCK] if actor.is_staff else [WordCategory.BLOCK, WordCategory.HOLD, WordCategory.AD]
    words = result.words(*refused)
    if words:
        names = "、".join(f"「{w}」" for w in words)
        raise errors.BioContentBlocked(f"个人简介包含不允许发布的词语{names}，请修改后再保存", field="bio")


async def update(session: AsyncSession, actor: Actor, data: ProfileUpdate) -> Account:
    """The actor's own profile (created with the defaults on first change)."""
    me = accounts.of(actor)
    data = _validate(data)
    if data.bio is not None:
        await _screen_bio(session, actor, data.bio)
    await session.execute(
        insert(Profile)
        .values(account_kind=me.kind, account_id=me.id, bio="", created_at=clock.now(), updated_at=clock.now())
        .on_conflict_do_nothing()
    )
    row = await session.scalar(
        select(Profile)
        .where(Profile.account_kind == me.kind, Profile.account_id == me.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if data.bio is not None:
        row.bio = data.bio
    if data.avatar_key is not None:
        row.avatar_key = data.avatar_key or None
    if data.allow_follow is not None:
        row.allow_follow = data.allow_follow
    if data.groups_visible_to is not None:
        row.groups_visible_to = data.groups_visible_to
    if data.badges_visible_to is not None:
        row.badges_visible_to = data.badges_visible_to
    if data.followers_visible_to is not None:
        row.followers_visible_to = data.followers_visible_to
    row.updated_at = clock.now()
    return me


# --- doctor profiles --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DoctorView:
    person: Person
    bio: str
    avatar_key: str | None
    specialty: str | None  # of the credential valid now; None without one
    site: Site | None
    credential_verified: bool  # active clinician with a verified credential not yet expired (now)
    answer_count: int
    accepted_count: int  # accepted by the asker
    verified_count: int  # marked verified by a group expert
    accepted_rate: float | None  # answers accepted or verified / answers; None before the first answer


async def doctor_profile(session: AsyncSession, staff_id: uuid.UUID) -> DoctorView | None:
    """A doctor's or health manager's public card (anyone may read it, signed in or not); None for any
    other account. The numbers count answers (published, not anonymous, comments on published
    questions) in groups whose existence is public: a secret group's activity is not even counted."""
    person = await accounts.person(session, Account("staff", staff_id))
    if person is None or not person.active or not person.clinical:
        return None
    now = clock.now()
    valid = [
        c
        for c in await session.scalars(
            select(StaffCredential)
            .where(StaffCredential.staff_id == staff_id, StaffCredential.status == CredentialStatus.VERIFIED)
            .order_by(StaffCredential.expires_at.desc())
        )
        if credentials.effective_status(c, now) is CredentialStatus.VERIFIED
    ]
    verified = bool((await credentials.experts_now(session, [staff_id]))[staff_id])
    staff = (await patient_queries.staff_by_ids(session, [staff_id]))[staff_id]
    site = (await patient_queries.sites_by_ids(session, [staff.site_id])).get(staff.site_id) if staff.site_id else None
    answered = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Post.accepted_answer_id == Comment.id),
                func.count().filter(Post.verified_answer_id == Comment.id),
                func.count().filter((Post.accepted_answer_id == Comment.id) | (Post.verified_answer_id == Comment.id)),
            )
            .select_from(Comment)
            .join(Post, Post.id == Comment.post_id)
            .join(Group, Group.id == Post.group_id)
            .where(
                Comment.author_kind == "staff",
                Comment.author_id == staff_id,
                Comment.anonymous.is_(False),
                Comment.status == ContentStatus.PUBLISHED,
                and_(Post.kind == PostKind.QUESTION, Post.status == ContentStatus.PUBLISHED),
                Group.visibility != GroupVisibility.SECRET,
            )
        )
    ).one()
    answers, accepted, verified_marks, marked = (int(x) for x in answered)
    row = (await _rows(session, [person.account])).get(person.account)
    return DoctorView(
        person=person,
        bio=row.bio if row else "",
        avatar_key=row.avatar_key if row else None,
        specialty=valid[0].specialty if valid and verified else None,
        site=site,
        credential_verified=verified,
        answer_count=answers,
        accepted_count=accepted,
        verified_count=verified_marks,
        accepted_rate=round(marked / answers, 4) if answers else None,
    )
