"""The fan-out job: one run (social/notify.py) turned into notifications, batch by batch.

Each batch is one transaction that writes its notifications and moves the run's step and keyset cursor
together, so a worker killed anywhere resumes where the last commit left off, and the unique
(recipient, key) of every notification makes a batch done twice add nothing: a run done twice, or
killed midway and run again, leaves exactly one notification per recipient. A post by a doctor with
50,000 followers is 25 batches of 2,000, never the whole audience in memory.

Who is told (the rules of every occasion):
- only people who can read the post now: the community's one access check (`can_see_group`,
  `can_read_posts`) with their own membership; content through content's one access check
  (`readers_among`);
- nobody told of their own doing, and nothing passes between two people of whom one blocked the other;
- the recipient's level for the group (social/kinds.py `level_admits`) and their preference per kind
  (social/centre.py);
- an anonymous author is named by their alias (糖友#4821) and their followers are never told of
  anonymous posts (it would tell them who is behind the alias);
- erased patients and switched-off staff are told nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from community import posts as community_posts
from community.access import AnyGroup, MemberRow
from community.models import Comment, ContentStatus, Group, Post, PostKind, Reaction
from content import access as content_access
from content.models import ContentItem
from core import clock, rawsql
from core.db import unit_of_work
from social import accounts, blocks, centre, mentions
from social.accounts import Account
from social.centre import Draft, actor_entry, snippet
from social.kinds import NotificationKind, level_admits
from social.models import Block, Follow, NotifyRun
from social.notify import Occasion, RunStatus, enqueue

BATCH = 2000
CONTENT_BATCH = 200  # content's access check reads each reader's facts: smaller batches
_NIL = uuid.UUID(int=0)
_PUBLISHED = ContentStatus.PUBLISHED.value

# A page of the author's followers after the cursor ($4, $5), with what the rules need of each: their
# membership of the post's group ($3), staff roles, a block either way with the author ($1, $2), and
# whether the account is still there. Served by ix_social_follows_fanout.
_FOLLOWERS_SQL = """
SELECT f.follower_kind, f.follower_id, m.role, m.state, m.muted_until, m.banned_until, m.notification_level,
       CASE WHEN f.follower_kind = 'staff'
            THEN (SELECT array_agg(r.role) FROM staff_roles r WHERE r.staff_id = f.follower_id) END AS roles,
       EXISTS (SELECT 1 FROM social_blocks b WHERE b.blocker_kind = f.follower_kind AND b.blocker_id = f.follower_id
               AND b.blocked_kind = $1 AND b.blocked_id = $2)
       OR EXISTS (SELECT 1 FROM social_blocks b WHERE b.blocker_kind = $1 AND b.blocker_id = $2
               AND b.blocked_kind = f.follower_kind AND b.blocked_id = f.follower_id) AS blocked,
       CASE WHEN f.follower_kind = 'patient'
            THEN EXISTS (SELECT 1 FROM patients p WHERE p.id = f.follower_id AND p.erased_at IS NULL)
            ELSE EXISTS (SELECT 1 FROM staff s WHERE s.id = f.follower_id AND s.active) END AS present
FROM social_follows f
LEFT JOIN community_memberships m
       ON m.group_id = $3 AND m.account_kind = f.follower_kind AND m.account_id = f.follower_id
WHERE f.followee_kind = $1 AND f.followee_id = $2 AND (f.follower_kind, f.follower_id) > ($4, $5)
ORDER BY f.follower_kind, f.follower_id
LIMIT $6
"""

# The people's memberships of one group ($1) and staff roles, for the access check of a few recipients.
_MEMBERS_SQL = """
SELECT a.kind, a.id, m.role, m.state, m.muted_until, m.banned_until, m.notification_level,
       CASE WHEN a.kind = 'staff' THEN (SELECT array_agg(r.role) FROM staff_roles r WHERE r.staff_id = a.id) END,
       CASE WHEN a.kind = 'patient'
            THEN EXISTS (SELECT 1 FROM patients p WHERE p.id = a.id AND p.erased_at IS NULL)
            ELSE EXISTS (SELECT 1 FROM staff s WHERE s.id = a.id AND s.active) END
