"""A real API process for tests whose fault lives in the HTTP path (uvicorn, sockets, pools).

The in-process ASGI transport runs requests one after another in the test's event loop and never
resets a connection, so pool exhaustion, dropped answers and event-loop stalls only show here.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 90


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(
    database_url: str, redis_url: str, *, env: dict[str, str] | None = None, log_path: Path | None = None
) -> Iterator[str]:
    """Starts `portal serve` on a free port; yields its base URL; always stops it."""
    port = free_port()
    full_env = {
        **os.environ,
        "PORTAL_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "PORTAL_HOST": "127.0.0.1",
        "PORTAL_PORT": str(port),
        "PORTAL_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Importing the app takes ~3 s on a quiet machine and was seen at 31 s on a loaded 2-core one
        # (parallel workers, a benchmark): a slow start is not a failure, a crash is (poll() above).
        deadline = time.monotonic() + START_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"portal serve exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"portal serve did not answer /healthz within {START_SECONDS} s")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if log_path:
            log.close()  # type: ignore[union-attr]


@asynccontextmanager
async def in_loop_server() -> AsyncIterator[str]:
    """The real ASGI app under uvicorn in the test's own event loop (the engine's connections belong to
    it), for WebSocket tests; yields the graphql-transport-ws URL."""
    import uvicorn

    from api.app import app

    port = free_port()
    # lifespan off: its shutdown would dispose of the engine the rest of the test session uses
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
