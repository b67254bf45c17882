"""core.devservers against real servers: unclean exits of the owner, and throwaway clean-up."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import psutil
import pytest
import redis

from core.devservers import ServerHandle, start_postgres, start_redis

REPO = Path(__file__).resolve().parents[2]

# Starts one server, reports its pid, then blocks until the test SIGKILLs it.
OWNER = """
import sys
from pathlib import Path
from core.devservers import start_postgres, start_redis
kind, data_dir = sys.argv[1], Path(sys.argv[2])
handle = (start_postgres if kind == "pg" else start_redis)(data_dir)
print(handle.pid, flush=True)
sys.stdin.read()
"""


def _postmasters(pgdata: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE or not cmdline:
            continue
        if Path(cmdline[0]).name == "postgres" and str(pgdata) in cmdline:
            found.append(proc)
    return found


def _redis_servers(redis_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "status"]):
        if proc.info["name"] != "redis-server" or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(psutil.Error):
            if Path(proc.cwd()) == redis_dir:
                found.append(proc)
    return found


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Short and under /tmp: the PostgreSQL socket lives in the data dir and its path is limited.
    root = Path(tempfile.mkdtemp(prefix="dvs", dir="/tmp"))
    data = root / "data"
    try:
        yield data
    finally:
        for proc in _postmasters(data / "pg") + _redis_servers(data / "redis"):
            with contextlib.suppress(psutil.Error):
                proc.kill()
        shutil.rmtree(root, ignore_errors=True)


def _start_and_kill_owner(kind: str, data_dir: Path) -> int:
    """Start a server from a child process, SIGKILL that process, return the orphaned server's pid."""
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, kind, str(data_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.strip().isdigit(), f"owner process failed to start a {kind} server"
        server_pid = int(line)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
        if owner.stdin is not None:
            owner.stdin.close()
        if owner.stdout is not None:
            owner.stdout.close()
    assert _alive(server_pid), "the server should outlive its SIGKILLed owner"
    return server_pid


async def _query(handle: ServerHandle, sql: str) -> object:
    host = handle.url.split("host=", 1)[1]
    conn = await asyncpg.connect(host=host, user="postgres", database="portal")
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_postgres_restart_after_owner_was_killed(data_dir: Path) -> None:
    pgdata = data_dir / "pg"
    orphan = _start_and_kill_owner("pg", data_dir)

    handle = start_postgres(data_dir)
    try:
        assert not _alive(orphan)
        assert [p.pid for p in _postmasters(pgdata)] == [handle.pid]
        assert await _query(handle, "SELECT current_database()") == "portal"
    finally:
        handle.stop()
    assert _postmasters(pgdata) == []
    handle.stop()  # idempotent

    # A stale lock file naming a live, unrelated process (pid reuse) must not block a start.
    (pgdata / "postmaster.pid").write_text(f"{os.getpid()}\n{pgdata}\n")
    handle = start_postgres(data_dir)
    try:
        assert [p.pid for p in _postmasters(pgdata)] == [handle.pid]
    finally:
        handle.stop()
    assert _postmasters(pgdata) == []
    assert pgdata.is_dir(), "a persistent cluster keeps its files"


def test_redis_restart_after_owner_was_killed(data_dir: Path) -> None:
    redis_dir = data_dir / "redis"
    orphan = _start_and_kill_owner("redis", data_dir)

    handle = start_redis(data_dir)
    try:
        assert not _alive(orphan)
        assert [p.pid for p in _redis_servers(redis_dir)] == [handle.pid]
        assert (redis_dir / "redis.pid").read_text().strip() == str(handle.pid)
        client = redis.Redis.from_url(handle.url)
        assert client.ping()
        client.close()
    finally:
        handle.stop()
    assert _redis_servers(redis_dir) == []
    handle.stop()


async def test_throwaway_servers_remove_their_data(data_dir: Path) -> None:
    pg = start_postgres(data_dir, throwaway=True)
    rd = start_redis(data_dir, throwaway=True)
    try:
        assert (data_dir / "pg" / "PG_VERSION").exists()
        assert await _query(pg, "SHOW fsync") == "off"
        client = redis.Redis.from_url(rd.url)
        assert client.set("k", "v")
        client.close()
    finally:
        rd.stop()
        pg.stop()
    _assert_removed(data_dir)


def _assert_removed(data_dir: Path) -> None:
    assert not data_dir.exists()
    assert _postmasters(data_dir / "pg") == []
    assert _redis_servers(data_dir / "redis") == []
