"""Topic tags (话题): `#控糖#` or `#控糖` in a post's title or body, and the tags people follow.

One normal form for both, so a followed tag matches however it was written: NFKC (full-width `＃控糖`
and `Ｔ２` become plain), Latin letters lower-cased, the `#`s taken off. A tag is 1 to 20 letters, digits
(CJK included) or underscores. In a text, `#控糖#` is a tag anywhere (Chinese has no spaces: `今天#控糖#`),
`#控糖` only at the start or after a space or punctuation; never after `/`, `&` or another `#` (so
`https://a.cn/x#part`, `&#123;` and `## 标题` are not tags).
"""

from __future__ import annotations

import re
import unicodedata

from social import errors

MAX_TAG = 20
MAX_TAGS_PER_POST = 10
_TAG = re.compile(r"\w{1,20}")
# After NFKC: the closed form (Weibo), or the open form after a non-word character. A run longer than
# MAX_TAG is no tag (a cut-off word would mislead).
_IN_TEXT = re.compile(r"(?<![/&#])#(\w{1,20})#|(?<![\w/&#])#(\w{1,20})(?![\w#])")


def normalise(raw: str) -> str:
    """A tag as people type it (`#控糖#`, `控糖`, `＃Ｔ２`) in its stored form; TAG_INVALID otherwise."""
    if len(raw) > 4 * MAX_TAG:  # checked before any normalising work
        raise errors.TagInvalid(field="tag")
    tag = unicodedata.normalize("NFKC", raw).strip().strip("#").strip().lower()
    if not _TAG.fullmatch(tag):
        raise errors.TagInvalid(field="tag")
    return tag


def extract(*texts: str) -> list[str]:
    """The distinct tags of the texts in order of appearance, at most MAX_TAGS_PER_POST."""
    found: dict[str, None] = {}
    for text in texts:
        for match in _IN_TEXT.finditer(unicodedata.normalize("NFKC", text)):
            found.setdefault((match.group(1) or match.group(2)).lower(), None)
            if len(found) >= MAX_TAGS_PER_POST:
                return list(found)
    return list(found)
