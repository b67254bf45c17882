"""The compliance check's normal form: a dense copy of a text that keeps a map back to the original.

Evasions of the word list are undone before anything is matched, the same way the community's
sensitive-word filter (community/wordfilter.py) does it, with the extras advertising claims need:

- full-width and compatibility forms become their plain forms (NFKC: `１００％` -> `100%`), letters are
  case-folded;
- spaces, punctuation, symbols, emoji, control and zero-width characters are dropped, so `根 治`,
  `根-治`, `根·治`, `根\u200b治` all read `根治`. Clause punctuation (，。、；：！？ and line breaks) is
  dropped too but remembered as a *break*: `clause_split` tells a word split by one (`根，治`, an
  evasion) from two words in two clauses (`保证，治愈需要时间`), and `sentences` gives the text
  sentence by sentence for the rules that look at a whole statement;
- traditional characters become simplified ones (OpenCC `t2s`, the community filter's converter),
  only around the characters that conversion can change, so a simplified text costs nothing;
- the ways of writing "a hundred percent" (100%, 100.0% (its point is dropped: 1000%), 百分之百,
  百分之一百, 十成) all become `百分百`, so `100%有效` on the word list matches `百分百有效`,
  `百分之百 有效` and `１００％有效`.

Each character of the dense text knows the span of the original text it came from (`span`), so a
finding covers exactly what the author wrote, separators included (`根 - 治` is reported whole).
Everything here is a single pass over the text plus regular expressions without nested or
unbounded backtracking: the cost is linear in the text.
"""

from __future__ import annotations

import bisect
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

import opencc

from community.wordfilter import _t2s

# Unicode general categories dropped (as in community/wordfilter.py): separators, punctuation,
# symbols and emoji, marks, control and format characters (zero-width spaces and joiners).
_DROPPED = frozenset("ZPSMC")
# Clause punctuation, after NFKC (the full-width ，；：！？ are , ; : ! ?). A full stop "." is not one:
# it sits inside numbers and between the characters of an evaded word (`根.治`).
_BREAKS = frozenset("。｡、,;:!?\n\u2028\u2029")
_KEEP, _DROP, _BREAK = 0, 1, 2
# A sentence: the rules that read a whole statement stop at these (not at commas).
_SENTENCE_ENDS = frozenset("。｡;!?\n\u2028\u2029")

# char -> (normal form, kind); filled as characters are met, bounded against hostile input.
_classified: dict[str, tuple[str, int, bool]] = {}
_MAX_CLASSIFIED = 20_000


def _classify(ch: str) -> tuple[str, int, bool]:
    found = _classified.get(ch)
    if found is not None:
        return found
    plain = unicodedata.normalize("NFKC", ch).casefold()
    if plain and all(c in _BREAKS for c in plain):
        found = ("", _BREAK, any(c in _SENTENCE_ENDS for c in plain))
    else:
        kept = "".join(c for c in plain if c == "%" or unicodedata.category(c)[0] not in _DROPPED)
        found = (kept, _KEEP if kept else _DROP, False)
    if len(_classified) < _MAX_CLASSIFIED:
        _classified[ch] = found
    return found


