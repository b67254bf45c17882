"""The complaint word list: a comment containing one of these opens a complaint whatever the score.

The defaults are inserted by migration 0010; the table is the source of truth afterwards.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from care.models import ComplaintWord

DEFAULT_WORDS = (
    "投诉",
    "态度差",
    "态度恶劣",
    "乱收费",
    "多收费",
    "等太久",
    "等了很久",
    "排队太久",
    "误诊",
    "不负责",
    "不耐烦",
    "推销",
    "欺骗",
    "退款",
)


async def ensure_default_words(session: AsyncSession) -> None:
    await session.execute(
        insert(ComplaintWord).values([{"word": w, "active": True} for w in DEFAULT_WORDS]).on_conflict_do_nothing()
    )


async def active_words(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(ComplaintWord.word).where(ComplaintWord.active.is_(True))))


def matches(text: str | None, words: list[str]) -> list[str]:
    """Words found in `text`, ignoring spaces inserted between characters (等 太 久)."""
    if not text:
        return []
    squeezed = "".join(text.split())
    return sorted({w for w in words if w in squeezed})
