"""Ledger benchmarks on a production-sized ledger (not a test).

    .venv/bin/python bench/ledger.py                                   # the defaults below (see --help)
    .venv/bin/python bench/ledger.py --patients 10000 --lots 100000    # a quick run

On a 2-core machine the defaults take ~5 minutes: seeding ~50 s, settle_due ~25-28 s (target: < 30 s),
B and C ~1.5 minutes each.

A. `loyalty.jobs.settle_due()` over 1,000,000 due pending lots of 100,000 members, seeded with set-based
   SQL in the shape real visits leave behind (one earn entry per lot: issued -n / pending +n, pending
   balances equal to the lots), then verified (nothing pending, available == lots, journal balanced)
   and run a second time (nothing to do).
B. `loyalty.earning.award(..., "event_attendance", ...)` from 32 concurrent clients, one unit of work each.
C. `loyalty.rewards.redeem` of one hot reward from 32 concurrent clients; stock and balances verified.

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started (and stopped at
the end). With DATABASE_URL set, a fresh database portal_bench_<pid> is created beside the one it names
(the role needs CREATEDB) and dropped at the end; REDIS_URL is used as is (nothing is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import asyncpg
import psutil

from core import clock, devservers
from core.db import dispose_engine, unit_of_work
from core.identity import Actor, ActorKind, Role
from core.settings import get_settings, reset_settings
from loyalty import earning, jobs, ledger, rewards, service
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

    def stop(self) -> None:
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
SERVER_OPTIONS = {"shared_buffers": "1GB", "max_wal_size": "4GB"}


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


# --------------------------------------------------------------------------- B and C: concurrent clients


async def run_clients(
    count: int, clients: int, op: Callable[[int], Awaitable[None]], result: Result | None = None, *, offset: int = 0
) -> Result:
    """`count` calls of op(i) shared by `clients` concurrent coroutines; latency of each success."""
    result = result or Result("", 0, 0.0)
    numbers = itertools.count(offset)
    end = offset + count

    async def client() -> None:
        while (i := next(numbers)) < end:
            started = time.perf_counter()
            try:
                await op(i)
            except Exception as exc:  # a benchmark reports failures, it does not stop at the first
                result.failures[getattr(exc, "code", None) or type(exc).__name__] += 1
                continue
            result.latencies.append(time.perf_counter() - started)

    meter = CpuMeter()
    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    result.seconds = time.perf_counter() - started
    result.cpu = meter.stop()
    result.ops = len(result.latencies)
    return result


async def random_members(count: int, *, min_available: int = 0) -> list[uuid.UUID]:
    conn = await connect()
    try:
        rows = await conn.fetch(
            "SELECT patient_id FROM ledger_accounts WHERE kind = 'available' AND patient_id IS NOT NULL "
            "AND balance >= $1 ORDER BY random() LIMIT $2",
            min_available,
            count,
        )
        found = [r["patient_id"] for r in rows]
        if len(found) < count:  # a small seed: top up with members who have fewer points
            rows = await conn.fetch(
                "SELECT id FROM patients WHERE NOT (id = ANY($1::uuid[])) ORDER BY random() LIMIT $2",
                found,
                count - len(found),
            )
            found += [r["id"] for r in rows]
    finally:
        await conn.close()
    return found


async def workload_awards(members_n: int, awards: int, clients: int) -> Result:
    print(f"\n== B. {awards:,} awards ({AWARD_RULE}) from {clients} concurrent clients over {members_n:,} members")
    members = await random_members(members_n)
    conn = await connect()
    try:
        # Default caps (60/day, 300/month = 2 awards a day) would cap most awards; the cap query still runs.
        await conn.execute(
            "UPDATE earning_rules SET daily_cap = 1000000, monthly_cap = 10000000 WHERE code = $1", AWARD_RULE
        )
        points = await conn.fetchval("SELECT points FROM earning_rules WHERE code = $1", AWARD_RULE)
        before = await conn.fetchval("SELECT count(*) FROM ledger_lots WHERE rule_code = $1", AWARD_RULE)
    finally:
        await conn.close()
    print(f"    caps of {AWARD_RULE} raised in the bench database; {points} points per award")
    run_id = uuid.uuid4().hex[:8]

    async def op(i: int) -> None:
        # Consecutive awards go to different members, so concurrent ones never wait on one member's lock.
        async with unit_of_work() as session:
            outcome = await earning.award(
                session, members[i % len(members)], AWARD_RULE, f"event:{run_id}:{i}", f"bench-award:{run_id}:{i}"
            )
        if outcome.points != points or outcome.capped or outcome.replayed:
            raise RuntimeError(f"unexpected award {outcome}")

    warmup = await run_clients(2 * clients, clients, op, offset=awards)
    result = await run_clients(awards, clients, op, Result(f"B award x{clients} clients", 0, 0.0))
    print(
        f"    {result.ops:,} awards in {result.seconds:.2f} s = {result.rate:,.0f} awards/s, "
        f"{result.latency()} (after {warmup.ops} warm-up awards){result.cpu_text()}"
    )
    result.failures.update(warmup.failures)
    conn = await connect()
    try:
        after = await conn.fetchval("SELECT count(*) FROM ledger_lots WHERE rule_code = $1", AWARD_RULE)
    finally:
        await conn.close()
    expected = result.ops + warmup.ops
    check(result, "one lot per award", after - before == expected, f"{after - before:,} lots for {expected:,} awards")
    check(result, "no failed awards", not result.failures, dict(result.failures).__repr__())
    return result


async def workload_redemptions(members_n: int, redemptions: int, clients: int, stock: int, cost: int) -> Result:
    print(f"\n== C. {redemptions:,} redemptions of one reward from {clients} concurrent clients")
    marketer = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
    async with unit_of_work() as session:
        reward = await rewards.create_reward(
            session,
            marketer,
            rewards.RewardInput(
                name="家用血压计",
                description="上臂式电子血压计一台",
                category="gift",
                points_cost=cost,
                stock=stock,
            ),
        )
    reward_id = reward.id
    warmups = 2 * clients
    per_member = -(-(redemptions + warmups) // members_n)
    need = per_member * cost
    members = await random_members(members_n, min_available=need)
    run_id = uuid.uuid4().hex[:8]
    admin = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))
    topped = 0
    for member in members:  # through the real posting path, for the few whose points would run short
        async with unit_of_work() as session:
            balance = await ledger.available_balance(session, member)
            if balance < need:
                await service.adjust(
                    session,
                    admin,
                    member,
                    amount=need - balance,
                    reason="压测积分",
                    idempotency_key=f"bench-{run_id}-{member}",
                )
                topped += 1
    print(
        f"    reward stock {stock:,}, cost {cost}; {len(members):,} members with >= {need} points "
        f"({topped} topped up by adjustment)"
    )

    async def op(i: int) -> None:
        member = members[i % len(members)]
        async with unit_of_work() as session:
            await rewards.redeem(
                session, Actor(kind=ActorKind.PATIENT, id=member), reward_id, f"bench-{run_id}-{i:08d}"
            )

    warmup = await run_clients(warmups, clients, op, offset=redemptions)
    result = await run_clients(redemptions, clients, op, Result(f"C redeem x{clients} (1 hot reward)", 0, 0.0))
    print(
        f"    {result.ops:,} redemptions in {result.seconds:.2f} s = {result.rate:,.0f} redemptions/s, "
        f"{result.latency()} (after {warmup.ops} warm-up redemptions){result.cpu_text()}"
    )
    result.failures.update(warmup.failures)
    successes = result.ops + warmup.ops
    conn = await connect()
    try:
        left = await conn.fetchval("SELECT stock FROM rewards WHERE id = $1", reward_id)
        issued = await conn.fetchval("SELECT count(*) FROM redemptions WHERE reward_id = $1", reward_id)
    finally:
        await conn.close()
    check(result, "stock taken == successes", stock - left == successes, f"{stock:,} -> {left:,}, {successes:,} ok")
    check(result, "one voucher per success", issued == successes, f"{issued:,} vouchers")
    check(result, "no failed redemptions", not result.failures, dict(result.failures).__repr__())
    return result


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
        f"    {'workload':<34} {'ops':>10} {'seconds':>9} {'ops/s':>10} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'py cpu':>7} {'host cpu':>8}  checks"
    )
    print(header)
    print("    " + "-" * (len(header) - 4))
    for r in results:
        p50, p99 = r.percentile_ms(50), r.percentile_ms(99)
        py_cpu, host_cpu = ("-", "-") if r.cpu is None else (f"{r.cpu[0]:.0%}", f"{r.cpu[1]:.0%}")
        print(
            f"    {r.name:<34} {r.ops:>10,} {r.seconds:>9.2f} {f'{r.rate:,.0f}' if r.ops else '-':>10} "
            f"{'-' if p50 is None else f'{p50:.1f}':>8} {'-' if p99 is None else f'{p99:.1f}':>8} "
            f"{py_cpu:>7} {host_cpu:>8}  {'ok' if r.ok else 'FAILED'}"
        )
    print("    py cpu: this process (the clients) in % of one core; host cpu: all cores, PostgreSQL included")
    print(f"    total runtime {total:.1f} s")


async def run(args: argparse.Namespace) -> list[Result]:
    try:
        results = await workload_settle(args.patients, args.lots)
        results.append(await workload_awards(args.members, args.awards, args.clients))
        results.append(await workload_redemptions(args.members, args.redemptions, args.clients, args.stock, args.cost))
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
    parser.add_argument("--lots", type=int, default=1_000_000, help="pending lots to settle in workload A")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients in B and C")
    parser.add_argument("--members", type=int, default=2_000, help="members used by B and C")
    parser.add_argument("--awards", type=int, default=5_000, help="awards in B (plus a warm-up)")
    parser.add_argument("--redemptions", type=int, default=5_000, help="redemptions in C (plus a warm-up)")
    parser.add_argument("--stock", type=int, default=100_000, help="stock of the hot reward in C")
    parser.add_argument("--cost", type=int, default=100, help="points cost of the hot reward in C")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    # Every client holds a connection for its whole unit of work; the checks use a few of their own.
    os.environ.setdefault("PORTAL_DB_POOL_SIZE", str(args.clients))
    os.environ.setdefault("PORTAL_DB_MAX_OVERFLOW", "8")
    reset_settings()
    from core.logging import configure_logging

    configure_logging()
    env = Environment()
    try:
        start_environment(env)
        server = asyncio.run(server_version())
        print(f"    {server}; batch size {get_settings().settle_batch_size:,}; {machine_info()}")
        results = asyncio.run(run(args))
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
