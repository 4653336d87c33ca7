"""The staff header: the navigation first, "Log out" last and apart from it, so a thumb aiming at
the first item of the navigation does not end the session."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest


class _Header(HTMLParser):
    """The focusable elements of <header>, in document order, and whether each is in a <nav>."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = {"header": 0, "nav": 0}
        self.focusable: list[tuple[str, str, bool]] = []
        self._open: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in self.depth:
            self.depth[tag] += 1
        if self.depth["header"] and tag in ("a", "button"):
            self._open = [tag, "", str(self.depth["nav"] > 0)]

    def handle_endtag(self, tag):
        if tag in self.depth:
            self.depth[tag] -= 1
        if self._open is not None and tag == self._open[0]:
            tag_name, text, in_nav = self._open
            self.focusable.append((tag_name, " ".join(text.split()), in_nav == "True"))
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data


def header_of(html: str) -> list[tuple[str, str, bool]]:
    parser = _Header()
    parser.feed(html)
    return parser.focusable


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_log_out_is_the_last_control_of_the_header_outside_the_navigation(
    client, make_user, login, role
):
    user = make_user(role)
    login(user)
    html = client.get("/admin/incidents").get_data(as_text=True)
    controls = header_of(html)
    buttons = [c for c in controls if c[0] == "button"]
    assert buttons == [("button", "Log out", False)], controls
    assert controls[-1] == ("button", "Log out", False)
    links_in_nav = [c for c in controls if c[2]]
    assert len(links_in_nav) >= 2 and all(c[0] == "a" for c in links_in_nav)
    # Who is logged in stays visible, next to the button.
    header = html.split("<header", 1)[1].split("</header>", 1)[0]
    assert re.search(rf">\s*{re.escape(user.email)}\s*<", header)
