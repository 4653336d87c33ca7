"""The front page with the benchmark's 50 components stays light: under 2,000 elements and
15 KB gzipped, bars included. Sizes, not times, so they are asserted here."""

from __future__ import annotations

import gzip
import re
from html.parser import HTMLParser

from statuspage.seed.bench import seed_bench

ELEMENT_LIMIT = 2_000
GZIP_LIMIT = 15_000


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def handle_starttag(self, tag, attrs) -> None:  # noqa: ARG002
        self.count += 1

    def handle_startendtag(self, tag, attrs) -> None:  # noqa: ARG002
        self.count += 1


def test_front_page_with_fifty_components_is_light(client, session, now):
    summary = seed_bench(session, incidents=60, now=now)
    session.commit()
    assert summary.components == 50

    body = client.get("/").get_data()
    html = body.decode()
    parser = _Elements()
    parser.feed(html)
    assert parser.count < ELEMENT_LIMIT, parser.count
    assert len(gzip.compress(body, 6)) < GZIP_LIMIT, len(gzip.compress(body, 6))
    # The same information as before: a bar and its summary for every component, and a
    # link to each component's days.
    assert html.count('class="uptime-bar') == 50
    assert len(re.findall(r'href="/components/\d+/uptime"', html)) == 50
    assert len(re.findall(r"over 90 days; \d+ days? with outages", html)) == 50
