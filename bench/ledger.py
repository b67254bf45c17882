"""Ledger benchmarks on a production-sized ledger (not a test).

    .venv/bin/python -m bench.ledger                                   # the defaults below (see --help)
    .venv/bin/python -m bench.ledger --lots 0                          # B and C only (~2 minutes)

On a 2-core machine the defaults take ~7 minutes: seeding ~50 s, settle_due ~25-28 s (target: < 30 s),
B and C ~1 minute each.

A. `loyalty.jobs.settle_due()` over 1,000,000 due pending lots of 100,000 members, seeded with set-based
   SQL in the shape real visits leave behind (one earn entry per lot: issued -n / pending +n, pending
   balances equal to the lots), then verified (nothing pending, available == lots, journal balanced)
   and run a second time (nothing to do).
B. Awards over HTTP: `pointsAdjust` credits by a signed-in admin (staff token), to the real app
   (`portal serve` on 127.0.0.1 and a free port, --web-workers processes).
C. Redemptions over HTTP: `rewardRedeem` of one hot reward by signed-in patients (a token each).

B and C: --clients closed-loop clients (raw HTTP/1.1 keep-alive over asyncio streams, one connection
each, spread over --client-procs processes), each with its own members; a warm-up, then a fixed window in
which requests/s, p50/p99 and the CPU of every party are measured (API server processes, PostgreSQL,
the client processes), reported as CPU milliseconds per request. Next to each, the statements the API
sent for one such request (captured in this process through the same ASGI app: SQLAlchemy's
before_cursor_execute, plus the one-statement postings sent straight to the driver) are replayed
through raw asyncpg by the same number of clients in the same run, one transaction per request (or none
where the API sent the statement outside a transaction), with fresh ids, keys and vouchers and each
client's own members: the API/raw ratio says what the API layers cost. After each window: entries or
vouchers == successes, stock taken exact, journal balanced, no negative balance, available == lots,
and a repeated idempotency key posts nothing (another body under it is refused).

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started (and stopped at
the end). With DATABASE_URL set, a fresh database portal_bench_<pid> is created beside the one it names
(the role needs CREATEDB) and dropped at the end; REDIS_URL is used as is (nothing is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from bench.http1 import Http1
from core import clock, devservers
from core.db import dispose_engine, get_engine, unit_of_work
from core.identity import SYSTEM, Actor, ActorKind, Role
from core.settings import get_settings, reset_settings
from loyalty import earning, jobs, ledger, rewards
from loyalty.ledger import SYSTEM_ACCOUNT_IDS
from loyalty.models import AccountKind

VISIT_RULE = "visit_completed"
AWARD_RULE = "event_attendance"
BENCH_DB = f"portal_bench_{os.getpid()}"


# --------------------------------------------------------------------------- results


class CpuMeter:
    """CPU used while a workload ran: this process (the clients, in % of one core) and the whole machine
    (PostgreSQL included, in % of all cores). A process near 100% means the clients, not the database,
    set the pace."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.process = time.process_time()
        self.machine = psutil.cpu_times()

    def stop(self) -> tuple[float, float]:
        wall = time.perf_counter() - self.wall
        process = (time.process_time() - self.process) / wall if wall > 0 else 0.0
        before, after = self.machine, psutil.cpu_times()
        idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
        total = sum(after) - sum(before)
        return process, (1 - idle / total) if total > 0 else 0.0


@dataclass
class Result:
    name: str
    ops: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    checks: dict[str, bool] = field(default_factory=dict)
    cpu: tuple[float, float] | None = None  # (this process in cores, machine share), see CpuMeter
    party: Party | None = None  # B and C: CPU of each party over the window

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, pct: int) -> float | None:
        if len(self.latencies) < 2:
            return None
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[pct - 1] * 1000

    def cpu_text(self) -> str:
        if self.cpu is None:
            return ""
        return f"; CPU: bench process {self.cpu[0]:.0%} of a core, machine {self.cpu[1]:.0%}"

    def latency(self) -> str:
        p50, p99 = self.percentile_ms(50), self.percentile_ms(99)
        return "no latencies" if p50 is None or p99 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"

    @property
    def ok(self) -> bool:
        return all(self.checks.values()) and not self.failures


def check(result: Result, name: str, passed: bool, detail: str) -> None:
    result.checks[name] = passed
    print(f"    {'ok  ' if passed else 'FAIL'} {name}: {detail}")


# --------------------------------------------------------------------------- servers and database


def _with_database(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    base = base.rsplit("/", 1)[0] + "/" + name
    return f"{base}?{query}" if query else base


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _recreate_database(url: str, name: str, *, drop_only: bool = False) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(_with_database(url, "postgres")))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not drop_only:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@dataclass
class Environment:
    handles: list[devservers.ServerHandle] = field(default_factory=list)
    tmp: Path | None = None
    external_url: str | None = None  # set when we created BENCH_DB on someone else's server
    api: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        stop_api(self)
        if self.external_url:
            asyncio.run(_recreate_database(self.external_url, BENCH_DB, drop_only=True))
        for handle in reversed(self.handles):
            handle.stop()
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)


def start_environment(env: Environment) -> None:
    env.tmp = Path(tempfile.mkdtemp(prefix="portal-bench-", dir="/tmp"))
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        asyncio.run(_recreate_database(database_url, BENCH_DB))
        env.external_url = database_url
        database_url = _with_database(database_url, BENCH_DB)
        print(f"database: fresh {BENCH_DB} beside $DATABASE_URL")
    else:
        started = time.perf_counter()
        pg = devservers.start_postgres(env.tmp, database="portal_bench", throwaway=True, options=SERVER_OPTIONS)
        env.handles.append(pg)
        database_url = pg.url
        print(f"database: throw-away PostgreSQL started in {time.perf_counter() - started:.1f} s")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = devservers.start_redis(env.tmp, throwaway=True)
        env.handles.append(redis)
        redis_url = redis.url
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    reset_settings()
    from cli.main import migrate

    migrate()


# Sized like a small production server (the embedded default of 128MB is for a laptop).
SERVER_OPTIONS = {"shared_buffers": "1GB", "max_wal_size": "4GB", "max_connections": "200"}


async def connect() -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(get_settings().require_database_url()))


# --------------------------------------------------------------------------- A: seeding

