"""Concurrent consent updates of one patient listing the same consents in different orders: each
request upserts its rows in one sorted order, so they queue behind each other instead of
deadlocking (before the fix 165 of 200 such requests failed). Against a real API process."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import unit_of_work
from patients.models import Consent, ConsentEvent
from tests.live_server import live_server
from tests.support import patient_session

CONSENT_UPDATE = """mutation($items: [ConsentItemInput!]!) { consentUpdate(input: {items: $items, source: APP}) {
  errors { field code message } } }"""
PAIRS = [("SMS", "MARKETING"), ("EMAIL", "MARKETING"), ("WECHAT", "SERVICE"), ("EMAIL", "SERVICE"), ("SMS", "SERVICE")]
NOTICE = {"SERVICE": 1, "MARKETING": 2}  # the seeded notice versions (patients/notices.py)
CALLS = 50


@pytest.fixture(scope="module")
def server(servers: dict[str, str]) -> Iterator[str]:
    log = Path(tempfile.mkdtemp(prefix="portal-consent-race-")) / "api.log"
    with live_server(servers["database_url"], servers["redis_url"], log_path=log) as base:
        yield base
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "deadlock" not in text, text[-4000:]


def _items(i: int) -> list[dict[str, Any]]:
    """Call i grants or withdraws all five (alternating in pairs); odd calls list them reversed."""
    granted = (i // 2) % 2 == 0
    items = [{"channel": c, "purpose": p, "granted": granted, "noticeVersion": NOTICE[p]} for c, p in PAIRS]
    return items[::-1] if i % 2 else items


async def test_concurrent_consent_updates_in_opposite_orders_all_succeed(server: str) -> None:
    limits = httpx.Limits(max_connections=CALLS, max_keepalive_connections=CALLS)
    async with httpx.AsyncClient(base_url=server, timeout=60, limits=limits) as http:
        patient = await patient_session(http, "139" + str(uuid.uuid4().int)[:8])
        gate = asyncio.Event()

        async def call(i: int) -> tuple[int, dict[str, Any]]:
            await gate.wait()
            response = await http.post(
                "/graphql",
                json={"query": CONSENT_UPDATE, "variables": {"items": _items(i)}},
                headers={"authorization": f"Bearer {patient.access}"},
            )
            return response.status_code, response.json()

        tasks = [asyncio.create_task(call(i)) for i in range(CALLS)]
        await asyncio.sleep(0.05)
        gate.set()  # all released at the same instant
        results = await asyncio.gather(*tasks, return_exceptions=True)

    failures = [
        r
        for r in results
        if isinstance(r, BaseException) or r[0] != 200 or r[1].get("errors") or r[1]["data"]["consentUpdate"]["errors"]
    ]
    assert not failures, f"{len(failures)} of {CALLS} failed, e.g. {failures[:2]}"

    # Each request wrote all five rows in one transaction: whichever committed last decided all five.
    async with unit_of_work() as session:  # the only patient of this test (tables are emptied per test)
        rows = (await session.execute(select(Consent.channel, Consent.purpose, Consent.granted))).all()
        events = await session.scalar(select(func.count()).select_from(ConsentEvent))
    listed = {(channel.upper(), purpose.upper()): granted for channel, purpose, granted in rows}
    assert len(rows) == len(listed) == len(PAIRS) + 1
    assert set(listed) == {*PAIRS, ("IN_APP", "SERVICE")}
    assert len({listed[pair] for pair in PAIRS}) == 1, listed  # all granted or all withdrawn, never a mix
    assert events == CALLS * len(PAIRS) + 1  # every change recorded, plus the registration default
