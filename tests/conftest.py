"""Test set-up: a real PostgreSQL and a real Redis per test process, clean tables after each test
that wrote to the database.

Unless DATABASE_URL / REDIS_URL are set, throw-away servers are started from the pip-installed
packages, one PostgreSQL and one Redis per process: under pytest-xdist (`-n auto`) every worker has
its own servers, so workers never see each other's rows, keys or pub/sub channels. With
DATABASE_URL set, a fresh database is created beside the one it names (one per worker); with
REDIS_URL set, worker N uses the Redis database number of the URL plus N, which the tests may flush.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["PORTAL_ENV"] = "test"
os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="xdg-"))
# Every test client comes from one address: per-address sign-in limits would stop ordinary tests
# (tests/identity/test_doors.py sets them low to test them).
for _limit in ("PORTAL_OTP_PER_CLIENT_PER_MINUTE", "PORTAL_OTP_PER_CLIENT_PER_HOUR", "PORTAL_OTP_GLOBAL_PER_MINUTE"):
    os.environ.setdefault(_limit, "100000")


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


def _with_redis_db_offset(url: str, offset: int) -> str:
    base, _, query = url.partition("?")
    head, _, db = base.rpartition("/")
    if not head.endswith("/") and db.isdigit():
        base = f"{head}/{int(db) + offset}"
    elif offset:
        base = f"{base.rstrip('/')}/{offset}"
    return f"{base}?{query}" if query else base


def _worker_index() -> int:
    """0 without xdist; N for xdist worker gwN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker[2:].isdigit() else 0


async def _create_database(url: str, name: str) -> None:
    import asyncpg

    dsn = _with_database(url, "postgres").replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def servers() -> Iterator[dict[str, str]]:
    from core import devservers

    handles = []
    tmp = Path(tempfile.mkdtemp(prefix="portal-test-", dir="/tmp"))
    try:
        database_url = os.environ.get("DATABASE_URL")
        if database_url:
            name = f"portal_test_{os.getpid()}"
            asyncio.run(_create_database(database_url, name))
            database_url = _with_database(database_url, name)
        else:
            pg = devservers.start_postgres(tmp, database="portal_test", throwaway=True)
            handles.append(pg)
            database_url = pg.url
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            redis_url = _with_redis_db_offset(redis_url, _worker_index())
        else:
            redis = devservers.start_redis(tmp, throwaway=True)
            handles.append(redis)
            redis_url = redis.url
        os.environ["DATABASE_URL"] = database_url
        os.environ["REDIS_URL"] = redis_url
        from core.settings import reset_settings

        reset_settings()
        from cli.main import migrate

        migrate()
        yield {"database_url": database_url, "redis_url": redis_url}
    finally:
        for handle in reversed(handles):
            handle.stop()


KEEP_TABLES = {"alembic_version", "conditions", "care_complaint_words"}  # reference data from migrations
# Tables past this size are emptied with TRUNCATE (which also drops their dead rows); smaller ones
# with DELETE, which on a few rows is ~30x cheaper than TRUNCATE's new files for every table and index.
_TRUNCATE_BYTES = 256 * 1024


