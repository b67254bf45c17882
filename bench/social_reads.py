"""Social read paths and uploads: the following feed and post search at 16 and 64 clients, each next to
the same SQL sent through raw asyncpg in the same run (interleaved windows), and a 5 MB photo uploaded end
to end. Not a test.

    .venv/bin/python -m bench.social_reads            # 100,000 posts; ~3 minutes on 2 cores
    .venv/bin/python -m bench.social_reads --quick    # 20,000 posts, shorter windows

The data is bench/feed.py's group (members, posts over 11 months, anonymous ones, reactions), plus:
every signed-in viewer follows `--follows` members and a tag; every post carries its segmented search
vector (community/search.py, the same jieba segmentation as on create). The clients are the raw HTTP/1.1
keep-alive clients of bench/http1.py against `portal serve`; the raw side replays, per request, the
statements the API sent for it (captured in this process through the same ASGI app), in a transaction.
Targets (issue 14, as for the group feed): API >= 1/3 of the raw rate at 16 and 64 clients.
Uploads: `bench/uploads.py` sends what apollo-upload-client sends; the photo is 12 MP with EXIF GPS.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from bench import feed as fb
from bench.http1 import Http1
from bench.uploads import sample_photo, upload_photo
from core.db import dispose_engine
from core.settings import reset_settings

FOLLOWING = """query($first: Int!, $after: String) { followingFeed(first: $first, after: $after) {
  edges { node { kind createdAt viaTag post { id title commentCount groupAuthor { displayName isExpert } } } }
  pageInfo { endCursor hasNextPage } } }"""
SEARCH = """query($q: String!, $first: Int!) { postSearch(query: $q, first: $first) {
  edges { node { titleHighlight snippet post { id title groupAuthor { displayName } } } }
  pageInfo { endCursor hasNextPage } } }"""
# Two-character words, a one-character term and a longer phrase, as patients type them.
QUERIES = ["血糖", "胰岛素", "饮食控制", "糖", "运动打卡", "糖化血红蛋白", "快走", "餐后两小时"]
TITLE_TOPICS = ["空腹血糖", "糖化血红蛋白", "饮食控制", "运动打卡", "胰岛素剂量"]
BODY = "今天空腹血糖6.1，餐后两小时8.3，坚持快走三十分钟，少吃主食多吃蔬菜。"
TAG = "控糖"


@dataclass
class Load:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    cpu: fb.Cpu | None = None


def _failure(body: Any, root: str) -> str | None:
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get("errors"):
        error = body["errors"][0]
        return f"graphql {error.get('extensions', {}).get('code') or error.get('message', '?')[:60]}"
    if (body.get("data") or {}).get(root) is None:
        return f"{root} is null"
    return None


async def drive(
    port: int,
    requests: list[tuple[bytes, str]],
    root: str,
    *,
    clients: int,
    warmup: float,
    seconds: float,
    seed: int,
    server_pid: int | None = None,
) -> Load:
    """`clients` closed-loop clients sending (body, token) pairs picked at random; a warm-up, then a window
    in which every request that ends is counted (as bench/feed.py's drive)."""
    load = Load()
    window: list[float] = []

    def running() -> bool:
        return not window or time.perf_counter() < window[1]

    async def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        async with Http1(port) as http:
            while running():
                body, token = requests[rng.randrange(len(requests))]
                started = time.perf_counter()
                try:
                    status, content = await http.post(body, token)
                    failure = f"http {status}" if status != 200 else _failure(orjson.loads(content), root)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    load.failures[type(exc).__name__] += 1
                    return
                ended = time.perf_counter()
                if failure:
                    load.failures[failure] += 1
                elif window and window[0] <= ended <= window[1]:
                    load.latencies.append(ended - started)

    async def coordinator() -> None:
        await asyncio.sleep(warmup)
        meter = fb.CpuMeter(server_pid)
        now = time.perf_counter()
        window.extend((now, now + seconds))
        await asyncio.sleep(seconds)
        load.cpu = meter.stop()

    await asyncio.gather(coordinator(), *(client(i) for i in range(clients)))
    return load


async def seed_social(seeded: fb.Seeded, follows: int) -> None:
    """Follows (each viewer: `follows` members and the tag) and the posts' search vectors, in SQL; the
    segmentation is the app's, computed once per distinct title topic and body."""
    from community.search import document_texts

    started = time.perf_counter()
    conn = await fb.connect()
    try:
        await conn.execute(
            """
            INSERT INTO social_follows (follower_kind, follower_id, followee_kind, followee_id, created_at)
            SELECT 'patient', v.id, 'patient', m.account_id, now()
            FROM unnest($1::uuid[]) WITH ORDINALITY AS v(id, i)
            CROSS JOIN LATERAL (
                SELECT account_id FROM community_memberships
                WHERE group_id = $2 AND account_id <> v.id ORDER BY md5(account_id::text || v.i) LIMIT $3
            ) m
            ON CONFLICT DO NOTHING
            """,
            seeded.viewers,
            seeded.feed_group,
            follows,
        )
        await conn.execute(
            "INSERT INTO social_tag_follows (follower_kind, follower_id, tag, created_at) "
            "SELECT 'patient', v, $2, now() FROM unnest($1::uuid[]) AS v ON CONFLICT DO NOTHING",
            seeded.viewers,
            TAG,
        )
        # Every fifth post carries the tag the viewers follow (posts take tags from their text).
        await conn.execute(
            "UPDATE community_posts SET tags = ARRAY[$2]::text[] WHERE group_id = $1 AND "
            "(('x' || substr(md5(id::text), 1, 8))::bit(32)::int % 5) = 0",
            seeded.feed_group,
            TAG,
        )
        for topic in TITLE_TOPICS:
            for repeat in range(1, 5):
                title, body = document_texts(f"复查：{topic}心得", BODY * repeat)
                await conn.execute(
                    """
                    UPDATE community_posts SET search_vector =
                        setweight(to_tsvector('simple', $3), 'A') || setweight(to_tsvector('simple', $4), 'B')
                    WHERE group_id = $1 AND title LIKE '%' || $2 || '心得' AND length(body_md) = $5
                    """,
                    seeded.feed_group,
                    topic,
                    title,
                    body,
                    len(BODY * repeat),
                )
        await conn.execute("VACUUM ANALYZE community_posts, social_follows, social_tag_follows")
        stats = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM social_follows) AS follows, "
            "(SELECT count(*) FROM community_posts WHERE search_vector IS NOT NULL) AS indexed"
        )
    finally:
        await conn.close()
    print(
        f"    social: {stats['follows']:,} follows, {stats['indexed']:,} posts with a search vector "
        f"in {time.perf_counter() - started:.1f} s"
    )


