"""Dashboard queries on 1,000,000 visits (not a test).

    .venv/bin/python bench/dashboard_queries.py                        # the defaults below (see --help)
    .venv/bin/python bench/dashboard_queries.py --visits 100000        # a quick run

Seeds set-based SQL (one statement per table): patients, 5 sites, visits over the last two years
(2% refunded, patients mostly at a home site), a lifecycle stage per patient and two stage changes
each, answered surveys for ~30% of completed visits, referrals, daily check-ins. Then every
dashboard service function runs as a marketer: one warm-up and `--runs` timed runs, p50 and max.

`workload_dashboards` is the reusable part (bench/campaign.py may call it as one of its workloads).
Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started and stopped;
with DATABASE_URL set, a fresh database portal_bench_dash_<pid> is created beside it and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from core import clock, devservers
from core.db import dispose_engine, unit_of_work
from core.identity import Actor, ActorKind, Role
from core.settings import get_settings, reset_settings
from dashboards import service

BENCH_DB = f"portal_bench_dash_{os.getpid()}"
MARKETER = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))

SEED = [
    (
        "sites",
        """INSERT INTO sites (id, code, name, kind, timezone, active, created_at, updated_at)
           SELECT gen_random_uuid(), 'BENCH' || n, '院区' || n, 'campus', 'Asia/Shanghai', true,
                  $1::timestamptz, $1::timestamptz
           FROM generate_series(1, 5) n""",
    ),
    (
        "patients",
        """CREATE TABLE bench_patients AS SELECT n, gen_random_uuid() AS id FROM generate_series(1, $2::int) n;
           CREATE UNIQUE INDEX ON bench_patients (n);
           ANALYZE bench_patients;
           INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
           SELECT id, '1' || lpad(n::text, 10, '0'), '会员' || n, 'undisclosed', 'Asia/Shanghai',
                  $1::timestamptz - interval '800 days', $1::timestamptz FROM bench_patients""",
    ),
    (
        "visits",
        """INSERT INTO visits (id, external_id, patient_id, site_id, department, visited_at, status,
                               self_paid_fen, insured_fen, items, source, created_at, updated_at)
           SELECT gen_random_uuid(), 'bench-' || i, p.id,
                  s.ids[1 + (p.n + CASE WHEN i % 5 = 0 THEN i ELSE 0 END) % 5], '内科',
                  $1::timestamptz - (((i * 7919) % 730000) / 1000.0) * interval '1 day',
                  CASE WHEN i % 50 = 0 THEN 'refunded' ELSE 'completed' END, 10000, 0, '[]', 'his',
                  $1::timestamptz, $1::timestamptz
           FROM generate_series(1::bigint, $3::bigint) i
           JOIN bench_patients p ON p.n = 1 + (i * 104729) % $2::bigint
           CROSS JOIN (SELECT array_agg(id ORDER BY code) AS ids FROM sites WHERE code LIKE 'BENCH%') s""",
    ),
    (
        "lifecycle",
        """INSERT INTO patient_lifecycle (patient_id, stage, changed_at)
           SELECT id, (ARRAY['acquisition','conversion','retention','loyalty','dormant'])[1 + n % 5], $1::timestamptz
           FROM bench_patients;
           INSERT INTO lifecycle_changes (id, patient_id, from_stage, to_stage, reason, changed_at)
           SELECT gen_random_uuid(), p.id, CASE WHEN k = 1 THEN NULL ELSE 'conversion' END,
                  CASE WHEN k = 1 THEN 'conversion' ELSE 'retention' END, 'bench',
                  $1::timestamptz - ((p.n * k) % 365) * interval '1 day'
           FROM bench_patients p CROSS JOIN generate_series(1, 2) k""",
    ),
    (
        "surveys",
        """INSERT INTO care_surveys (id, visit_id, patient_id, site_id, visited_at, status, created_at, sent_at,
                                     expires_at, answered_at, score, points_awarded)
           SELECT gen_random_uuid(), id, patient_id, site_id, visited_at, 'answered', visited_at + interval '1 day',
                  visited_at + interval '1 day', visited_at + interval '15 days', visited_at + interval '30 hours',
                  (hashtext(external_id) & 1023) % 11, 10
           FROM visits WHERE status = 'completed' AND hashtext(external_id) % 10 IN (0, 3, 7)""",
    ),
    (
        "referrals",
        """INSERT INTO referrals (id, referrer_id, referee_id, code, status, created_at)
           SELECT gen_random_uuid(), r.id, e.id, 'BENCH',
                  (ARRAY['attributed','converted','rewarded','rejected'])[1 + e.n % 4],
                  $1::timestamptz - (e.n % 365) * interval '1 day'
           FROM bench_patients e JOIN bench_patients r ON r.n = e.n + $4::int
           WHERE e.n <= $4::int""",
    ),
    (
        "check-ins",
        """INSERT INTO community_checkins (id, patient_id, kind, local_date, timezone, value, out_of_range, created_at)
           SELECT gen_random_uuid(), p.id, 'exercise', d.day, 'Asia/Shanghai', '{"minutes": 30}', false,
                  d.day + time '08:00'
           FROM bench_patients p
           CROSS JOIN LATERAL (SELECT ($1::timestamptz)::date - (p.n % 7) - 7 * k AS day
                               FROM generate_series(0, 11) k) d
           WHERE p.n <= $5::int""",
    ),
]


@dataclass
class Timing:
    name: str
    rows: int
    samples: list[float] = field(default_factory=list)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def max_ms(self) -> float:
        return max(self.samples) * 1000


async def seed(*, visits: int, patients: int) -> float:
    """Set-based seed; returns seconds. Foreign-key triggers are skipped (consistent by construction)."""
    started = time.perf_counter()
    conn = await asyncpg.connect(get_settings().require_database_url().replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute("SET work_mem = '256MB'; SET maintenance_work_mem = '512MB'")
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
        args = (clock.now(), patients, visits, patients // 10, patients // 5)
        for name, sql in SEED:
            step = time.perf_counter()
            for statement in sql.split(";\n"):
                used = sorted({int(p[1:]) for p in _placeholders(statement)})
                await conn.execute(_renumber(statement, used), *[args[i - 1] for i in used])
            print(f"    seeded {name:<10} {time.perf_counter() - step:6.1f} s")
        await conn.execute("DROP TABLE bench_patients")
        step = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        print(f"    vacuum analyze  {time.perf_counter() - step:6.1f} s")
        counts = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM visits) v, (SELECT count(*) FROM care_surveys) s, "
            "(SELECT count(*) FROM lifecycle_changes) l, (SELECT count(*) FROM community_checkins) c"
        )
        print(
            f"    rows: {counts['v']:,} visits, {counts['s']:,} surveys, {counts['l']:,} stage changes, "
            f"{counts['c']:,} check-ins"
        )
    finally:
        await conn.close()
    return time.perf_counter() - started


def _placeholders(sql: str) -> list[str]:
    import re

    return re.findall(r"\$\d+", sql)


def _renumber(sql: str, used: list[int]) -> str:
    import re

    mapping = {f"${old}": f"${new}" for new, old in enumerate(used, start=1)}
    return re.sub(r"\$\d+", lambda m: mapping[m.group(0)], sql)


async def workload_dashboards(*, visits: int = 1_000_000, patients: int = 200_000, runs: int = 5) -> list[Timing]:
    """Seed, then time every dashboard query (p50 over `runs` after one warm-up)."""
    print(f"\n== dashboards on {visits:,} visits of {patients:,} patients")
    await seed(visits=visits, patients=patients)
    today = clock.now().astimezone(ZoneInfo(get_settings().default_timezone)).date()
    year_ago, twelve_weeks = today - timedelta(days=364), today - timedelta(weeks=12)
    queries: list[tuple[str, Callable[[Any], Awaitable[list[Any] | Any]]]] = [
        (
            "return-visit rate, month x site, 12 months",
            lambda s: service.return_visit_rate(s, MARKETER, period=service.Period.MONTH, since=year_ago, until=today),
        ),
        (
            "return-visit rate, week x site, 12 weeks",
            lambda s: service.return_visit_rate(
                s, MARKETER, period=service.Period.WEEK, since=twelve_weeks, until=today
            ),
        ),
        ("lifecycle funnel (now)", lambda s: service.lifecycle_funnel(s, MARKETER)),
        (
            "lifecycle movement, month, 12 months",
            lambda s: service.lifecycle_movement(s, MARKETER, period=service.Period.MONTH, since=year_ago, until=today),
        ),
        ("NPS trend, 12 months", lambda s: service.nps_trend(s, MARKETER, since=year_ago, until=today)),
        (
            "referral conversion, 12 months",
            lambda s: service.referral_conversion(s, MARKETER, since=year_ago, until=today),
        ),
        (
            "community activity, 12 weeks",
            lambda s: service.community_activity(s, MARKETER, since=twelve_weeks, until=today),
        ),
        (
            "campaign conversion, 12 months",
            lambda s: service.campaign_conversion(s, MARKETER, since=year_ago, until=today),
        ),
        ("points liability", lambda s: service.points_liability(s, MARKETER)),
    ]
    timings = []
    for name, query in queries:
        timing = Timing(name, 0)
        for attempt in range(runs + 1):
            started = time.perf_counter()
            async with unit_of_work() as session:
                result = await query(session)
            if attempt:  # the first run warms the cache
                timing.samples.append(time.perf_counter() - started)
            timing.rows = len(result) if isinstance(result, list) else 1
        timings.append(timing)
        print(f"    {name:<44} p50 {timing.p50_ms:8.1f} ms   max {timing.max_ms:8.1f} ms   rows {timing.rows}")
    return timings


# --------------------------------------------------------------------------- environment


async def _database(url: str, name: str, *, drop: bool) -> None:
    base = url.rsplit("/", 1)[0].replace("postgresql+asyncpg", "postgresql")
    conn = await asyncpg.connect(base + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (after one warm-up)")
    args = parser.parse_args()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    tmp = Path(tempfile.mkdtemp(prefix="portal-bench-dash-", dir="/tmp"))
    handles: list[devservers.ServerHandle] = []
    external = os.environ.get("DATABASE_URL")
    started = time.perf_counter()
    try:
        if external:
            asyncio.run(_database(external, BENCH_DB, drop=False))
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

        async def go() -> list[Timing]:
            try:
                return await workload_dashboards(visits=args.visits, patients=args.patients, runs=args.runs)
            finally:
                await dispose_engine()

        timings = asyncio.run(go())
    finally:
        if external:
            asyncio.run(_database(external, BENCH_DB, drop=True))
        for handle in reversed(handles):
            handle.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    slowest = max(timings, key=lambda t: t.p50_ms)
    print(f"\n    slowest: {slowest.name} p50 {slowest.p50_ms:.0f} ms; total {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
