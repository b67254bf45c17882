"""Group feed over HTTP and event-invitation fan-out on production-sized data (a benchmark, not a test).

    .venv/bin/python bench/feed.py                                     # defaults below, about three minutes
    .venv/bin/python bench/feed.py --duration 3 --posts 20000 --invitees 5000      # a quick run
    .venv/bin/python bench/feed.py --quick                            # the feed only, 20k posts, ~1-2 minutes

A. The real ASGI app (`portal serve`: one uvicorn process, on 127.0.0.1 and a free port) answers the
   `group(slug) { feed(first: 20) }` query of a public group with 100,000 published posts by 2,000
   members (15% anonymous, with aliases; reactions, comment counts, three pinned posts), each client
   signed in as another member. Closed-loop clients (bench/http1.py, one keep-alive connection each) at
   1, 16 and 64 concurrent clients: per level a warm-up, then a fixed window in which every request that ends is
   counted. A client session starts at the top (pinned posts + first page) or at a deep cursor (a random
   point of the feed) and follows endCursor for a few pages. Every response is checked (HTTP 200, no
   GraphQL errors, full pages, pinned posts on first pages only) and the API log must stay clean.
B. `community.invitations.start_invitation` + `run_invitation(run_id)` (called directly, not through a
   worker) for an event whose audience is a group of 50,000 active patient members (10% with SMS
   marketing consent; members who left, pending ones and staff are not invited); verified: exactly one
   invitation per member, SMS only with consent, one in-app notice per invitation (plus one SMS per
   consenting member) in the outbox; then a second run for the same group (nothing new to invite).
   RSS is sampled during the run to show memory stays bounded. B runs before A, in this process.

CPU is reported per party (API server, this process, PostgreSQL + Redis, other processes on the host),
so a result taken on a shared machine shows how much of it was someone else's.

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started (and stopped at
the end). With DATABASE_URL set, a fresh database portal_bench_feed_<pid> is created beside the one it
names (the role needs CREATEDB) and dropped at the end; REDIS_URL is used as is (nothing is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import random
import re
import resource
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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import psutil

if __name__ == "__main__":
    # Run as a script, bench/ comes first on sys.path, where bench/content.py would shadow the content package.
    _BENCH_DIR = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH_DIR.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH_DIR]

from bench.http1 import Http1
from core import clock, devservers
from core.db import dispose_engine, unit_of_work
from core.identity import Actor, ActorKind, Role
from core.rawsql import PLAN_PER_CALL
from core.settings import get_settings, reset_settings

BENCH_DB = f"portal_bench_feed_{os.getpid()}"
FEED_SLUG = "bench-feed"
INVITE_SLUG = "bench-invite"
PINNED_POSTS = (10, 500, 5000)  # post numbers (1 = newest) that are pinned
ANONYMOUS_SHARE = 0.15
LEFT_MEMBERS = 500  # feed members who joined the invitation group and left again: not invited
PENDING_MEMBERS = 100  # feed members whose request to join it waits: not invited
STAFF_MEMBERS = 3  # staff experts of the invitation group: not invited (patients only)

FEED_QUERY = """
query Feed($slug: String!, $first: Int!, $after: String) {
  group(slug: $slug) {
    feed(first: $first, after: $after) {
      pinned { ...PostFields }
      posts {
        edges { cursor node { ...PostFields } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
}
fragment PostFields on Post {
  id
  title
  bodyHtml
  commentCount
  createdAt
  author { displayName anonymous isExpert }
  reactionCounts { like helpful hug }
  viewerReactions
}
"""


# --------------------------------------------------------------------------- results


# Our PostgreSQL and Redis servers (when we started them), so their CPU can be told from other tenants'.
SERVICE_PIDS: list[int] = []


def _tree_cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds used so far by each process of these process trees (PostgreSQL forks a backend per
    connection; a backend that exits during a workload is not counted, the pools keep theirs open)."""
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


@dataclass(frozen=True)
class Cpu:
    """CPU while a workload ran, in cores (1.0 = one core busy all the time)."""

    api: float | None  # the API server process
    bench: float  # this process: the HTTP clients, or the invitation fan-out itself
    services: float | None  # our PostgreSQL and Redis
    others: float | None  # everything else on the machine (other tenants of a shared host)
    machine: float  # share of all cores busy

    def text(self) -> str:
        parts = [] if self.api is None else [f"API server {self.api:.0%}"]
        parts.append(f"bench process {self.bench:.0%}")
        if self.services is not None:
            parts.append(f"PostgreSQL+Redis {self.services:.0%}")
        if self.others is not None:
            parts.append(f"other processes {self.others:.0%}")
        return f"CPU (% of one core): {', '.join(parts)}; machine {self.machine:.0%} of {os.cpu_count()} cores"


class CpuMeter:
    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pids = [server_pid] if server_pid else []
        self.wall = time.perf_counter()
        self.process = time.process_time()
        self.server = _tree_cpu(self.server_pids)
        self.services = _tree_cpu(SERVICE_PIDS)
        self.machine = psutil.cpu_times()

    @staticmethod
    def _delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())

    def stop(self) -> Cpu:
        wall = max(time.perf_counter() - self.wall, 1e-9)
        api = self._delta(self.server, _tree_cpu(self.server_pids)) / wall if self.server_pids else None
        services = self._delta(self.services, _tree_cpu(SERVICE_PIDS)) / wall if SERVICE_PIDS else None
        bench = (time.process_time() - self.process) / wall
        before, after = self.machine, psutil.cpu_times()
        idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
        total = sum(after) - sum(before)
        busy = (total - idle) / wall  # cores
        others = None if services is None else max(busy - bench - (api or 0.0) - services, 0.0)
        return Cpu(api, bench, services, others, (1 - idle / total) if total > 0 else 0.0)


@dataclass
class Result:
    name: str
    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    checks: dict[str, bool] = field(default_factory=dict)
    cpu: Cpu | None = None

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, pct: int, values: list[float] | None = None) -> float | None:
        values = self.latencies if values is None else values
        if len(values) < 2:
            return None
        return statistics.quantiles(values, n=100, method="inclusive")[pct - 1] * 1000

    def latency(self, values: list[float] | None = None) -> str:
        p50, p99 = self.percentile_ms(50, values), self.percentile_ms(99, values)
        return "no latencies" if p50 is None or p99 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"

    def cpu_text(self) -> str:
        return "" if self.cpu is None else self.cpu.text()

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
    env.tmp = Path(tempfile.mkdtemp(prefix="portal-bench-feed-", dir="/tmp"))
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        asyncio.run(_recreate_database(database_url, BENCH_DB))
        env.external_url = database_url
        database_url = _with_database(database_url, BENCH_DB)
        print(f"database: fresh {BENCH_DB} beside $DATABASE_URL")
    else:
        started = time.perf_counter()
        pg = devservers.start_postgres(env.tmp, database="portal_bench", throwaway=True)
        env.handles.append(pg)
        SERVICE_PIDS.append(pg.pid)
        database_url = pg.url
        print(f"database: throw-away PostgreSQL started in {time.perf_counter() - started:.1f} s")
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        redis = devservers.start_redis(env.tmp, throwaway=True)
        env.handles.append(redis)
        SERVICE_PIDS.append(redis.pid)
        redis_url = redis.url
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = redis_url
    reset_settings()
    from cli.main import migrate

    started = time.perf_counter()
    migrate()
    print(f"migrated in {time.perf_counter() - started:.1f} s")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_api(env: Environment, max_clients: int, workers: int = 1) -> str:
    """`portal serve` in a subprocess (the production entry point: `workers` uvicorn processes, forked
    by one supervisor, whose whole tree the CPU meter counts); its base URL."""
    assert env.tmp is not None
    port = _free_port()
    server_env = dict(os.environ)
    server_env.update(PORTAL_HOST="127.0.0.1", PORTAL_PORT=str(port), PORTAL_WEB_WORKERS=str(workers))
    # A GraphQL request holds one pooled connection from its first read to its end (per process: the
    # clients are spread over the workers by the kernel's accept queue, not evenly, hence the margin).
    server_env.setdefault("PORTAL_DB_POOL_SIZE", str(-(-max_clients // workers) + 4))
    server_env.setdefault("PORTAL_DB_MAX_OVERFLOW", "16")
    portal = Path(sys.executable).with_name("portal")
    command = [str(portal), "serve"] if portal.exists() else [sys.executable, "-c", "from cli.main import main; main()"]
    if not portal.exists():
        command.append("serve")
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
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if env.api.poll() is not None:
            break
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return base_url
        time.sleep(0.1)
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    raise RuntimeError(f"the API did not become ready (exit code {env.api.poll()}):\n{tail}")


def stop_api(env: Environment) -> None:
    api, env.api = env.api, None
    if api is None or api.poll() is not None:
        return
    api.send_signal(signal.SIGINT)  # uvicorn: graceful shutdown (lifespan closes the pools)
    try:
        api.wait(15)
    except subprocess.TimeoutExpired:
        api.kill()
        api.wait()


def api_log_problems(env: Environment) -> list[str]:
    """Warnings, errors and tracebacks the API server logged (its log level is WARNING)."""
    path = env.tmp / "api.log" if env.tmp else None
    if path is None or not path.exists():
        return []
    problems = ('"level": "warning"', '"level": "error"', '"level": "critical"', "Traceback")
    return [line for line in path.read_text(errors="replace").splitlines() if any(p in line for p in problems)]


async def connect() -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(get_settings().require_database_url()))


# --------------------------------------------------------------------------- seeding

# Every statement runs on one connection with the temp tables feed_members / feed_posts /
# invite_patients carrying the ids shared between tables. `$name` placeholders are bound from a dict;
# {uuid} is uuidv7 where the server has it (PostgreSQL 18: time-ordered ids like the app's new_id).
FEED_STEPS: list[tuple[str, str]] = [
    (
        "feed members",
        """
        CREATE TEMP TABLE feed_members (n int PRIMARY KEY, id uuid NOT NULL);
        INSERT INTO feed_members SELECT n, {uuid}() FROM generate_series(1, $members::int) AS n;
        INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
        SELECT id, '136' || lpad(n::text, 8, '0'), '糖友' || n, 'undisclosed', 'Asia/Shanghai',
               $joined::timestamptz, $joined::timestamptz
        FROM feed_members ORDER BY n;
        INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at, notice_version)
        SELECT id, 'in_app', 'service', true, 'registration', $joined::timestamptz, 1 FROM feed_members;
        INSERT INTO community_groups (id, slug, name, condition_code, description, rules_text, cover_url,
                                      visibility, join_policy, allow_anonymous, alias_prefix, member_count,
                                      created_by, created_at, updated_at)
        VALUES ($feed_group::uuid, $feed_slug::text, '糖友互助（压测）', NULL, '2型糖尿病病友交流', '友善发言',
                NULL, 'public', 'open', true, '糖友', $members::int, NULL, $joined::timestamptz, $joined::timestamptz);
        INSERT INTO community_memberships (id, group_id, account_kind, account_id, role, state, notification_level,
                                           joined_at, created_at, updated_at)
        SELECT {uuid}(), $feed_group::uuid, 'patient', id, 'member', 'active', 'all',
               $joined::timestamptz, $joined::timestamptz, $joined::timestamptz
        FROM feed_members ORDER BY n;
        ANALYZE feed_members;
        """,
    ),
    (
        "posts",
        # Post 1 is the newest; one every ~5 minutes going back (100,000 posts ~ 11 months).
        """
        CREATE TEMP TABLE feed_posts (n int PRIMARY KEY, id uuid NOT NULL, author_n int, anonymous bool,
                                      created_at timestamptz);
        INSERT INTO feed_posts
        SELECT n, {uuid}(), 1 + floor(random() * $members::int)::int, random() < $anonymous_share::float8,
               $now::timestamptz - n * interval '5 minutes' - random() * interval '4 minutes'
        FROM generate_series(1, $posts::int) AS n;
        ANALYZE feed_posts;
        INSERT INTO community_posts (id, group_id, author_kind, author_id, anonymous, kind, title, body_md, body_html,
                                     image_urls, status, pinned, locked, comment_count, verified_answer_id,
                                     accepted_answer_id, edited_at, last_activity_at, created_at, updated_at)
        SELECT p.id, $feed_group::uuid, 'patient', m.id, p.anonymous,
               (ARRAY['discussion', 'question', 'experience'])[1 + p.n % 3],
               '第' || p.n || '次复查：'
                   || (ARRAY['空腹血糖', '糖化血红蛋白', '饮食控制', '运动打卡', '胰岛素剂量'])[1 + p.n % 5] || '心得',
               b.body, '<p>' || b.body || '</p>', '[]'::jsonb, 'published', p.n = ANY($pinned::int[]), false,
               (p.n * 7919) % 40, NULL, NULL, NULL, p.created_at, p.created_at, p.created_at
        FROM feed_posts p
        JOIN feed_members m ON m.n = p.author_n
        CROSS JOIN LATERAL (
            SELECT repeat('今天空腹血糖6.1，餐后两小时8.3，坚持快走三十分钟，少吃主食多吃蔬菜。', 1 + p.n % 4) AS body
        ) b
        ORDER BY p.created_at;
        INSERT INTO community_aliases (group_id, account_id, number)
        SELECT $feed_group::uuid, author_id, 1000 + row_number() OVER (ORDER BY author_id)
        FROM (SELECT DISTINCT author_id FROM community_posts WHERE group_id = $feed_group::uuid AND anonymous) a;
        """,
    ),
    (
        "reactions",
        # 0-5 reactions per post from other members, plus the signed-in viewers' likes on every 32nd post.
        """
        INSERT INTO community_reactions (target_kind, target_id, account_kind, account_id, kind, created_at)
        SELECT 'post', p.id, 'patient', m.id, (ARRAY['like', 'helpful', 'hug'])[1 + (p.n + k) % 3],
               p.created_at + k * interval '1 minute'
        FROM feed_posts p
        CROSS JOIN LATERAL generate_series(1, p.n % 6) AS k
        JOIN feed_members m ON m.n = 1 + (p.n * 37 + k * 101) % $members::int
        ON CONFLICT DO NOTHING;
        INSERT INTO community_reactions (target_kind, target_id, account_kind, account_id, kind, created_at)
        SELECT 'post', p.id, 'patient', m.id, 'like', p.created_at + interval '1 hour'
        FROM feed_members m JOIN feed_posts p ON p.n % 32 = m.n % 32
        WHERE m.n <= $viewers::int
        ON CONFLICT DO NOTHING;
        """,
    ),
]

INVITE_STEPS: list[tuple[str, str]] = [
    (
        "invitees",
        # 10% with SMS marketing consent granted, another 10% with it refused, everyone in-app service.
        """
        CREATE TEMP TABLE invite_patients (n int PRIMARY KEY, id uuid NOT NULL);
        INSERT INTO invite_patients SELECT n, {uuid}() FROM generate_series(1, $invitees::int) AS n;
        INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at)
        SELECT id, '137' || lpad(n::text, 8, '0'), '康友' || n, 'undisclosed', 'Asia/Shanghai',
               $joined::timestamptz, $joined::timestamptz
        FROM invite_patients ORDER BY n;
        INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at, notice_version)
        SELECT id, 'in_app', 'service', true, 'registration', $joined::timestamptz, 1 FROM invite_patients
        UNION ALL
        SELECT id, 'sms', 'marketing', n % 10 = 0, 'app', $joined::timestamptz, 2 FROM invite_patients
        WHERE n % 10 IN (0, 5);
        """,
    ),
    (
        "invite group",
        """
        INSERT INTO community_groups (id, slug, name, condition_code, description, rules_text, cover_url,
                                      visibility, join_policy, allow_anonymous, alias_prefix, member_count,
                                      created_by, created_at, updated_at)
        VALUES ($invite_group::uuid, $invite_slug::text, '高血压管理（压测）', NULL, '', '', NULL, 'members', 'open',
                false, '病友', $invitees::int, NULL, $joined::timestamptz, $joined::timestamptz);
        INSERT INTO community_memberships (id, group_id, account_kind, account_id, role, state, notification_level,
                                           joined_at, created_at, updated_at)
        SELECT {uuid}(), $invite_group::uuid, 'patient', id, 'member', 'active', 'all',
               $joined::timestamptz, $joined::timestamptz, $joined::timestamptz
        FROM invite_patients
        UNION ALL
        SELECT {uuid}(), $invite_group::uuid, 'patient', id, 'member',
               CASE WHEN n <= $left::int THEN 'left' ELSE 'pending' END, 'all', NULL,
               $joined::timestamptz, $joined::timestamptz
        FROM feed_members WHERE n <= $left::int + $pending::int
        UNION ALL
        SELECT {uuid}(), $invite_group::uuid, 'staff', {uuid}(), 'expert', 'active', 'all',
               $joined::timestamptz, $joined::timestamptz, $joined::timestamptz
        FROM generate_series(1, $staff::int);
        DROP TABLE feed_members, feed_posts, invite_patients;
        """,
    ),
]
SEEDED_TABLES = [
    "patients",
    "consents",
    "community_groups",
    "community_memberships",
    "community_posts",
    "community_aliases",
    "community_reactions",
]

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


@dataclass
class Seeded:
    feed_group: uuid.UUID
    invite_group: uuid.UUID
    viewers: list[uuid.UUID]  # feed members the clients sign in as
    sms_consenting_invitees: int


async def seed(args: argparse.Namespace) -> Seeded:
    started = time.perf_counter()
    now = clock.now()
    feed_group, invite_group = uuid.uuid4(), uuid.uuid4()
    conn = await connect()
    try:
        version = await conn.fetchval("SHOW server_version_num")
        uuid_fn = "uuidv7" if int(version) >= 180000 else "gen_random_uuid"
        await conn.execute("SET timezone = 'UTC'; SET temp_buffers = '256MB'; SET work_mem = '256MB'")
        params: dict[str, object] = {
            "members": args.members,
            "posts": args.posts,
            "viewers": args.viewers,
            "invitees": args.invitees,
            "joined": now - timedelta(days=400),
            "now": now,
            "feed_group": feed_group,
            "feed_slug": FEED_SLUG,
            "invite_group": invite_group,
            "invite_slug": INVITE_SLUG,
            "anonymous_share": ANONYMOUS_SHARE,
            "pinned": [n for n in PINNED_POSTS if n <= args.posts],
            "left": LEFT_MEMBERS,
            "pending": PENDING_MEMBERS,
            "staff": STAFF_MEMBERS,
        }
        for name, sql in FEED_STEPS + INVITE_STEPS:
            step_started = time.perf_counter()
            await _run_script(conn, sql.format(uuid=uuid_fn), params)
            print(f"    seeded {name:<14} {time.perf_counter() - step_started:6.1f} s")
        step_started = time.perf_counter()
        # As autovacuum would have left tables this size: statistics, visibility map, hint bits.
        await conn.execute(f"VACUUM ANALYZE {', '.join(SEEDED_TABLES)}")
        await conn.execute("CHECKPOINT")
        print(f"    vacuum analyze + checkpoint {time.perf_counter() - step_started:5.1f} s")
        counts = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM community_posts WHERE group_id = $1) AS posts,
                   (SELECT count(*) FROM community_posts WHERE group_id = $1 AND anonymous) AS anonymous,
                   (SELECT count(*) FROM community_posts WHERE group_id = $1 AND pinned) AS pinned,
                   (SELECT count(*) FROM community_aliases WHERE group_id = $1) AS aliases,
                   (SELECT count(*) FROM community_reactions) AS reactions,
                   (SELECT count(*) FROM community_memberships WHERE group_id = $2 AND state = 'active'
                      AND account_kind = 'patient') AS invitees,
                   (SELECT count(*) FROM consents c JOIN community_memberships m
                      ON m.account_id = c.patient_id AND m.group_id = $2 AND m.state = 'active'
                    WHERE c.channel = 'sms' AND c.purpose = 'marketing' AND c.granted) AS sms
            """,
            feed_group,
            invite_group,
        )
        viewers = [
            r["account_id"]
            for r in await conn.fetch(
                "SELECT m.account_id FROM community_memberships m JOIN patients p ON p.id = m.account_id "
                "WHERE m.group_id = $1 ORDER BY p.phone LIMIT $2",
                feed_group,
                args.viewers,
            )
        ]
    finally:
        await conn.close()
    print(
        f"    seeded in {time.perf_counter() - started:.1f} s: {counts['posts']:,} posts "
        f"({counts['anonymous']:,} anonymous, {counts['aliases']:,} aliases, {counts['pinned']} pinned), "
        f"{counts['reactions']:,} reactions; invitation group: {counts['invitees']:,} active patient members, "
        f"{counts['sms']:,} with SMS marketing consent"
    )
    return Seeded(feed_group, invite_group, viewers, int(counts["sms"]))


async def mint_tokens(viewers: list[uuid.UUID]) -> list[str]:
    """Access tokens as a sign-in would issue them (a session row each), one per client."""
    from patients.auth import _start_session

    async with unit_of_work() as session:
        return [(await _start_session(session, Actor(kind=ActorKind.PATIENT, id=pid))).access_token for pid in viewers]


async def deep_cursors(group_id: uuid.UUID, count: int) -> list[str]:
    """Cursors at random points of the feed, as a client deep into it would hold them."""
    from core.pagination import encode_cursor

    conn = await connect()
    try:
        rows = await conn.fetch(
            "SELECT created_at, id FROM community_posts WHERE group_id = $1 AND NOT pinned ORDER BY random() LIMIT $2",
            group_id,
            count,
        )
    finally:
        await conn.close()
    return [encode_cursor(r["created_at"], r["id"]) for r in rows]


# --------------------------------------------------------------------------- B: invitation fan-out


class RssSampler:
    """Samples this process's resident memory while a workload runs (ru_maxrss is a lifetime peak)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.start = self.process.memory_info().rss
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, self.process.memory_info().rss)
            await asyncio.sleep(0.05)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, self.process.memory_info().rss)
        if self._task is not None:
            self._task.cancel()


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@dataclass
class Timed:
    calls: int = 0
    seconds: float = 0.0  # wall time with at least one call in flight (overlapping calls count once)
    durations: list[float] = field(default_factory=list)
    active: int = 0
    busy_since: float = 0.0


def _timing(target: Any, name: str, into: Timed) -> Callable[[], None]:
    """Wraps target.name to time its calls (behaviour unchanged); returns the undo."""
    original = getattr(target, name)

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        if into.active == 0:
            into.busy_since = started
        into.active += 1
        try:
            return await original(*args, **kwargs)
        finally:
            ended = time.perf_counter()
            into.active -= 1
            if into.active == 0:
                into.seconds += ended - into.busy_since
            into.calls += 1
            into.durations.append(ended - started)

    setattr(target, name, timed)
    return lambda: setattr(target, name, original)


async def workload_invitations(seeded: Seeded, args: argparse.Namespace) -> list[Result]:
    from community import events, invitations
    from core import queue

    expected = args.invitees
    print(f"\n== B. invitation fan-out to a group of {expected:,} members (batch size {args.batch_size})")
    marketer = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MARKETER}))
    starts = clock.now() + timedelta(days=7)
    async with unit_of_work() as session:
        created = await events.create_event(
            session,
            marketer,
            events.EventInput(
                kind="offline",
                title="高血压自我管理讲座",
                starts_at=starts,
                ends_at=starts + timedelta(hours=2),
                group_id=seeded.invite_group,
                location="康宁医疗门诊楼三层报告厅",
                capacity=300,
            ),
        )
        event_id = created[0].id
    conn = await connect()
    try:
        outbox_before = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()

    batches, enqueues = Timed(), Timed()
    undo = [_timing(invitations, "invite_batch", batches), _timing(queue, "enqueue", enqueues)]
    rss_before = _max_rss_mib()
    meter = CpuMeter()
    try:
        with RssSampler() as rss:
            started = time.perf_counter()
            async with unit_of_work() as session:
                run = await invitations.start_invitation(session, marketer, event_id, group_ids=[seeded.invite_group])
                run_id = run.id
            started_run = time.perf_counter()
            invited = await invitations.run_invitation(run_id, batch_size=args.batch_size)
            seconds = time.perf_counter() - started
            cpu = meter.stop()
    finally:
        for fn in undo:
            fn()
    first = Result(f"B invite fan-out {expected // 1000}k", invited, seconds, batches.durations, cpu=cpu)
    print(
        f"    start_invitation {(started_run - started) * 1000:.0f} ms; run_invitation: {invited:,} invitations "
        f"in {seconds:.2f} s = {first.rate:,.0f} invitations/s; {first.cpu_text()}"
    )
    print(
        f"    {batches.calls} batches, {first.latency()} per batch; of which after-commit Redis enqueues: "
        f"{enqueues.calls:,} calls, {enqueues.seconds:.2f} s with one in flight ({enqueues.seconds / seconds:.0%} of "
        f"the run)"
    )
    print(
        f"    RSS: {rss.start / 2**20:.0f} MiB before, sampled peak {rss.peak / 2**20:.0f} MiB during "
        f"(+{(rss.peak - rss.start) / 2**20:.0f} MiB); ru_maxrss {rss_before:.0f} -> {_max_rss_mib():.0f} MiB"
    )

    conn = await connect()
    try:
        stats = await conn.fetchrow(
            """
            SELECT (SELECT count(*) FROM community_event_invitations WHERE event_id = $1) AS invitations,
                   (SELECT count(DISTINCT patient_id) FROM community_event_invitations WHERE event_id = $1) AS patients,
                   (SELECT count(*) FROM community_event_invitations WHERE event_id = $1
                      AND channels @> '["sms"]') AS sms,
                   (SELECT count(*) FROM community_event_invitations i
                      LEFT JOIN community_memberships m ON m.account_id = i.patient_id AND m.group_id = $2
                       AND m.account_kind = 'patient' AND m.state = 'active'
                    WHERE i.event_id = $1 AND m.id IS NULL) AS outsiders,
                   (SELECT count(*) FROM community_event_invitations i
                    WHERE i.event_id = $1 AND i.channels @> '["sms"]' AND NOT EXISTS (
                      SELECT 1 FROM consents c WHERE c.patient_id = i.patient_id AND c.channel = 'sms'
                        AND c.purpose = 'marketing' AND c.granted)) AS sms_without_consent,
                   (SELECT status FROM community_invitation_runs WHERE id = $3) AS status,
                   (SELECT invited FROM community_invitation_runs WHERE id = $3) AS run_invited,
                   (SELECT count(*) FROM outbox) - $4 AS outbox_new,
                   (SELECT count(*) FROM outbox WHERE payload ->> 'channel' = 'sms') AS outbox_sms
            """,
            event_id,
            seeded.invite_group,
            run_id,
            outbox_before,
        )
    finally:
        await conn.close()
    check(
        first, "invitations", stats["invitations"] == expected, f"{stats['invitations']:,} rows, expected {expected:,}"
    )
    check(
        first,
        "one per member",
        stats["patients"] == expected and stats["outsiders"] == 0,
        f"{stats['patients']:,} distinct patients, {stats['outsiders']} not active patient members",
    )
    check(
        first,
        "SMS only with consent",
        stats["sms"] == seeded.sms_consenting_invitees and stats["sms_without_consent"] == 0,
        f"{stats['sms']:,} SMS invitations for {seeded.sms_consenting_invitees:,} consenting members",
    )
    check(
        first,
        "run finished",
        stats["status"] == "done" and stats["run_invited"] == expected == invited,
        f"status {stats['status']}, invited {stats['run_invited']:,}, run_invitation returned {invited:,}",
    )
    notices = expected + seeded.sms_consenting_invitees
    check(
        first,
        "outbox notices",
        stats["outbox_new"] == notices and stats["outbox_sms"] == seeded.sms_consenting_invitees,
        f"{stats['outbox_new']:,} new outbox rows ({stats['outbox_sms']:,} SMS), expected {notices:,}",
    )

    # The same group invited again: the whole audience is paged again, nothing is inserted or sent.
    batches = Timed()
    undo_batches = _timing(invitations, "invite_batch", batches)
    meter = CpuMeter()
    try:
        started = time.perf_counter()
        async with unit_of_work() as session:
            rerun = await invitations.start_invitation(session, marketer, event_id, group_ids=[seeded.invite_group])
            rerun_id = rerun.id
        again = await invitations.run_invitation(rerun_id, batch_size=args.batch_size)
        seconds = time.perf_counter() - started
    finally:
        undo_batches()
    second = Result(f"B invite again (all invited) {expected // 1000}k", expected, seconds, batches.durations)
    second.cpu = meter.stop()
    print(
        f"    second run for the same group: {again} new invitations, audience of {expected:,} paged in "
        f"{seconds:.2f} s = {second.rate:,.0f} members/s, {second.latency()} per batch"
    )
    conn = await connect()
    try:
        total = await conn.fetchval("SELECT count(*) FROM community_event_invitations WHERE event_id = $1", event_id)
        outbox_after = await conn.fetchval("SELECT count(*) FROM outbox")
    finally:
        await conn.close()
    check(second, "nothing new", again == 0 and total == expected, f"{again} created, {total:,} invitations in all")
    check(
        second,
        "no notices sent twice",
        outbox_after - outbox_before == notices,
        f"{outbox_after - outbox_before:,} outbox rows",
    )
    return [first, second]