def _requests(tokens: list[str], args: argparse.Namespace) -> dict[str, list[tuple[dict[str, Any], str]]]:
    following = [({"query": FOLLOWING, "variables": {"first": args.page_size, "after": None}}, t) for t in tokens]
    search = [
        ({"query": SEARCH, "variables": {"q": QUERIES[i % len(QUERIES)], "first": args.page_size}}, tokens[i])
        for i in range(len(tokens))
    ]
    return {"followingFeed": following, "postSearch": search}


async def workload_reads(
    base_url: str, server_pid: int, tokens: list[str], args: argparse.Namespace
) -> list[fb.Versus]:
    port = int(base_url.rsplit(":", 1)[1])
    rows: list[fb.Versus] = []
    window = args.duration / args.rounds
    conns = await fb.raw_connections(max(args.levels))
    try:
        for root, items in _requests(tokens, args).items():
            name = "following feed" if root == "followingFeed" else "post search"
            print(f"\n== {name} over HTTP: {args.duration:g} s per level and side in {args.rounds} windows")
            sample = items[: min(32, len(items))]
            try:
                traces, _ = await fb.capture_traces([(p, {"authorization": f"Bearer {t}"}) for p, t in sample])
            finally:
                await dispose_engine()
            print(f"    raw replay: {fb.describe_traces(traces)}")
            bodies = [(orjson.dumps(p), t) for p, t in items]
            await drive(port, bodies, root, clients=max(args.levels), warmup=args.warmup, seconds=0, seed=0)
            await fb.drive_raw(conns, traces, clients=max(args.levels), warmup=1, seconds=0, seed=0)
            for level in args.levels:
                vs = fb.Versus(name, level)
                failures: Counter[str] = Counter()
                for round_ in range(args.rounds):
                    load = await drive(
                        port,
                        bodies,
                        root,
                        clients=level,
                        warmup=1,
                        seconds=window,
                        seed=level + round_,
                        server_pid=server_pid,
                    )
                    failures.update(load.failures)
                    vs.api.add(load.latencies, window, load.cpu.api if load.cpu else None)
                    raw = await fb.drive_raw(conns, traces, clients=level, warmup=0.5, seconds=window, seed=round_)
                    failures.update({f"raw {k}": v for k, v in raw.failures.items()})
                    vs.raw.add(raw.latencies, window, raw.cpu.bench if raw.cpu else None)
                print(vs.line() + (f" | failures {dict(failures)}" if failures else ""))
                rows.append(vs)
    finally:
        for conn in conns:
            await conn.close()
    return rows