# Every statement runs on one connection with the temp tables bench_patients / bench_lots, which carry
# the ids shared by patients, accounts, entries, lines and lots. `$name` placeholders are bound from a
# dict. Ids come from pg_temp.bench_id(tag, n): UUIDv7-shaped and time-ordered like the app's new_id, but
# built arithmetically (gen_random_uuid/uuidv7 cost ~5 us each here, half the seeding time).
BENCH_ID_FUNCTION = """
    CREATE FUNCTION pg_temp.bench_id(tag text, n bigint) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $fn$ SELECT (lpad(to_hex({ms}::bigint), 12, '0') || '7' || tag || '8' || lpad(to_hex(n), 15, '0'))::uuid $fn$
"""
SEED_STEPS: list[tuple[str, str]] = [
    (
        "patients",
        """
        CREATE TEMP TABLE bench_patients (n int, id uuid);
        INSERT INTO bench_patients SELECT n, pg_temp.bench_id('001', n) FROM generate_series(1, $patients::int) AS n;
        ANALYZE bench_patients;
        INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
        SELECT id, '139' || lpad(n::text, 8, '0'), '会员' || n, 'undisclosed', 'Asia/Shanghai',
               $joined::timestamptz, $joined::timestamptz
        FROM bench_patients ORDER BY n;
        """,
    ),
    (
        "lot plan",
        # Lots in earning order (as visits create them), each for a random member (~10 per member).
        """
        CREATE TEMP TABLE bench_lots (
            n int, lot_id uuid, entry_id uuid, visit_id uuid, patient_id uuid, amount bigint, earned_at timestamptz);
        INSERT INTO bench_lots
        SELECT g.n, pg_temp.bench_id('002', g.n), pg_temp.bench_id('003', g.n), pg_temp.bench_id('004', g.n), p.id,
               $points::bigint,
               $first_earned::timestamptz + (g.n - 1) * $step::interval
        FROM (SELECT n, 1 + floor(random() * $patients::int)::int AS pn FROM generate_series(1, $lots::int) AS n) g
        JOIN bench_patients p ON p.n = g.pn
        ORDER BY g.n;
        ANALYZE bench_lots;
        CREATE TEMP TABLE bench_totals (patient_id uuid, total bigint);
        INSERT INTO bench_totals SELECT patient_id, sum(amount) FROM bench_lots GROUP BY patient_id;
        ANALYZE bench_totals;
        """,
    ),
    (
        "accounts",
        # pending / available / clawback per member, pending already holding its lots.
        """
        INSERT INTO ledger_accounts (id, patient_id, kind, balance)
        SELECT pg_temp.bench_id('005', n * 3 + ord), id, kind, balance FROM (
            SELECT p.n, p.id, k.ord, k.kind,
                   CASE WHEN k.kind = 'pending' THEN coalesce(t.total, 0) ELSE 0 END AS balance
            FROM bench_patients p
            LEFT JOIN bench_totals t ON t.patient_id = p.id
            CROSS JOIN (VALUES (1, 'pending'), (2, 'available'), (3, 'clawback')) AS k(ord, kind)
            ORDER BY p.n, k.ord
        ) s;
        """,
    ),
    (
        "entries",
        """
        INSERT INTO ledger_entries (id, idempotency_key, request_hash, kind, patient_id, amount, rule_code,
                                    source_ref, memo, actor_id, created_at)
        SELECT entry_id, 'visit:' || visit_id || ':' || $rule::text,
               encode(sha256(convert_to(visit_id::text, 'UTF8')), 'hex'), 'earn', patient_id, amount,
               $rule::text, 'visit:' || visit_id, $memo::text, NULL, earned_at
        FROM bench_lots ORDER BY n;
        """,
    ),
    (
        "lines",
        # issued -n, member pending +n: every earn entry balances.
        """
        INSERT INTO ledger_lines (id, entry_id, account_id, amount)
        SELECT pg_temp.bench_id('006', n * 2 + side), entry_id, account_id, amount FROM (
            SELECT l.n, 0 AS side, l.entry_id, $issued::uuid AS account_id, -l.amount AS amount FROM bench_lots l
            UNION ALL
            SELECT l.n, 1, l.entry_id, a.id, l.amount
            FROM bench_lots l JOIN ledger_accounts a ON a.patient_id = l.patient_id AND a.kind = 'pending'
            ORDER BY n, side
        ) s;
        """,
    ),
    (
        "lots",
        """
        INSERT INTO ledger_lots (id, patient_id, source_entry_id, rule_code, source_ref, amount, remaining,
                                 status, earned_at, settles_at, expires_at, settled_at, expiry_notice_at)
        SELECT lot_id, patient_id, entry_id, $rule::text, 'visit:' || visit_id, amount, amount, 'pending',
               earned_at, earned_at + make_interval(days => $pending_days::int),
               earned_at + make_interval(months => $expiry_months::int), NULL, NULL
        FROM bench_lots ORDER BY n;
        INSERT INTO ledger_settle_queue (lot_id, patient_id, settles_at)
        SELECT lot_id, patient_id, earned_at + make_interval(days => $pending_days::int) FROM bench_lots ORDER BY n;
        """,
    ),
    (
        "member tiers",
        # What tiers.evaluate left after those visits (qualifying = points earned through rules).
        """
        INSERT INTO member_tiers (patient_id, tier_code, qualifying_points, since, grace_until, evaluated_at)
        SELECT p.id,
               (SELECT code FROM tiers WHERE min_points <= coalesce(t.total, 0) ORDER BY rank DESC LIMIT 1),
               coalesce(t.total, 0), $now::timestamptz, NULL, $now::timestamptz
        FROM bench_patients p LEFT JOIN bench_totals t ON t.patient_id = p.id;
        DROP TABLE bench_lots, bench_totals, bench_patients;
        """,
    ),
]
SEEDED_TABLES = [
    "patients",
    "ledger_accounts",
    "ledger_entries",
    "ledger_lines",
    "ledger_lots",
    "ledger_settle_queue",
    "member_tiers",
]
# Secondary indexes (not backing a constraint) of the seeded tables: dropped for the load, rebuilt after.
_SECONDARY_INDEXES = """
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
    FROM pg_index i
    WHERE i.indrelid = ANY($1::regclass[])
      AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
"""


_NAMED = re.compile(r"\$([a-z_]+)")


async def _run_script(conn: asyncpg.Connection, sql: str, params: dict[str, object]) -> None:
    """Runs the `;`-separated statements of `sql`, binding `$name` placeholders as $1, $2 ..."""
    for statement in (s.strip() for s in sql.split(";")):
        if not statement:
            continue
        names: list[str] = []

        def number(match: re.Match[str], names: list[str] = names) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        await conn.execute(_NAMED.sub(number, statement), *(params[n] for n in names))


