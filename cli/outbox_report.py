"""`portal outbox`: what the development providers would have sent (so a developer can sign in)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.channels import DevMessage
from core.db import dispose_engine, get_sessionmaker
from core.outbox import OutboxMessage
from core.settings import get_settings


async def print_recent(*, limit: int = 10) -> None:
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
    print(f"已发送（开发通道记录）最近 {len(sent)} 条 / delivered by the development providers:")
    for m in sent:
        when = m.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
        print(f"  {when}  [{m.channel}] -> {m.recipient}: {m.body}")
    if waiting:
        print(f"待发送或失败 {len(waiting)} 条 / not delivered yet:")
        for o in waiting:
            when = o.created_at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S")
            recipient = o.payload.get("recipient", "")
            print(
                f"  {when}  {o.topic} [{o.status}, 尝试{o.attempts}次] -> {recipient}: {o.payload.get('body', '')}"
                + (f"  错误: {o.last_error}" if o.last_error else "")
            )
