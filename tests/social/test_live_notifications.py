"""notificationAdded over a real graphql-transport-ws connection (uvicorn serving the app; the events go
through Redis pub/sub as across processes): each person hears only their own notifications, grouped
reactions arrive again when they grow, and a signed-out socket is refused with a code."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from api.relay import from_global_id
from community import posts
from core.db import unit_of_work
from core.identity import Actor, ActorKind
from tests.factories import make_group
from tests.live_server import in_loop_server
from tests.social.notify_support import drain, nickname
from tests.social.support import comment, join, post
from tests.support import Session, signed_in_patient

SUBSCRIPTION = "subscription { notificationAdded { id kind title actorCount isRead } }"
TIMEOUT = 10.0


async def _next(ws: Any) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message  # type: ignore[no-any-return]


@asynccontextmanager
async def _subscribed(url: str, token: str | None) -> AsyncIterator[Any]:
    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=TIMEOUT) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await _next(ws))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
        await asyncio.sleep(0.5)  # let the subscriber attach before anything is published
        yield ws


def _actor(session: Session) -> Actor:
    decoded = from_global_id(session.id)
    assert decoded is not None
    return Actor(kind=ActorKind.PATIENT, id=uuid.UUID(decoded[1]))


def _pushed(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    return message["payload"]["data"]["notificationAdded"]  # type: ignore[no-any-return]


async def test_notification_added_pushes_each_persons_own_notifications(client: Any) -> None:
    group = await make_group()
    author_session, _ = await signed_in_patient(client)
    fan_session, _ = await signed_in_patient(client)
    author, fan, third = _actor(author_session), _actor(fan_session), _actor((await signed_in_patient(client))[0])
    for who in (author, fan, third):
        await join(group, who)
    await nickname(fan, "在线群友")
    async with (
        in_loop_server() as url,
        _subscribed(url, author_session.access) as author_ws,
        _subscribed(url, fan_session.access) as fan_ws,
    ):
        p = await post(author, group, title="今晚的血糖记录")
        c = await comment(fan, p.id, "记录得很详细")
        await drain()
        reply = _pushed(await _next(author_ws))
        assert (reply["kind"], reply["title"], reply["isRead"]) == ("REPLY", "在线群友 评论了你的帖子", False)
        # A grouped reaction arrives, and again when it grows.
        for who in (fan, third):
            async with unit_of_work() as session:
                await posts.react(session, who, target_kind="post", target_id=p.id, kind="helpful")
            await drain()
            grown = _pushed(await _next(author_ws))
            assert grown["kind"] == "REACTION"
        assert (grown["title"], grown["actorCount"]) == ("2 人觉得有帮助", 2)
        # The fan's socket heard none of that: its first event is its own reply.
        await comment(author, p.id, "谢谢", parent_id=c.id)
        await drain()
        own = _pushed(await _next(fan_ws))
        assert own["kind"] == "REPLY" and own["title"].endswith("回复了你的评论")
        await fan_ws.send(json.dumps({"id": "1", "type": "complete"}))
        await author_ws.send(json.dumps({"id": "1", "type": "complete"}))


async def test_a_signed_out_socket_is_refused_with_a_code(client: Any) -> None:
    async with in_loop_server() as url, _subscribed(url, None) as ws:
        message = await _next(ws)
        assert "NOT_AUTHENTICATED" in json.dumps(message), message
