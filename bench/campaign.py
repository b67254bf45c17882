"""Campaign benchmarks (not a test).

    .venv/bin/python bench/campaign.py                                  # every workload below
    .venv/bin/python bench/campaign.py --workloads materialise,delivery --patients 20000   # a quick run

Workloads (a list of named functions: add one to WORKLOADS to extend the bench):
- materialise: 100,000 patients seeded with set-based SQL (in-app marketing consent, 2% suppressed),
  one approved in-app campaign over a segment; `campaigns.runner.materialise` is timed (target < 20 s)
  and the peak RSS growth of this process is sampled while it runs (memory must stay bounded:
  one batch of 1,000 rows at a time, whatever the audience size).
- delivery: messages per second through `campaigns.sender.send_due` for each channel with the
  development providers (in-app inbox, SMS and WeChat recorders, e-mail "dev"), throttles raised out
  of the way so the figure is the sender's own rate; `--send` messages per channel.
- dashboards: the dashboard queries on 1,000,000 visits (bench/dashboard_queries.py's workload).

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started and stopped; with
DATABASE_URL set, a fresh database portal_bench_campaign_<pid> is created beside it and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil

BENCH_DB = f"portal_bench_campaign_{os.getpid()}"
BENCH_DIR = Path(__file__).resolve().parent
CHANNELS = ("in_app", "sms", "wechat", "email")
TARGET_SECONDS = 20.0
# Sender throughput is measured, not throttled (the production defaults are in campaigns/config.py).
for _channel in CHANNELS:
    os.environ.setdefault(f"PORTAL_CAMPAIGN_RATE_{_channel.upper()}", "1000000")
os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")

from campaigns import runner, segments, sender, service  # noqa: E402
from campaigns.segments import ConsentRequirement, SegmentCriteria  # noqa: E402
from core import clock, devservers  # noqa: E402
from core.db import dispose_engine, unit_of_work  # noqa: E402
from core.identity import Actor, ActorKind, Role  # noqa: E402
from core.settings import get_settings, reset_settings  # noqa: E402

MARKETER = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
REVIEWER = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.REVIEWER}))
NOON = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)  # 12:00 in Shanghai: no quiet hours


def dsn() -> str:
    return get_settings().require_database_url().replace("postgresql+asyncpg://", "postgresql://", 1)


async def seed(patients: int, *, tag: str, channel_consents: tuple[str, ...] = ("in_app",)) -> float:
    """Patients, their registration consent and marketing consents, in a few set-based statements."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn())
    try:
        await conn.execute(
            """
            INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at, email,
                                  marketing_opt_out, deceased, admitted)
            SELECT gen_random_uuid(), $1 || lpad(n::text, 7, '0'), '康友' || n, 'undisclosed', 'Asia/Shanghai',
                   now(), now(), 'p' || n || '@' || $2 || '.example.com', n % 100 = 7, n % 100 = 13, false
            FROM generate_series(1, $3) AS n
            """,
            tag,
            tag,
            patients,
        )
        for channel, purpose in [("in_app", "service"), *((c, "marketing") for c in channel_consents)]:
            await conn.execute(
                """
                INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at, notice_version)
                SELECT id, $1, $2, true, 'import', now(),
                       (SELECT max(version) FROM consent_notices WHERE $2 = ANY(purposes))
                FROM patients WHERE phone LIKE $3 || '%'
                ON CONFLICT DO NOTHING
                """,
                channel,
                purpose,
                tag,
            )
        await conn.execute("ANALYZE patients; ANALYZE consents")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def running_campaign(name: str, channel: str, criteria: SegmentCriteria) -> uuid.UUID:
    async with unit_of_work() as session:
        seg = await segments.create_segment(session, MARKETER, name=name, criteria=criteria)
        campaign = await service.create_campaign(
            session,
            MARKETER,
            service.CampaignInput(
                name=name,
                kind="marketing",
                channels=[channel],
                body="{nickname}您好，会员日积分商城上新啦，快来看看。",
                subject="会员日",
                segment_id=seg.id,
            ),
        )
        await service.submit(session, MARKETER, campaign.id)
    async with unit_of_work() as session:
        await service.approve(session, REVIEWER, campaign.id)
    return campaign.id


