"""The sensitive-word filter: Aho-Corasick over a normalised copy of the text.

Normalisation defeats the usual evasions while keeping a map back to the original text, so every
finding reports where it is in what the user wrote:

- full-width and compatibility forms become their plain forms (NFKC: `１００％` -> `100%`),
  Latin letters are case-folded (`VX` -> `vx`);
- spaces, punctuation, symbols, emoji, control and zero-width characters are dropped, so a word
  with something inserted between its characters (`血 糖`, `血*糖`, `想\u200b自杀`) still matches;
- traditional characters become simplified ones (OpenCC `t2s`: `想自殺` -> `想自杀`).

Listed words and exception phrases go through the same normalisation, so `100%有效` on the list
is `100有效` in the automaton and matches `100％有效` and `100 有效` alike.

Exceptions are the context rule: a match lying inside an occurrence of an exception phrase is
ignored (`根治` is an advertising claim, `乳腺癌改良根治术` is an operation; `保安` may be listed
while `佳保安全` is harmless). Occurrences elsewhere in the same text still count.

One automaton is built per word-list version and cached under the list's fingerprint: building
is paid once per process and list change, scanning is linear in the text. `compile_filter` and
`WordFilter.scan` are pure (unit tests, tools); `load(session)` reads the tables and asks the
database only for a fingerprint while the list is unchanged.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import ahocorasick
import opencc
from sqlalchemy import String, cast, func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from community import wordlist
from community.models import SensitiveWord, WordCategory, WordException

# Unicode general categories dropped from the normalised text: separators (Z), punctuation (P),
# symbols (S, incl. emoji), marks (M) and other (C: control, format such as zero-width, unassigned).
_DROPPED = frozenset("ZPSMC")
# Most severe first: the order in which categories are reported and acted on.
SEVERITY = (WordCategory.EMERGENCY, WordCategory.BLOCK, WordCategory.HOLD, WordCategory.AD)
# The longest text screened: a post (100-character title, 10,000-character body), whose length the
# caller checks first. Normalising costs about 5 µs per character, so a longer text is refused
# (a caller that skipped its check), never screened in part: a word past a cut would slip through.
MAX_SCAN_LENGTH = 20_000
# Listed words and exception phrases are at most 60 characters (checked when added); normal_form
# looks at no more than this, so an over-long word is cheap to reject.
MAX_WORD_LENGTH = 200


class TextTooLong(ValueError):
    """A programming error: the caller must check the text's length before screening it."""


@lru_cache(maxsize=1)
def _t2s() -> Any:
    return opencc.OpenCC("t2s")


@dataclass(frozen=True)
class Normalised:
    text: str
    positions: tuple[int, ...]  # positions[i]: index in the original text of normalised char i


def _dropped(ch: str) -> bool:
    return unicodedata.category(ch)[0] in _DROPPED


def normalise(text: str) -> Normalised:
    chars: list[str] = []
    positions: list[int] = []
    for index, original in enumerate(text):
        for ch in unicodedata.normalize("NFKC", original).casefold():
            if not _dropped(ch):
                chars.append(ch)
                positions.append(index)
    if not chars:
        return Normalised("", ())
    joined = "".join(chars)
    converted = _t2s().convert(joined)
    if len(converted) == len(joined):
        # Phrase-level conversion (better for ambiguous characters) when it keeps the length,
        # which t2s nearly always does.
        return Normalised(converted, tuple(positions))
    out: list[str] = []
    mapped: list[int] = []
    for ch, pos in zip(chars, positions, strict=True):
        for c in _t2s().convert(ch):
            out.append(c)
            mapped.append(pos)
    return Normalised("".join(out), tuple(mapped))


def normal_form(word: str) -> str:
    """The key a listed word or exception phrase is matched under (of its first MAX_WORD_LENGTH
    characters: the add-word checks reject longer ones)."""
    return normalise(word[:MAX_WORD_LENGTH]).text


@dataclass(frozen=True)
class Match:
    word: str  # the listed word as written on the list
    category: WordCategory
    start: int  # span in the ORIGINAL text: text[start:end]
    end: int


@dataclass(frozen=True)
class ScanResult:
    matches: list[Match] = field(default_factory=list)
    categories: set[WordCategory] = field(default_factory=set)

    def words(self, *categories: WordCategory) -> list[str]:
        """The distinct listed words found (of the given categories, or all), in text order."""
        seen: dict[str, None] = {}
        for m in self.matches:
            if not categories or m.category in categories:
                seen.setdefault(m.word, None)
        return list(seen)

    def has(self, category: WordCategory) -> bool:
        return category in self.categories


@dataclass(frozen=True)
class _Entry:
    length: int
    words: tuple[tuple[str, WordCategory], ...]
    exception: bool


