"""Helpers for content tests: staff actors, items through the real workflow."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from content import service
from content.service import ContentInput
from core.db import unit_of_work
from core.identity import Actor, Role
from tests.factories import staff

MARKETER = staff(Role.MARKETER)
REVIEWER = staff(Role.REVIEWER)

ARTICLE = ContentInput(
    kind="article",
    title="糖尿病患者如何控制血糖",
    summary="饮食、运动与监测三管齐下",
    body="规律监测**血糖**，合理饮食，每天步行30分钟。",
    condition_codes=["diabetes"],
    topics=["饮食"],
)


def article(**changes: object) -> ContentInput:
    return replace(ARTICLE, **changes)  # type: ignore[arg-type]


async def create(data: ContentInput | None = None, *, author: Actor = MARKETER) -> uuid.UUID:
    async with unit_of_work() as session:
        item = await service.create_item(session, author, data or ARTICLE)
    return item.id


async def publish(
    data: ContentInput | None = None,
    *,
    author: Actor = MARKETER,
    at: datetime | None = None,
    acknowledged: list[str] | None = None,
) -> uuid.UUID:
    """Create, submit, approve (by another person) and publish now or at `at`."""
    item_id = await create(data, author=author)
    async with unit_of_work() as session:
        await service.submit(session, author, item_id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, item_id, acknowledged=acknowledged)
    async with unit_of_work() as session:
        await service.publish(session, author, item_id, at=at)
    return item_id
