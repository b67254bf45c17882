"""The PHI read audit over graphql-transport-ws, against a real `portal serve` process: a staff query sent
on the websocket is recorded like one over HTTP (the socket's reads run on a connection that is never
committed; the record goes through its own unit of work), a patient's own is not."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from api.relay import to_global_id
from core.db import unit_of_work
from privacy.models import PhiRead
from tests.live_server import live_server
from tests.support import data, gql, signed_in_patient, staff_session

TIMEOUT = 10.0
CHECK_IN = """mutation { checkIn(input: {kind: WEIGHT, weightKg: 70.5}) { checkIn { id } errors { code } } }"""
PATIENT_CHECK_INS = """query($p: ID!) { patientCheckIns(patientId: $p, days: 7) { weightKg } }"""
MINE = """{ myCheckIns(days: 7) { weightKg } }"""


@pytest.fixture(scope="module")
def server(servers: dict[str, str]) -> Iterator[str]:
    log = Path(tempfile.mkdtemp(prefix="portal-phi-ws-")) / "api.log"
    with live_server(servers["database_url"], servers["redis_url"], log_path=log) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]


async def _query(base: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """One query sent on a graphql-transport-ws socket: its `next` message, then `complete`."""
    ws_url = base.replace("http://", "ws://") + "/graphql"
    async with connect(ws_url, subprotocols=[Subprotocol("graphql-transport-ws")], open_timeout=TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        answer = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        assert json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["type"] == "complete"
    assert answer["type"] == "next", answer
    payload: dict[str, Any] = answer["payload"]
    return payload


async def _records() -> list[PhiRead]:
    async with unit_of_work() as session:
        return list(await session.scalars(select(PhiRead)))


async def test_a_staff_query_on_the_websocket_is_recorded(server: str, client: Any) -> None:
    patient, pid = await signed_in_patient(client)
    assert data(await gql(client, CHECK_IN, token=patient.access))["checkIn"]["errors"] == []
    doctor = await staff_session(client, "doc-ws-phi@example.cn", ["doctor"])

    own = await _query(server, patient.access, MINE)
    assert own["data"]["myCheckIns"] == [{"weightKg": 70.5}]
    assert await _records() == []

    read = await _query(server, doctor.access, PATIENT_CHECK_INS, {"p": to_global_id("Patient", pid)})
    assert read["data"]["patientCheckIns"] == [{"weightKg": 70.5}]
    [record] = await _records()
    assert (record.patient_id, record.kind, record.through) == (pid, "checkins", "graphql:patientCheckIns")
    assert record.staff_roles == ["doctor"] and record.request_id