@lru_cache(maxsize=1)
def _changeable() -> frozenset[str]:
    """The characters `t2s` can change: a text without any of them converts to itself."""
    folder = os.path.join(os.path.dirname(opencc.__file__), "dictionary")
    chars: set[str] = set()
    with open(os.path.join(folder, "TSCharacters.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, values = line.rstrip("\n").partition("\t")
            if values.split() and values.split()[0] != key:
                chars.add(key)
    with open(os.path.join(folder, "TSPhrases.txt"), encoding="utf-8") as f:
        for line in f:
            key, _, values = line.rstrip("\n").partition("\t")
            value = values.split()[0] if values.split() else key
            if len(value) == len(key):
                chars.update(k for k, v in zip(key, value, strict=True) if k != v)
            elif value != key:
                chars.update(key)
    return frozenset(chars)


# A phrase of the t2s dictionary is a few characters long: converting this much around each
# changeable character gives the phrase-level result there.
_T2S_MARGIN = 8


def _to_simplified(chars: list[str]) -> None:
    """Convert in place, one character for one; only windows around changeable characters."""
    changeable = _changeable()
    hits = [i for i, c in enumerate(chars) if c in changeable]
    if not hits:
        return
    windows: list[list[int]] = []
    for i in hits:
        lo, hi = max(0, i - _T2S_MARGIN), min(len(chars), i + _T2S_MARGIN + 1)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = hi
        else:
            windows.append([lo, hi])
    converter = _t2s()
    for lo, hi in windows:
        piece = "".join(chars[lo:hi])
        converted = converter.convert(piece)
        if len(converted) == len(piece):
            chars[lo:hi] = list(converted)
        else:  # a phrase changed length (t2s nearly never does): character by character
            for i in range(lo, hi):
                one = converter.convert(chars[i])
                if len(one) == 1:
                    chars[i] = one


# The ways of writing "a hundred percent"; a lone % left over is dropped (it is punctuation).
_PERCENT = re.compile(r"(?<!\d)100(?:0{1,3})?%|百分之一?百|(?<![零一二三四五六七八九十百千万两几])十成(?![员熟])|%")
HUNDRED_PERCENT = "百分百"


@dataclass(frozen=True)
class Dense:
    text: str
    starts: list[int]  # starts[i]: where dense character i begins in the original text
    ends: list[int]  # ends[i]: where it ends there
    breaks: list[int]  # sorted: a clause break lies just before dense character i
    stops: list[int]  # sorted: a sentence end lies just before dense character i (a subset of breaks)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of dense characters [start, end)."""
        return self.starts[start], self.ends[end - 1]

    def clause_split(self, start: int, end: int) -> bool:
        """Whether [start, end) joins two words of two clauses: a break inside it with at least two
        characters on each side (`保证，治愈`), not a word with punctuation stuffed into it (`根，治`)."""
        i = bisect.bisect_right(self.breaks, start)
        while i < len(self.breaks) and self.breaks[i] < end:
            if self.breaks[i] - start >= 2 and end - self.breaks[i] >= 2:
                return True
            i += 1
        return False

    def broken(self, start: int, end: int) -> bool:
        """Whether any clause break lies inside [start, end)."""
        i = bisect.bisect_right(self.breaks, start)
        return i < len(self.breaks) and self.breaks[i] < end

    def sentence_start(self, pos: int) -> int:
        i = bisect.bisect_right(self.stops, pos)
        return self.stops[i - 1] if i else 0

    def sentences(self) -> Iterator[tuple[int, int]]:
        """[start, end) of each sentence of the dense text."""
        start = 0
        for stop in self.stops:
            if stop > start:
                yield start, stop
            start = stop
        if start < len(self.text):
            yield start, len(self.text)


def dense(text: str) -> Dense:
    chars: list[str] = []
    starts: list[int] = []
    breaks: list[int] = []
    stops: list[int] = []
    pending = pending_stop = False
    for index, ch in enumerate(text):
        plain, kind, stop = _classify(ch)
        if kind == _KEEP:
            if pending:
                breaks.append(len(chars))
                if pending_stop:
                    stops.append(len(chars))
                pending = pending_stop = False
            if len(plain) == 1:
                chars.append(plain)
                starts.append(index)
            else:
                chars.extend(plain)
                starts.extend([index] * len(plain))
        elif kind == _BREAK:
            pending = True
            pending_stop = pending_stop or stop
    ends = [s + 1 for s in starts]
    _to_simplified(chars)
    joined = "".join(chars)
    if "%" in joined or "百" in joined or "十成" in joined:
        joined, starts, ends, breaks, stops = _hundred_percent(joined, starts, ends, breaks, stops)
    return Dense(joined, starts, ends, breaks, stops)


def _hundred_percent(
    text: str, starts: list[int], ends: list[int], breaks: list[int], stops: list[int]
) -> tuple[str, list[int], list[int], list[int], list[int]]:
    """Rewrite every way of writing 100% as 百分百, carrying the positions and breaks along."""
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    # old index -> new index, for the breaks (a break inside a rewritten phrase moves to its start)
    shift: list[tuple[int, int]] = []
    last = 0
    removed = 0
    for m in _PERCENT.finditer(text):
        a, b = m.span()
        if m.group() == HUNDRED_PERCENT:
            continue
        pieces.append(text[last:a])
        new_starts.extend(starts[last:a])
        new_ends.extend(ends[last:a])
        replacement = "" if m.group() == "%" else HUNDRED_PERCENT
        pieces.append(replacement)
        new_starts.extend([starts[a]] * len(replacement))
        new_ends.extend([ends[b - 1]] * len(replacement))
        removed += (b - a) - len(replacement)
        shift.append((b, removed))
        last = b
    if not shift:
        return text, starts, ends, breaks, stops
    pieces.append(text[last:])
    new_starts.extend(starts[last:])
    new_ends.extend(ends[last:])
    bounds = [b for b, _ in shift]

    def moved(pos: int) -> int:
        i = bisect.bisect_right(bounds, pos)
        return pos - (shift[i - 1][1] if i else 0)

    def remap(positions: list[int]) -> list[int]:
        out: list[int] = []
        for p in positions:
            q = moved(p)
            if not out or out[-1] != q:
                out.append(q)
        return out

    return "".join(pieces), new_starts, new_ends, remap(breaks), remap(stops)


def normal_form(phrase: str) -> str:
    """A listed word or allowed context in the dense form it is matched under."""
    return dense(phrase).text