# --------------------------------------------------------------------------- A: the feed over HTTP


@dataclass
class LoadStats:
    first: list[float] = field(default_factory=list)  # pinned + first page
    later: list[float] = field(default_factory=list)  # after a cursor
    failures: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    cpu: Cpu | None = None
    in_flight_at_end: int = 0


def _validate(body: Any, first_page: bool, pinned: int, size: int) -> tuple[str | None, str | None, bool]:
    """(failure, endCursor, hasNextPage) of one feed response."""
    if not isinstance(body, dict):
        return "not a JSON object", None, False
    if body.get("errors"):
        error = body["errors"][0]
        return f"graphql {error.get('extensions', {}).get('code') or error.get('message', '?')[:60]}", None, False
    group = (body.get("data") or {}).get("group")
    if group is None:
        return "group is null", None, False
    feed = group["feed"]
    posts = feed["posts"]
    page = posts["pageInfo"]
    if len(posts["edges"]) != size and page["hasNextPage"]:
        return "short page", None, False
    if first_page and len(feed["pinned"]) != pinned:
        return "pinned posts missing", None, False
    if not first_page and feed["pinned"]:
        return "pinned posts after a cursor", None, False
    return None, page["endCursor"], bool(page["hasNextPage"])


async def drive(
    port: int,
    tokens: list[str],
    cursors: list[str],
    *,
    clients: int,
    warmup: float,
    seconds: float,
    pages: int,
    size: int,
    pinned: int,
    seed: int,
    server_pid: int | None = None,
) -> LoadStats:
    """`clients` closed-loop clients. A warm-up of at least `warmup` seconds that lasts until every client has
    had an answer (so the queue is full at high concurrency), then a window of `seconds` in which every
    request that ends is counted (steady state: no ramp-up or drain inside it). A client session reads up to
    `pages` pages from the top or from a deep cursor. Errors count whenever they happen."""
    stats = LoadStats()
    window: list[float] = []  # [start, end] once the warm-up is over
    answered: set[int] = set()
    all_answered = asyncio.Event()

    def answer(index: int) -> None:
        answered.add(index)
        if len(answered) == clients:
            all_answered.set()

    def running() -> bool:
        return not window or time.perf_counter() < window[1]

    async def client(index: int) -> None:
        async with Http1(port) as conn:
            await session(index, conn)

    async def session(index: int, http: Http1) -> None:
        rng = random.Random(seed * 1000 + index)
        token = tokens[index % len(tokens)]
        while running():
            after: str | None = None if rng.random() < 0.5 else rng.choice(cursors)
            for _ in range(rng.randint(1, pages)):
                if not running():
                    return
                first_page = after is None
                variables = {"slug": FEED_SLUG, "first": size, "after": after}
                started = time.perf_counter()
                try:
                    status, content = await http.post(
                        orjson.dumps({"query": FEED_QUERY, "variables": variables}), token
                    )
                    ended = time.perf_counter()
                    answer(index)
                    if status != 200:
                        stats.failures[f"http {status}"] += 1
                        break
                    failure, after, more = _validate(orjson.loads(content), first_page, pinned, size)
                except (OSError, asyncio.IncompleteReadError, ValueError, KeyError, TypeError) as exc:
                    answer(index)
                    stats.failures[type(exc).__name__] += 1
                    break
                if failure:
                    stats.failures[failure] += 1
                    break
                if window and window[0] <= ended <= window[1]:
                    stats.bytes += len(content)
                    (stats.first if first_page else stats.later).append(ended - started)
                elif window and ended > window[1]:
                    stats.in_flight_at_end += 1
                if not more:
                    break

    async def coordinator() -> None:
        await asyncio.sleep(warmup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_answered.wait(), 120)
        meter = CpuMeter(server_pid)
        now = time.perf_counter()
        window.extend((now, now + seconds))
        await asyncio.sleep(seconds)
        stats.cpu = meter.stop()

    await asyncio.gather(coordinator(), *(client(i) for i in range(clients)))
    return stats


