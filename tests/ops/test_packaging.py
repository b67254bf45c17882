"""The wheel the image installs: built from pyproject.toml, run from outside the checkout.

The Dockerfile once copied package folders one by one and missed four: migrate, API and worker all
died with ModuleNotFoundError and nothing noticed. This test builds the same wheel, installs it into
a fresh virtual environment in a temporary folder (the project's own dependencies are reused from
the development venv through a path entry, without the editable install of the checkout) and runs
what the image runs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import _with_database

ROOT = Path(__file__).resolve().parents[2]


def _top_level_packages() -> set[str]:
    return {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in {"tests", "bench"}}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    # Built from a copy: setuptools leaves build/ and *.egg-info in the folder it builds.
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", ".data", "__pycache__", "build"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work), str(source)],
        check=True,
        timeout=300,
    )
    wheels = list(work.glob("portal-*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # Dependencies from the development venv; its editable finder (.pth) is not processed from here.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # --ignore-installed: without it pip uninstalls the development venv's editable install of
    # the project (the same distribution name) while installing into the prefix.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--ignore-installed",
            "--prefix",
            str(venv),
            str(wheels[0]),
        ],
        check=True,
        timeout=300,
    )
    return venv


def _run(venv: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
    outside = tempfile.mkdtemp(prefix="portal-outside-")
    full_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH"}}
    full_env.update(env or {})
    result = subprocess.run(
        [str(venv / "bin" / "python"), *args],
        cwd=outside,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def test_every_package_of_the_checkout_is_in_the_wheel_and_imports(installed: Path) -> None:
    packages = sorted(_top_level_packages())
    script = (
        "import importlib, pkgutil, sys\n"
        f"packages = {packages!r}\n"
        "for name in packages:\n"
        "    module = importlib.import_module(name)\n"
        "    assert 'site-packages' in module.__file__, module.__file__\n"
        "    for info in pkgutil.walk_packages(module.__path__, name + '.'):\n"
        "        if info.name != 'migrations.env':  # runs only inside alembic\n"
        "            importlib.import_module(info.name)\n"
        # The staff console's templates and files are package data (pyproject.toml).
        "import console.web\n"
        "for f in ('templates/base.html', 'templates/moderation/queue.html', 'static/console.js'):\n"
        "    assert (console.web.HERE / f).is_file(), f\n"
        "import migrations, pathlib\n"
        "versions = list((pathlib.Path(migrations.__file__).parent / 'versions').glob('*.py'))\n"
        "print(len(versions), migrations.__file__)\n"
    )
    out = _run(installed, "-c", script, env={"PORTAL_ENV": "test"})
    count, where = out.split()
    assert int(count) == len(list((ROOT / "migrations" / "versions").glob("*.py")))
    assert str(installed) in where


def test_portal_help_migrate_and_worker_run_from_the_wheel(installed: Path, servers: dict[str, str]) -> None:
    portal = str(installed / "bin" / "portal")
    assert "migrate" in _run(installed, portal, "--help")

    name = f"portal_wheel_{uuid.uuid4().hex[:8]}"
    admin = _with_database(servers["database_url"], "postgres").replace("postgresql+asyncpg://", "postgresql://")

    async def create() -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    database_url = _with_database(servers["database_url"], name)
    env = {"PORTAL_ENV": "test", "DATABASE_URL": database_url, "REDIS_URL": servers["redis_url"]}
    _run(installed, portal, "migrate", env=env, timeout=300)

    worker = subprocess.Popen(
        [str(installed / "bin" / "python"), portal, "worker"],
        cwd=tempfile.mkdtemp(),
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            check = subprocess.run(
                [str(installed / "bin" / "python"), portal, "worker", "--check"],
                env={**os.environ, **env},
                capture_output=True,
                timeout=60,
            )
            if check.returncode == 0:
                break
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker from the wheel never reported healthy"
            time.sleep(1)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
