"""The one place Markdown becomes HTML: rendered, then sanitized with nh3.

Everything staff type goes through `render_markdown` before it reaches a page, a feed or an
email. Nothing else in the code marks text as safe.
"""

from __future__ import annotations

import re
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "del",
    "em",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "abbr": {"title"}, "th": {"align"}, "td": {"align"}}
ALLOWED_URL_SCHEMES = {"http", "https", "mailto"}

# Characters XML 1.0 forbids; they can arrive by paste and would break feeds.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def strip_control_characters(text: str) -> str:
    return _XML_FORBIDDEN.sub("", text)


# Texts up to this long are kept, rendered, in a small per-process cache: the same updates are
# rendered again and again (the feeds carry 50 incidents with all their updates, and each
# snapshot export renders the feeds), and the result depends on the text alone.
CACHED_TEXT_MAX = 4000


def render_markdown(text: str | None) -> Markup:
    if not text:
        return Markup("")
    if len(text) <= CACHED_TEXT_MAX:
        return Markup(_sanitized_html_cached(text))  # noqa: S704 - sanitized by nh3
    return Markup(_sanitized_html(text))  # noqa: S704 - sanitized by nh3


def _sanitized_html(text: str) -> str:
    html = _markdown.render(strip_control_characters(text))
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
    )


_sanitized_html_cached = lru_cache(maxsize=2048)(_sanitized_html)


def markdown_tokens(text: str | None) -> list[Token]:
    """The parsed Markdown, for channels with markup of their own (Slack, Teams, Discord,
    SMS), so they read staff text with the same parser and options as the pages do."""
    if not text:
        return []
    return _markdown.parse(strip_control_characters(text))


def markdown_to_text(text: str | None) -> str:
    """Plain text for places that take no HTML (email text parts, titles)."""
    if not text:
        return ""
    return nh3.clean(_markdown.render(strip_control_characters(text)), tags=set()).strip()
