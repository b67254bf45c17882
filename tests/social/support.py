"""Helpers of the social tests: accounts as actors, posts and comments written through the community
services, the following feed and a group feed read as a viewer."""

from __future__ import annotations

import uuid
from typing import Any

from community import groups, posts
from community.models import Comment, Post
from core.db import unit_of_work
from core.identity import Actor, Role
from social import feed
from social.accounts import Account
from tests.factories import MODERATOR, as_patient, make_staff, member_of, new_member, staff, verified_credential


def patient_account(patient_id: uuid.UUID) -> Account:
    return Account("patient", patient_id)


def account_of(actor: Actor) -> Account:
    assert actor.id is not None
    return Account("staff" if actor.is_staff else "patient", actor.id)


async def patient() -> Actor:
    return as_patient(await new_member())


async def staff_member(*roles: Role, credential: bool = False) -> Actor:
    """A real staff account (an actor with its roles); a doctor with a verified credential on request."""
    staff_id = await make_staff(
        f"s-{uuid.uuid4().hex[:10]}@example.cn", list(roles), name=f"员工{uuid.uuid4().hex[:4]}"
    )
    if credential:
        await verified_credential(staff_id)
    return staff(*roles, staff_id=staff_id)


async def expert_in(group_id: uuid.UUID, doctor: Actor) -> None:
    assert doctor.id is not None
    async with unit_of_work() as session:
        await groups.set_role(session, MODERATOR, group_id, account_kind="staff", account_id=doctor.id, role="expert")


async def join(group_id: uuid.UUID, actor: Actor) -> None:
    """Patients join as veterans (no new-member posting limits); staff are never limited."""
    if actor.is_patient:
        assert actor.id is not None
        await member_of(group_id, actor.id)
        return
    async with unit_of_work() as session:
        await groups.join(session, actor, group_id)


async def post(
    author: Actor,
    group_id: uuid.UUID,
    *,
    title: str = "控糖经验分享",
    body: str = "每天走路一小时",
    kind: str = "discussion",
    anonymous: bool = False,
) -> Post:
    async with unit_of_work() as session:
        created = await posts.create_post(
            session, author, group_id=group_id, kind=kind, title=title, body=body, anonymous=anonymous
        )
    assert isinstance(created.item, Post)
    return created.item


async def comment(
    author: Actor,
    post_id: uuid.UUID,
    body: str = "谢谢分享",
    *,
    parent_id: uuid.UUID | None = None,
    anonymous: bool = False,
) -> Comment:
    async with unit_of_work() as session:
        created = await posts.create_comment(
            session, author, post_id=post_id, body=body, parent_id=parent_id, anonymous=anonymous
        )
    assert isinstance(created.item, Comment)
    return created.item


async def following(viewer: Actor, first: int = 50, after: str | None = None) -> Any:
    async with unit_of_work() as session:
        return await feed.following_feed(session, viewer, first=first, after=after)


async def following_ids(viewer: Actor) -> list[tuple[str, uuid.UUID]]:
    page = await following(viewer)
    return [(i.kind, i.answer.id if i.answer else i.post_id) for i in page.items]


async def group_feed_ids(viewer: Actor, group_id: uuid.UUID) -> list[uuid.UUID]:
    """The group feed as the API reads it (the raw statement), pinned posts included."""
    async with unit_of_work() as session:
        group, member = await posts.access.require_reader(session, viewer, group_id)
        rows = await posts.group_feed_rows(session, viewer, group, member, first=50, after=None)
    return [r["id"] for r in [*rows.pinned, *rows.page.items]]


async def comment_ids(viewer: Actor, post_id: uuid.UUID) -> list[uuid.UUID]:
    async with unit_of_work() as session:
        page = await posts.comments_page(session, viewer, post_id, first=50, after=None)
    return [c.id for c in page.items]
