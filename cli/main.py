"""`portal`: run, serve, worker, migrate, seed-demo, create-staff, export-schema, outbox."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from core.settings import PROJECT_ROOT, get_settings

SCHEMA_PATH = PROJECT_ROOT / "schema.graphql"


def migrate(revision: str = "head") -> None:
    from alembic import command
    from alembic.config import Config

    import migrations

    # Configured in code, not from alembic.ini, so an installed wheel (the image) migrates as well as
    # a checkout does. alembic.ini stays for developers running the alembic command itself.
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("path_separator", "os")
    command.upgrade(config, revision)
    if revision == "head":
        from cli.reference import ensure_reference_data

        asyncio.run(ensure_reference_data())


def schema_sdl() -> str:
    from api.schema import schema

    return schema.as_str() + "\n"


def cmd_run(_: argparse.Namespace) -> int:
    from cli import supervisor

    supervisor.run()
    return 0


def api_app() -> object:
    """The ASGI app of an API process (uvicorn factory: each worker process calls it once).

    After start-up everything imported (schema, mappers, compiled statements) is moved out of the
    collector's sight (gc.freeze) and the young-generation threshold raised: a feed request allocates
    thousands of short-lived objects, and with the default threshold (700) the collector ran many
    times per request and kept re-walking the long-lived heap. Reference counting frees nearly all of
    it anyway; cycles are still collected, less often."""
    import gc

    from api.app import app

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "cli.main:api_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=args.workers or settings.web_workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from arq.worker import check_health

    from workers.settings import HEALTH_CHECK_KEY, build_worker

    if args.check:
        from core.queue import redis_settings

        return check_health({"redis_settings": redis_settings(), "health_check_key": HEALTH_CHECK_KEY})
    build_worker(burst=args.burst).run()
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate(args.revision)
    return 0


def cmd_seed_demo(args: argparse.Namespace) -> int:
    from cli.demo import seed_demo
    from core.db import dispose_engine

    async def go() -> bool:
        try:
            return await seed_demo(if_empty=args.if_empty)
        finally:
            await dispose_engine()

    loaded = asyncio.run(go())
    print("已加载演示数据 / demo data loaded" if loaded else "演示数据已存在 / demo data already loaded")
    return 0


def cmd_create_staff(args: argparse.Namespace) -> int:
    from core.db import dispose_engine, unit_of_work
    from core.errors import DomainError
    from core.identity import SYSTEM
    from patients import service

    password = args.password or getpass.getpass("密码 / password: ")

    async def go() -> None:
        try:
            async with unit_of_work() as session:
                await service.create_staff(
                    session, SYSTEM, email=args.email, name=args.name, password=password, roles=args.role
                )
        finally:
            await dispose_engine()

    try:
        asyncio.run(go())
    except DomainError as exc:
        for issue in exc.issues:
            print(f"错误 {issue.code} {issue.field or ''}: {issue.message}", file=sys.stderr)
        return 1
    print(f"已创建员工 {args.email}")
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    Path(args.output).write_text(schema_sdl(), encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from cli.outbox_report import print_recent

    asyncio.run(print_recent(limit=args.limit))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="portal", description="患者会员与社区平台 / patient loyalty platform")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start PostgreSQL/Redis if needed, migrate, seed, serve API + worker").set_defaults(
        fn=cmd_run
    )
    serve = sub.add_parser("serve", help="serve the API (uvicorn)")
    serve.add_argument("--workers", type=int, default=None, help="API processes (default PORTAL_WEB_WORKERS or 1)")
    serve.set_defaults(fn=cmd_serve)
    worker = sub.add_parser("worker", help="run one arq worker")
    worker.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    worker.add_argument("--check", action="store_true", help="health check of a running worker")
    worker.set_defaults(fn=cmd_worker)
    mig = sub.add_parser("migrate", help="alembic upgrade")
    mig.add_argument("revision", nargs="?", default="head")
    mig.set_defaults(fn=cmd_migrate)
    seed = sub.add_parser("seed-demo", help="load the Chinese demo data")
    seed.add_argument("--if-empty", action="store_true", help="only when it was never loaded")
    seed.set_defaults(fn=cmd_seed_demo)
    staff = sub.add_parser("create-staff", help="create a staff account")
    staff.add_argument("--email", required=True)
    staff.add_argument("--name", required=True)
    staff.add_argument(
        "--role",
        action="append",
        required=True,
        help="admin, marketer, moderator, doctor, health_manager, clinic_staff, reviewer",
    )
    staff.add_argument("--password", help="prompted when omitted")
    staff.set_defaults(fn=cmd_create_staff)
    export = sub.add_parser("export-schema", help="write the GraphQL SDL")
    export.add_argument("--output", default=str(SCHEMA_PATH))
    export.set_defaults(fn=cmd_export_schema)
    out = sub.add_parser("outbox", help="print recent outgoing messages (e.g. sign-in codes)")
    out.add_argument("--limit", type=int, default=10)
    out.set_defaults(fn=cmd_outbox)
    return parser


def _use_running_dev_servers() -> None:
    """Without DATABASE_URL/REDIS_URL, talk to the servers a running `portal run` started."""
    import os

    from core.settings import reset_settings

    settings = get_settings()
    run_env = settings.data_dir / "run.env"
    if (settings.database_url and settings.redis_url) or not run_env.exists():
        return
    for line in run_env.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        if key in {"DATABASE_URL", "REDIS_URL"} and not os.environ.get(key):
            os.environ[key] = value
    reset_settings()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in {"run", "export-schema"}:
        _use_running_dev_servers()
        from core.logging import configure_logging

        configure_logging()
    return int(args.fn(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
