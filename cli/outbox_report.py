"""`portal outbox`: what the development providers would have sent (so a developer can sign in).

With the stack down it says so in one line and exits 1: a developer who runs it before `make run` (or
after stopping it) needs "start it first", not a 29-line asyncpg traceback.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.channels import DevMessage
from core.db import dispose_engine, get_sessionmaker, is_unavailable
from core.outbox import OutboxMessage
from core.settings import get_settings

NOT_RUNNING = (
    "portal outbox: 开发环境未运行（未设置 DATABASE_URL，也没有 {run_env}）：请先运行 make run"
    " / the development stack is not running: start it with `make run`"
)
UNREACHABLE = (
    "portal outbox: 无法连接数据库 {where}（{error}）：请确认 make run 仍在运行"
    " / cannot reach the database {where} ({error}): is `make run` still running?"
)


def _where(url: str) -> str:
    # Host and database only: the URL may carry a password, and this line ends up in terminals and chats.
    parts = urlsplit(url)
    if parts.hostname:
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}"
    socket_dir = parse_qs(parts.query).get("host", [""])[0]  # the embedded server: a unix socket
    return f"{socket_dir or '(unix socket)'}{parts.path}"


async def print_recent(*, limit: int = 10) -> None:
    settings = get_settings()
    if not settings.database_url:
        raise SystemExit(NOT_RUNNING.format(run_env=settings.data_dir / "run.env"))
    try:
        await _print_recent(limit=limit)
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        raise SystemExit(UNREACHABLE.format(where=_where(settings.database_url), error=type(exc).__name__)) from None


async def _print_recent(*, limit: int) -> None:
    tz = ZoneInfo(get_settings().default_timezone)
    try:
        async with get_sessionmaker()() as session:
            sent = (await session.scalars(select(DevMessage).order_by(DevMessage.created_at.desc()).limit(limit))).all()
            waiting = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.status != "sent")
                    .order_by(OutboxMessage.created_at.desc())
                    .limit(limit)
                )
            ).all()
    finally:
        await dispose_engine()
    # A development recorder never claims delivery: nothing left this machine.
    print(f"开发通道已记录（未真正发出）最近 {len(sent)} 条 / recorded by the development providers, sent to no one:")
    for m in sent:
        when = m.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {when}  [{m.channel}] -> {m.recipient}: {m.body}")
    if waiting:
        print(f"待发送或失败 {len(waiting)} 条 / waiting or failed:")
        for o in waiting:
            when = o.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            recipient = o.payload.get("recipient", "")
            print(
                f"  {when}  {o.topic} [{o.status}, 尝试{o.attempts}次] -> {recipient}: {o.payload.get('body', '')}"
                + (f"  错误: {o.last_error}" if o.last_error else "")
            )