class RssSampler:
    """Peak resident memory of this process while a block runs, sampled every 20 ms."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.baseline = self.peak = self.process.memory_info().rss
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.02)

    async def __aenter__(self) -> RssSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.baseline) / 1e6


async def count(sql: str, *args: Any) -> int:
    conn = await asyncpg.connect(dsn())
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def workload_materialise(args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== materialise and enqueue a {args.patients:,}-patient in-app campaign")
    seconds = await seed(args.patients, tag="199")
    print(f"    seeded {args.patients:,} patients in {seconds:.1f} s")
    criteria = SegmentCriteria(consents=[ConsentRequirement("in_app", "marketing")])
    cid = await running_campaign("十万人站内信", "in_app", criteria)
    async with RssSampler() as rss:
        started = time.perf_counter()
        created = await runner.materialise(cid)
        elapsed = time.perf_counter() - started
    queued = await count("SELECT count(*) FROM campaign_deliveries WHERE campaign_id = $1 AND status = 'queued'", cid)
    skipped = created - queued
    again = await runner.materialise(cid)
    verdict = "ok" if elapsed < TARGET_SECONDS and created == args.patients and again == 0 else "FAIL"
    print(
        f"    {verdict}  {created:,} deliveries ({queued:,} queued, {skipped:,} skipped as suppressed) in "
        f"{elapsed:.1f} s = {created / elapsed:,.0f}/s (target < {TARGET_SECONDS:.0f} s); "
        f"peak RSS growth {rss.growth_mb:.1f} MB; re-run created {again}"
    )
    return {"campaign_id": cid, "seconds": elapsed, "rss_mb": rss.growth_mb, "ok": verdict == "ok"}


async def workload_delivery(args: argparse.Namespace) -> dict[str, Any]:
    print(f"\n== delivery rate per channel (development providers), {args.send:,} messages each")
    out: dict[str, Any] = {"ok": True}
    for i, channel in enumerate(CHANNELS):
        queued = await count(
            "SELECT count(*) FROM campaign_deliveries WHERE channel = $1 AND status = 'queued'", channel
        )
        if queued < args.send:  # the in-app campaign of `materialise` serves when it ran; else a pool of its own
            await seed(args.send, tag=f"18{i}", channel_consents=(channel,))
            criteria = SegmentCriteria(consents=[ConsentRequirement(channel, "marketing")])
            await runner.materialise(await running_campaign(f"{channel}速率", channel, criteria))
        started = time.perf_counter()
        sent = await sender.send_due(channel, max_seconds=600, limit=args.send)
        elapsed = time.perf_counter() - started
        rate = sent / elapsed if elapsed else 0.0
        out[channel] = rate
        print(f"    {channel:7s} {sent:,} messages in {elapsed:.1f} s = {rate:,.0f}/s")
        out["ok"] = out["ok"] and sent > 0
    return out


async def workload_dashboards(args: argparse.Namespace) -> dict[str, Any]:
    # The project root first: bench/content.py must not shadow the content package.
    sys.path[:0] = [str(BENCH_DIR.parent)]
    sys.path.append(str(BENCH_DIR))
    import dashboard_queries  # the sibling bench script (H5): seeds 1,000,000 visits itself

    await dashboard_queries.workload_dashboards(visits=args.visits, patients=args.dashboard_patients, runs=3)
    return {"ok": True}


WORKLOADS: list[tuple[str, Callable[[argparse.Namespace], Awaitable[dict[str, Any]]]]] = [
    ("materialise", workload_materialise),
    ("delivery", workload_delivery),
    ("dashboards", workload_dashboards),
]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", default=",".join(name for name, _ in WORKLOADS))
    parser.add_argument("--patients", type=int, default=100_000, help="audience of the in-app campaign")
    parser.add_argument("--send", type=int, default=5_000, help="messages per channel for the delivery rate")
    parser.add_argument("--visits", type=int, default=1_000_000, help="visits for the dashboard queries")
    parser.add_argument("--dashboard-patients", type=int, default=200_000)
    return parser.parse_args()


async def _database(url: str, *, drop: bool) -> None:
    conn = await asyncpg.connect(url.rsplit("/", 1)[0].replace("postgresql+asyncpg", "postgresql") + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    finally:
        await conn.close()


def main() -> int:
    args = parse_args()
    chosen = [w for w in args.workloads.split(",") if w]
    unknown = set(chosen) - {name for name, _ in WORKLOADS}
    if unknown:
        print(f"unknown workloads: {', '.join(sorted(unknown))}")
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-campaign-", dir="/tmp"))
    handles: list[devservers.ServerHandle] = []
    external = os.environ.get("DATABASE_URL")
    results: dict[str, dict[str, Any]] = {}
    try:
        if external:
            asyncio.run(_database(external, drop=False))
            os.environ["DATABASE_URL"] = external.rsplit("/", 1)[0] + "/" + BENCH_DB
        else:
            pg = devservers.start_postgres(tmp, database="portal_bench", throwaway=True)
            handles.append(pg)
            os.environ["DATABASE_URL"] = pg.url
        if not os.environ.get("REDIS_URL"):
            redis = devservers.start_redis(tmp, throwaway=True)
            handles.append(redis)
            os.environ["REDIS_URL"] = redis.url
        reset_settings()
        from cli.main import migrate

        migrate()

        async def go() -> None:
            clock.clock.freeze(NOON)
            try:
                for name, fn in WORKLOADS:
                    if name in chosen:
                        results[name] = await fn(args)
            finally:
                from core import queue

                await queue.close_pool()
                await dispose_engine()

        asyncio.run(go())
    finally:
        if external:
            asyncio.run(_database(external, drop=True))
        for handle in reversed(handles):
            handle.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    failed = [name for name, r in results.items() if not r.get("ok")]
    print(f"\n{'FAILED: ' + ', '.join(failed) if failed else 'all workloads ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
