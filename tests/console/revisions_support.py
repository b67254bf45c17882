"""An article with three revisions for the revision diff tests: published twice, then edited again."""

from __future__ import annotations

import uuid

from content import service
from content.service import ContentInput
from core.db import unit_of_work
from core.identity import Actor, ActorKind, Role

BODIES = (
    "第一版：规律饮食。\n少吃甜食。",
    "第二版：规律饮食。\n少吃甜食，多吃蔬菜。",
    "第三版：规律饮食，定时定量。\n少吃甜食，多吃蔬菜。\n饭后散步二十分钟。",
)
TITLE = "控糖饮食三步走"


async def three_revisions(author_id: uuid.UUID, reviewer_id: uuid.UUID) -> uuid.UUID:
    author = Actor(kind=ActorKind.STAFF, id=author_id, roles=frozenset({Role.MARKETER}))
    reviewer = Actor(kind=ActorKind.STAFF, id=reviewer_id, roles=frozenset({Role.REVIEWER}))
    async with unit_of_work() as session:
        item = await service.create_item(session, author, ContentInput(kind="article", title=TITLE, body=BODIES[0]))
        item_id = item.id
    for body in BODIES[1:]:
        async with unit_of_work() as session:
            await service.submit(session, author, item_id)
            await service.approve(session, reviewer, item_id, comment="同意")
            await service.publish(session, author, item_id)
        async with unit_of_work() as session:  # editing a published item starts a new revision
            await service.update_item(session, author, item_id, ContentInput(kind="article", title=TITLE, body=body))
    return item_id
