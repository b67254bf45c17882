"""Blocking a person (拉黑): what it hides and what it forbids.

A block by A of B:
- hides B's posts and comments from A in group feeds, comment lists and the following feed (the one
  predicate `shown_sql`, used by community/posts.py and social/feed.py);
- removes any follow between the two and refuses new ones either way (BLOCKED);
- refuses replies between the two either way (`check_reply`, from community/posts.py);
- is asked by mentions and notifications through `blocked_between` (both directions).

What it never does:
- reveal an anonymous author: anonymous posts and comments are never hidden by a block, else the
  posts of an alias vanishing right after blocking X would tell that the alias is X;
- keep staff from moderation or care duty (moderators, doctors, health managers, admins): blocking
  them hides their social posts only. Their comments (answers, moderator notes) stay, their replies
  are never refused, and moderation decisions, care messages and the moderation queue do not ask
  about blocks at all.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import TextClause, delete, exists, func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock
from core.identity import Actor
from core.pagination import Page, keyset_page
from social import accounts, errors
from social.accounts import Account
from social.models import Block, Follow

MAX_BLOCKS = 1000
_DUTY_SQL = ", ".join(f"'{r}'" for r in sorted(accounts.DUTY_ROLES))


def shown_sql(row: str, viewer_kind: str, viewer_id: str, *, comment: bool = False) -> str:
    """The one rule as an SQL condition over `row` (an alias of community_posts or community_comments
    with author_kind, author_id, anonymous): true unless the viewer ($viewer_kind, $viewer_id; NULL for
    an anonymous viewer) blocked its author. For comments, on-duty staff are never hidden."""
    duty = (
        f" OR ({row}.author_kind = 'staff' AND EXISTS (SELECT 1 FROM staff_roles sr"
        f" JOIN staff st ON st.id = sr.staff_id AND st.active"
        f" WHERE sr.staff_id = {row}.author_id AND sr.role IN ({_DUTY_SQL})))"
        if comment
        else ""
    )
    return (
        f"({row}.anonymous OR NOT EXISTS (SELECT 1 FROM social_blocks sb WHERE sb.blocker_kind = {viewer_kind}"
        f" AND sb.blocker_id = {viewer_id} AND sb.blocked_kind = {row}.author_kind"
        f" AND sb.blocked_id = {row}.author_id){duty})"
    )


def shown(actor: Actor, table: str, *, comment: bool = False) -> TextClause:
    """`shown_sql` for an ORM select over the community table `table` (unaliased), for `actor`."""
    viewer = accounts.viewer(actor)
    if viewer is None:
        return text("true")
    condition = shown_sql(table, ":social_viewer_kind", ":social_viewer_id", comment=comment)
    return text(condition).bindparams(social_viewer_kind=viewer.kind, social_viewer_id=viewer.id)


async def hides(session: AsyncSession, actor: Actor, post: Authored) -> bool:
    """`shown_sql` for one post already loaded (the live group feed): whether the viewer blocked its
    author (never for an anonymous post)."""
    viewer = accounts.viewer(actor)
    if viewer is None or post.anonymous:
        return False
    mine = (Block.blocker_kind == viewer.kind) & (Block.blocker_id == viewer.id)
    author = (Block.blocked_kind == post.author_kind) & (Block.blocked_id == post.author_id)
    return bool(await session.scalar(select(exists().where(mine, author))))


async def blocked_between(session: AsyncSession, a: Account, b: Account) -> bool:
    """Whether either of the two blocked the other (mentions, notifications, follows, replies)."""
    either = or_(
        (Block.blocker_kind == a.kind)
        & (Block.blocker_id == a.id)
        & (Block.blocked_kind == b.kind)
        & (Block.blocked_id == b.id),
        (Block.blocker_kind == b.kind)
        & (Block.blocker_id == b.id)
        & (Block.blocked_kind == a.kind)
        & (Block.blocked_id == a.id),
    )
    return bool(await session.scalar(select(exists().where(either))))


class Authored(Protocol):
    """A post or a comment: who wrote it and whether under an alias."""

    author_kind: str
    author_id: uuid.UUID
    anonymous: bool


async def check_reply(session: AsyncSession, actor: Actor, post: Authored, parent: Authored | None = None) -> None:
    """Refuse a reply (a comment on `post`, or a reply to its comment `parent`) between two people of
    whom one blocked the other: BLOCKED. Passes for anonymous targets (refusing would name their author)
    and when either side is on-duty staff (a block never stands in the way of moderation or care)."""
    target = parent if parent is not None else post
    me = accounts.viewer(actor)
    them = Account(target.author_kind, target.author_id)
    if me is None or target.anonymous or me == them:
        return
    if not await blocked_between(session, me, them):
        return
    found = await accounts.people(session, [me, them])
    if any(accounts.on_duty(p) for p in found.values()):
        return
    raise errors.Blocked("你们之间存在屏蔽关系，不能回复对方", field="parentId" if parent is not None else "postId")


async def block(session: AsyncSession, actor: Actor, target: Account) -> Account:
    """Block `target` (idempotent); removes follows both ways. Any existing person may be blocked,
    staff too: for staff on duty it hides only their social posts (see the module docstring)."""
    me = accounts.of(actor)
    if target == me:
        raise errors.BlockSelf(field="accountId")
    if await accounts.person(session, target) is None:
        raise errors.PersonNotFound(field="accountId")
    await accounts.lock_own(session, me, "blocks")
    await accounts.lock_pair(session, me, target)
    mine = (Block.blocker_kind == me.kind) & (Block.blocker_id == me.id)
    already = await session.scalar(
        select(exists().where(mine, Block.blocked_kind == target.kind, Block.blocked_id == target.id))
    )
    if not already:
        count = await session.scalar(select(func.count()).select_from(Block).where(mine)) or 0
        if count >= MAX_BLOCKS:
            raise errors.BlockLimit(field="accountId")
        await session.execute(
            insert(Block)
            .values(
                blocker_kind=me.kind,
                blocker_id=me.id,
                blocked_kind=target.kind,
                blocked_id=target.id,
                created_at=clock.now(),
            )
            .on_conflict_do_nothing()
        )
    await session.execute(
        delete(Follow).where(
            or_(
                (Follow.follower_kind == me.kind)
                & (Follow.follower_id == me.id)
                & (Follow.followee_kind == target.kind)
                & (Follow.followee_id == target.id),
                (Follow.follower_kind == target.kind)
                & (Follow.follower_id == target.id)
                & (Follow.followee_kind == me.kind)
                & (Follow.followee_id == me.id),
            )
        )
    )
    return target


async def unblock(session: AsyncSession, actor: Actor, target: Account) -> Account:
    """Take a block back (idempotent). Follows removed by the block do not come back."""
    me = accounts.of(actor)
    await session.execute(
        delete(Block).where(
            Block.blocker_kind == me.kind,
            Block.blocker_id == me.id,
            Block.blocked_kind == target.kind,
            Block.blocked_id == target.id,
        )
    )
    return target


async def my_blocks(session: AsyncSession, actor: Actor, *, first: int | None, after: str | None) -> Page[Block]:
    """The people the actor blocked, newest first (only the blocker ever sees this list)."""
    me = accounts.of(actor)
    stmt = select(Block).where(Block.blocker_kind == me.kind, Block.blocker_id == me.id)
    return await keyset_page(
        session, stmt, sort=Block.created_at, id_=Block.blocked_id, first=first, after=after, descending=True
    )


async def pairs(session: AsyncSession, viewer: Account, targets: list[Account]) -> tuple[set[Account], set[Account]]:
    """Of `targets`: those the viewer blocked, and those who blocked the viewer (one statement)."""
    if not targets:
        return set(), set()
    keys = [(t.kind, t.id) for t in targets]
    rows = await session.execute(
        select(Block.blocker_kind, Block.blocker_id, Block.blocked_kind, Block.blocked_id).where(
            or_(
                (Block.blocker_kind == viewer.kind)
                & (Block.blocker_id == viewer.id)
                & tuple_(Block.blocked_kind, Block.blocked_id).in_(keys),
                (Block.blocked_kind == viewer.kind)
                & (Block.blocked_id == viewer.id)
                & tuple_(Block.blocker_kind, Block.blocker_id).in_(keys),
            )
        )
    )
    i_blocked: set[Account] = set()
    blocked_me: set[Account] = set()
    for blocker_kind, blocker_id, blocked_kind, blocked_id in rows:
        if Account(blocker_kind, blocker_id) == viewer:
            i_blocked.add(Account(blocked_kind, blocked_id))
        else:
            blocked_me.add(Account(blocker_kind, blocker_id))
    return i_blocked, blocked_me
