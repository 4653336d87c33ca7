"""The front page with the benchmark's 50 components stays light: under 2,000 DOM nodes and
15 KB gzipped, bars included. Sizes, not times, so they are asserted here."""

from __future__ import annotations

import gzip
import re
from datetime import timedelta
from html.parser import HTMLParser

from statuspage.seed.bench import seed_bench

NODE_LIMIT = 2_000
GZIP_LIMIT = 15_000


class DomNodes(HTMLParser):
    """Nodes as a browser's DOM has them: elements, text (whitespace too), comments and the
    doctype. Chromium counts 1,622 on the 50-component page where this counts about the
    same; the issue's 11,375 for the old page was this count too, not elements alone."""

    def __init__(self) -> None:
        super().__init__()
        self.elements = 0
        self.nodes = 0

    def handle_starttag(self, tag, attrs) -> None:  # noqa: ARG002
        self.elements += 1
        self.nodes += 1

    def handle_startendtag(self, tag, attrs) -> None:  # noqa: ARG002
        self.elements += 1
        self.nodes += 1

    def handle_data(self, data) -> None:  # noqa: ARG002
        self.nodes += 1

    def handle_comment(self, data) -> None:  # noqa: ARG002
        self.nodes += 1

    def handle_decl(self, decl) -> None:  # noqa: ARG002
        self.nodes += 1


def test_front_page_with_fifty_components_is_light(client, session, now):
    summary = seed_bench(session, incidents=60, now=now)
    session.commit()
    assert summary.components == 50

    body = client.get("/").get_data()
    html = body.decode()
    parser = DomNodes()
    parser.feed(html)
    parser.close()
    assert parser.nodes < NODE_LIMIT, parser.nodes
    assert len(gzip.compress(body, 6)) < GZIP_LIMIT, len(gzip.compress(body, 6))
    # The same information as before: a bar and its summary for every component, and a
    # link to each component's days.
    assert html.count('class="uptime-bar') == 50
    assert len(re.findall(r'href="/components/\d+/uptime"', html)) == 50
    assert len(re.findall(r"over 90 days; \d+ days? with outages", html)) == 50


def test_first_render_of_a_day_stores_the_days_in_a_few_statements(
    app, client, session, make_component, now
):
    import sqlalchemy as sa

    from statuspage.components.models import UptimeWindow
    from statuspage.core.records import bump_public_version
    from statuspage.extensions import db

    for number in range(12):
        make_component(f"Service {number}", created=now - timedelta(days=200))
    session.commit()
    with app.app_context():
        engine = db.engine
    counts = []
    for _ in range(2):
        statements: list[str] = []

        def record(conn, cursor, statement, *rest, into=statements) -> None:  # noqa: ARG001
            into.append(statement)

        sa.event.listen(engine, "before_cursor_execute", record)
        try:
            assert client.get("/").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", record)
        counts.append(len(statements))
        bump_public_version(session, now)  # a publish: the next request renders again
        session.commit()
    assert session.scalar(sa.select(sa.func.count()).select_from(UptimeWindow)) == 12
    # Counting and storing 12 bars' days costs a few statements (read the days, the history,
    # store days and windows, commit), not some per component, nor a reload of every row
    # after the commit.
    assert counts[0] - counts[1] <= 8, counts