async def seed_settlement(patients: int, lots: int) -> float:
    """Set-based seed of `lots` due pending lots over `patients` members; returns seconds taken."""
    started = time.perf_counter()
    now = clock.now()
    settings = get_settings()
    conn = await connect()
    try:
        async with unit_of_work() as session:
            rule = await session.get(earning.EarningRule, VISIT_RULE)
            assert rule is not None
            pending_days, points, memo = rule.pending_days, rule.points, rule.name
        await conn.execute(BENCH_ID_FUNCTION.format(ms=int(time.time() * 1000)))
        await conn.execute(
            "SET timezone = 'UTC'; SET temp_buffers = '512MB'; SET work_mem = '256MB'; "
            "SET maintenance_work_mem = '512MB'"
        )
        indexes = await conn.fetch(_SECONDARY_INDEXES, SEEDED_TABLES)
        for index in indexes:
            await conn.execute(f"DROP INDEX {index['name']}")
        # Skip FK trigger checks while loading (superuser only); the data is consistent by construction.
        with contextlib.suppress(asyncpg.InsufficientPrivilegeError):
            await conn.execute("SET session_replication_role = replica")
        # Earned between ~67 and ~8 days ago: every lot is due (settles_at in the past).
        params: dict[str, object] = {
            "patients": patients,
            "lots": lots,
            "joined": now - timedelta(days=400),
            "points": points,
            "rule": VISIT_RULE,
            "memo": memo,
            "first_earned": now - timedelta(days=pending_days + 60),
            "step": timedelta(days=59) / lots,
            "issued": SYSTEM_ACCOUNT_IDS[AccountKind.ISSUED],
            "pending_days": pending_days,
            "expiry_months": settings.points_expiry_months,
            "now": now,
        }
        for name, sql in SEED_STEPS:
            step_started = time.perf_counter()
            await _run_script(conn, sql, params)
            print(f"    seeded {name:<13} {time.perf_counter() - step_started:6.1f} s")
        await conn.execute("RESET session_replication_role")
        step_started = time.perf_counter()
        for index in indexes:
            await conn.execute(index["definition"])
        print(f"    rebuilt {len(indexes)} indexes   {time.perf_counter() - step_started:6.1f} s")
        step_started = time.perf_counter()
        # As autovacuum would have left a table this size: statistics, visibility map, hint bits.
        await conn.execute(f"VACUUM ANALYZE {', '.join(SEEDED_TABLES)}")
        await conn.execute("CHECKPOINT")
        print(f"    vacuum analyze + checkpoint {time.perf_counter() - step_started:5.1f} s")
    finally:
        await conn.close()
    return time.perf_counter() - started


# --------------------------------------------------------------------------- invariants


async def ledger_invariants(result: Result) -> None:
    """The journal balances; no member balance below zero; available/pending equal their lots."""
    async with unit_of_work() as session:
        imbalance = await ledger.journal_imbalance(session)
    check(result, "journal balanced", imbalance == 0, f"{imbalance} unbalanced entries")
    conn = await connect()
    try:
        negative = await conn.fetchval(
            "SELECT count(*) FROM ledger_accounts WHERE patient_id IS NOT NULL AND "
            "((kind = 'clawback' AND balance > 0) OR (kind <> 'clawback' AND balance < 0))"
        )
        check(result, "no negative member balance", negative == 0, f"{negative} accounts")
        mismatched = await conn.fetchval(
            """
            SELECT count(*) FROM ledger_accounts a
            LEFT JOIN (SELECT patient_id, status, sum(remaining) AS points FROM ledger_lots
                       WHERE status IN ('available', 'pending') GROUP BY patient_id, status) l
              ON l.patient_id = a.patient_id AND l.status = a.kind
            WHERE a.patient_id IS NOT NULL AND a.kind IN ('available', 'pending')
              AND a.balance <> coalesce(l.points, 0)
            """
        )
        check(result, "balances == lots per member", mismatched == 0, f"{mismatched} accounts differ")
    finally:
        await conn.close()


# --------------------------------------------------------------------------- A: settlement


async def workload_settle(patients: int, lots: int) -> list[Result]:
    print(f"\n== A. settlement of {lots:,} pending lots ({patients:,} members)")
    seed_seconds = await seed_settlement(patients, lots)
    print(f"    seeding took {seed_seconds:.1f} s")
    size = get_settings().settle_batch_size

    meter = CpuMeter()
    started = time.perf_counter()
    settled = await jobs.settle_due()
    seconds = time.perf_counter() - started
    first = Result(f"A settle_due, batch {size:,}", settled, seconds, cpu=meter.stop())
    print(f"    settle_due: {settled:,} lots in {seconds:.2f} s = {first.rate:,.0f} lots/s{first.cpu_text()}")

    conn = await connect()
    try:
        stats = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM ledger_lots WHERE status = 'pending') AS pending_lots,
                   (SELECT coalesce(sum(amount), 0)::bigint FROM ledger_lots) AS lot_points,
                   (SELECT coalesce(sum(balance), 0)::bigint FROM ledger_accounts
                     WHERE kind = 'available' AND patient_id IS NOT NULL) AS available,
                   (SELECT coalesce(sum(balance), 0)::bigint FROM ledger_accounts
                     WHERE kind = 'pending' AND patient_id IS NOT NULL) AS pending
            """
        )
    finally:
        await conn.close()
    check(first, "all lots settled", settled == lots, f"{settled:,} of {lots:,}")
    check(first, "no pending lots left", stats["pending_lots"] == 0, f"{stats['pending_lots']:,} pending")
    check(
        first,
        "sum(available) == sum(lots)",
        stats["available"] == stats["lot_points"] and stats["pending"] == 0,
        f"available {stats['available']:,}, lots {stats['lot_points']:,}, pending {stats['pending']:,}",
    )
    await ledger_invariants(first)

    started = time.perf_counter()
    again = await jobs.settle_due()
    second = Result("A settle_due again (no work)", again, time.perf_counter() - started)
    print(f"    second settle_due: {again} lots in {second.seconds * 1000:.1f} ms")
    check(second, "second run settles nothing", again == 0, f"{again} lots")
    # Let B and C start on a quiet database rather than beside autovacuum of A's million updates.
    started = time.perf_counter()
    conn = await connect()
    try:
        await conn.execute(f"VACUUM ANALYZE {', '.join(SEEDED_TABLES)}")
    finally:
        await conn.close()
    print(f"    vacuum analyze after settlement {time.perf_counter() - started:.1f} s")
    return [first, second]


# --------------------------------------------------------------------------- B and C: over HTTP

# Members of B and C are seeded set-based, each with its three accounts, a tier and one available lot
# (an adjustment entry, issued from `adjusted`), so the API, the raw replay and the captured request all
# start from the same state. `$name` placeholders as in SEED_STEPS.
MEMBER_SEED = """
    CREATE TEMP TABLE bench_members (n int, id uuid, entry_id uuid, lot_id uuid);
    INSERT INTO bench_members SELECT n, uuidv7(), uuidv7(), uuidv7() FROM generate_series(1, $count::int) AS n;
    INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
    SELECT id, $phone_prefix::text || lpad(n::text, 6, '0'), '压测会员' || n, 'undisclosed', 'Asia/Shanghai',
           $now::timestamptz, $now::timestamptz FROM bench_members ORDER BY n;
    INSERT INTO ledger_accounts (id, patient_id, kind, balance)
    SELECT uuidv7(), m.id, k.kind, CASE WHEN k.kind = 'available' THEN $points::bigint ELSE 0 END
    FROM bench_members m CROSS JOIN (VALUES (1, 'pending'), (2, 'available'), (3, 'clawback')) AS k(ord, kind)
    ORDER BY m.n, k.ord;
    INSERT INTO ledger_entries (id, idempotency_key, request_hash, kind, patient_id, amount, rule_code, source_ref,
                                memo, actor_id, created_at)
    SELECT entry_id, 'bench-seed:' || id, '', 'adjust', id, $points::bigint, NULL, NULL, '压测积分', NULL,
           $now::timestamptz FROM bench_members ORDER BY n;
    INSERT INTO ledger_lines (id, entry_id, account_id, amount)
    SELECT uuidv7(), s.entry_id, s.account_id, s.amount FROM (
        SELECT m.n, 0 AS side, m.entry_id, $adjusted::uuid AS account_id, -$points::bigint AS amount
        FROM bench_members m
        UNION ALL
        SELECT m.n, 1, m.entry_id, a.id, $points::bigint
        FROM bench_members m JOIN ledger_accounts a ON a.patient_id = m.id AND a.kind = 'available'
        ORDER BY 1, 2
    ) s;
    INSERT INTO ledger_lots (id, patient_id, source_entry_id, rule_code, source_ref, amount, remaining, status,
                             earned_at, settles_at, expires_at, settled_at, expiry_notice_at)
    SELECT lot_id, id, entry_id, NULL, NULL, $points::bigint, $points::bigint, 'available', $now::timestamptz,
           $now::timestamptz, $expires::timestamptz, $now::timestamptz, NULL FROM bench_members ORDER BY n;
    INSERT INTO member_tiers (patient_id, tier_code, qualifying_points, since, grace_until, evaluated_at)
    SELECT id, (SELECT code FROM tiers ORDER BY rank LIMIT 1), 0, $now::timestamptz, NULL, $now::timestamptz
    FROM bench_members;
    DROP TABLE bench_members
