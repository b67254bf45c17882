"""The social layer's benchmarks from one command (a benchmark, not a test).

    .venv/bin/python -m bench.social                   # A, then B; about five minutes on 2 cores
    .venv/bin/python -m bench.social --fanout-only     # A only: seeding + two fan-outs, about a minute
    .venv/bin/python -m bench.social --quick           # A with 50,000 followers, B on 20,000 posts

A. Notification fan-out. A doctor (active staff, doctor role, expert of a public group) with 50,000
   followers publishes a post through `community.posts.create_post`; the run it starts is then done by
   `social.fanout.run`, the body of the worker's `social.notify_run` job, called directly (batches of
   2,000). The followers are seeded with set-based SQL and include everyone the rules leave out: 1%
   erased, 2% in a block with the doctor (either way), 5% who switched followed people's posts off in the
   app, and members of the group at level `none` or `highlights`; 2% want the kind on WeChat (with
   consent), so the outreach policy's path runs too. Measured: wall time from the post's commit to the
   last notification (target: all created in < 10 s), notifications per second, this process's peak RSS
   over its start (memory bounded: one batch at a time), statements sent. Verified: exactly one
   notification per eligible follower and none for the others, the WeChat outbox rows, and that a second
   run adds nothing. Then a second post's run is killed midway (an error injected halfway through) and
   run again: still exactly one notification per eligible follower.
B. bench/social_reads.py in the same environment (skipped with --fanout-only): the following feed and
   post search at 16 and 64 clients over HTTP next to raw asyncpg running the same statements, and a
   5 MB photo uploaded end to end (bench/uploads.py).

Unless DATABASE_URL / REDIS_URL are set, throw-away PostgreSQL and Redis are started (and stopped at the
end), as in bench/feed.py.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # Run as a script, bench/ comes first on sys.path, where bench/content.py would shadow the content package.
    _BENCH_DIR = Path(__file__).resolve().parent
    sys.path[:] = [str(_BENCH_DIR.parent)] + [p for p in sys.path if Path(p or ".").resolve() != _BENCH_DIR]

from sqlalchemy import event

from bench import feed as fb
from core import clock
from core.db import dispose_engine, get_engine, unit_of_work
from core.identity import Actor, ActorKind, Role
from core.settings import reset_settings

FANOUT_SLUG = "bench-fanout"
TARGET_SECONDS = 10.0

# Who among the followers (numbered 1..N) the rules leave out, by their number.
ERASED = 7  # n % 100
BLOCKED_THE_DOCTOR = 13  # n % 100
BLOCKED_BY_DOCTOR = 29  # n % 100
IN_APP_OFF = 1  # n % 20
WECHAT_ON = 3  # n % 50: the kind on WeChat and consent for service messages there
LEVEL_NONE, LEVEL_HIGHLIGHTS = 0, 10  # n % 30 (members: n % 10 == 0)


def eligible(n: int) -> bool:
    if n % 100 in (ERASED, BLOCKED_THE_DOCTOR, BLOCKED_BY_DOCTOR) or n % 20 == IN_APP_OFF:
        return False
    return not (n % 10 == 0 and n % 30 in (LEVEL_NONE, LEVEL_HIGHLIGHTS))


SEED_SQL = """
CREATE TEMP TABLE fan_patients (n int PRIMARY KEY, id uuid NOT NULL);
INSERT INTO fan_patients SELECT n, {uuid}() FROM generate_series(1, $followers::int) AS n;
INSERT INTO patients (id, phone, nickname, gender, timezone, created_at, updated_at, erased_at)
SELECT id, '137' || lpad(n::text, 8, '0'), '关注者' || n, 'undisclosed', 'Asia/Shanghai', $joined::timestamptz,
       $joined::timestamptz, CASE WHEN n % 100 = $erased::int THEN $joined::timestamptz END
FROM fan_patients ORDER BY n;
INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at, notice_version)
SELECT id, 'in_app', 'service', true, 'registration', $joined::timestamptz, 1 FROM fan_patients;
INSERT INTO consents (patient_id, channel, purpose, granted, source, changed_at, notice_version)
SELECT id, 'wechat', 'service', true, 'app', $joined::timestamptz, 1 FROM fan_patients WHERE n % 50 = $wechat::int;
INSERT INTO staff (id, email, name, password_hash, active, failed_logins, created_at, updated_at)
VALUES ($doctor::uuid, 'bench-fanout-doctor@example.cn', '王医生', 'not-a-hash', true, 0, $joined::timestamptz,
        $joined::timestamptz);
