"""Subscriptions over graphql-transport-ws answer every refusal with the same codes and shapes as HTTP,
against a real `portal serve` process: a refused subscription gets an `error` message at once, never
silence, never a bare `complete`."""

from __future__ import annotations

import asyncio
import json
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from api.relay import to_global_id
from tests.factories import make_group
from tests.live_server import live_server
from tests.support import patient_session

TIMEOUT = 10.0
GROUP_POSTS = "subscription($g: ID!) { groupPosts(groupId: $g) { id title } }"
QUEUE = "subscription { moderationQueue { id } }"


@pytest.fixture(scope="module")
def server(servers: dict[str, str]) -> Iterator[str]:
    log = Path(tempfile.mkdtemp(prefix="portal-ws-")) / "api.log"
    with live_server(servers["database_url"], servers["redis_url"], log_path=log) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


async def _answers(
    base: str, token: str | None, query: str, variables: dict[str, Any] | None = None
) -> tuple[dict[str, Any], str]:
    """The first message the server sends after `subscribe`, and whether the socket still answers a ping
    afterwards ("open") or was closed ("closed")."""
    ws_url = base.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=TIMEOUT) as ws:  # type: ignore[list-item]
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        try:
            await ws.send(json.dumps({"type": "ping"}))
            while (json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT)))["type"] != "pong":
                pass
        except ConnectionClosed:
            return first, "closed"
        return first, "open"


def _codes(message: dict[str, Any]) -> list[str]:
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors") or []
    return [e.get("extensions", {}).get("code") for e in errors]


@pytest.mark.parametrize(
    ("case", "query", "variables", "code"),
    [
        ("syntax error", "subscription { groupPosts(", None, "BAD_REQUEST"),
        ("unknown field", "subscription { nope }", None, "BAD_REQUEST"),
        ("null byte", GROUP_POSTS, {"g": "a\u0000b"}, "INVALID_STRING"),
        ("malformed id", GROUP_POSTS, {"g": "not-an-id"}, "ID_INVALID"),
    ],
)
async def test_a_bad_subscription_gets_its_code_and_the_socket_lives_on(
    server: str, client: Any, case: str, query: str, variables: Any, code: str
) -> None:
    patient = await patient_session(client, "139" + str(uuid.uuid4().int)[:8])
    first, socket = await _answers(server, patient.access, query, variables)
    assert first["type"] in ("error", "next"), (case, first)
    assert _codes(first) == [code], (case, first)
    assert socket == "open", case


async def test_refusals_answer_at_once_with_the_domain_code(server: str, client: Any) -> None:
    patient = await patient_session(client, "139" + str(uuid.uuid4().int)[:8])
    private = await make_group(f"ws-{uuid.uuid4().hex[:8]}", visibility="private", join_policy="approval")
    not_member, _ = await _answers(server, patient.access, GROUP_POSTS, {"g": to_global_id("Group", private)})
    assert _codes(not_member) == ["NOT_A_MEMBER"]
    # A patient who moderates nothing used to get silence forever from the live queue.
    patient_queue, _ = await _answers(server, patient.access, QUEUE)
    assert _codes(patient_queue) == ["PERMISSION_DENIED"]
    anonymous_queue, _ = await _answers(server, None, QUEUE)
    assert _codes(anonymous_queue) == ["NOT_AUTHENTICATED"]
    for message in (not_member, patient_queue, anonymous_queue):
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert all(e["message"] and "Traceback" not in e["message"] for e in errors)


async def test_a_subscription_posted_over_http_is_a_typed_400(server: str) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=TIMEOUT) as http:
        answer = await http.post("/graphql", json={"query": QUEUE})
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
