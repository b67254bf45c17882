"""The live group feed (groupPosts over graphql-transport-ws) leaves out posts by people the subscriber
blocked, like the group feed does."""

from __future__ import annotations

import asyncio
from typing import Any

from api.context import Context
from api.relay import to_global_id
from api.schema import schema
from core.db import RequestDB, unit_of_work
from core.identity import Actor
from social import blocks
from tests.factories import make_group
from tests.social.support import account_of, join, patient, post


def _context(actor: Actor) -> Context:
    return Context(
        request=None,  # type: ignore[arg-type]
        response=None,
        actor=actor,
        db=RequestDB(release_after_read=True),
        request_id="test",
    )


async def test_live_group_posts_skip_blocked_authors() -> None:
    group = await make_group()
    subscriber, blocked, other = await patient(), await patient(), await patient()
    for p in (subscriber, blocked, other):
        await join(group, p)
    async with unit_of_work() as session:
        await blocks.block(session, subscriber, account_of(blocked))
    stream: Any = await schema.subscribe(
        "subscription($g: ID!) { groupPosts(groupId: $g) { title } }",
        variable_values={"g": to_global_id("Group", group)},
        context_value=_context(subscriber),
    )
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.3)  # let the subscriber attach before anything is published
    await post(blocked, group, title="被屏蔽者的新帖")
    await post(other, group, title="其他人的新帖")
    result = await asyncio.wait_for(first, timeout=5)
    assert result.errors is None and result.data["groupPosts"]["title"] == "其他人的新帖"
    await stream.aclose()
