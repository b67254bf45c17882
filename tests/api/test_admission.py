"""Admission per API process (api/gate.py, core/admission.py): a few GraphQL requests run at once, the
rest wait their turn in arrival order; one that waits too long gets a typed 503; a request waiting on
the CPU pool or an outside service lets the next one in meanwhile."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from api.app import GraphQLEndpoint, app
from api.gate import BUSY_CODE, RequestGate
from core.admission import current_turn, step_aside
from tests.factories import make_staff
from tests.live_server import live_server
from tests.support import STAFF_PASSWORD, STAFF_SIGN_IN, data, gql

GROUPS = "{ groups(first: 5) { edges { node { id name } } } }"


def _slots(gate: RequestGate) -> Any:
    return gate._slots


async def test_turns_are_given_in_arrival_order() -> None:
    gate = RequestGate(1, 5)
    order: list[int] = []
    release = asyncio.Event()

    async def request(i: int) -> None:
        async with gate.turn() as admitted:
            assert admitted
            order.append(i)
            if i == 0:
                await release.wait()

    first = asyncio.create_task(request(0))
    await asyncio.sleep(0)
    waiting = []
    for i in range(1, 6):
        waiting.append(asyncio.create_task(request(i)))
        await asyncio.sleep(0)  # arrive one after another
    release.set()
    await asyncio.gather(first, *waiting)
    assert order == [0, 1, 2, 3, 4, 5]
    assert _slots(gate)._value == 1


async def test_a_request_that_waits_too_long_is_told_so() -> None:
    gate = RequestGate(1, 0.05)
    async with gate.turn() as held:
        assert held
        started = time.perf_counter()
        async with gate.turn() as admitted:
            assert admitted is False
        assert time.perf_counter() - started < 1
    assert _slots(gate)._value == 1


async def test_a_cancelled_waiter_takes_no_turn_away() -> None:
    gate = RequestGate(1, 5)
    async with gate.turn():
        waiter = asyncio.create_task(gate.turn().__aenter__())
        await asyncio.sleep(0.01)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert _slots(gate)._value == 1
    async with gate.turn() as admitted:
        assert admitted


async def test_siblings_stepping_aside_give_and_take_one_turn() -> None:
    gate = RequestGate(1, 5)
    slots = _slots(gate)
    other_ran = asyncio.Event()

    async def sibling(wait: float) -> None:
        async with step_aside():
            await asyncio.sleep(wait)

    async def other_request() -> None:
        async with gate.turn() as admitted:
            assert admitted
            other_ran.set()

    async with gate.turn():
        assert current_turn.get() is not None
        siblings = asyncio.gather(sibling(0.05), sibling(0.08), sibling(0.02))
        await asyncio.sleep(0.005)
        other = asyncio.create_task(other_request())
        await asyncio.wait_for(other_ran.wait(), 1)  # let in while this request was aside
        await siblings
        await other
        assert slots._value == 0  # this request holds its turn again, once
    assert slots._value == 1
    async with step_aside():  # outside a gated request it does nothing
        assert current_turn.get() is None


@pytest.fixture
def one_at_a_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    endpoint = next(r.endpoint for r in app.routes if isinstance(getattr(r, "endpoint", None), GraphQLEndpoint))
    monkeypatch.setattr(endpoint, "gate", RequestGate(1, 30))
    yield


async def test_reads_go_on_while_sign_ins_wait_for_argon2(client: httpx.AsyncClient, one_at_a_time: None) -> None:
    await make_staff("gate@example.cn", ["clinic_staff"])

    async def sign_in() -> dict[str, Any]:
        result = await gql(client, STAFF_SIGN_IN, {"email": "gate@example.cn", "password": STAFF_PASSWORD})
        return data(result)["authStaffSignIn"]

    burst = asyncio.gather(*(sign_in() for _ in range(8)))  # 8 argon2 checks on 2 threads: ~1 s here
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    read = data(await gql(client, GROUPS))
    read_took = time.perf_counter() - started
    results = await burst
    burst_took = time.perf_counter() - started
    assert "groups" in read
    assert all(r["errors"] == [] for r in results)
    # With one turn and no stepping aside the read would come after every sign-in.
    assert read_took < burst_took / 2, (read_took, burst_took)


async def test_over_http_a_full_queue_answers_503_json(servers: dict[str, str]) -> None:
    env = {"PORTAL_MAX_CONCURRENT_REQUESTS": "1", "PORTAL_REQUEST_QUEUE_TIMEOUT_SECONDS": "0.001"}
    with live_server(servers["database_url"], servers["redis_url"], env=env) as base:
        limits = httpx.Limits(max_connections=40, max_keepalive_connections=40)
        async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
            go = asyncio.Event()

            async def one() -> httpx.Response:
                await go.wait()
                return await http.post("/graphql", json={"query": GROUPS})

            tasks = [asyncio.create_task(one()) for _ in range(40)]
            await asyncio.sleep(0.05)
            go.set()
            answers = await asyncio.gather(*tasks)
    busy = [a for a in answers if a.status_code == 503]
    assert busy and len(busy) < 40
    for answer in busy:
        assert answer.headers["retry-after"] == "2"
        assert answer.json()["errors"][0]["extensions"]["code"] == BUSY_CODE
    assert all(a.status_code in (200, 503) for a in answers)
    assert all("groups" in a.json()["data"] for a in answers if a.status_code == 200)
