"""The sensitive-word list and its exceptions (admins)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import audit, wordfilter
from community.errors import CommunityCode as Code
from community.errors import WordNotFound
from community.models import (
    SensitiveWord,
    WordCategory,
    WordException,
)
from core import clock
from core.errors import CoreCode, Validator
from core.identity import Actor, Role
from core.ids import new_id
from core.pagination import Page, keyset_page


async def words_page(
    session: AsyncSession,
    actor: Actor,
    *,
    category: str | None = None,
    include_inactive: bool = False,
    first: int | None = None,
    after: str | None = None,
) -> Page[SensitiveWord]:
    actor.require_role(Role.ADMIN)
    stmt = select(SensitiveWord)
    if category is not None:
        stmt = stmt.where(SensitiveWord.category == category)
    if not include_inactive:
        stmt = stmt.where(SensitiveWord.active.is_(True))
    return await keyset_page(
        session, stmt, sort=SensitiveWord.created_at, id_=SensitiveWord.id, first=first, after=after
    )


async def word_exceptions(session: AsyncSession, actor: Actor) -> list[WordException]:
    actor.require_role(Role.ADMIN)
    return list(await session.scalars(select(WordException).order_by(WordException.phrase)))


async def add_word(
    session: AsyncSession, actor: Actor, *, word: str, category: str, note: str | None = None
) -> SensitiveWord:
    """Add a word, or switch an existing one back on with the new category."""
    actor.require_role(Role.ADMIN)
    word = (word or "").strip()
    v = Validator()
    v.check(1 <= len(word) <= 60, "word", Code.WORD_LENGTH, "词语需为1到60个字符")
    v.check(not word or bool(wordfilter.normal_form(word)), "word", Code.WORD_EMPTY, "词语不能只包含空格或符号")
    v.check(category in {c.value for c in WordCategory}, "category", CoreCode.CATEGORY_INVALID, "类别无效")
    v.check(note is None or len(note) <= 200, "note", Code.NOTE_LENGTH, "备注最多200个字")
    v.raise_if_any()
    row = await session.scalar(
        select(SensitiveWord)
        .where(SensitiveWord.word == word)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    before = None
    if row is None:
        row = SensitiveWord(id=new_id(), word=word, category=category, note=note, active=True, created_at=clock.now())
        session.add(row)
    else:
        before = {"category": row.category, "active": row.active}
        row.category, row.active = category, True
        if note is not None:
            row.note = note
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_add",
        target_kind="sensitive_word",
        target_id=row.id,
        group_id=None,
        detail={"word": word, "category": category, "before": before},
    )
    return row


async def remove_word(session: AsyncSession, actor: Actor, word_id: uuid.UUID) -> SensitiveWord:
    """Switch a word off (kept, so the defaults never bring it back)."""
    actor.require_role(Role.ADMIN)
    row = await session.get(SensitiveWord, word_id, with_for_update=True, populate_existing=True)
    if row is None:
        raise WordNotFound()
    row.active = False
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_remove",
        target_kind="sensitive_word",
        target_id=row.id,
        group_id=None,
        detail={"word": row.word, "category": row.category},
    )
    return row


async def add_exception(session: AsyncSession, actor: Actor, *, phrase: str) -> WordException:
    actor.require_role(Role.ADMIN)
    phrase = (phrase or "").strip()
    v = Validator()
    v.check(2 <= len(phrase) <= 60, "phrase", Code.PHRASE_LENGTH, "例外短语需为2到60个字符")
    v.check(
        not phrase or bool(wordfilter.normal_form(phrase)),
        "phrase",
        Code.PHRASE_EMPTY,
        "短语不能只包含空格或符号",
    )
    v.raise_if_any()
    row = await session.scalar(select(WordException).where(WordException.phrase == phrase))
    if row is None:
        row = WordException(id=new_id(), phrase=phrase, created_at=clock.now())
        session.add(row)
        await session.flush()
        await audit.record(
            session,
            actor,
            "word_exception_add",
            target_kind="word_exception",
            target_id=row.id,
            group_id=None,
            detail={"phrase": phrase},
        )
    return row


async def remove_exception(session: AsyncSession, actor: Actor, exception_id: uuid.UUID) -> WordException:
    actor.require_role(Role.ADMIN)
    row = await session.get(WordException, exception_id)
    if row is None:
        raise WordNotFound("例外短语不存在")
    await session.delete(row)
    await session.flush()
    await audit.record(
        session,
        actor,
        "word_exception_remove",
        target_kind="word_exception",
        target_id=row.id,
        group_id=None,
        detail={"phrase": row.phrase},
    )
    return row