INSERT INTO staff_roles (staff_id, role) VALUES ($doctor::uuid, 'doctor');
INSERT INTO community_groups (id, slug, name, condition_code, description, rules_text, cover_url, visibility,
                              join_policy, allow_anonymous, alias_prefix, member_count, created_by, created_at,
                              updated_at)
VALUES ($group::uuid, $slug::text, '控糖课堂（压测）', NULL, '医生答疑', '友善发言', NULL, 'public', 'open', false,
        '糖友', 0, NULL, $joined::timestamptz, $joined::timestamptz);
INSERT INTO community_memberships (id, group_id, account_kind, account_id, role, state, notification_level,
                                   joined_at, created_at, updated_at)
VALUES ({uuid}(), $group::uuid, 'staff', $doctor::uuid, 'expert', 'active', 'all', $joined::timestamptz,
        $joined::timestamptz, $joined::timestamptz);
INSERT INTO community_memberships (id, group_id, account_kind, account_id, role, state, notification_level,
                                   joined_at, created_at, updated_at)
SELECT {uuid}(), $group::uuid, 'patient', id, 'member', 'active',
       CASE n % 30 WHEN $none::int THEN 'none' WHEN $highlights::int THEN 'highlights' ELSE 'all' END,
       $joined::timestamptz, $joined::timestamptz, $joined::timestamptz
FROM fan_patients WHERE n % 10 = 0;
INSERT INTO social_follows (follower_kind, follower_id, followee_kind, followee_id, created_at)
SELECT 'patient', id, 'staff', $doctor::uuid, $joined::timestamptz + n * interval '1 second' FROM fan_patients;
INSERT INTO social_blocks (blocker_kind, blocker_id, blocked_kind, blocked_id, created_at)
SELECT 'patient', id, 'staff', $doctor::uuid, $joined::timestamptz FROM fan_patients WHERE n % 100 = $blocker::int;
INSERT INTO social_blocks (blocker_kind, blocker_id, blocked_kind, blocked_id, created_at)
SELECT 'staff', $doctor::uuid, 'patient', id, $joined::timestamptz FROM fan_patients WHERE n % 100 = $blocked::int;
INSERT INTO social_notification_prefs (account_kind, account_id, kind, channel, enabled, updated_at)
SELECT 'patient', id, 'followed_post', 'in_app', false, $joined::timestamptz FROM fan_patients
WHERE n % 20 = $in_app_off::int;
INSERT INTO social_notification_prefs (account_kind, account_id, kind, channel, enabled, updated_at)
SELECT 'patient', id, 'followed_post', 'wechat', true, $joined::timestamptz FROM fan_patients
WHERE n % 50 = $wechat::int;
UPDATE community_groups SET member_count = (SELECT count(*) FROM community_memberships WHERE group_id = $group::uuid)
WHERE id = $group::uuid
"""


async def seed_fanout(followers: int) -> tuple[uuid.UUID, uuid.UUID]:
    started = time.perf_counter()
    doctor, group = uuid.uuid4(), uuid.uuid4()
    conn = await fb.connect()
    try:
        version = await conn.fetchval("SHOW server_version_num")
        uuid_fn = "uuidv7" if int(version) >= 180000 else "gen_random_uuid"
        params: dict[str, object] = {
            "followers": followers,
            "joined": clock.now() - timedelta(days=200),
            "doctor": doctor,
            "group": group,
            "slug": FANOUT_SLUG,
            "erased": ERASED,
            "wechat": WECHAT_ON,
            "none": LEVEL_NONE,
            "highlights": LEVEL_HIGHLIGHTS,
            "blocker": BLOCKED_THE_DOCTOR,
            "blocked": BLOCKED_BY_DOCTOR,
            "in_app_off": IN_APP_OFF,
        }
        await fb._run_script(conn, SEED_SQL.format(uuid=uuid_fn), params)
        await conn.execute(
            "VACUUM ANALYZE patients, consents, community_memberships, social_follows, social_blocks,"
            " social_notification_prefs, staff, staff_roles"
        )
        await conn.execute("CHECKPOINT")
        count = await conn.fetchval("SELECT count(*) FROM social_follows WHERE followee_id = $1", doctor)
    finally:
        await conn.close()
    print(f"    seeded {count:,} followers of one doctor in {time.perf_counter() - started:.1f} s")
    return doctor, group


class Statements:
    """Counts the statements this process sends through the application's engine."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, *args: Any) -> None:
        self.count += 1

    def __enter__(self) -> Statements:
        event.listen(get_engine().sync_engine, "before_cursor_execute", self)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(get_engine().sync_engine, "before_cursor_execute", self)


