"""The sensitive-word filter: normalisation, categories, the exception rule, the cached automaton."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from community import moderation, wordfilter, wordlist
from community.models import SensitiveWord, WordCategory, WordException
from core.db import unit_of_work
from core.identity import Actor, ActorKind, Role

ADMIN = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.ADMIN}))


def found(text: str, wf: wordfilter.WordFilter | None = None) -> list[tuple[str, str, str]]:
    """(listed word, category, the original text it was found in)."""
    result = wordfilter.scan(text, wf)
    return [(m.word, m.category.value, text[m.start : m.end]) for m in result.matches]


def test_categories_of_the_default_list():
    assert found("你就是个傻逼") == [("傻逼", "block", "傻逼")]
    assert found("想了解的私信加我") == [("私信加我", "hold", "私信加我")]
    assert ("祖传秘方", "ad", "祖传秘方") in found("祖传秘方，包治百病")
    assert ("包治", "ad", "包治") in found("祖传秘方，包治百病")
    assert found("昨晚胸口疼了一整夜") == [("胸口疼", "emergency", "胸口疼")]
    assert found("今天空腹血糖6.1，比上周好") == []
    result = wordfilter.scan("我不想活了")
    assert result.categories == {WordCategory.EMERGENCY}
    assert result.words(WordCategory.EMERGENCY) == ["不想活了"]


def test_traditional_characters_are_caught():
    assert ("想自杀", "emergency", "想自殺") in found("最近真的想自殺")
    assert found("這個藥是祖傳祕方") == [("祖传秘方", "ad", "祖傳祕方")]


def test_spaces_symbols_full_width_and_zero_width_are_caught_with_original_positions():
    text = "我 想 自*杀了"
    result = wordfilter.scan(text)
    first = result.matches[0]
    assert (first.word, text[first.start : first.end]) == ("想自杀", "想 自*杀")
    assert ("100%有效", "ad", "１００％有效") in found("本品１００％有效")
    assert ("100%有效", "ad", "100 有效") in found("本品100 有效")  # the listed % is optional too
    assert ("加vx", "hold", "加ＶＸ") in found("详情加ＶＸ")
    assert ("想自杀", "emergency", "想\u200b自\u3000杀") in found("想\u200b自\u3000杀")
    assert ("傻逼", "block", "傻😡逼") in found("你个傻😡逼")
    # 血 糖 style spacing with a custom list
    wf = wordfilter.compile_filter([("血糖仪", "ad")])
    assert found("出 售 血-糖.仪", wf) == [("血糖仪", "ad", "血-糖.仪")]


def test_harmless_word_containing_a_listed_word_is_not_caught():
    # the context rule of the issue: 保安 listed, 佳保安全 is harmless
    wf = wordfilter.compile_filter([("保安", "hold")], ["保安全"])
    assert found("佳保安全帽", wf) == []
    assert found("小区保安说", wf) == [("保安", "hold", "保安")]
    # only the occurrence inside the exception is ignored
    assert found("保安全，找保安", wf) == [("保安", "hold", "保安")]
    # the default list: 根治 is a forbidden claim, 根治术 an operation, 无法根治 a plain fact
    assert found("乳腺癌改良根治术后第三个月，恢复不错") == []
    assert found("医生说糖尿病无法根治，只能控制") == []
    assert found("别信，包根治的都是骗子") == [("根治", "ad", "根治")]
    assert found("明天去胸痛中心复查") == []
    assert found("今天胸痛，下午去胸痛中心") == [("胸痛", "emergency", "胸痛")]
    assert found("年轻生活方式要健康") == []
    # exceptions are normalised too: spaced or traditional they still apply
    assert found("改良根 治術") == []


def test_the_automaton_is_built_once_per_list_and_rebuilt_when_it_changes():
    a = wordfilter.compile_filter([("甲乙", "hold"), ("丙丁", "block")], ["甲乙丙"])
    b = wordfilter.compile_filter([("丙丁", "block"), ("甲乙", "hold")], ["甲乙丙"])
    assert a is b  # same list in another order: the same compiled filter
    c = wordfilter.compile_filter([("甲乙", "hold"), ("丙丁", "block"), ("戊己", "ad")], ["甲乙丙"])
    assert c is not a and c.fingerprint != a.fingerprint
    assert found("戊己", c) == [("戊己", "ad", "戊己")] and found("戊己", a) == []
    assert wordfilter.compile_filter([]).scan("任何内容").matches == []


def test_overlapping_words_are_all_reported_in_text_order():
    result = wordfilter.scan("想自杀，胸痛")
    assert [m.word for m in result.matches] == ["想自杀", "自杀", "胸痛"]
    assert result.words() == ["想自杀", "自杀", "胸痛"]


async def test_load_reads_the_database_list_and_follows_changes():
    async with unit_of_work() as session:
        # nothing seeded yet: the built-in list still protects
        wf = await wordfilter.load(session)
        assert wf is wordfilter.default_filter()
        await wordlist.ensure_default_words(session)
        await wordlist.ensure_default_words(session)  # idempotent
    async with unit_of_work() as session:
        count = len((await session.scalars(select(SensitiveWord))).all())
        assert count == len(wordlist.default_entries())
        assert len((await session.scalars(select(WordException))).all()) == len(wordlist.DEFAULT_EXCEPTIONS)
        first = await wordfilter.load(session)
        assert await wordfilter.load(session) is first  # unchanged list: the cached automaton
        assert first.scan("想自殺").has(WordCategory.EMERGENCY)
        assert not first.scan("糖友互助群").matches
    async with unit_of_work() as session:
        word = await moderation.add_word(session, ADMIN, word="糖友互助", category="hold", note="测试")
    async with unit_of_work() as session:
        second = await wordfilter.load(session)
        assert second is not first
        assert second.scan("糖友 互助群").words() == ["糖友互助"]
    async with unit_of_work() as session:
        await moderation.remove_word(session, ADMIN, word.id)
        exception = await moderation.add_exception(session, ADMIN, phrase="根治性放疗")
    async with unit_of_work() as session:
        third = await wordfilter.load(session)
        assert not third.scan("糖友互助群").matches  # switched off
        assert not third.scan("做了根治性放疗").matches
        await moderation.remove_exception(session, ADMIN, exception.id)
    async with unit_of_work() as session:
        assert (await wordfilter.load(session)).scan("做了根治性放疗").words() == ["根治"]
        # a switched-off default word stays off when the defaults are ensured again
        await wordlist.ensure_default_words(session)
        row = await session.scalar(select(SensitiveWord).where(SensitiveWord.word == "糖友互助"))
        assert row is not None and row.active is False


async def test_only_admins_edit_the_list_and_bad_words_are_refused():
    from core.errors import PermissionDenied, ValidationFailed

    moderator = Actor(kind=ActorKind.STAFF, id=uuid.uuid4(), roles=frozenset({Role.MODERATOR}))
    async with unit_of_work() as session:
        with pytest.raises(PermissionDenied):
            await moderation.add_word(session, moderator, word="测试词", category="hold")
        with pytest.raises(ValidationFailed) as caught:
            await moderation.add_word(session, ADMIN, word="＊ ＊", category="nonsense")
        assert {i.code for i in caught.value.issues} == {"WORD_EMPTY", "CATEGORY_INVALID"}
