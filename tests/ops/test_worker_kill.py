"""A worker killed with SIGKILL mid-job: another worker finishes the job within the lease, once.

Before the lease (workers/lease.py) arq kept a killed job's in-progress key for the longest job
timeout plus 10 s (3,610 s), so the campaign stalled for an hour.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg

from campaigns import runner
from core import queue
from tests.campaigns.support import approved_campaign, delivery_count, make_patient
from tests.live_server import ROOT

LEASE_SECONDS = 4


def _start_worker(servers: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "DATABASE_URL": servers["database_url"],
        "REDIS_URL": servers["redis_url"],
        "PORTAL_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        "PORTAL_CAMPAIGN_BATCH_SIZE": "5",
        "PORTAL_LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cli.main", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


async def _wait_for(predicate, limit: float, what: str) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not await predicate():
        assert time.monotonic() - started < limit, f"{what} not within {limit} s"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def test_worker_killed_mid_campaign_is_replaced_within_the_lease_and_delivers_each_once(
    servers: dict[str, str],
) -> None:
    people = [await make_patient(consents=[("in_app", "marketing")]) for _ in range(30)]
    cid = await approved_campaign()
    await runner.materialise_batch(cid, batch_size=5)  # a first batch done before the crash
    assert await delivery_count(cid) == 5

    pool = await queue.get_pool()
    in_progress = f"arq:in-progress:{runner.MATERIALISE.job_id(cid)}"
    # Hold the campaign row so the worker's next batch blocks: it is mid-job when it dies.
    dsn = servers["database_url"].replace("postgresql+asyncpg://", "postgresql://")
    blocker = await asyncpg.connect(dsn)
    first = second = None
    try:
        blocking = blocker.transaction()
        await blocking.start()
        await blocker.execute("SELECT 1 FROM campaigns WHERE id = $1 FOR UPDATE", cid)
        first = _start_worker(servers)

        async def running() -> bool:
            return bool(await pool.exists(in_progress))

        await _wait_for(running, 60, "the first worker taking the job")
        await asyncio.sleep(0.5)
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        ttl_ms = await pool.pttl(in_progress)
        assert 0 < ttl_ms <= LEASE_SECONDS * 1000, ttl_ms  # was 3,610,000 ms
        await blocking.rollback()

        killed_at = time.monotonic()
        second = _start_worker(servers)

        async def finished() -> bool:
            return await delivery_count(cid) == len(people)

        await _wait_for(finished, 120, "the campaign finishing on the second worker")
        assert time.monotonic() - killed_at < 120
    finally:
        await blocker.close()
        for proc in (first, second):
            if proc is not None:
                _stop(proc)

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT patient_id, count(*) AS n FROM campaign_deliveries WHERE campaign_id = $1 GROUP BY 1", cid
        )
    finally:
        await conn.close()
    assert {r["patient_id"] for r in rows} == set(people)
    assert all(r["n"] == 1 for r in rows)


async def test_worker_killed_mid_settlement_leaves_the_same_totals_after_the_next_worker(
    servers: dict[str, str],
) -> None:
    from datetime import timedelta

    from core import clock
    from tests.factories import check_ledger_invariants, new_member
    from tests.loyalty.support import record_visit

    members = [await new_member() for _ in range(12)]
    for i, member in enumerate(members):  # long past their cooling-off: every lot is due now
        await record_visit(
            member, f"kill-settle-{i}", consultation_fen=20_000, visited_at=clock.now() - timedelta(days=60)
        )

    dsn = servers["database_url"].replace("postgresql+asyncpg://", "postgresql://")
    blocker = await asyncpg.connect(dsn)
    watcher = await asyncpg.connect(dsn)
    assert await watcher.fetchval("SELECT count(*) FROM ledger_lots WHERE status = 'pending'") >= len(members)
    first = second = None
    try:
        # One member's accounts held: the settlement blocks on them midway, with other batches done.
        blocking = blocker.transaction()
        await blocking.start()
        await blocker.execute("SELECT 1 FROM ledger_accounts WHERE patient_id = $1 FOR UPDATE", members[-1])
        first = _start_worker(servers)

        async def stuck() -> bool:
            waiting = await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            return bool(waiting)

        await _wait_for(stuck, 60, "the settlement reaching the held member")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        await blocking.rollback()
        assert await watcher.fetchval("SELECT count(*) FROM ledger_lots WHERE status = 'pending'") > 0

        second = _start_worker(servers)

        async def settled() -> bool:
            pending = await watcher.fetchval("SELECT count(*) FROM ledger_lots WHERE status = 'pending'")
            return pending == 0

        await _wait_for(settled, 120, "every due lot settled by the second worker")
    finally:
        await blocker.close()
        await watcher.close()
        for proc in (first, second):
            if proc is not None:
                _stop(proc)
    await check_ledger_invariants()  # balanced journal, available == lots, nothing settled twice
