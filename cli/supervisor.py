"""`portal run`: PostgreSQL, Redis, migrations, demo data, the API and a worker, stopped in order.

Shutdown order matters: the API and the worker go first (they hold connections and may be
finishing jobs), then Redis, then PostgreSQL. Every child runs in its own session so a Ctrl-C in
the terminal reaches only this process, which then stops everything itself.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import psutil

from core.devservers import ServerHandle, start_postgres, start_redis
from core.settings import get_settings

_CHILD_STOP_TIMEOUT = 10.0
_API_START_TIMEOUT = 60.0
_POLL_INTERVAL = 0.5
# A crashed API or worker is started again; one that crashes this often within the window is broken.
RESTARTABLE = {"api": ("serve",), "worker": ("worker",)}
_MAX_RESTARTS = 5
_RESTART_WINDOW = 60.0


class _StopRequested(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Supervisor:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pids_file = data_dir / "run.pids"
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.servers: list[ServerHandle] = []  # in start order; stopped in reverse
        self.signalled = False
        self.deferring = False
        self.deferred: int | None = None
        self.stopping = False
        self.force = False
        self.owns_pids_file = False
        self.restarts: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if self.signalled or self.stopping:
            # A second Ctrl-C while stopping: stop waiting for graceful exits.
            self.force = True
            return
        if self.deferring:
            self.deferred = signum
            return
        self.signalled = True
        # Raising unwinds whatever is blocking (a migration, the poll loop) into run()'s finally.
        raise _StopRequested(signal.Signals(signum).name)

    @contextlib.contextmanager
    def signals_deferred(self) -> Iterator[None]:
        """Act on a stop signal only after the block, so a server is never left half-started.

        Not pthread_sigmask: a blocked mask is inherited by the servers we spawn, and redis-server
        would then ignore SIGTERM.
        """
        self.deferring = True
        try:
            yield
        finally:
            self.deferring = False
        if self.deferred is not None:
            signum, self.deferred = self.deferred, None
            self._on_signal(signum, None)

    # ------------------------------------------------------------------ leftovers

    def _read_pids(self) -> dict[str, object]:
        try:
            data = json.loads(self.pids_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def write_pids(self) -> None:
        record = {"supervisor": os.getpid(), "children": [p.pid for p in self.children.values()]}
        tmp = self.pids_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(self.pids_file)
        self.owns_pids_file = True

    @staticmethod
    def _ours(pid: object, *commands: str) -> psutil.Process | None:
        """The live process ``pid`` if it runs ``-m cli.main <command>`` or the ``portal`` script."""
        if not isinstance(pid, int) or pid == os.getpid():
            return None
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            cmdline = proc.cmdline()
        except psutil.Error:
            return None
        launcher = "cli.main" in cmdline or any(Path(arg).name == "portal" for arg in cmdline[:2])
        return proc if launcher and any(c in cmdline for c in commands) else None

    def kill_leftovers(self) -> None:
        record = self._read_pids()
        if (other := self._ours(record.get("supervisor"), "run")) is not None:
            raise SystemExit(f"portal run is already running (pid {other.pid}); stop it first")
        children = record.get("children")
        leftovers = [
            proc
            for pid in (children if isinstance(children, list) else [])
            if (proc := self._ours(pid, "serve", "worker", "migrate", "seed-demo")) is not None
        ]
        for proc in leftovers:
            print(f"portal: stopping pid {proc.pid} left over from an earlier run", flush=True)
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(leftovers, timeout=_CHILD_STOP_TIMEOUT)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()

    # ------------------------------------------------------------------ children

    def spawn(self, name: str, command: str, *args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", command, *args],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.children[name] = proc
        self.write_pids()
        return proc

    def run_step(self, command: str, *args: str) -> None:
        """Run a one-shot command to completion, like subprocess.run(check=True)."""
        proc = self.spawn(command, command, *args)
        returncode = proc.wait()
        del self.children[command]
        if returncode != 0:
            raise SystemExit(f"portal {command} failed with exit code {returncode}")

    def restart_crashed(self) -> str | None:
        """Restart an API or worker that died; give up (a failure) when one keeps crashing."""
        now = time.monotonic()
        for name, proc in list(self.children.items()):
            code = proc.poll()
            if code is None or name not in RESTARTABLE:
                continue
            recent = [t for t in self.restarts.get(name, []) if now - t < _RESTART_WINDOW]
            if len(recent) >= _MAX_RESTARTS:
                return f"{name} exited with code {code} {len(recent) + 1} times within {_RESTART_WINDOW:.0f} s"
            self.restarts[name] = [*recent, now]
            print(f"portal: {name} exited with code {code}; restarting it", flush=True)
            self.spawn(name, *RESTARTABLE[name])
        return None

    def watch_servers(self) -> str | None:
        """Say so at once when PostgreSQL or Redis died under us, and start it again on its data."""
        for index, handle in enumerate(self.servers):
            if psutil.pid_exists(handle.pid) and psutil.Process(handle.pid).status() != psutil.STATUS_ZOMBIE:
                continue
            kind = "PostgreSQL" if handle.url.startswith("postgresql") else "Redis"
            print(f"portal: {kind} (pid {handle.pid}) is gone; starting it again", flush=True)
            try:
                with self.signals_deferred():
                    fresh = start_postgres(self.data_dir) if kind == "PostgreSQL" else start_redis(self.data_dir)
                    # Recorded inside the block: a stop signal deferred until its end must find the new
                    # server in the list that stop_all() stops (it was left running before).
                    self.servers[index] = fresh
            except _StopRequested:
                raise
            except Exception as exc:
                return f"{kind} stopped and could not be started again: {exc}"
            if fresh.url != handle.url:  # Redis takes a free port: the API and worker must follow it
                os.environ["REDIS_URL" if kind == "Redis" else "DATABASE_URL"] = fresh.url
                write_run_env(self.data_dir)
                for name in RESTARTABLE:
                    if (proc := self.children.get(name)) is not None and proc.poll() is None:
                        proc.terminate()
                        with contextlib.suppress(subprocess.TimeoutExpired):
                            proc.wait(timeout=_CHILD_STOP_TIMEOUT)
                        if proc.poll() is None:
                            proc.kill()
                        print(f"portal: restarting {name} on the new {kind} address", flush=True)
                        self.spawn(name, *RESTARTABLE[name])
        return None

    def wait_for_api(self, host: str, port: int) -> str | None:
        """Wait until the API accepts connections, so the banner is only printed when it is true."""
        deadline = time.monotonic() + _API_START_TIMEOUT
        while time.monotonic() < deadline:
            # A child crashing during start-up is restarted like any other time (not fatal).
            if (failure := self.restart_crashed()) is not None:
                return failure
            with contextlib.suppress(OSError), socket.create_connection((_local(host), port), timeout=0.5):
                return None
            time.sleep(0.1)
        print(f"portal: the API is not answering on port {port} yet; carrying on", flush=True)
        return None

    def stop_children(self) -> None:
        running = [p for p in self.children.values() if p.poll() is None]
        for proc in running:
            # The group too: anything a child started (uvicorn --reload spawns one) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + _CHILD_STOP_TIMEOUT
        while any(p.poll() is None for p in running) and time.monotonic() < deadline and not self.force:
            time.sleep(0.05)
        for proc in running:
            if proc.poll() is None:
                print(f"portal: pid {proc.pid} did not stop in time; killing it", flush=True)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.children.clear()

    def stop_all(self) -> None:
        self.stopping = True
        try:
            self.stop_children()
        finally:
            for server in reversed(self.servers):
                server.stop()
            self.servers.clear()
            if self.owns_pids_file:
                with contextlib.suppress(OSError):
                    self.pids_file.unlink()
                with contextlib.suppress(OSError):
                    (self.pids_file.parent / RUN_ENV).unlink()


RUN_ENV = "run.env"


def write_run_env(data_dir: Path) -> None:
    # Other `portal` commands (outbox, create-staff ...) find the running servers through this file.
    (data_dir / RUN_ENV).write_text(
        f"DATABASE_URL={os.environ['DATABASE_URL']}\nREDIS_URL={os.environ['REDIS_URL']}\n", encoding="utf-8"
    )


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@contextlib.contextmanager
def _quiet_steps(env: str) -> Iterator[None]:
    """Migrations and the demo seed at WARNING in development: their ~100 INFO lines (alembic's plugins,
    one per migration) buried the banner. Errors still show; an explicit PORTAL_LOG_LEVEL wins."""
    if env != "development" or "PORTAL_LOG_LEVEL" in os.environ:
        yield
        return
    os.environ["PORTAL_LOG_LEVEL"] = "WARNING"  # spawn() hands os.environ to the child
    try:
        yield
    finally:
        del os.environ["PORTAL_LOG_LEVEL"]


def _print_banner(host: str, port: int) -> None:
    lines = [
        "",
        f"portal is running: GraphQL / GraphiQL at http://{_local(host)}:{port}/graphql",
        f"staff console (员工工作台) at http://{_local(host)}:{port}/console",
        "sign-in codes (dev SMS outbox): .venv/bin/portal outbox",
    ]
    try:
        demo_info = importlib.import_module("cli.demo_info")
        lines += list(demo_info.banner_lines())
    except Exception as exc:  # the banner must never take the stack down
        lines.append(f"(demo logins unavailable: {exc})")
    lines += ["Ctrl-C stops everything.", ""]
    print("\n".join(lines), flush=True)


def run() -> None:
    """Run the whole stack in the foreground until a signal, a child's exit or the parent's death.

    Returns normally (exit code 0) after a signal-initiated stop; raises SystemExit otherwise.
    """
    settings = get_settings()
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sup = _Supervisor(data_dir)
    parent = os.getppid()
    failure: str | None = None

    sup.install_signal_handlers()
    try:
        sup.kill_leftovers()
        sup.write_pids()  # claim the data dir before starting anything in it
        if not settings.database_url:
            with sup.signals_deferred():
                pg = start_postgres(data_dir)
                sup.servers.append(pg)
            os.environ["DATABASE_URL"] = pg.url
        if not settings.redis_url:
            with sup.signals_deferred():
                rd = start_redis(data_dir)
                sup.servers.append(rd)
            os.environ["REDIS_URL"] = rd.url

        write_run_env(data_dir)
        with _quiet_steps(settings.env):
            sup.run_step("migrate")
            sup.run_step("seed-demo", "--if-empty")
        sup.spawn("api", "serve")
        sup.spawn("worker", "worker")
        failure = sup.wait_for_api(settings.host, settings.port)
        if failure is None:
            _print_banner(settings.host, settings.port)

        while failure is None:
            time.sleep(_POLL_INTERVAL)
            failure = sup.watch_servers() or sup.restart_crashed()
            if failure is None and os.getppid() != parent:
                print("portal: parent process exited; stopping", flush=True)
                break
    except _StopRequested as stop:
        print(f"\nportal: {stop.reason} received, stopping", flush=True)
    finally:
        sup.stop_all()
    if failure is not None:
        raise SystemExit(f"portal: {failure}")