async def sample_response(http: httpx.AsyncClient, token: str, size: int) -> None:
    response = await http.post(
        "/graphql",
        json={"query": FEED_QUERY, "variables": {"slug": FEED_SLUG, "first": size, "after": None}},
        headers={"authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(f"the feed query failed: {body['errors']}")
    feed = body["data"]["group"]["feed"]
    nodes = feed["pinned"] + [e["node"] for e in feed["posts"]["edges"]]
    anonymous = sum(n["author"]["anonymous"] for n in nodes)
    reacted = sum(bool(n["viewerReactions"]) for n in nodes)
    example = next((n["author"]["displayName"] for n in nodes if n["author"]["anonymous"]), "-")
    print(
        f"    first page: {len(feed['pinned'])} pinned + {len(feed['posts']['edges'])} posts, "
        f"{len(response.content):,} bytes; {anonymous} anonymous authors (e.g. {example}), "
        f"{reacted} with the viewer's reactions"
    )


async def workload_feed(
    base_url: str, server_pid: int, tokens: list[str], cursors: list[str], pinned: int, args: argparse.Namespace
) -> tuple[list[Result], list[Versus]]:
    levels = args.levels
    print(
        f"\n== A. group feed over HTTP: {args.duration:g} s per level and side in {args.rounds} interleaved windows "
        f"(API, raw asyncpg, API, ...), first={args.page_size}, sessions of 1-{args.pages} pages (half from the top, "
        f"half from a deep cursor)"
    )
    # The statements of real feed requests (a quarter first pages, the rest after deep cursors), captured in
    # this process, then replayed through raw asyncpg in windows interleaved with the API's.
    requests = [
        (
            {
                "query": FEED_QUERY,
                "variables": {"slug": FEED_SLUG, "first": args.page_size, "after": None if i % 4 == 0 else cursors[i]},
            },
            {"authorization": f"Bearer {tokens[i % len(tokens)]}"},
        )
        for i in range(min(48, len(cursors)))
    ]
    try:
        traces, _ = await capture_traces(requests)
    finally:
        await dispose_engine()
    print(f"    raw replay: {describe_traces(traces)}")
    conns = await raw_connections(max(levels))
    limits = httpx.Limits(max_connections=max(levels), max_keepalive_connections=max(levels))
    results: list[Result] = []
    versus: list[Versus] = []
    window = args.duration / args.rounds
    port = int(base_url.rsplit(":", 1)[1])
    try:
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
            await sample_response(http, tokens[0], args.page_size)
            common = {"pages": args.pages, "size": args.page_size, "pinned": pinned}
            # One warm-up at the highest level opens every connection and warms caches on both sides.
            await drive(port, tokens, cursors, clients=max(levels), warmup=args.warmup, seconds=0, seed=0, **common)
            await drive_raw(conns, traces, clients=max(levels), warmup=1, seconds=0, seed=0)
            for level in levels:
                vs = Versus("group feed", level)
                result = Result(f"A feed x{level} clients")
                first: list[float] = []
                later: list[float] = []
                size_bytes = 0
                for round_ in range(args.rounds):
                    stats = await drive(
                        port,
                        tokens,
                        cursors,
                        clients=level,
                        warmup=min(args.warmup, 1),
                        seconds=window,
                        seed=level * 10 + round_ + 1,
                        server_pid=server_pid,
                        **common,
                    )
                    first += stats.first
                    later += stats.later
                    size_bytes += stats.bytes
                    result.failures.update(stats.failures)
                    result.cpu = stats.cpu
                    vs.api.add(stats.first + stats.later, window, stats.cpu.api if stats.cpu else None)
                    raw = await drive_raw(conns, traces, clients=level, warmup=0.5, seconds=window, seed=round_)
                    result.failures.update({f"raw {k}": v for k, v in raw.failures.items()})
                    vs.raw.add(raw.latencies, window, raw.cpu.bench if raw.cpu else None)
                result.latencies = first + later
                result.ops = len(result.latencies)
                result.seconds = args.duration
                errors = sum(result.failures.values())
                print(
                    f"    x{level:<3} {result.ops:>6,} requests in {args.duration:g} s = {result.rate:7,.1f} req/s, "
                    f"{result.latency()}, {errors} errors{f' {dict(result.failures)}' if errors else ''}"
                )
                print(
                    f"          first pages ({len(first):,}): {result.latency(first)}; after a cursor "
                    f"({len(later):,}): {result.latency(later)}; "
                    f"{size_bytes / max(result.ops, 1) / 1024:.1f} KiB per response"
                )
                print(f"          last API window: {result.cpu_text()}")
                print(vs.line())
                results.append(result)
                versus.append(vs)
    finally:
        for conn in conns:
            await conn.close()
    return results, versus


# --------------------------------------------------------------------------- the same SQL through raw asyncpg

# One API request as the database saw it: the statements the app sent, in order, with their parameters.
Trace = list[tuple[str, tuple[Any, ...]]]


async def capture_traces(requests: list[tuple[dict[str, Any], dict[str, str]]]) -> tuple[list[Trace], list[Any]]:
    """Serves each (GraphQL payload, headers) once in this process (the real ASGI app over httpx's ASGI
    transport) and records, per request, every statement the app's engine sent with its parameters
    (SQLAlchemy's before_cursor_execute: the SQL text and the driver-level parameters asyncpg received)."""
    from sqlalchemy import event

    from api.app import create_app
    from core.db import get_engine

    current: list[tuple[str, tuple[Any, ...]]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        current.append((statement, tuple(parameters or ())))

    traces: list[Trace] = []
    bodies: list[Any] = []
    sync_engine = get_engine().sync_engine
    event.listen(sync_engine, "before_cursor_execute", before)
    try:
        transport = httpx.ASGITransport(app=create_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            for payload, headers in requests:
                current.clear()
                response = await http.post("/graphql", json=payload, headers=headers)
                body = response.json()
                if response.status_code != 200 or body.get("errors"):
                    raise RuntimeError(f"capture request failed: {response.status_code} {response.text[:300]}")
                traces.append(list(current))
                bodies.append(body)
    finally:
        event.remove(sync_engine, "before_cursor_execute", before)
    return traces, bodies


def describe_traces(traces: list[Trace]) -> str:
    counts = Counter(len(t) for t in traces)
    shown = ", ".join(f"{n} statements x{c}" for n, c in sorted(counts.items()))
    return f"{len(traces)} captured requests ({shown})"


@dataclass
class RawStats:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu: Cpu | None = None


async def raw_connections(count: int) -> list[asyncpg.Connection]:
    return [await connect() for _ in range(count)]


async def drive_raw(
    conns: list[asyncpg.Connection], traces: list[Trace], *, clients: int, warmup: float, seconds: float, seed: int
) -> RawStats:
    """`clients` closed-loop clients, each on its own asyncpg connection (as a pool would lend it), each
    "request" one captured trace replayed statement by statement inside a transaction (as the app's
    session runs them); warm-up and window as `drive`."""
    stats = RawStats()
    window: list[float] = []

    def running() -> bool:
        return not window or time.perf_counter() < window[1]

    async def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        conn = conns[index]
        while running():
            trace = traces[rng.randrange(len(traces))]
            started = time.perf_counter()
            try:
                async with conn.transaction():
                    for sql, params in trace:
                        if sql.startswith(PLAN_PER_CALL):  # as core/rawsql.py runs it: planned with its values
                            await (await conn.prepare(sql)).fetch(*params)
                        else:
                            await conn.fetch(sql, *params)
            except asyncpg.PostgresError as exc:
                stats.failures[type(exc).__name__] += 1
                continue
            ended = time.perf_counter()
            if window and window[0] <= ended <= window[1]:
                stats.latencies.append(ended - started)

    async def coordinator() -> None:
        await asyncio.sleep(warmup)
        meter = CpuMeter()
        now = time.perf_counter()
        window.extend((now, now + seconds))
        await asyncio.sleep(seconds)
        stats.cpu = meter.stop()

    await asyncio.gather(coordinator(), *(client(i) for i in range(clients)))
    return stats


@dataclass
class Side:
    """One side (API or raw) of a level, summed over its interleaved windows."""

    ops: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0  # the API server process (API side) or this process (raw side)

    def add(self, latencies: list[float], seconds: float, cores: float | None) -> None:
        self.ops += len(latencies)
        self.seconds += seconds
        self.latencies += latencies
        self.cpu_seconds += (cores or 0.0) * seconds

    @property
    def rate(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def pct(self, p: int) -> float:
        if len(self.latencies) < 2:
            return float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[p - 1] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.cpu_seconds / self.ops * 1000 if self.ops else float("nan")


@dataclass
class Versus:
    name: str
    clients: int
    api: Side = field(default_factory=Side)
    raw: Side = field(default_factory=Side)

    @property
    def ratio(self) -> float:
        return self.api.rate / self.raw.rate if self.raw.rate else float("nan")

    def line(self) -> str:
        return (
            f"    {self.name:<14} x{self.clients:<3} API {self.api.rate:7,.1f} req/s p50 {self.api.pct(50):7.1f} "
            f"p99 {self.api.pct(99):7.1f} ms, {self.api.cpu_ms:5.1f} ms API CPU/req | raw asyncpg "
            f"{self.raw.rate:7,.1f} req/s p50 {self.raw.pct(50):6.1f} p99 {self.raw.pct(99):6.1f} ms, "
            f"{self.raw.cpu_ms:4.2f} ms client CPU/req | API/raw {self.ratio:.3f}"
        )


def print_versus(rows: list[Versus]) -> None:
    print("\n== API vs the same SQL through raw asyncpg (interleaved windows, same run)")
    header = (
        f"    {'workload':<14} {'cl':>3} {'API r/s':>8} {'p50':>7} {'p99':>7} {'CPU ms':>6} "
        f"{'raw r/s':>8} {'p50':>6} {'p99':>6} {'ratio':>6}"
    )
    print(header)
    for r in rows:
        print(
            f"    {r.name:<14} {r.clients:>3} {r.api.rate:>8,.1f} {r.api.pct(50):>7.1f} {r.api.pct(99):>7.1f} "
            f"{r.api.cpu_ms:>6.1f} {r.raw.rate:>8,.1f} {r.raw.pct(50):>6.1f} {r.raw.pct(99):>6.1f} {r.ratio:>6.3f}"
        )
    print(
        "    CPU ms = API server process CPU time / API requests; p50/p99 in ms, client side; "
        "ratio = API req/s / raw req/s"
    )


# --------------------------------------------------------------------------- report


def machine_info() -> str:
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    memory = psutil.virtual_memory().total / 2**30
    return (
        f"nproc {usable} (cpu_count {cpus}), {memory:.0f} GiB RAM, {platform.machine()} {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def print_summary(results: list[Result], server: str, total: float) -> None:
    print("\n== summary")
    print(f"    {machine_info()}")
    print(f"    {server}")
    header = (
        f"    {'workload':<34} {'ops':>7} {'seconds':>7} {'ops/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
        f"{'api':>5} {'bench':>5} {'db':>5} {'other':>5} {'host':>5}  checks"
    )
    print(header)
    print("    " + "-" * (len(header) - 4))
    for r in results:
        p50, p99 = r.percentile_ms(50), r.percentile_ms(99)
        cpu = r.cpu or Cpu(None, 0.0, None, None, 0.0)
        print(
            f"    {r.name:<34} {r.ops:>7,} {r.seconds:>7.2f} {r.rate:>8,.1f} "
            f"{'-' if p50 is None else f'{p50:.1f}':>8} {'-' if p99 is None else f'{p99:.1f}':>8} "
            f"{sum(r.failures.values()):>6} {_pct(cpu.api):>5} {_pct(r.cpu and cpu.bench):>5} "
            f"{_pct(cpu.services):>5} {_pct(cpu.others):>5} {_pct(r.cpu and cpu.machine):>5}  "
            f"{'ok' if r.ok else 'FAILED'}"
        )
    print("    A: ops = feed requests (HTTP 200, no GraphQL errors, full pages); latency per request, client side")
    print("    B: ops = invitations created (fan-out) or audience members paged (second run); latency per batch")
    print(
        "    CPU in % of one core: api = the API server process, bench = this process (clients / fan-out), "
        "db = PostgreSQL + Redis, other = other processes on the host; host = share of all cores busy"
    )
    print(f"    peak RSS of this process (ru_maxrss) {_max_rss_mib():.0f} MiB")
    print(f"    total runtime {total:.1f} s")


async def server_version() -> str:
    conn = await connect()
    try:
        version = await conn.fetchval("SHOW server_version")
        buffers = await conn.fetchval("SHOW shared_buffers")
    finally:
        await conn.close()
    return f"PostgreSQL {version}, shared_buffers {buffers}"


@dataclass
class Prepared:
    server: str
    seeded: Seeded
    tokens: list[str]
    cursors: list[str]
    pinned: int
    results: list[Result]


async def prepare(args: argparse.Namespace) -> Prepared:
    """Seed, run the invitation workload (B, in this process), mint tokens and pick deep cursors."""
    try:
        server = await server_version()
        print(f"    {server}; {machine_info()}")
        print("\n== seeding")
        seeded = await seed(args)
        results = await workload_invitations(seeded, args) if args.invitees else []
        tokens = await mint_tokens(seeded.viewers)
        cursors = await deep_cursors(seeded.feed_group, 500)
        pinned = len([n for n in PINNED_POSTS if n <= args.posts])
        return Prepared(server, seeded, tokens, cursors, pinned, results)
    finally:
        from core import queue

        await queue.close_pool()
        await dispose_engine()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2_000, help="members (authors) of the feed group")
    parser.add_argument("--posts", type=int, default=100_000, help="published posts in the feed group")
    parser.add_argument("--viewers", type=int, default=64, help="members signed in (one token per client)")
    parser.add_argument(
        "--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 16, 64], help="clients, e.g. 1,16,64"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds measured per level")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up before the levels")
    parser.add_argument("--pages", type=int, default=4, help="pages per client session: 1 to this many")
    parser.add_argument("--page-size", type=int, default=20, help="first: per request")
    parser.add_argument("--invitees", type=int, default=50_000, help="members of the invited group (0: skip B)")
    parser.add_argument("--batch-size", type=int, default=500, help="run_invitation batch size")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved API / raw asyncpg windows per level")
    parser.add_argument("--api-workers", type=int, default=1, help="API processes (portal serve --workers)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="development run (~1-2 min): 20,000 posts, no invitation workload, 6 s per level and side",
    )
    args = parser.parse_args()
    if args.quick:
        args.posts, args.invitees, args.duration, args.warmup = 20_000, 0, 6, 2
    if args.members < LEFT_MEMBERS + PENDING_MEMBERS or args.viewers > args.members:
        parser.error(f"--members must be at least {LEFT_MEMBERS + PENDING_MEMBERS} and at least --viewers")
    return args


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_ACCESS_TOKEN_TTL_SECONDS", "3600")  # outlives any run
    reset_settings()
    from core.logging import configure_logging

    configure_logging()
    env = Environment()
    results: list[Result] = []
    versus: list[Versus] = []
    try:
        start_environment(env)
        prepared = asyncio.run(prepare(args))
        results += prepared.results
        server = prepared.server
        api_started = time.perf_counter()
        base_url = start_api(env, max(args.levels), args.api_workers)
        assert env.api is not None
        ready = time.perf_counter() - api_started
        print(
            f"\n    API (portal serve, {args.api_workers} worker(s), pid {env.api.pid}) ready at {base_url} "
            f"in {ready:.1f} s"
        )
        feed_results, versus = asyncio.run(
            workload_feed(base_url, env.api.pid, prepared.tokens, prepared.cursors, prepared.pinned, args)
        )
        stop_api(env)
        problems = api_log_problems(env)
        print(f"    API server log: {len(problems)} warnings/errors")
        for line in problems[:5]:
            print(f"      {line[:300]}")
        if feed_results:
            check(feed_results[-1], "API log has no warnings or errors", not problems, f"{len(problems)} lines")
        results = feed_results + results
    finally:
        env.stop()
    print_summary(results, server, time.perf_counter() - started)
    print_versus(versus)
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
