"""Following people (doctors, health managers, patients who allow it) and tags.

Who may be followed: doctors and health managers (active staff with a clinical role) and patients,
unless their profile says `allowFollow: false`; no other staff (marketing, front desk), nobody
blocked either way (BLOCKED), never oneself (FOLLOW_SELF). A repeated or concurrent follow is one row
(the primary key, `ON CONFLICT DO NOTHING`). Following shows nothing the follower could not read
anyway: the following feed applies the group access check to every post (social/feed.py).
"""

from __future__ import annotations

from sqlalchemy import delete, exists, func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity import Actor
from core.pagination import Page, keyset_page
from social import accounts, blocks, errors, notify, tags
from social.accounts import Account, Person
from social.models import Follow, Profile, TagFollow

MAX_FOLLOWS = 2000
MAX_TAGS = 200


def followable(person: Person, *, allow_follow: bool) -> bool:
    """Whether anyone may follow this person (blocks aside): active clinical staff and patients, unless
    their profile's setting says no."""
    if person.account.kind == "staff" and not (person.active and person.clinical):
        return False
    return allow_follow


async def allows_follow(session: AsyncSession, person: Person) -> bool:
    """`followable` with the person's setting read (no profile row: the default, allowed)."""
    allowed = await session.scalar(
        select(Profile.allow_follow).where(
            Profile.account_kind == person.account.kind, Profile.account_id == person.account.id
        )
    )
    return followable(person, allow_follow=allowed is not False)


async def follow(session: AsyncSession, actor: Actor, target: Account) -> Account:
    me = accounts.of(actor)
    if target == me:
        raise errors.FollowSelf(field="accountId")
    person = await accounts.person(session, target)
    if person is None:
        raise errors.PersonNotFound(field="accountId")
    await accounts.lock_own(session, me, "follows")
    await accounts.lock_pair(session, me, target)  # against a block being written at the same time
    if await blocks.blocked_between(session, me, target):
        raise errors.Blocked(field="accountId")
    if not await allows_follow(session, person):
        raise errors.FollowNotAllowed(field="accountId")
    mine = (Follow.follower_kind == me.kind) & (Follow.follower_id == me.id)
    already = await session.scalar(
        select(exists().where(mine, Follow.followee_kind == target.kind, Follow.followee_id == target.id))
    )
    if already:
        return target
    if (await session.scalar(select(func.count()).select_from(Follow).where(mine)) or 0) >= MAX_FOLLOWS:
        raise errors.FollowLimit(f"最多关注{MAX_FOLLOWS}人", field="accountId")
    created = await session.scalar(
        insert(Follow)
        .values(
            follower_kind=me.kind,
            follower_id=me.id,
            followee_kind=target.kind,
            followee_id=target.id,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing()
        .returning(Follow.followee_id)
    )
    if created is not None:
        await notify.followed(session, me, target)  # "X 关注了你", by a worker after commit
    return target


async def unfollow(session: AsyncSession, actor: Actor, target: Account) -> Account:
    """Idempotent: not following is the same answer."""
    me = accounts.of(actor)
    await session.execute(
        delete(Follow).where(
            Follow.follower_kind == me.kind,
            Follow.follower_id == me.id,
            Follow.followee_kind == target.kind,
            Follow.followee_id == target.id,
        )
    )
    return target


async def follow_tag(session: AsyncSession, actor: Actor, raw: str) -> str:
    me = accounts.of(actor)
    tag = tags.normalise(raw)
    await accounts.lock_own(session, me, "tags")
    mine = (TagFollow.follower_kind == me.kind) & (TagFollow.follower_id == me.id)
    if await session.scalar(select(exists().where(mine, TagFollow.tag == tag))):
        return tag
    if (await session.scalar(select(func.count()).select_from(TagFollow).where(mine)) or 0) >= MAX_TAGS:
        raise errors.FollowLimit(f"最多关注{MAX_TAGS}个话题", field="tag")
    await session.execute(
        insert(TagFollow)
        .values(follower_kind=me.kind, follower_id=me.id, tag=tag, created_at=clock.now())
        .on_conflict_do_nothing()
    )
    return tag


async def unfollow_tag(session: AsyncSession, actor: Actor, raw: str) -> str:
    me = accounts.of(actor)
    tag = tags.normalise(raw)
    await session.execute(
        delete(TagFollow).where(
            TagFollow.follower_kind == me.kind, TagFollow.follower_id == me.id, TagFollow.tag == tag
        )
    )
    return tag


async def my_tags(session: AsyncSession, actor: Actor) -> list[str]:
    me = accounts.of(actor)
    rows = await session.scalars(
        select(TagFollow.tag)
        .where(TagFollow.follower_kind == me.kind, TagFollow.follower_id == me.id)
        .order_by(TagFollow.created_at.desc(), TagFollow.tag)
    )
    return list(rows)


# --- lists ---------------------------------------------------------------------------------------


async def followers_page(session: AsyncSession, of: Account, *, first: int | None, after: str | None) -> Page[Follow]:
    """Who follows `of`, newest first. The caller decided the viewer may see it (social/profiles.py)."""
    stmt = select(Follow).where(Follow.followee_kind == of.kind, Follow.followee_id == of.id)
    return await keyset_page(
        session, stmt, sort=Follow.created_at, id_=Follow.follower_id, first=first, after=after, descending=True
    )


async def following_page(session: AsyncSession, of: Account, *, first: int | None, after: str | None) -> Page[Follow]:
    """Whom `of` follows, newest first. The caller decided the viewer may see it."""
    stmt = select(Follow).where(Follow.follower_kind == of.kind, Follow.follower_id == of.id)
    return await keyset_page(
        session, stmt, sort=Follow.created_at, id_=Follow.followee_id, first=first, after=after, descending=True
    )


async def follows_of(session: AsyncSession, viewer: Account, targets: list[Account]) -> set[Account]:
    """Which of `targets` the viewer follows."""
    if not targets:
        return set()
    rows = await session.execute(
        select(Follow.followee_kind, Follow.followee_id).where(
            Follow.follower_kind == viewer.kind,
            Follow.follower_id == viewer.id,
            Follow.followee_id.in_([t.id for t in targets]),
        )
    )
    return {Account(k, i) for k, i in rows} & set(targets)


async def counts(session: AsyncSession, owners: list[Account]) -> dict[Account, tuple[int, int]]:
    """(followers, following) per owner, two statements for any number of owners."""
    if not owners:
        return {}
    keys = [(o.kind, o.id) for o in owners]
    followers = dict(
        ((k, i), n)
        for k, i, n in await session.execute(
            select(Follow.followee_kind, Follow.followee_id, func.count())
            .where(tuple_(Follow.followee_kind, Follow.followee_id).in_(keys))
            .group_by(Follow.followee_kind, Follow.followee_id)
        )
    )
    following = dict(
        ((k, i), n)
        for k, i, n in await session.execute(
            select(Follow.follower_kind, Follow.follower_id, func.count())
            .where(tuple_(Follow.follower_kind, Follow.follower_id).in_(keys))
            .group_by(Follow.follower_kind, Follow.follower_id)
        )
    )
    return {o: (followers.get((o.kind, o.id), 0), following.get((o.kind, o.id), 0)) for o in owners}
