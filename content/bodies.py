"""Article bodies as sanitised HTML, rendered once per revision and process instead of on every read.

markdown-it + nh3 cost ~0.5-2 ms per article body; a body is read far more often than it changes. The
cache is keyed by revision id and checked against the body it was rendered from, so a draft revision
edited in place is rendered again (the comparison is a memcmp when the text is unchanged). Bounded
(least recently used out): a few thousand bodies of up to 50,000 characters."""

from __future__ import annotations

import uuid
from collections import OrderedDict

from core.text import render_markdown

MAX_CACHED = 2048
_cache: OrderedDict[uuid.UUID, tuple[str, str]] = OrderedDict()


def body_html(revision_id: uuid.UUID, body: str) -> str:
    """The sanitised HTML of a revision's markdown body."""
    found = _cache.get(revision_id)
    if found is not None and found[0] == body:
        _cache.move_to_end(revision_id)
        return found[1]
    html = render_markdown(body)
    _cache[revision_id] = (body, html)
    if len(_cache) > MAX_CACHED:
        _cache.popitem(last=False)
    return html