"""


@dataclass
class Member:
    """A seeded member as the raw replay needs it: ids to substitute for the captured member's."""

    id: uuid.UUID
    accounts: dict[str, uuid.UUID]
    lot: uuid.UUID
    session: uuid.UUID | None = None
    token: str = ""


async def seed_members(count: int, points: int, tag: int) -> list[Member]:
    now = clock.now()
    conn = await connect()
    try:
        await _run_script(
            conn,
            MEMBER_SEED,
            {
                "count": count,
                "phone_prefix": f"13{tag}{os.getpid() % 100:02d}",
                "now": now,
                "points": points,
                "adjusted": SYSTEM_ACCOUNT_IDS[AccountKind.ADJUSTED],
                "expires": ledger.expiry_for(now),
            },
        )
        rows = await conn.fetch(
            """
            SELECT p.id, l.id AS lot, array_agg(a.kind ORDER BY a.kind) AS kinds, array_agg(a.id ORDER BY a.kind) AS ids
            FROM patients p JOIN ledger_lots l ON l.patient_id = p.id JOIN ledger_accounts a ON a.patient_id = p.id
            WHERE p.phone LIKE $1 GROUP BY p.id, l.id ORDER BY p.id
            """,
            f"13{tag}{os.getpid() % 100:02d}%",
        )
        await conn.execute("ANALYZE patients, ledger_accounts, ledger_entries, ledger_lines, ledger_lots, member_tiers")
    finally:
        await conn.close()
    return [Member(r["id"], dict(zip(r["kinds"], r["ids"], strict=True)), r["lot"]) for r in rows]


async def sign_in(members: list[Member]) -> None:
    """Access tokens as a sign-in would issue them (a session row each)."""
    from patients.auth import _start_session

    async with unit_of_work() as session:
        for m in members:
            tokens = await _start_session(session, Actor(kind=ActorKind.PATIENT, id=m.id))
            m.token, m.session = tokens.access_token, _session_of(tokens.access_token)


def _session_of(token: str) -> uuid.UUID:
    from core import security

    claims = security.decode_access_token(token, now=clock.now())
    assert claims is not None and claims.session_id is not None
    return claims.session_id


async def staff_token(roles: list[Role]) -> tuple[uuid.UUID, str, uuid.UUID]:
    from patients import service as patient_service
    from patients.auth import _start_session

    async with unit_of_work() as session:
        staff = await patient_service.create_staff(
            session,
            SYSTEM,
            email=f"bench-{uuid.uuid4().hex[:8]}@example.com",
            name="压测员工",
            password=uuid.uuid4().hex,
            roles=[r.value for r in roles],
        )
        await session.flush()
        tokens = await _start_session(session, Actor(kind=ActorKind.STAFF, id=staff.id, roles=frozenset(roles)))
    return staff.id, tokens.access_token, _session_of(tokens.access_token)


# --- the HTTP request of each workload

AWARD_QUERY = (
    "mutation Award($input: PointsAdjustInput!) { pointsAdjust(input: $input) "
    "{ entry { id amount } errors { code field message } } }"
)
REDEEM_QUERY = (
    "mutation Redeem($input: RewardRedeemInput!) { rewardRedeem(input: $input) "
    "{ redemption { id points voucherCode } errors { code field message } } }"
)
AWARD_REASON = "活动签到奖励"


def award_body(patient_gid: str, amount: int, key: str) -> bytes:
    variables = {"input": {"patientId": patient_gid, "amount": amount, "reason": AWARD_REASON, "idempotencyKey": key}}
    return json.dumps({"query": AWARD_QUERY, "variables": variables}).encode()


def redeem_body(reward_gid: str, key: str) -> bytes:
    return json.dumps(
        {"query": REDEEM_QUERY, "variables": {"input": {"rewardId": reward_gid, "idempotencyKey": key}}}
    ).encode()


_CODE = re.compile(rb'"code":\s*"([A-Z_]+)"')


def answer_failure(status: int, body: bytes) -> str | None:
    """None for a successful mutation; else a short reason (HTTP status or the first error code)."""
    if status == 200 and b'"errors":[]' in body and b'"errors":[{' not in body:
        return None
    found = _CODE.search(body)
    return f"HTTP {status} {found.group(1).decode() if found else body[:80]!r}"


async def post_graphql(port: int, token: str, body: bytes) -> tuple[str | None, dict[str, Any]]:
    async with Http1(port) as http:
        status, answer = await http.post(body, token)
    return answer_failure(status, answer), json.loads(answer) if answer.startswith(b"{") else {}


# --- statements captured from one real request, replayed through raw asyncpg

