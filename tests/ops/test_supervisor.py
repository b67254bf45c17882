"""`portal run` keeps the development stack alive: a crashed worker is restarted, a dead PostgreSQL
is noticed at once and started again on its data (issue 11: a dead worker used to take everything
down, and a dead PostgreSQL went unnoticed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

from tests.live_server import ROOT, free_port


def _wait(predicate: Callable[[], object], limit: float, what: str) -> object:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {limit} s")


def _children(data_dir: Path) -> list[int]:
    try:
        return list(json.loads((data_dir / "run.pids").read_text())["children"])
    except (OSError, ValueError, KeyError):
        return []


def _worker_pid(data_dir: Path) -> int | None:
    for pid in _children(data_dir):
        try:
            if "worker" in psutil.Process(pid).cmdline():
                return pid
        except psutil.Error:
            continue
    return None


def _postmaster(data_dir: Path) -> int:
    return int((data_dir / "pg" / "postmaster.pid").read_text().split()[0])


def test_portal_run_restarts_a_killed_worker_and_a_killed_postgres() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="portal-run-", dir=ROOT / ".data" if (ROOT / ".data").exists() else None))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        {
            "PORTAL_ENV": "development",
            "PORTAL_DATA_DIR": str(data_dir),
            "PORTAL_PORT": str(port),
            "PORTAL_LOG_LEVEL": "WARNING",
        }
    )
    log_path = data_dir / "run.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait(ready, 180, "portal run answering /readyz")
        old_worker = _wait(lambda: _worker_pid(data_dir), 30, "a worker")
        os.kill(int(old_worker), signal.SIGKILL)  # type: ignore[call-overload]
        new_worker = _wait(
            lambda: (pid := _worker_pid(data_dir)) and pid != old_worker and pid, 30, "a restarted worker"
        )
        assert proc.poll() is None, log_path.read_text()
        assert psutil.pid_exists(int(new_worker))  # type: ignore[call-overload]

        os.kill(_postmaster(data_dir), signal.SIGKILL)
        _wait(lambda: "PostgreSQL" in log_path.read_text() and "is gone" in log_path.read_text(), 30, "the notice")
        _wait(ready, 90, "/readyz after PostgreSQL came back")
        assert proc.poll() is None, log_path.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
    text = log_path.read_text()
    assert "worker exited with code -9; restarting it" in text, text[-3000:]
    # Stopping stops the PostgreSQL it started again too (a stop signal during the restart left it running).
    survivors = [
        p.pid
        for p in psutil.process_iter(["cmdline"])
        if any(str(data_dir) in part for part in (p.info["cmdline"] or []))
    ]
    assert survivors == [], text[-3000:]