class WordFilter:
    """An immutable compiled word list. Build it with `compile_filter` (cached by fingerprint)."""

    def __init__(self, words: Iterable[tuple[str, str]], exceptions: Iterable[str], *, fingerprint: str) -> None:
        self.fingerprint = fingerprint
        by_key: dict[str, list[tuple[str, WordCategory]]] = {}
        for word, category in words:
            key = normal_form(word)
            if key:
                by_key.setdefault(key, []).append((word, WordCategory(category)))
        exception_keys = {k for k in (normal_form(p) for p in exceptions) if k}
        self.size = len(by_key)
        self._automaton: Any = None
        keys = set(by_key) | exception_keys
        if keys:
            automaton = ahocorasick.Automaton()
            for key in keys:
                automaton.add_word(key, _Entry(len(key), tuple(by_key.get(key, ())), key in exception_keys))
            automaton.make_automaton()
            self._automaton = automaton

    def scan(self, text: str) -> ScanResult:
        if len(text or "") > MAX_SCAN_LENGTH:
            raise TextTooLong(f"text of {len(text)} characters is over the screening limit of {MAX_SCAN_LENGTH}")
        if self._automaton is None or not text:
            return ScanResult()
        norm = normalise(text)
        if not norm.text:
            return ScanResult()
        hits: list[tuple[int, int, str, WordCategory]] = []
        exception_spans: list[tuple[int, int]] = []
        for last, entry in self._automaton.iter(norm.text):
            start, end = last - entry.length + 1, last + 1
            if entry.exception:
                exception_spans.append((start, end))
            for word, category in entry.words:
                hits.append((start, end, word, category))
        matches = [
            Match(word=word, category=category, start=norm.positions[start], end=norm.positions[end - 1] + 1)
            for start, end, word, category in hits
            if not any(xs <= start and end <= xe for xs, xe in exception_spans)
        ]
        matches.sort(key=lambda m: (m.start, -m.end, SEVERITY.index(m.category)))
        return ScanResult(matches=matches, categories={m.category for m in matches})


def fingerprint_of(words: Iterable[tuple[str, str]], exceptions: Iterable[str]) -> str:
    canonical = json.dumps([sorted((w, str(c)) for w, c in words), sorted(exceptions)], ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


_compiled: dict[str, WordFilter] = {}
_MAX_COMPILED = 8


def compile_filter(words: Iterable[tuple[str, str]], exceptions: Iterable[str] = ()) -> WordFilter:
    """The filter for this list, built once per distinct list (pure: no database)."""
    words, exceptions = list(words), list(exceptions)
    fp = fingerprint_of(words, exceptions)
    found = _compiled.get(fp)
    if found is None:
        found = WordFilter(words, exceptions, fingerprint=fp)
        if len(_compiled) >= _MAX_COMPILED:
            _compiled.pop(next(iter(_compiled)))
        _compiled[fp] = found
    return found


def default_filter() -> WordFilter:
    return compile_filter(wordlist.default_entries(), wordlist.DEFAULT_EXCEPTIONS)


def scan(text: str, word_filter: WordFilter | None = None) -> ScanResult:
    """Scan with the given filter, or with the built-in default list."""
    return (word_filter or default_filter()).scan(text)


# --- the database-backed list ------------------------------------------------------------------

# database fingerprint -> compiled filter, so an unchanged list costs one small query per load
_by_db_version: dict[str, WordFilter] = {}


async def _db_version(session: AsyncSession) -> tuple[int, str]:
    """(number of listed words, md5 over words, categories, active flags and exception phrases)."""
    sep = literal_column("chr(30)", String)
    word_row = func.concat(
        SensitiveWord.word, "\x1f", SensitiveWord.category, "\x1f", cast(SensitiveWord.active, String)
    )
    words = select(
        func.coalesce(func.string_agg(word_row, aggregate_order_by(sep, SensitiveWord.word)), "")
    ).scalar_subquery()
    phrases = select(
        func.coalesce(func.string_agg(WordException.phrase, aggregate_order_by(sep, WordException.phrase)), "")
    ).scalar_subquery()
    count = select(func.count()).select_from(SensitiveWord).scalar_subquery()
    row = (await session.execute(select(count, func.md5(func.concat(words, "|", phrases))))).one()
    return int(row[0]), str(row[1])


async def load(session: AsyncSession) -> WordFilter:
    """The filter for the active words and exceptions in the database.

    A database that has never been given a list (no rows at all) gets the built-in default list,
    so emergency detection never silently stops because seeding was forgotten.
    """
    count, version = await _db_version(session)
    if count == 0:
        return default_filter()
    found = _by_db_version.get(version)
    if found is not None:
        return found
    words = (
        await session.execute(select(SensitiveWord.word, SensitiveWord.category).where(SensitiveWord.active.is_(True)))
    ).all()
    phrases = (await session.scalars(select(WordException.phrase))).all()
    found = compile_filter([(w, c) for w, c in words], phrases)
    if len(_by_db_version) >= _MAX_COMPILED:
        _by_db_version.pop(next(iter(_by_db_version)))
    _by_db_version[version] = found
    return found