FROM unnest($2::varchar[], $3::uuid[]) AS a(kind, id)
LEFT JOIN community_memberships m ON m.group_id = $1 AND m.account_kind = a.kind AND m.account_id = a.id
"""

# Patients with any of the conditions ($1) after the cursor ($2), not erased.
_CONDITION_PATIENTS_SQL = """
SELECT DISTINCT pc.patient_id FROM patient_conditions pc
JOIN patients p ON p.id = pc.patient_id AND p.erased_at IS NULL
WHERE pc.condition_code = ANY($1::varchar[]) AND pc.patient_id > $2
ORDER BY pc.patient_id
LIMIT $3
"""

REACTION_TITLES = {"like": "{n} 人赞了你", "helpful": "{n} 人觉得有帮助", "hug": "{n} 人给了你一个拥抱"}


def _member(group_id: uuid.UUID, r: Any) -> MemberRow | None:
    return None if r[3] is None else MemberRow(group_id, r[2], r[3], r[4], r[5], r[6])


async def readers(session: AsyncSession, group: AnyGroup, people: Sequence[Account]) -> dict[Account, MemberRow | None]:
    """Those of `people` who can read posts of `group` now (and are still there), with their membership."""
    unique = list(dict.fromkeys(people))
    if not unique:
        return {}
    rows = await rawsql.fetch(session, _MEMBERS_SQL, group.id, [a.kind for a in unique], [a.id for a in unique])
    out: dict[Account, MemberRow | None] = {}
    for r in rows:
        account, member = Account(r[0], r[1]), _member(group.id, r)
        if r[8] and mentions.can_read(account, r[7], group, member):
            out[account] = member
    return out


async def shown_as(session: AsyncSession, item: Post | Comment, group: Group) -> tuple[str, dict[str, Any]]:
    """How the author of a post or comment is named in a notification: their alias when anonymous."""
    if item.anonymous:
        number = (await community_posts.aliases(session, [(group.id, item.author_id)])).get((group.id, item.author_id))
        alias = f"{group.alias_prefix}#{number or '----'}"
        return alias, actor_entry(None, alias)
    author = Account(item.author_kind, item.author_id)
    person = await accounts.person(session, author)
    name = person.display_name if person is not None else "用户"
    return name, actor_entry(author, name)


async def _not_blocked(session: AsyncSession, actor: Account, people: Sequence[Account]) -> set[Account]:
    i_blocked, blocked_me = await blocks.pairs(session, actor, list(people))
    return {p for p in people if p not in i_blocked and p not in blocked_me}


# --- occasions ------------------------------------------------------------------------------------


async def _post(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    post = await session.get(Post, uuid.UUID(run.payload["post_id"]))
    if post is None or post.status != _PUBLISHED:
        return 0, True
    group = await session.get(Group, post.group_id)
    if group is None:
        return 0, True
    author = Account(post.author_kind, post.author_id)
    name, entry = await shown_as(session, post, group)
    common: dict[str, Any] = {
        "group_id": group.id,
        "post_id": post.id,
        "target_kind": "post",
        "target_id": post.id,
        "actor_count": 1,
        "actors": [entry],
    }
    if run.step == 0:
        found = await mentions.mentioned(session, group=group, text=f"{post.title}\n{post.body_md}", author=author)
        drafts = [
            Draft(
                m.account,
                NotificationKind.MENTION,
                f"mention:post:{post.id}",
                f"{name} 在帖子中提到了你",
                f"「{post.title}」",
                **common,
            )
            for m in found
            if level_admits(m.member.notification_level, NotificationKind.MENTION)
        ]
        created = await centre.write(session, drafts)
        run.payload = {**run.payload, "mentioned": [f"{m.account.kind}:{m.account.id}" for m in found]}
        run.step = 1
        return created, post.anonymous  # followers never hear of an anonymous post
    rows = await rawsql.fetch(
        session, _FOLLOWERS_SQL, author.kind, author.id, group.id, run.cursor_kind or "", run.cursor_id or _NIL, batch
    )
    if not rows:
        return 0, True
    skip = set(run.payload.get("mentioned", ()))  # told already, by the mention
    verb = "提出了新问题" if post.kind == PostKind.QUESTION else "发布了新帖"
    drafts = []
    for r in rows:
        account = Account(r[0], r[1])
        if r[8] or not r[9] or f"{account.kind}:{account.id}" in skip:
            continue
        member = _member(group.id, r)
        if not mentions.can_read(account, r[7], group, member):
            continue
        if not level_admits(member.notification_level if member else None, NotificationKind.FOLLOWED_POST):
            continue
        drafts.append(
            Draft(
                account,
                NotificationKind.FOLLOWED_POST,
                f"followed_post:{post.id}",
                f"{name} {verb}",
                f"「{post.title}」",
                **common,
            )
        )
    created = await centre.write(session, drafts)
    run.cursor_kind, run.cursor_id = rows[-1][0], rows[-1][1]
    return created, len(rows) < batch


async def _comment(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    comment = await session.get(Comment, uuid.UUID(run.payload["comment_id"]))
    post = await session.get(Post, comment.post_id) if comment is not None else None
    if comment is None or post is None or comment.status != _PUBLISHED or post.status != _PUBLISHED:
        return 0, True
    group = await session.get(Group, post.group_id)
    if group is None:
        return 0, True
    author = Account(comment.author_kind, comment.author_id)
    name, entry = await shown_as(session, comment, group)
    text = snippet(comment.body_md)
    planned: dict[Account, Draft] = {}
    if comment.parent_id is not None:
        parent = await session.get(Comment, comment.parent_id)
        if parent is not None and parent.status == _PUBLISHED:
            replied = Account(parent.author_kind, parent.author_id)
            planned[replied] = _draft(
                replied,
                NotificationKind.REPLY,
                f"reply:{comment.id}",
                f"{name} 回复了你的评论",
                f"「{post.title}」：{text}",
                group,
                post,
                "comment",
                comment.id,
                entry,
            )
    verb = "回答了你的问题" if post.kind == PostKind.QUESTION else "评论了你的帖子"
    asker = Account(post.author_kind, post.author_id)
    planned.setdefault(
        asker,
        _draft(
            asker,
            NotificationKind.REPLY,
            f"reply:{comment.id}",
            f"{name} {verb}",
            f"「{post.title}」：{text}",
            group,
            post,
            "comment",
            comment.id,
            entry,
        ),
    )
    drafts = await _deliverable(session, author, group, planned)
    for m in await mentions.mentioned(session, group=group, text=comment.body_md, author=author):
        if m.account not in planned and level_admits(m.member.notification_level, NotificationKind.MENTION):
            drafts.append(
                _draft(
                    m.account,
                    NotificationKind.MENTION,
                    f"mention:comment:{comment.id}",
                    f"{name} 在评论中提到了你",
                    f"「{post.title}」：{text}",
                    group,
                    post,
                    "comment",
                    comment.id,
                    entry,
                )
            )
    return await centre.write(session, drafts), True


def _level(member: MemberRow | None) -> str | None:
    return member.notification_level if member is not None else None


def _draft(
    recipient: Account,
    kind: NotificationKind,
    key: str,
    title: str,
    body: str,
    group: Group,
    post: Post,
    target_kind: str,
    target_id: uuid.UUID,
    entry: dict[str, Any],
) -> Draft:
    return Draft(
        recipient,
        kind,
        key,
        title,
        body,
        group_id=group.id,
        post_id=post.id,
        target_kind=target_kind,
        target_id=target_id,
        actor_count=1,
        actors=[entry],
    )


async def _reaction(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    target_kind, target_id, kind = run.payload["target_kind"], uuid.UUID(run.payload["target_id"]), run.payload["kind"]
    target: Post | Comment | None
    if target_kind == "post":
        target = post = await session.get(Post, target_id)
    else:
        target = await session.get(Comment, target_id)
        post = await session.get(Post, target.post_id) if target is not None else None
    if target is None or post is None or target.status != _PUBLISHED or post.status != _PUBLISHED:
        return 0, True
    group = await session.get(Group, post.group_id)
    if group is None:
        return 0, True
    recipient = Account(target.author_kind, target.author_id)
    can = await readers(session, group, [recipient])
    if recipient not in can or not level_admits(_level(can[recipient]), NotificationKind.REACTION):
        return 0, True
    # Everyone's reaction of this kind but the recipient's own, and none of people blocked either way.
    mine = (Block.blocker_kind == recipient.kind) & (Block.blocker_id == recipient.id)
    theirs = (Block.blocked_kind == recipient.kind) & (Block.blocked_id == recipient.id)
    count = await session.scalar(
        select(func.count())
        .select_from(Reaction)
        .where(
            Reaction.target_kind == target_kind,
            Reaction.target_id == target_id,
            Reaction.kind == kind,
            ~((Reaction.account_kind == recipient.kind) & (Reaction.account_id == recipient.id)),
            ~exists().where(mine, Block.blocked_kind == Reaction.account_kind, Block.blocked_id == Reaction.account_id),
            ~exists().where(
                theirs, Block.blocker_kind == Reaction.account_kind, Block.blocker_id == Reaction.account_id
            ),
        )
    )
    n = int(count or 0)
    if n == 0:
        return 0, True
    title = REACTION_TITLES.get(kind, "{n} 人回应了你").format(n=n)
    if isinstance(target, Post):
        body = f"你的帖子「{post.title}」"
    else:
        body = f"你在「{post.title}」中的评论：{snippet(target.body_md, 40)}"
    draft = Draft(
        recipient,
        NotificationKind.REACTION,
        f"reaction:{target_kind}:{target_id}:{kind}",
        title,
        body,
        group_id=group.id,
        post_id=post.id,
        target_kind=target_kind,
        target_id=target_id,
        actor_count=n,
    )
    return int(await centre.regroup(session, draft)), True


async def _answer(session: AsyncSession, run: NotifyRun) -> tuple[Post, Comment, Group] | None:
    post = await session.get(Post, uuid.UUID(run.payload["post_id"]))
    comment = await session.get(Comment, uuid.UUID(run.payload["comment_id"]))
    if post is None or comment is None or comment.post_id != post.id:
        return None
    if post.status != _PUBLISHED or comment.status != _PUBLISHED:
        return None
    group = await session.get(Group, post.group_id)
    return (post, comment, group) if group is not None else None


async def _deliverable(
    session: AsyncSession, actor: Account, group: Group, planned: dict[Account, Draft]
) -> list[Draft]:
    """Of the drafts of one occasion in a group, those to people who can read it, are not blocked either
    way with `actor` (never to `actor`), and whose level lets the kind through."""
    planned.pop(actor, None)
    can = await readers(session, group, list(planned))
    allowed = await _not_blocked(session, actor, [a for a in planned if a in can])
    return [d for a, d in planned.items() if a in allowed and level_admits(_level(can.get(a)), d.kind)]


async def _deliver(session: AsyncSession, actor: Account, group: Group, planned: dict[Account, Draft]) -> int:
    return await centre.write(session, await _deliverable(session, actor, group, planned))


async def _accepted(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    found = await _answer(session, run)
    if found is None:
        return 0, True
    post, comment, group = found
    if post.accepted_answer_id != comment.id:
        return 0, True  # another answer was accepted meanwhile
    asker = Account(post.author_kind, post.author_id)
    name, entry = await shown_as(session, post, group)
    planned = {
        Account(comment.author_kind, comment.author_id): _draft(
            Account(comment.author_kind, comment.author_id),
            NotificationKind.ANSWER_ACCEPTED,
            f"accepted:{comment.id}",
            "你的回答被采纳了",
            f"{name} 采纳了你在「{post.title}」中的回答",
            group,
            post,
            "comment",
            comment.id,
            entry,
        )
    }
    return await _deliver(session, asker, group, planned), True


async def _verified(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    found = await _answer(session, run)
    if found is None:
        return 0, True
    post, comment, group = found
    expert = Account("staff", uuid.UUID(run.payload["by"]))
    person = await accounts.person(session, expert)
    name = person.display_name if person is not None else "专家"
    entry = actor_entry(expert, name)
    answerer = Account(comment.author_kind, comment.author_id)
    asker = Account(post.author_kind, post.author_id)
    key = f"verified:{comment.id}"
    planned = {
        answerer: _draft(
            answerer,
            NotificationKind.ANSWER_VERIFIED,
            key,
            "你的回答通过了专家认证",
            f"{name} 认证了你在「{post.title}」中的回答",
            group,
            post,
            "comment",
            comment.id,
            entry,
        )
    }
    planned.setdefault(
        asker,
        _draft(
            asker,
            NotificationKind.ANSWER_VERIFIED,
            key,
            "你的问题有了专家认证的回答",
            f"{name} 认证了「{post.title}」的一条回答",
            group,
            post,
            "comment",
            comment.id,
            entry,
        ),
    )
    return await _deliver(session, expert, group, planned), True


async def _follow(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    p = run.payload
    follower = Account(p["follower_kind"], uuid.UUID(p["follower_id"]))
    followee = Account(p["followee_kind"], uuid.UUID(p["followee_id"]))
    still = await session.scalar(
        select(
            exists().where(
                Follow.follower_kind == follower.kind,
                Follow.follower_id == follower.id,
                Follow.followee_kind == followee.kind,
                Follow.followee_id == followee.id,
            )
        )
    )
    if not still or await blocks.blocked_between(session, follower, followee):
        return 0, True
    found = await accounts.people(session, [follower, followee])
    if follower not in found or followee not in found or not found[followee].active:
        return 0, True
    name = found[follower].display_name
    draft = Draft(
        followee,
        NotificationKind.FOLLOW,
        f"follow:{follower.kind}:{follower.id}",
        f"{name} 关注了你",
        "",
        target_kind="person",
        target_id=follower.id,
        actor_count=1,
        actors=[actor_entry(follower, name)],
    )
    return await centre.write(session, [draft]), True


async def _content(session: AsyncSession, run: NotifyRun, batch: int) -> tuple[int, bool]:
    item = await session.get(ContentItem, uuid.UUID(run.payload["item_id"]))
    if item is None or item.live_revision_id is None or item.archived_at is not None:
        return 0, True
    codes = sorted(set(item.audience_conditions or item.condition_codes or []))
    if not codes:
        return 0, True  # for everyone: not "for the patient's conditions"
    size = min(batch, CONTENT_BATCH)
    ids = [r[0] for r in await rawsql.fetch(session, _CONDITION_PATIENTS_SQL, codes, run.cursor_id or _NIL, size)]
    if not ids:
        return 0, True
    allowed = await content_access.readers_among(session, item.id, ids)  # content's one access check
    drafts = [
        Draft(
            Account("patient", pid),
            NotificationKind.CONTENT,
            f"content:{item.id}",
            f"为你推荐：{item.title}",
            "",
            target_kind="content",
            target_id=item.id,
        )
        for pid in allowed
    ]
    created = await centre.write(session, drafts)
    run.cursor_kind, run.cursor_id = "patient", ids[-1]
    return created, len(ids) < size


Handler = Callable[[AsyncSession, NotifyRun, int], Awaitable[tuple[int, bool]]]
HANDLERS: dict[Occasion, Handler] = {
    Occasion.POST: _post,
    Occasion.COMMENT: _comment,
    Occasion.REACTION: _reaction,
    Occasion.ACCEPTED: _accepted,
    Occasion.VERIFIED: _verified,
    Occasion.FOLLOW: _follow,
    Occasion.CONTENT: _content,
}


# --- the job ----------------------------------------------------------------------------------------


async def step(session: AsyncSession, run_id: uuid.UUID, batch: int = BATCH) -> tuple[int, bool]:
    """One batch of a run in the caller's transaction: (notifications created, whether the run is done).
    A run another worker holds right now is skipped (it goes on there)."""
    run = await session.scalar(select(NotifyRun).where(NotifyRun.id == run_id).with_for_update(skip_locked=True))
    if run is None or run.status == RunStatus.DONE:
        return 0, True
    created, done = await HANDLERS[Occasion(run.kind)](session, run, batch)
    run.notified += created
    run.status = (RunStatus.DONE if done else RunStatus.RUNNING).value
    run.finished_at = clock.now() if done else None
    return created, done


async def run(run_id: uuid.UUID, *, batch: int = BATCH) -> int:
    """Job `social.notify_run`: the run batch by batch, one transaction each, until it is done."""
    total = 0
    while True:
        async with unit_of_work() as session:
            created, done = await step(session, run_id, batch)
        total += created
        if done:
            return total


async def sweep(*, stale_after: timedelta = timedelta(minutes=1), limit: int = 200) -> int:
    """Cron `social.notify_sweep`: enqueue unfinished runs again (a no-op while their job is queued or
    running: the job id is the run id)."""
    cutoff = clock.now() - stale_after
    async with unit_of_work() as session:
        run_ids = list(
            await session.scalars(
                select(NotifyRun.id)
                .where(NotifyRun.status != RunStatus.DONE.value, NotifyRun.created_at <= cutoff)
                .order_by(NotifyRun.created_at)
                .limit(limit)
            )
        )
    enqueued = 0
    for run_id in run_ids:
        if await enqueue(run_id):
            enqueued += 1
    return enqueued
