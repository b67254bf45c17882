"""Two real API processes on one PostgreSQL + Redis behave as one service.

Each process is `portal serve` (the production entry point) on its own port. A patient subscribes
over graphql-transport-ws on process A; posts and word-list changes go through process B over HTTP.
Nothing here runs the app in the test's own process, so any state kept in one process's memory
(subscribers, caches, limits) would show up as a failure.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from api.relay import from_global_id, to_global_id
from community import posts
from core import pubsub, queue
from tests.factories import make_group, member_of
from tests.support import data, gql, patient_session, staff_session

PORTAL = Path(sys.executable).parent / "portal"
START_TIMEOUT = 60.0  # two cold imports of the whole app on a busy 2-core machine
STOP_TIMEOUT = 10.0
EVENT_TIMEOUT = 10.0

POST_CREATE = """mutation($g: ID!, $t: String!, $b: String!) {
  postCreate(input: {groupId: $g, kind: DISCUSSION, title: $t, body: $b}) {
    post { id title status } errors { code message } } }"""
WORD_ADD = """mutation($w: String!) { sensitiveWordAdd(input: {word: $w, category: HOLD}) {
  word { id word } errors { code message } } }"""
GROUP_POSTS = "subscription($g: ID!) { groupPosts(groupId: $g) { id title } }"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ApiProcess:
    def __init__(self, name: str, servers: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        env = {
            **os.environ,
            "DATABASE_URL": servers["database_url"],
            "REDIS_URL": servers["redis_url"],
            "PORTAL_ENV": "test",
            "PORTAL_HOST": "127.0.0.1",
            "PORTAL_PORT": str(self.port),
            "PORTAL_WEB_WORKERS": "1",
            "PORTAL_LOG_LEVEL": "WARNING",
        }
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            [str(PORTAL), "serve"], env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        # uvicorn shuts down cleanly on SIGTERM; SIGKILL only if it hangs, so no process outlives the test.
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=STOP_TIMEOUT)
        self._log.close()


async def _wait_healthy(apis: list[ApiProcess]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    async with httpx.AsyncClient(timeout=2.0) as http:
        for api in apis:
            while True:
                if api.popen.poll() is not None:
                    pytest.fail(f"API process {api.name} exited with {api.popen.returncode}:\n{api.output()}")
                try:
                    if (await http.get(api.url + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"API process {api.name} not healthy after {START_TIMEOUT}s:\n{api.output()}")
                await asyncio.sleep(0.2)


@contextmanager
def _started(servers: dict[str, str], count: int) -> Iterator[list[ApiProcess]]:
    log_dir = Path(tempfile.mkdtemp(prefix="portal-mp-"))
    apis: list[ApiProcess] = []
    try:
        for i in range(count):
            apis.append(ApiProcess("AB"[i], servers, log_dir))
        yield apis
    finally:
        for api in apis:
            api.stop()


@pytest.fixture(scope="module")
async def two_apis(servers: dict[str, str]) -> AsyncIterator[list[ApiProcess]]:
    """Started once for the module: the per-test clean-up truncates tables and flushes Redis under
    them, which running processes must survive anyway (they keep no copy of either)."""
    with _started(servers, 2) as apis:
        await _wait_healthy(apis)
        yield apis


@asynccontextmanager
async def _http(api: ApiProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api.url, timeout=EVENT_TIMEOUT) as http:
        yield http


@asynccontextmanager
async def _subscription(api: ApiProcess, token: str, query: str, variables: dict[str, Any]) -> AsyncIterator[Any]:
    """A graphql-transport-ws subscription on `api`; yields a function returning its next payload."""
    ws_url = api.url.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"], open_timeout=EVENT_TIMEOUT) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        ack = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
        assert ack["type"] == "connection_ack", ack
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))

        async def next_payload() -> dict[str, Any]:
            return await _next(ws)

        yield next_payload
        await ws.send(json.dumps({"id": "1", "type": "complete"}))


async def _next(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), EVENT_TIMEOUT))
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        assert message["type"] == "next", message
        return message["payload"]


async def _wait_subscribed(channel: str, at_least: int = 1) -> None:
    """The protocol has no "subscribed" message: watch Redis until the server has attached, so an
    event published next cannot be missed (publishing earlier would be a race, not a failure)."""
    pool = await queue.get_pool()
    deadline = time.monotonic() + EVENT_TIMEOUT
    while True:
        counts = dict(await pool.pubsub_numsub(pubsub.PREFIX + channel))
        if int(counts.get((pubsub.PREFIX + channel).encode(), 0)) >= at_least:
            return
        assert time.monotonic() < deadline, f"nobody subscribed to {channel}"
        await asyncio.sleep(0.05)


def _raw_id(global_id: str) -> uuid.UUID:
    decoded = from_global_id(global_id)
    assert decoded is not None
    return uuid.UUID(decoded[1])


async def test_both_processes_are_ready(two_apis: list[ApiProcess]) -> None:
    for api in two_apis:
        async with _http(api) as http:
            response = await http.get("/readyz")
        assert response.status_code == 200, (api.name, response.text)
        assert response.json()["checks"] == {"postgres": "ok", "redis": "ok"}, response.json()


async def test_post_made_on_one_process_reaches_a_subscriber_on_the_other(two_apis: list[ApiProcess]) -> None:
    a, b = two_apis
    group = await make_group("multi-process")
    group_gid = str(to_global_id("Group", group))
    async with _http(a) as http_a, _http(b) as http_b:
        reader = await patient_session(http_a, "13900007001")  # signs in on A ...
        author = await patient_session(http_b, "13900007002")  # ... and on B: tokens are rows, not memory
        await member_of(group, _raw_id(reader.id))
        await member_of(group, _raw_id(author.id))

        async with _subscription(a, reader.access, GROUP_POSTS, {"g": group_gid}) as next_payload:
            await _wait_subscribed(posts.posts_channel(group))
            created = data(
                await gql(
                    http_b, POST_CREATE, {"g": group_gid, "t": "跨进程新帖", "b": "今天血糖平稳"}, token=author.access
                )
            )["postCreate"]
            assert created["errors"] == [] and created["post"]["status"] == "PUBLISHED", created
            event = await next_payload()
    assert event.get("errors") is None, event
    assert event["data"]["groupPosts"] == {"id": created["post"]["id"], "title": "跨进程新帖"}


async def test_word_added_on_one_process_holds_posts_on_the_other(two_apis: list[ApiProcess]) -> None:
    """The word filter is cached per process; a word an admin adds through B must bind A at once,
    and the held post must not reach A's subscribers while the next clean post does."""
    a, b = two_apis
    word = "跨进程暗语"
    group = await make_group("multi-process-words")
    group_gid = str(to_global_id("Group", group))
    async with _http(a) as http_a, _http(b) as http_b:
        reader = await patient_session(http_a, "13900007003")
        author = await patient_session(http_a, "13900007004")
        admin = await staff_session(http_b, "admin-mp@example.com", ["admin"])
        await member_of(group, _raw_id(reader.id))
        await member_of(group, _raw_id(author.id))

        async def post_on(http: httpx.AsyncClient, title: str) -> dict[str, Any]:
            result = data(await gql(http, POST_CREATE, {"g": group_gid, "t": title, "b": "分享"}, token=author.access))
            assert result["postCreate"]["errors"] == [], result
            return result["postCreate"]["post"]

        # A compiles and caches the current list before the change.
        assert (await post_on(http_a, f"{word}之前"))["status"] == "PUBLISHED"
        added = data(await gql(http_b, WORD_ADD, {"w": word}, token=admin.access))["sensitiveWordAdd"]
        assert added["errors"] == [], added

        async with _subscription(a, reader.access, GROUP_POSTS, {"g": group_gid}) as next_payload:
            await _wait_subscribed(posts.posts_channel(group))
            assert (await post_on(http_a, f"含{word}的帖子"))["status"] == "HELD"
            clean = await post_on(http_b, "普通帖子")
            event = await next_payload()
    assert event["data"]["groupPosts"]["id"] == clean["id"], event  # the held post was not pushed
