"""User text to safe HTML: markdown rendered without raw HTML, then sanitised with an allow-list."""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")
_TAGS = {
    "p",
    "br",
    "strong",
    "em",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "del",
}
_ATTRIBUTES = {"a": {"href", "title"}}
# Above every text limit of the callers (post 10,000, article body 50,000 characters, checked before
# rendering): a bound on one call's cost (markdown-it needs up to ~7 µs per character of hostile
# input such as `*_*_...`), so text that escaped a check is cut rather than rendered whole.
MAX_MARKDOWN_LENGTH = 60_000


def render_markdown(source: str) -> str:
    """Images are not rendered inline (posts carry their image URLs separately); links get
    rel="noopener noreferrer nofollow"; only http(s) and mailto links survive."""
    html = _md.render((source or "")[:MAX_MARKDOWN_LENGTH])
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