async def workload_uploads(base_url: str, server_pid: int, token: str, count: int) -> None:
    photo = sample_photo()
    print(f"\n== image upload: {count} x a {len(photo) / 2**20:.1f} MB 12 MP JPEG (EXIF GPS), one at a time")
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        await upload_photo(http, token, photo)  # warm: Pillow, the pool, the storage folder
        meter = fb.CpuMeter(server_pid)
        times: list[float] = []
        for _ in range(count):
            started = time.perf_counter()
            image = await upload_photo(http, token, photo)
            got = await http.get(image["thumb"])
            times.append(time.perf_counter() - started)
            assert got.status_code == 200, got.status_code
        cpu = meter.stop()
    times.sort()
    api_ms = cpu.api * sum(times) / count * 1000 if cpu and cpu.api is not None else float("nan")
    print(
        f"    upload + thumbnail fetch: p50 {times[len(times) // 2] * 1000:.0f} ms, max {times[-1] * 1000:.0f} ms; "
        f"API CPU {api_ms:.0f} ms per upload; stored {image['width']}x{image['height']}, {image['byteSize']:,} bytes"
    )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=2_000)
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--viewers", type=int, default=64)
    parser.add_argument("--follows", type=int, default=40, help="members each viewer follows")
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[16, 64])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--uploads", type=int, default=5, help="5 MB photos uploaded one after another")
    parser.add_argument("--quick", action="store_true", help="20,000 posts, 6 s per level and side")
    args = parser.parse_args()
    args.invitees = 0  # bench/feed.py's invitation group is not needed here
    if args.quick:
        args.posts, args.duration, args.warmup, args.uploads = 20_000, 6, 2, 3
    return args


async def _prepare(args: argparse.Namespace) -> tuple[str, list[str]]:
    try:
        server = await fb.server_version()
        print(f"    {server}; {fb.machine_info()}")
        print("\n== seeding")
        seeded = await fb.seed(args)
        await seed_social(seeded, args.follows)
        return server, await fb.mint_tokens(seeded.viewers)
    finally:
        from core import queue

        await queue.close_pool()
        await dispose_engine()


def main() -> int:
    args = parse_args()
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")
    os.environ.setdefault("PORTAL_ACCESS_TOKEN_TTL_SECONDS", "3600")
    reset_settings()
    env = fb.Environment()
    rows: list[fb.Versus] = []
    try:
        fb.start_environment(env)
        _, tokens = asyncio.run(_prepare(args))
        base_url = fb.start_api(env, max(args.levels))
        assert env.api is not None
        rows = asyncio.run(workload_reads(base_url, env.api.pid, tokens, args))
        if args.uploads:
            asyncio.run(workload_uploads(base_url, env.api.pid, tokens[0], args.uploads))
        fb.stop_api(env)
        problems = fb.api_log_problems(env)
        print(f"    API server log: {len(problems)} warnings/errors")
        for line in problems[:5]:
            print(f"      {line[:300]}")
    finally:
        env.stop()
    fb.print_versus(rows)
    missed = [f"{r.name} x{r.clients}" for r in rows if not r.ratio >= 1 / 3]
    print(f"    target API/raw >= 0.333: {'met' if not missed else 'missed at ' + ', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
