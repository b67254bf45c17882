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


def render_markdown(source: str) -> str:
    """Images are not rendered inline (posts carry their image URLs separately); links get
    rel="noopener noreferrer nofollow"; only http(s) and mailto links survive."""
    html = _md.render(source or "")
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