async def _publish(doctor: Actor, group: uuid.UUID, title: str) -> tuple[uuid.UUID, uuid.UUID, float]:
    """The doctor's post through the real service; (post id, its run id, when it committed)."""
    from community import posts
    from social.models import NotifyRun

    async with unit_of_work() as session:
        created = await posts.create_post(
            session, doctor, group_id=group, kind="discussion", title=title, body="糖尿病患者秋冬季节的饮食要点"
        )
    committed = time.perf_counter()
    async with unit_of_work() as session:
        from sqlalchemy import select

        run_id = await session.scalar(select(NotifyRun.id).where(NotifyRun.key == f"post:{created.item.id}"))
    assert run_id is not None, "the post started no notification run"
    return created.item.id, run_id, committed


async def _counts(post_id: uuid.UUID) -> tuple[int, int, set[int]]:
    """(notifications, distinct recipients, follower numbers notified) of the post's fan-out."""
    conn = await fb.connect()
    try:
        total, distinct = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT recipient_id) FROM social_notifications WHERE key = $1",
            f"followed_post:{post_id}",
        )
        numbers = {
            int(r[0])
            for r in await conn.fetch(
                "SELECT substr(p.nickname, 4) FROM social_notifications s JOIN patients p ON p.id = s.recipient_id"
                " WHERE s.key = $1",
                f"followed_post:{post_id}",
            )
        }
    finally:
        await conn.close()
    return int(total), int(distinct), numbers


async def _wechat_rows() -> int:
    from social.centre import WECHAT_TOPIC

    conn = await fb.connect()
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", WECHAT_TOPIC))
    finally:
        await conn.close()


async def workload_fanout(args: argparse.Namespace) -> list[fb.Result]:
    from social import centre, fanout

    followers = args.followers
    expected = {n for n in range(1, followers + 1) if eligible(n)}
    expected_wechat = sum(1 for n in expected if n % 50 == WECHAT_ON)
    print(f"\n== A. notification fan-out: a post by a doctor with {followers:,} followers (batch {args.batch:,})")
    doctor_id, group = await seed_fanout(followers)
    doctor = Actor(kind=ActorKind.STAFF, id=doctor_id, roles=frozenset({Role.DOCTOR}))
    results: list[fb.Result] = []

    result = fb.Result("notification fan-out")
    post_id, run_id, committed = await _publish(doctor, group, "秋冬控糖提醒")
    meter = fb.CpuMeter()
    with fb.RssSampler() as rss, Statements() as statements:
        started = time.perf_counter()
        created = await fanout.run(run_id, batch=args.batch)
        ran = time.perf_counter() - started
    from_commit = time.perf_counter() - committed
    result.cpu = meter.stop()
    result.ops, result.seconds = created, ran
    total, distinct, numbers = await _counts(post_id)
    grown = (rss.peak - rss.start) / 2**20
    print(
        f"    {created:,} notifications in {ran:.2f} s ({created / ran:,.0f}/s; {from_commit:.2f} s from the post's"
        f" commit), {statements.count} statements, peak RSS +{grown:.1f} MiB over {rss.start / 2**20:.0f} MiB"
    )
    print(f"    {result.cpu_text()}")
    fb.check(result, f"all created in < {TARGET_SECONDS:g} s", from_commit < TARGET_SECONDS, f"{from_commit:.2f} s")
    fb.check(result, "memory bounded (peak RSS + < 64 MiB)", grown < 64, f"+{grown:.1f} MiB")
    fb.check(
        result,
        "exactly one per eligible follower, none for the others",
        total == distinct == len(expected) and numbers == expected,
        f"{total:,} notifications, {distinct:,} recipients, {len(expected):,} eligible",
    )
    wechat = await _wechat_rows()
    fb.check(result, "WeChat through the outreach policy", wechat == expected_wechat, f"{wechat} outbox rows")
    again = await fanout.run(run_id, batch=args.batch)
    fb.check(result, "a second run adds nothing", again == 0 and (await _counts(post_id))[0] == total, f"{again}")
    results.append(result)

    killed = fb.Result("fan-out killed midway, run again")
    post_id, run_id, committed = await _publish(doctor, group, "年终复查安排")
    original, calls, killed_at = centre.write, 0, 2 + followers // args.batch // 2
    raised = False

    async def dies_in_the_middle(session: Any, drafts: Any) -> int:
        nonlocal calls
        calls += 1
        written = await original(session, drafts)
        if calls == killed_at:  # the mentions step, half the batches committed, killed inside the next
            raise RuntimeError("worker killed")
        return written

    setattr(centre, "write", dies_in_the_middle)  # noqa: B010 (a stand-in for the module's function)
    try:
        await fanout.run(run_id, batch=args.batch)
    except RuntimeError:
        raised = True
    finally:
        setattr(centre, "write", original)  # noqa: B010
    before = (await _counts(post_id))[0]
    started = time.perf_counter()
    resumed = await fanout.run(run_id, batch=args.batch)
    killed.ops, killed.seconds = resumed, time.perf_counter() - started
    total, distinct, numbers = await _counts(post_id)
    print(f"    killed after {before:,} notifications; the rerun added {resumed:,} in {killed.seconds:.2f} s")
    fb.check(
        killed,
        "exactly one per eligible follower after the rerun",
        raised and 0 < before < total and total == distinct == len(expected) and numbers == expected,
        f"{total:,} notifications, {distinct:,} recipients",
    )
    results.append(killed)
    return results


