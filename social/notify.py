"""Where notifications start. The community, content and social services call these in the transaction
that made the occasion (a post published, a comment, a reaction, an accepted or verified answer, a
follow, content going live); each writes one run row, unique per occasion, and enqueues the fan-out job
after commit (social/fanout.py). So a rolled-back post notifies nobody, a repeated trigger is one run,
and a run whose job was lost (Redis down, a worker killed) is picked up by the sweep.

Event notices and moderation outcomes concern a known, bounded list of patients and already run in a
job or a moderator's transaction: they are written at once (`event_notices`, `moderation_outcome`).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import clock, jobs
from core.db import after_commit
from core.ids import new_id
from social import centre
from social.accounts import Account
from social.kinds import NotificationKind
from social.models import NotifyRun

RUN = jobs.register("social.notify_run", "Fan one notification occasion out (post, comment, reaction ...) in batches")
SWEEP = jobs.register("social.notify_sweep", "Re-enqueue notification runs whose job was lost")


class Occasion(enum.StrEnum):
    POST = "post"  # mentions in it, then the author's followers
    COMMENT = "comment"  # the post's author, the comment replied to, mentions
    REACTION = "reaction"  # the grouped notification of the post's or comment's author
    ACCEPTED = "accepted"  # the answer's author
    VERIFIED = "verified"  # the answer's author and the asker
    FOLLOW = "follow"  # the person followed
    CONTENT = "content"  # patients whose conditions the item is for, who may read it


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


async def enqueue(run_id: uuid.UUID) -> bool:
    return await RUN.enqueue(str(run_id), key=(run_id,))


async def _start(session: AsyncSession, occasion: Occasion, key: str, payload: dict[str, Any]) -> None:
    run_id = await session.scalar(
        insert(NotifyRun)
        .values(
            id=new_id(),
            key=key[:200],
            kind=occasion.value,
            payload=payload,
            status=RunStatus.QUEUED.value,
            step=0,
            notified=0,
            created_at=clock.now(),
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(NotifyRun.id)
    )
    if run_id is None:
        return  # this occasion was started before

    async def kick() -> None:
        await enqueue(run_id)

    after_commit(session, kick)


async def post_published(session: AsyncSession, post_id: uuid.UUID) -> None:
    """A post is visible to its group now (at creation, or released by a moderator)."""
    await _start(session, Occasion.POST, f"post:{post_id}", {"post_id": str(post_id)})


async def comment_published(session: AsyncSession, comment_id: uuid.UUID) -> None:
    await _start(session, Occasion.COMMENT, f"comment:{comment_id}", {"comment_id": str(comment_id)})


async def released(session: AsyncSession, target_kind: str, target_id: uuid.UUID) -> None:
    """A held post or comment a moderator let through: notified as if it was published just now (once:
    one published at creation and later hidden and restored started its run then)."""
    if target_kind == "post":
        await post_published(session, target_id)
    elif target_kind == "comment":
        await comment_published(session, target_id)


async def reacted(
    session: AsyncSession, *, target_kind: str, target_id: uuid.UUID, kind: str, by: tuple[str, uuid.UUID]
) -> None:
    """One person's (`by`: account kind and id) reaction: one run per (target, reaction kind, person), so
    taking it back and giving it again notifies nobody twice."""
    key = f"reaction:{target_kind}:{target_id}:{kind}:{by[0]}:{by[1]}"
    payload = {"target_kind": target_kind, "target_id": str(target_id), "kind": kind}
    await _start(session, Occasion.REACTION, key, payload)


async def answer_accepted(session: AsyncSession, *, post_id: uuid.UUID, comment_id: uuid.UUID) -> None:
    payload = {"post_id": str(post_id), "comment_id": str(comment_id)}
    await _start(session, Occasion.ACCEPTED, f"accepted:{post_id}:{comment_id}", payload)


async def answer_verified(session: AsyncSession, *, post_id: uuid.UUID, comment_id: uuid.UUID, by: uuid.UUID) -> None:
    payload = {"post_id": str(post_id), "comment_id": str(comment_id), "by": str(by)}
    await _start(session, Occasion.VERIFIED, f"verified:{post_id}:{comment_id}", payload)


async def followed(session: AsyncSession, follower: Account, followee: Account) -> None:
    """A new follow (one run per pair ever: unfollowing and following again does not notify again)."""
    key = f"follow:{follower.kind}:{follower.id}:{followee.kind}:{followee.id}"
    payload = {
        "follower_kind": follower.kind,
        "follower_id": str(follower.id),
        "followee_kind": followee.kind,
        "followee_id": str(followee.id),
    }
    await _start(session, Occasion.FOLLOW, key, payload)


async def content_published(session: AsyncSession, item_id: uuid.UUID) -> None:
    """Content went live for the first time."""
    await _start(session, Occasion.CONTENT, f"content:{item_id}", {"item_id": str(item_id)})


# --- written at once --------------------------------------------------------------------------------


async def event_notices(
    session: AsyncSession,
    *,
    event_id: uuid.UUID,
    notices: Sequence[tuple[uuid.UUID, str, str, str]],
) -> int:
    """Event changes, seat offers and reminders already sent to the inbox, in the centre too:
    (patient id, key, subject, body) each, the key the events module's own notice key."""
    drafts = [
        centre.Draft(
            recipient=Account("patient", patient_id),
            kind=NotificationKind.EVENT,
            key=key,
            title=subject,
            body=body,
            group_id=None,  # about the patient's own sign-up: no group level applies
            target_kind="event",
            target_id=event_id,
        )
        for patient_id, key, subject, body in notices
    ]
    return await centre.write(session, drafts)


async def moderation_outcome(
    session: AsyncSession,
    *,
    author: tuple[str, uuid.UUID],
    subject: str,
    body: str,
    target_kind: str | None = None,
    target_id: uuid.UUID | None = None,
    post_id: uuid.UUID | None = None,
) -> int:
    """What a moderator (or the report threshold) did to the author's post or comment, or to their
    membership (a mute, a ban, lifting one: no target). Written in that transaction, once; never filtered
    by the group's level (it explains what happened to their own text or account)."""
    draft = centre.Draft(
        recipient=Account(*author),
        kind=NotificationKind.MODERATION,
        key=f"moderation:{new_id()}",
        title=subject,
        body=body,
        group_id=None,  # shown even after a ban took the group from them
        post_id=post_id,
        target_kind=target_kind,
        target_id=target_id,
    )
    return await centre.write(session, [draft])
