"""DATABASE_READ_URL: queries read the replica; the token check, and every read after a write in
the same request, use the primary (issue 10 point 8).

The "replica" here is a second migrated database that differs from the primary on purpose, so each
answer shows which database it came from.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import asyncpg
import httpx
import pytest

from tests.conftest import _with_database
from tests.live_server import ROOT, live_server
from tests.support import data, gql, patient_session

CONDITIONS = "{ conditions { code name } }"
CONSENT = """mutation { consentUpdate(input: {
  items: [{channel: SMS, purpose: MARKETING, granted: true, noticeVersion: 2}]}) {
  patient { consents { channel purpose granted } } errors { code } } }"""


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="module")
def replica_url(servers: dict[str, str]) -> Iterator[str]:
    name = f"portal_replica_{uuid.uuid4().hex[:8]}"
    admin = _dsn(_with_database(servers["database_url"], "postgres"))
    url = _with_database(servers["database_url"], name)

    async def sql(dsn: str, statement: str) -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(sql(admin, f'CREATE DATABASE "{name}"'))
    env = {**os.environ, "PORTAL_ENV": "test", "DATABASE_URL": url, "REDIS_URL": servers["redis_url"]}
    subprocess.run([sys.executable, "-m", "cli.main", "migrate"], cwd=ROOT, env=env, check=True, timeout=300)
    marker = "INSERT INTO conditions (code, name, sensitive, sort_order) VALUES ('replica_only', '副本', false, 9)"
    asyncio.run(sql(_dsn(url), marker))
    yield url
    asyncio.run(sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_queries_read_the_replica_and_writes_read_their_own_data(
    servers: dict[str, str], replica_url: str
) -> None:
    env = {"DATABASE_READ_URL": replica_url}
    with live_server(servers["database_url"], servers["redis_url"], env=env) as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            codes = {c["code"] for c in data(await gql(http, CONDITIONS))["conditions"]}
            assert "replica_only" in codes  # an anonymous query was answered by the replica

            # Signing in writes the session to the primary only; the token check must find it there
            # (a replica-only check would answer 401 for every fresh sign-in).
            patient = await patient_session(http, "139" + str(uuid.uuid4().int)[:8])
            await gql(http, "{ me { __typename } }", token=patient.access)  # 200, not 401

            # The mutation's answer is read after its write: from the primary, where the patient
            # exists (the replica has never heard of them).
            result = data(await gql(http, CONSENT, token=patient.access))["consentUpdate"]
            assert result["errors"] == []
            granted = {(c["channel"], c["purpose"]) for c in result["patient"]["consents"] if c["granted"]}
            assert ("SMS", "MARKETING") in granted
