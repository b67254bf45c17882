"""Subscriptions: new posts in a group and new moderation items, with access checked per message."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from strawberry.exceptions import ConnectionRejectionError

from api.app import PortalGraphQL
from api.context import Context
from api.relay import to_global_id
from api.schema import schema
from community import posts
from core.db import RequestDB, unit_of_work
from core.identity import ANONYMOUS, Actor, Role
from tests.factories import as_patient, make_group, member_of, new_member, staff
from tests.support import patient_session


def _context(actor: Actor) -> Context:
    return Context(
        request=None,
        response=None,
        actor=actor,
        db=RequestDB(release_after_read=True),  # type: ignore[arg-type]
        request_id="test",
    )


async def _subscribe(query: str, actor: Actor, variables: dict[str, Any] | None = None) -> Any:
    stream = await schema.subscribe(query, variable_values=variables or {}, context_value=_context(actor))
    return stream


async def _post(patient, group_id, title):
    async with unit_of_work() as session:
        return (
            await posts.create_post(
                session, as_patient(patient), group_id=group_id, kind="discussion", title=title, body="今天血糖平稳"
            )
        ).item


async def test_group_posts_subscription_delivers_new_visible_posts():
    group = await make_group("live-1")
    alice = await member_of(group)
    stream = await _subscribe(
        "subscription($g: ID!) { groupPosts(groupId: $g) { title author { displayName } } }",
        as_patient(await new_member()),
        {"g": to_global_id("Group", group)},
    )
    first = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.3)  # let the subscriber attach before anything is published
    await _post(alice, group, "想交流的私信加我")  # held by the word filter: not for other members
    await _post(alice, group, "实时新帖")
    result = await asyncio.wait_for(first, timeout=5)
    assert result.errors is None and result.data["groupPosts"]["title"] == "实时新帖"
    await stream.aclose()


async def test_outsider_cannot_subscribe_to_a_members_only_group():
    group = await make_group("live-2", visibility="members")
    stream = await _subscribe(
        "subscription($g: ID!) { groupPosts(groupId: $g) { title } }",
        as_patient(await new_member()),
        {"g": to_global_id("Group", group)},
    )
    result = await asyncio.wait_for(stream.__anext__(), timeout=5)
    assert result.errors and result.errors[0].message == "加入社群后才能查看或参与"


async def test_moderation_queue_subscription_only_for_moderators():
    group = await make_group("live-3")
    alice = await member_of(group)
    query = "subscription { moderationQueue { reason targetKind } }"
    moderator_stream = await _subscribe(query, staff(Role.MODERATOR))
    patient_stream = await _subscribe(query, as_patient(await new_member()))
    for_moderator = asyncio.ensure_future(moderator_stream.__anext__())
    for_patient = asyncio.ensure_future(patient_stream.__anext__())
    await asyncio.sleep(0.3)
    await _post(alice, group, "私信加我微信了解")  # held: opens a queue item
    result = await asyncio.wait_for(for_moderator, timeout=5)
    assert result.data["moderationQueue"]["targetKind"] == "post"
    # The patient moderates nothing: refused at once with a code (it used to stay silent forever).
    refused = await asyncio.wait_for(for_patient, timeout=5)
    assert refused.errors and refused.errors[0].original_error.code == "PERMISSION_DENIED"
    await moderator_stream.aclose()


async def test_websocket_connection_init_authenticates(client):
    view = PortalGraphQL(schema)
    s = await patient_session(client, "13900005555")
    good = _context(ANONYMOUS)
    good.connection_params = {"authorization": f"Bearer {s.access}"}
    await view.on_ws_connect(good)
    assert good.actor.is_patient
    anonymous = _context(ANONYMOUS)
    anonymous.connection_params = {}
    await view.on_ws_connect(anonymous)
    assert anonymous.actor is ANONYMOUS
    bad = _context(ANONYMOUS)
    bad.connection_params = {"authorization": "Bearer not-a-token"}
    with pytest.raises(ConnectionRejectionError):
        await view.on_ws_connect(bad)
