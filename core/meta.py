"""Small key/value facts about this database (e.g. when the demo data was loaded)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base


class AppMeta(Base):
    __tablename__ = "app_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)


async def get_value(session: AsyncSession, key: str) -> str | None:
    return await session.scalar(select(AppMeta.value).where(AppMeta.key == key))


async def set_value(session: AsyncSession, key: str, value: str) -> None:
    stmt = insert(AppMeta).values(key=key, value=value, updated_at=clock.now())
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["key"], set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at}
        )
    )