# A captured parameter becomes a slot: ("c", value) constant, ("m",) the member, ("a", kind) one of its
# accounts, ("s",) its session, ("l",) its lot, ("f", n) the n-th id made by this request, ("t", template)
# a string naming the member / idempotency key / voucher code.
Slot = tuple[Any, ...]


@dataclass
class Statement:
    sql: str
    many: bool
    params: list[list[Slot]]  # one slot list per parameter set (several only when `many`)


@dataclass
class Captured:
    groups: list[list[Statement]]  # one list per transaction (per pooled connection, in order)
    autocommit: list[bool]  # per group: statements sent outside an explicit transaction
    fresh: int  # ids made per request
    text: list[str]  # the statements, for the report


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[int, bool, str, bool, Any]] = []

    def __call__(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        autocommit = conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT"
        self.calls.append((id(conn), autocommit, statement, many, parameters))


def plan_replay(
    calls: list[tuple[int, bool, str, bool, Any]], member: Member, key: str, voucher: str | None, keep: set[uuid.UUID]
) -> Captured:
    roles: dict[uuid.UUID, Slot] = {member.id: ("m",), member.lot: ("l",)}
    roles.update({account: ("a", kind) for kind, account in member.accounts.items()})
    if member.session is not None:
        roles[member.session] = ("s",)
    fresh: dict[uuid.UUID, int] = {}
    texts = {str(member.id): "{m}", key: "{k}"} | ({voucher: "{v}"} if voucher else {})

    def slot(value: Any, inserting: bool) -> Slot:
        if isinstance(value, uuid.UUID):
            if value in roles:
                return roles[value]
            if value in fresh or (inserting and value not in keep):
                return ("f", fresh.setdefault(value, len(fresh)))
            return ("c", value)
        if isinstance(value, str) and any(t in value for t in texts):
            template = value.replace("{", "{{").replace("}", "}}")
            for original, marker in texts.items():
                template = template.replace(original, marker)
            return ("t", template)
        return ("c", value)

    groups: list[list[Statement]] = []
    autocommit: list[bool] = []
    last = None
    for conn_id, auto, sql, many, parameters in calls:
        if conn_id != last:
            groups.append([])
            autocommit.append(auto)
            last = conn_id
        inserting = "INSERT" in sql.upper()
        sets = list(parameters) if many else [parameters]
        groups[-1].append(Statement(sql, many, [[slot(v, inserting) for v in (p or ())] for p in sets]))
    return Captured(groups, autocommit, len(fresh), [sql for _, _, sql, _, _ in calls])


def _fill(params: list[Slot], target: dict[str, Any], ids: list[uuid.UUID]) -> list[Any]:
    out = []
    for s in params:
        kind = s[0]
        if kind == "c":
            out.append(s[1])
        elif kind == "f":
            out.append(ids[s[1]])
        elif kind == "a":
            out.append(target["a"][s[1]])
        elif kind == "t":
            out.append(s[1].format(m=target["m"], k=target["k"], v=target["v"]))
        else:
            out.append(target[kind])
    return out


# --- client processes (HTTP or raw asyncpg), closed loop, one connection per client


@dataclass
class ClientPlan:
    """What one client process does: `clients` connections, each with its own members."""

    mode: str  # "http" or "raw"
    port: int
    dsn: str
    kind: str  # "award" or "redeem"
    prefix: str  # idempotency keys: {prefix}-{client}-{n}
    members: list[list[dict[str, Any]]]  # per client: member records (gid, token, ids)
    staff_token: str
    reward_gid: str
    amount: int
    captured: Captured | None
    start: float  # wall clock (time.time()) when the warm-up starts
    warmup: float
    window: float


@dataclass
class ClientReport:
    window_ops: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: float = 0.0  # CPU seconds of this process during the window
    successes: int = 0  # all successful requests (warm-up and tail included)
    failures: Counter[str] = field(default_factory=Counter)


VOUCHER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


async def _client_main(plan: ClientPlan) -> ClientReport:
    report = ClientReport()
    ws = plan.start + plan.warmup
    we = ws + plan.window
    loop = asyncio.get_running_loop()
    mono_offset = time.time() - loop.time()
    ws_mono, we_mono = ws - mono_offset, we - mono_offset
    cpu_marks: list[float] = []

    async def meter() -> None:
        await asyncio.sleep(max(0.0, ws_mono - loop.time()))
        cpu_marks.append(time.process_time())
        await asyncio.sleep(max(0.0, we_mono - loop.time()))
        cpu_marks.append(time.process_time())

    async def http_client(c: int, members: list[dict[str, Any]]) -> None:
        http = Http1(plan.port)
        n = 0
        while True:
            started = loop.time()
            if started >= we_mono:
                break
            m = members[n % len(members)]
            key = f"{plan.prefix}-{c}-{n}"
            if plan.kind == "award":
                token, request = plan.staff_token, award_body(m["gid"], plan.amount, key)
            else:
                token, request = m["token"], redeem_body(plan.reward_gid, key)
            n += 1
            status, body = await http.post(request, token)
            ended = loop.time()
            failure = answer_failure(status, body)
            if failure:
                report.failures[failure] += 1
                continue
            report.successes += 1
            if started >= ws_mono and ended <= we_mono:
                report.latencies.append(ended - started)
        http.close()

    async def raw_client(c: int, members: list[dict[str, Any]]) -> None:
        import asyncpg as pg

        from core.ids import new_id

        captured = plan.captured
        assert captured is not None
        conn = await pg.connect(plan.dsn)
        n = 0
        while True:
            started = loop.time()
            if started >= we_mono:
                break
            target = dict(members[n % len(members)])
            target["k"] = f"{plan.prefix}-{c}-{n}"
            target["v"] = "".join(random.choices(VOUCHER_ALPHABET, k=10))
            n += 1
            ids = [new_id() for _ in range(captured.fresh)]
            try:
                for group, autocommit in zip(captured.groups, captured.autocommit, strict=True):
                    async with contextlib.nullcontext() if autocommit else conn.transaction():
                        for st in group:
                            if st.many:
                                await conn.executemany(st.sql, [_fill(p, target, ids) for p in st.params])
                            else:
                                await conn.fetch(st.sql, *_fill(st.params[0], target, ids))
            except Exception as exc:  # a benchmark reports failures, it does not stop at the first
                report.failures[type(exc).__name__] += 1
                continue
            ended = loop.time()
            report.successes += 1
            if started >= ws_mono and ended <= we_mono:
                report.latencies.append(ended - started)
        # PostgreSQL's CPU is read from its live backends at the window's end: keep this one alive until then.
        await asyncio.sleep(max(0.0, we_mono + 1.0 - loop.time()))
        await conn.close()

    client = http_client if plan.mode == "http" else raw_client
    await asyncio.sleep(max(0.0, plan.start - time.time()))
    await asyncio.gather(meter(), *(client(c, members) for c, members in enumerate(plan.members)))
    report.window_ops = len(report.latencies)
    report.cpu = cpu_marks[1] - cpu_marks[0] if len(cpu_marks) == 2 else 0.0
    return report


def client_process(plan: ClientPlan, pipe: Any) -> None:
    import uvloop

    try:
        pipe.send(uvloop.run(_client_main(plan)))
    except BaseException as exc:
        pipe.send(exc)
        raise


@dataclass
class Party:
    """CPU of one party over the measured window, in cores."""

    api: float | None
    postgres: float
    clients: float
    machine: float


def _tree_cpu(pids: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            continue
        for proc in procs:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            out[proc.pid] = times.user + times.system
    return out


def _delta(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


@dataclass
class Drive:
    name: str
    result: Result
    party: Party
    successes: int


async def drive(name: str, plans: list[ClientPlan], api_pid: int | None, postgres_pids: list[int]) -> Drive:
    """Runs the client processes; measures every party's CPU over the same window as the clients."""
    ctx = multiprocessing.get_context("spawn")
    procs = []
    for plan in plans:
        parent, child = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=client_process, args=(plan, child), daemon=True)
        proc.start()
        procs.append((proc, parent))
    ws, we = plans[0].start + plans[0].warmup, plans[0].start + plans[0].warmup + plans[0].window
    await asyncio.sleep(max(0.0, ws - time.time()))
    api0 = _tree_cpu([api_pid]) if api_pid else {}
    pg0, machine0 = _tree_cpu(postgres_pids), psutil.cpu_times()
    await asyncio.sleep(max(0.0, we - time.time()))
    api1 = _tree_cpu([api_pid]) if api_pid else {}
    pg1, machine1 = _tree_cpu(postgres_pids), psutil.cpu_times()
    reports: list[ClientReport] = []
    for proc, pipe in procs:
        got = await asyncio.to_thread(pipe.recv)
        await asyncio.to_thread(proc.join)
        if isinstance(got, BaseException):
            raise got
        reports.append(got)
    window = plans[0].window
    idle = (machine1.idle - machine0.idle) + (getattr(machine1, "iowait", 0.0) - getattr(machine0, "iowait", 0.0))
    total = sum(machine1) - sum(machine0)
    party = Party(
        api=_delta(api0, api1) / window if api_pid else None,
        postgres=_delta(pg0, pg1) / window,
        clients=sum(r.cpu for r in reports) / window,
        machine=(1 - idle / total) if total > 0 else 0.0,
    )
    result = Result(name, sum(r.window_ops for r in reports), window, party=party)
    for r in reports:
        result.latencies.extend(r.latencies)
        result.failures.update(r.failures)
    return Drive(name, result, party, sum(r.successes for r in reports))


def split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[i::parts] for i in range(parts)]


def report_drive(d: Drive) -> None:
    r, p = d.result, d.party
    per = 1000 / r.rate if r.rate else 0.0
    api = "" if p.api is None else f"API {p.api:.2f} cores = {p.api * per:.2f} ms/req, "
    print(
        f"    {r.name}: {r.ops:,} in {r.seconds:.0f} s = {r.rate:,.0f}/s, {r.latency()}; CPU {api}"
        f"PostgreSQL {p.postgres:.2f} cores = {p.postgres * per:.2f} ms/req, "
        f"clients {p.clients:.2f} cores = {p.clients * per:.2f} ms/req; machine {p.machine:.0%}"
        + (f"; failures {dict(r.failures)}" if r.failures else "")
    )


async def capture_request(token: str, body: bytes) -> tuple[list[tuple[int, bool, str, bool, Any]], dict[str, Any]]:
    """The statements the real app sends for one request (in this process, through the ASGI app)."""
    import httpx
    from sqlalchemy import event

    from api.app import app

    recorder = Recorder()
    engine = get_engine().sync_engine
    event.listen(engine, "before_cursor_execute", recorder)
    at_once = getattr(ledger, "run_at_once", None)  # None: a tree before the one-statement postings

    async def record_at_once(sql: str, params: tuple[Any, ...]) -> Any:  # sent to the driver, past SQLAlchemy
        recorder.calls.append((-len(recorder.calls) - 1, True, sql, False, params))
        assert at_once is not None
        return await at_once(sql, params)

    if at_once is not None:
        ledger.run_at_once = record_at_once
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            answer = await http.post(
                "/graphql",
                content=body,
                headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
            )
    finally:
        event.remove(engine, "before_cursor_execute", recorder)
        if at_once is not None:
            ledger.run_at_once = at_once
    failure = answer_failure(answer.status_code, answer.content)
    if failure:
        raise RuntimeError(f"captured request failed: {failure}")
    return recorder.calls, answer.json()


def _records(members: list[Member]) -> list[dict[str, Any]]:
    from api.relay import to_global_id

    return [
        {"m": m.id, "a": m.accounts, "s": m.session, "l": m.lot, "gid": to_global_id("Patient", m.id), "token": m.token}
        for m in members
    ]


@dataclass
class Setup:
    args: argparse.Namespace
    port: int
    dsn: str
    api_pid: int
    postgres_pids: list[int]


def plans_for(setup: Setup, mode: str, kind: str, prefix: str, members: list[Member], **extra: Any) -> list[ClientPlan]:
    args = setup.args
    per_client = split(_records(members), args.clients)
    start = time.time() + 2.0  # spawned processes need ~1 s to import
    return [
        ClientPlan(
            mode=mode,
            port=setup.port,
            dsn=setup.dsn,
            kind=kind,
            prefix=f"{prefix}{p}",
            members=chunk,
            staff_token=extra.get("staff_token", ""),
            reward_gid=extra.get("reward_gid", ""),
            amount=extra.get("amount", 0),
            captured=extra.get("captured"),
            start=start,
            warmup=args.warmup,
            window=args.seconds,
        )
        for p, chunk in enumerate(split(per_client, args.client_procs))
        if chunk
    ]


def print_statements(captured: Captured) -> None:
    explicit = len(captured.groups) - sum(captured.autocommit)
    print(
        f"    the API sends {len(captured.text)} statements per request, in {explicit} explicit transaction(s)"
        f" and {sum(captured.autocommit)} single-statement (autocommit) one(s):"
    )
    for sql in captured.text:
        print(f"      {' '.join(sql.split())[:150]}")


async def count(sql: str, *params: Any) -> int:
    conn = await connect()
    try:
        return int(await conn.fetchval(sql, *params))
    finally:
        await conn.close()


def compare(api: Drive, raw: Drive) -> None:
    ratio = api.result.rate / raw.result.rate if raw.result.rate else 0.0
    print(f"    API / raw asyncpg: {ratio:.2f} of the throughput of the same statements sent without the API")


async def workload_awards(setup: Setup) -> list[Result]:
    args = setup.args
    print(
        f"\n== B. awards over HTTP (pointsAdjust by an admin, {args.award_points} points): {args.clients} closed-loop "
        f"clients in {args.client_procs} processes, {args.warmup:.0f} s warm-up, {args.seconds:.0f} s window"
    )
    members = await seed_members(args.members, 100, 5)
    raw_members = await seed_members(args.members, 100, 6)
    (probe,) = await seed_members(1, 100, 7)
    staff_id, token, staff_session = await staff_token([Role.ADMIN])
    run_id = uuid.uuid4().hex[:6]
    probe_gid = _records([probe])[0]["gid"]
    await capture_request(token, award_body(probe_gid, args.award_points, f"warm-{run_id}-probe"))
    key = f"capture-{run_id}-probe"
    calls, _ = await capture_request(token, award_body(probe_gid, args.award_points, key))
    keep = {*SYSTEM_ACCOUNT_IDS.values(), staff_id, staff_session}
    captured = plan_replay(calls, probe, f"adjust:{key}", None, keep)
    print_statements(captured)

    prefix = f"b{run_id}"
    api = await drive(
        "B award over HTTP",
        plans_for(setup, "http", "award", prefix, members, staff_token=token, amount=args.award_points),
        setup.api_pid,
        setup.postgres_pids,
    )
    report_drive(api)
    result = api.result
    posted = await count("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE $1", f"adjust:{prefix}%")
    check(
        result, "one entry per successful award", posted == api.successes, f"{posted:,} entries, {api.successes:,} ok"
    )
    await idempotency_awards(result, setup.port, token, members[0], prefix, args.award_points)
    await ledger_invariants(result)

    raw_prefix = f"r{run_id}"
    raw = await drive(
        "B award, same SQL via asyncpg",
        plans_for(setup, "raw", "award", f"adjust:{raw_prefix}", raw_members, captured=captured),
        None,
        setup.postgres_pids,
    )
    report_drive(raw)
    posted = await count("SELECT count(*) FROM ledger_entries WHERE idempotency_key LIKE $1", f"adjust:{raw_prefix}%")
    check(raw.result, "one entry per replayed award", posted == raw.successes, f"{posted:,} / {raw.successes:,}")
    await ledger_invariants(raw.result)
    compare(api, raw)
    return [result, raw.result]


async def idempotency_awards(result: Result, port: int, token: str, member: Member, prefix: str, amount: int) -> None:
    gid = _records([member])[0]["gid"]
    key = f"{prefix}0-0-0"  # the first award of client 0 of process 0 (its first member)
    before = await count("SELECT count(*) FROM ledger_entries WHERE patient_id = $1", member.id)
    failure, again = await post_graphql(port, token, award_body(gid, amount, key))
    after = await count("SELECT count(*) FROM ledger_entries WHERE patient_id = $1", member.id)
    entry_id = await count(
        "SELECT count(*) FROM ledger_entries WHERE idempotency_key = $1 AND amount = $2", f"adjust:{key}", amount
    )
    check(
        result,
        "a repeated idempotency key does not post twice",
        failure is None and after == before and entry_id == 1 and again["data"]["pointsAdjust"]["entry"] is not None,
        f"{failure or 'answered'}; entries {before} -> {after}",
    )
    failure, _ = await post_graphql(port, token, award_body(gid, amount + 1, key))
    check(
        result,
        "the same key with another amount is refused",
        failure is not None and "IDEMPOTENCY" in failure,
        failure or "accepted",
    )


async def workload_redemptions(setup: Setup) -> list[Result]:
    args = setup.args
    print(
        f"\n== C. redemptions of one hot reward over HTTP (rewardRedeem by patients, cost {args.cost}): "
        f"{args.clients} clients in {args.client_procs} processes, {args.warmup:.0f} s warm-up, "
        f"{args.seconds:.0f} s window"
    )
    points = 10_000_000
    members = await seed_members(args.members, points, 8)
    raw_members = await seed_members(args.members, points, 4)
    (probe,) = await seed_members(1, points, 3)
    await sign_in([*members, *raw_members, probe])
    marketer = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
    async with unit_of_work() as session:
        reward = await rewards.create_reward(
            session,
            marketer,
            rewards.RewardInput(
                name="家用血压计",
                description="上臂式电子血压计一台",
                category="gift",
                points_cost=args.cost,
                stock=args.stock,
            ),
        )
    from api.relay import to_global_id

    reward_gid = to_global_id("Reward", reward.id)
    run_id = uuid.uuid4().hex[:6]
    await capture_request(probe.token, redeem_body(reward_gid, f"warm-{run_id}-probe"))
    key = f"capture-{run_id}-probe"
    calls, answer = await capture_request(probe.token, redeem_body(reward_gid, key))
    voucher = answer["data"]["rewardRedeem"]["redemption"]["voucherCode"]
    captured = plan_replay(calls, probe, key, voucher, {*SYSTEM_ACCOUNT_IDS.values(), reward.id})
    print_statements(captured)
    vouchers_before = 2  # the two captured requests

    prefix = f"c{run_id}"
    api = await drive(
        "C redeem over HTTP",
        plans_for(setup, "http", "redeem", prefix, members, reward_gid=reward_gid),
        setup.api_pid,
        setup.postgres_pids,
    )
    report_drive(api)
    result = api.result
    await idempotency_redeem(result, setup.port, members[0], reward_gid, f"{prefix}0-0-0")
    await stock_checks(result, reward.id, args.stock, vouchers_before + api.successes)
    await ledger_invariants(result)

    raw = await drive(
        "C redeem, same SQL via asyncpg",
        plans_for(setup, "raw", "redeem", f"r{run_id}", raw_members, captured=captured),
        None,
        setup.postgres_pids,
    )
    report_drive(raw)
    await stock_checks(raw.result, reward.id, args.stock, vouchers_before + api.successes + raw.successes)
    await ledger_invariants(raw.result)
    compare(api, raw)
    return [result, raw.result]


async def idempotency_redeem(result: Result, port: int, member: Member, reward_gid: str, key: str) -> None:
    before = await count("SELECT count(*) FROM redemptions WHERE patient_id = $1", member.id)
    failure, again = await post_graphql(port, member.token, redeem_body(reward_gid, key))
    after = await count("SELECT count(*) FROM redemptions WHERE patient_id = $1", member.id)
    same = await count(
        "SELECT count(*) FROM redemptions WHERE patient_id = $1 AND idempotency_key = $2 AND voucher_code = $3",
        member.id,
        key,
        ((again.get("data") or {}).get("rewardRedeem") or {}).get("redemption", {}).get("voucherCode", ""),
    )
    check(
        result,
        "a repeated idempotency key redeems once",
        failure is None and before == after and same == 1,
        f"{failure or 'same voucher' if same else 'another voucher'}; redemptions {before} -> {after}",
    )


async def stock_checks(result: Result, reward_id: uuid.UUID, stock: int, successes: int) -> None:
    left = await count("SELECT stock FROM rewards WHERE id = $1", reward_id)
    issued = await count("SELECT count(*) FROM redemptions WHERE reward_id = $1", reward_id)
    check(result, "stock taken == successes", stock - left == successes, f"{stock:,} -> {left:,}, {successes:,} ok")
    check(result, "one voucher per success", issued == successes, f"{issued:,} vouchers")
    check(result, "no failed requests", not result.failures, repr(dict(result.failures)))


# --------------------------------------------------------------------------- the API server


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(env: Environment, args: argparse.Namespace) -> int:
    """`portal serve` (the production entry point) on 127.0.0.1 and a free port; returns the port."""
    import httpx

    assert env.tmp is not None
    port = _free_port()
    server_env = dict(os.environ)
    per_worker = -(-args.clients // args.web_workers)
    server_env.update(
        PORTAL_HOST="127.0.0.1",
        PORTAL_PORT=str(port),
        PORTAL_WEB_WORKERS=str(args.web_workers),
        PORTAL_DB_POOL_SIZE=str(per_worker + 4),
        PORTAL_DB_MAX_OVERFLOW=str(per_worker + 4),
    )
    command = [sys.executable, "-c", "from cli.main import main; main()", "serve"]
    log_path = env.tmp / "api.log"
    with open(log_path, "ab") as log_file:
        env.api = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            env=server_env,
            cwd=Path(__file__).resolve().parent.parent,
            start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and env.api.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                time.sleep(0.5 * args.web_workers)  # the other workers finish starting
                return port
        time.sleep(0.1)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    raise RuntimeError(f"the API did not become ready (exit code {env.api.poll()}):\n{tail}")


def stop_api(env: Environment) -> None:
    api, env.api = env.api, None
    if api is None or api.poll() is not None:
        return
    api.send_signal(signal.SIGINT)
    try:
        api.wait(15)
    except subprocess.TimeoutExpired:
        api.kill()
        api.wait()


# --------------------------------------------------------------------------- report


def machine_info() -> str:
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"nproc {usable} (cpu_count {cpus}), {memory:.0f} GiB RAM, {platform.machine()} {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def print_summary(results: list[Result], server: str, total: float) -> None:
    print("\n== summary")
    print(f"    {machine_info()}")
    print(f"    {server}")
    header = (
        f"    {'workload':<34} {'ops':>9} {'ops/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'API':>6} {'PG':>6} {'client':>6} {'mach':>5}  checks"
    )
    print(header)
    print("    " + "-" * (len(header) - 4))
    for r in results:
        p50, p99 = r.percentile_ms(50), r.percentile_ms(99)
        cpu = ["-", "-", "-", "-"]
        if r.party is not None and r.rate:
            per = 1000 / r.rate
            p = r.party
            cpu = ["-" if p.api is None else f"{p.api * per:.2f}", f"{p.postgres * per:.2f}", f"{p.clients * per:.2f}"]
            cpu.append(f"{p.machine:.0%}")
        elif r.cpu is not None:
            cpu = ["-", "-", f"{r.cpu[0]:.0%}", f"{r.cpu[1]:.0%}"]
        print(
            f"    {r.name:<34} {r.ops:>9,} {f'{r.rate:,.0f}' if r.ops else '-':>8} "
            f"{'-' if p50 is None else f'{p50:.1f}':>7} {'-' if p99 is None else f'{p99:.1f}':>7} "
            f"{cpu[0]:>6} {cpu[1]:>6} {cpu[2]:>6} {cpu[3]:>5}  {'ok' if r.ok else 'FAILED'}"
        )
    print(
        "    API / PG / client: CPU milliseconds per request of the API server (all its processes), PostgreSQL and"
        "\n    the client processes (HTTP clients, or the raw asyncpg replay) over the measured window; for A, the"
        "\n    client column is the bench process in % of a core; mach = share of all cores busy"
    )
    for api, raw in itertools.pairwise(results):
        if api.name.endswith("over HTTP") and "asyncpg" in raw.name and raw.rate:
            print(f"    {api.name}: {api.rate / raw.rate:.2f} of raw asyncpg throughput")
    print(f"    total runtime {total:.1f} s")


async def run(args: argparse.Namespace, env: Environment) -> list[Result]:
    try:
        results = await workload_settle(args.patients, args.lots) if args.lots else []
        pg_pids = [h.pid for h in env.handles[:1]] if not env.external_url else []
        port = await asyncio.to_thread(start_api, env, args)
        assert env.api is not None
        print(f"\n    API: portal serve, {args.web_workers} worker(s), pid {env.api.pid}, port {port}")
        setup = Setup(args, port, asyncpg_dsn(get_settings().require_database_url()), env.api.pid, pg_pids)
        if "B" in args.only:
            results += await workload_awards(setup)
        if "C" in args.only:
            results += await workload_redemptions(setup)
        final = Result("ledger invariants at the end", 0, 0.0)
        print("\n== final ledger checks")
        await ledger_invariants(final)
        results.append(final)
        return results
    finally:
        from core import queue

        await queue.close_pool()
        await dispose_engine()


async def server_version() -> str:
    conn = await connect()
    try:
        version = await conn.fetchval("SHOW server_version")
        buffers = await conn.fetchval("SHOW shared_buffers")
    finally:
        await conn.close()
    return f"PostgreSQL {version}, shared_buffers {buffers}"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000, help="members in workload A")
    parser.add_argument("--lots", type=int, default=1_000_000, help="pending lots to settle in workload A (0: skip A)")
    parser.add_argument("--only", default="BC", help="which of B and C to run (A runs unless --lots 0)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent closed-loop clients in B and C")
    parser.add_argument("--client-procs", type=int, default=2, help="processes the clients are spread over")
    parser.add_argument("--web-workers", type=int, default=2, help="API server processes (PORTAL_WEB_WORKERS)")
    parser.add_argument("--members", type=int, default=256, help="members per side (API, raw) in B and C")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up before each window")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window of B and C")
    parser.add_argument("--award-points", type=int, default=20, help="points per award in B")
    parser.add_argument("--stock", type=int, default=1_000_000, help="stock of the hot reward in C")
    parser.add_argument("--cost", type=int, default=100, help="points cost of the hot reward in C")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_DB_POOL_SIZE", "8")
    os.environ.setdefault("PORTAL_DB_MAX_OVERFLOW", "8")
    reset_settings()
    from core.logging import configure_logging

    configure_logging()
    env = Environment()
    try:
        start_environment(env)
        server = asyncio.run(server_version())
        print(f"    {server}; batch size {get_settings().settle_batch_size:,}; {machine_info()}")
        results = asyncio.run(run(args, env))
    finally:
        env.stop()
    print_summary(results, server, time.perf_counter() - started)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