class Database:
    """Cleans the test database only when something wrote to it since the last clean-up.

    Every write transaction, from this process, a `portal serve` child or a worker, takes a
    transaction id. The probe takes one too (txid_current()), so when the next probe's id is exactly
    one more, nothing else wrote in between and the tables are as the last clean-up left them.

    The clean-up empties the tables that hold rows (one statement finds them) and puts back the
    seeded defaults (loyalty tiers, rules and system accounts, the word lists, compliance terms) only
    where a test changed them: their contents are compared with a fingerprint taken after seeding.
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.tables: list[str] = []
        self.seeded: dict[str, str] = {}  # seeded table -> fingerprint of its contents
        self.last_xid = 0

    async def start(self) -> None:
        from migrations.metadata import metadata

        self.tables = [t.name for t in metadata.sorted_tables if t.name not in KEEP_TABLES]
        await self._empty(self.tables)
        await self._seed()
        occupied = await self._occupied()
        self.seeded = await self._fingerprints(occupied)
        await self.dirty()

    async def dirty(self) -> bool:
        xid = await self.conn.fetchval("SELECT txid_current()")
        clean = xid == self.last_xid + 1
        self.last_xid = xid
        return not clean

    async def reset(self) -> None:
        occupied = await self._occupied()
        now = await self._fingerprints([t for t in self.seeded if t in occupied])
        changed = [t for t, print_ in self.seeded.items() if now.get(t) != print_]
        truncated = await self._empty([t for t in occupied if t not in self.seeded or t in changed])
        if changed or truncated:  # TRUNCATE ... CASCADE may have emptied seeded tables too
            await self._seed()
            self.seeded = await self._fingerprints(list(self.seeded))
        await self.dirty()  # the clean state's transaction id

    async def _occupied(self) -> list[str]:
        probes = " UNION ALL ".join(f"SELECT '{t}' WHERE EXISTS (SELECT FROM \"{t}\")" for t in self.tables)
        return [r[0] for r in await self.conn.fetch(probes)]

    async def _fingerprints(self, tables: list[str]) -> dict[str, str]:
        if not tables:
            return {}
        probes = " UNION ALL ".join(
            f"SELECT '{t}', md5(string_agg(x::text, '|' ORDER BY x::text)) FROM \"{t}\" x" for t in tables
        )
        return {r[0]: r[1] for r in await self.conn.fetch(probes)}

    async def _empty(self, tables: list[str]) -> bool:
        """Empties the tables; True when some were big enough for TRUNCATE."""
        if not tables:
            return False
        rows = await self.conn.fetch(
            "SELECT relname, pg_relation_size(oid) AS size FROM pg_class"
            " WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND relname = ANY($1::text[])",
            tables,
        )
        sizes = {r["relname"]: r["size"] for r in rows}
        big = [t for t in tables if sizes.get(t, 0) > _TRUNCATE_BYTES]
        # Replica role: no foreign-key checks and no triggers (the append-only audit tables refuse DELETE).
        script = ["BEGIN", "SET LOCAL session_replication_role = replica"]
        script += [f'DELETE FROM "{t}"' for t in tables if t not in big]
        if big:
            script.append("TRUNCATE " + ", ".join(f'"{t}"' for t in big) + " CASCADE")
        script.append("COMMIT")
        await self.conn.execute(";\n".join(script))
        return bool(big)

    async def _seed(self) -> None:
        from community.wordlist import ensure_default_words
        from content.compliance import ensure_default_terms
        from core.db import unit_of_work
        from loyalty.defaults import ensure_defaults
        from patients.notices import ensure_default_notices

        async with unit_of_work() as session:
            await ensure_defaults(session)
            await ensure_default_words(session)
            await ensure_default_terms(session)
            await ensure_default_notices(session)


@pytest.fixture(scope="session")
async def _database(servers: dict[str, str]) -> AsyncIterator[Database]:
    import asyncpg

    from core import queue
    from core.db import dispose_engine

    conn = await asyncpg.connect(servers["database_url"].replace("postgresql+asyncpg://", "postgresql://"))
    database = Database(conn)
    try:
        await database.start()
        yield database
    finally:
        await conn.close()
        await queue.close_pool()
        await dispose_engine()


@pytest.fixture(scope="session", autouse=True)
def _cheap_staff_hashes() -> Iterator[None]:
    """Staff accounts made by tests.factories.make_staff share one real argon2 hash (see there)."""
    from tests.factories import fast_staff_password_hash

    with fast_staff_password_hash():
        yield


@pytest.fixture
async def ledger_invariants() -> AsyncIterator[None]:
    """Use with `pytestmark = pytest.mark.usefixtures("ledger_invariants")`: the loyalty ledger's
    invariants are checked after each test of the module."""
    from tests.factories import check_ledger_invariants

    yield
    await check_ledger_invariants()


@pytest.fixture(autouse=True)
async def _clean(_database: Database) -> AsyncIterator[None]:
    """After each test: the clock back to real time; if the test (or anything since the last clean-up)
    wrote to the database, check the journal balances and empty the tables back to the seeded
    defaults; Redis flushed when it holds keys."""
    from core import clock, queue
    from core.db import unit_of_work
    from loyalty.ledger import journal_imbalance

    clock.clock.reset()
    yield
    clock.clock.reset()
    if await _database.dirty():
        async with unit_of_work() as session:
            assert await journal_imbalance(session) == 0, "a ledger entry does not sum to zero"
        await _database.reset()
    pool = await queue.get_pool()
    if await pool.dbsize():
        await pool.flushdb()


@pytest.fixture
async def client(servers: dict[str, str]) -> AsyncIterator[object]:
    import httpx

    from api.app import app

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
def unique_phone() -> Iterator[str]:
    yield "139" + str(uuid.uuid4().int)[:8]


# Modules that take longest (measured with --durations, 2026-12-03), longest first: `make test` distributes whole
# modules (--dist loadscope, so a module's live servers and fixtures start once) to whichever worker
# runs low, and starting the long ones first lets the workers finish together.
SLOW_MODULES_FIRST = [
    "tests/loyalty/test_ledger_properties.py",
    "tests/console/test_browser_flows.py",
    "tests/console/test_browser_session.py",
    "tests/console/test_browser_tablet.py",
    "tests/ops/test_packaging.py",
    "tests/api/test_fuzz.py",
    "tests/privacy/test_ws_reads.py",
    "tests/api/test_read_replica.py",
    "tests/ops/test_supervisor.py",
    "tests/api/test_serving.py",
    "tests/identity/test_consent_race.py",
    "tests/api/test_graphiql_browser.py",
    "tests/ops/test_worker_kill.py",
    "tests/ops/test_demo.py",
    "tests/api/test_multiprocess.py",
    "tests/api/test_root_field_coverage.py",
    "tests/campaigns/test_runs.py",
    "tests/api/test_client_mistakes.py",
    "tests/community/test_checkins.py",
    "tests/identity/test_wechat.py",
    "tests/api/test_input_bounds.py",
    "tests/api/test_admission.py",
    "tests/console/test_browser_revisions.py",
    "tests/console/test_browser_channel_compose.py",
    "tests/console/test_browser_trace.py",
    "tests/console/test_browser_surveys.py",
    "tests/console/test_browser_journeys.py",
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: i for i, path in enumerate(SLOW_MODULES_FIRST)}
    root = config.rootpath
    # sort() is stable: tests keep their order within a module, other modules their collection order.
    items.sort(key=lambda item: rank.get(item.path.relative_to(root).as_posix(), len(rank)))
