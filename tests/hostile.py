"""Hostile text for the tests that check what reaches readers, and the check itself."""

from __future__ import annotations

from html.parser import HTMLParser

HOSTILE_TITLE = "Outage <script>alert(1)</script> & <img src=x onerror=alert(9)>"
HOSTILE_BODY = (
    "<script>alert(1)</script>\n\n"
    '[click me](javascript:alert(2)) and <img src=x onerror="alert(3)">\n\n'
    '<a href="#" onclick="alert(4)">x</a> [ok](JaVaScRiPt:alert(5))\n\n'
    "<div><p>unclosed <b>bold <i>broken</div></p> <svg onload=alert(7)>\n\n"
    "<iframe src=//evil.example></iframe> <!-- comment --> end"
)
DANGEROUS_TAGS = {"script", "img", "iframe", "svg", "object", "embed", "style", "form"}


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


def assert_inert(html: str, *, allowed: frozenset[str] = frozenset()) -> None:
    """No element that runs or loads anything, no event handler, no `javascript:` URL.

    `allowed` names tags the page itself uses on purpose (a page's own script element)."""
    collector = TagCollector()
    collector.feed(html)
    found = (DANGEROUS_TAGS - allowed) & set(collector.tags)
    assert not found, found
    for name, value in collector.attributes:
        assert not name.startswith("on"), (name, value)
        assert not value.strip().lower().startswith("javascript:"), (name, value)