async def prepare_fanout(args: argparse.Namespace) -> list[fb.Result]:
    try:
        print(f"    {await fb.server_version()}; {fb.machine_info()}")
        return await workload_fanout(args)
    finally:
        from core import queue

        await queue.close_pool()
        await dispose_engine()


def reads_args(args: argparse.Namespace) -> argparse.Namespace:
    """bench/social_reads.py's options for B."""
    quick = args.quick
    return argparse.Namespace(
        members=2_000,
        posts=20_000 if quick else args.posts,
        viewers=64,
        follows=40,
        levels=[16, 64],
        duration=6 if quick else args.duration,
        rounds=2,
        warmup=2 if quick else 3,
        page_size=20,
        uploads=3 if quick else 5,
        quick=quick,
        invitees=0,
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followers", type=int, default=50_000, help="followers of the doctor (A)")
    parser.add_argument("--batch", type=int, default=2_000, help="fan-out batch size (A)")
    parser.add_argument("--posts", type=int, default=100_000, help="posts of the read workloads (B)")
    parser.add_argument("--duration", type=float, default=10, help="seconds per level and side (B)")
    parser.add_argument("--fanout-only", action="store_true", help="A only")
    parser.add_argument("--quick", action="store_true", help="B on 20,000 posts with shorter windows")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    started = time.perf_counter()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_ACCESS_TOKEN_TTL_SECONDS", "3600")
    reset_settings()
    env = fb.Environment()
    results: list[fb.Result] = []
    rows: list[fb.Versus] = []
    try:
        fb.start_environment(env)
        results = asyncio.run(prepare_fanout(args))
        if not args.fanout_only:
            from bench import social_reads

            b = reads_args(args)
            _, tokens = asyncio.run(social_reads._prepare(b))
            base_url = fb.start_api(env, max(b.levels))
            assert env.api is not None
            rows = asyncio.run(social_reads.workload_reads(base_url, env.api.pid, tokens, b))
            if b.uploads:
                asyncio.run(social_reads.workload_uploads(base_url, env.api.pid, tokens[0], b.uploads))
            fb.stop_api(env)
            problems = fb.api_log_problems(env)
            print(f"    API server log: {len(problems)} warnings/errors")
            for line in problems[:5]:
                print(f"      {line[:300]}")
    finally:
        env.stop()
    print(f"\n== summary ({time.perf_counter() - started:.0f} s)")
    for r in results:
        print(f"    {r.name:<34} {r.ops:>8,} in {r.seconds:6.2f} s  {'ok' if r.ok else 'FAILED'}")
    if rows:
        fb.print_versus(rows)
        missed = [f"{r.name} x{r.clients}" for r in rows if not r.ratio >= 1 / 3]
        print(f"    target API/raw >= 0.333: {'met' if not missed else 'missed at ' + ', '.join(missed)}")
    failed = [r.name for r in results if not r.ok]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
