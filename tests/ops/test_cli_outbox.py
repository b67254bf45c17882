"""`portal outbox` with the stack down answers in one line (exit 1), never a traceback; up, it lists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _outbox(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "PORTAL_DATA_DIR"}}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "outbox"],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_never_started_says_so_in_one_line(tmp_path: Path) -> None:
    done = _outbox({"PORTAL_DATA_DIR": str(tmp_path)})  # no DATABASE_URL and no run.env
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "make run" in lines[0] and "开发环境未运行" in lines[0]


def test_a_stopped_database_says_so_in_one_line_without_the_password(tmp_path: Path) -> None:
    # What a stale .data/run.env left by a killed `portal run` points at: nothing listens there.
    (tmp_path / "run.env").write_text(
        "DATABASE_URL=postgresql+asyncpg://portal:s3cret@127.0.0.1:1/portal\nREDIS_URL=redis://127.0.0.1:1/0\n"
    )
    done = _outbox({"PORTAL_DATA_DIR": str(tmp_path)})
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr and "s3cret" not in done.stderr
    assert "127.0.0.1:1/portal" in lines[0] and "无法连接数据库" in lines[0]


def test_with_the_stack_up_it_lists_messages(servers: dict[str, str], tmp_path: Path) -> None:
    done = _outbox({"DATABASE_URL": servers["database_url"], "PORTAL_DATA_DIR": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert "recorded by the development providers, sent to no one" in done.stdout
    assert "delivered" not in done.stdout  # a development recorder never claims delivery
