"""Property: whatever staff type, the Markdown renderer lets nothing through that runs.

Hypothesis builds Markdown from arbitrary Unicode mixed with the pieces attacks are made of
(raw tags, event handlers, `javascript:` in every disguise, entities, comments, link and image
syntax, control characters). For every input the rendered HTML, parsed the way a browser
tokenizes it, has only allowed tags and attributes, no event handler, and no link whose scheme
(after entity decoding and the whitespace browsers ignore) is anything but http, https or mailto.
The same holds for the page staff preview it on, rendered by the app.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from statuspage.core.rendering import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    ALLOWED_URL_SCHEMES,
    markdown_to_text,
    render_markdown,
)
from tests.conftest import PASSWORD
from tests.hostile import TagCollector, assert_inert

FRAGMENTS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    "<iframe src=//evil.example>",
    "<style>*{}</style>",
    "<object data=x>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<math><mi xlink:href=javascript:alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](&#106;avascript:alert(1))",
    "[x](&#x6A;avascript&#58;alert(1))",
    "[x]( javascript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "![x](javascript:alert(1))",
    '![x](x" onerror="alert(1))',
    '[x](http://a "title" onmouseover=alert(1))',
    "[ref]: javascript:alert(1)\n\n[ref]",
    '<http://example.com/"onmouseover="alert(1)>',
    "<javascript:alert(1)>",
    "`<script>`",
    "```\n<script>alert(1)</script>\n```",
    "<!-- <script> -->",
    "<![CDATA[<script>]]>",
    "&lt;script&gt;",
    "\x00",
    "\u2028",
    "\ufeff",
    "\r\n",
    "\n\n",
    "    ",
    "> ",
    "* ",
    "1. ",
    "| a | b |\n|---|---|\n| <b onclick=x> | c |",
    '"',
    "'",
    "<",
    ">",
    "&",
    "[",
    "](",
    ")",
    "onerror=",
    "javascript:",
]

hostile_markdown = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=12)), max_size=14
).map("".join)

# Browsers drop ASCII whitespace and control characters inside a URL's scheme.
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]+")


def scheme_of(url: str) -> str:
    """The scheme a browser sees in an attribute value already entity-decoded (as the parser
    hands it over; browsers decode once, so `&amp;#106;` stays text, not a `j`)."""
    cleaned = _IGNORED_IN_SCHEME.sub("", url).lower()
    match = re.match(r"([a-z][a-z0-9+.\-]*):", cleaned)
    return match.group(1) if match else ""


def assert_sanitized(markup: str) -> None:
    assert_inert(markup)
    collector = TagCollector()
    collector.feed(markup)
    collector.close()
    assert set(collector.tags) <= ALLOWED_TAGS | {"html", "body"}, collector.tags
    for name, value in collector.attributes:
        allowed = set().union(*ALLOWED_ATTRIBUTES.values()) | {"rel"}
        assert name in allowed, (name, value)
        if name == "href":
            scheme = scheme_of(value)
            assert scheme in ALLOWED_URL_SCHEMES | {""}, value
    assert "<script" not in markup.lower()


PROPERTY = settings(max_examples=200, deadline=None, database=None)


@PROPERTY
@given(text=hostile_markdown)
def test_rendered_markdown_never_carries_anything_that_runs(text: str) -> None:
    assert_sanitized(str(render_markdown(text)))


@PROPERTY
@given(text=hostile_markdown)
def test_rendering_twice_is_still_inert(text: str) -> None:
    # Rendered output pasted back into a form (a copied update) is sanitized the same way.
    assert_sanitized(str(render_markdown(str(render_markdown(text)))))


@PROPERTY
@given(text=hostile_markdown)
def test_plain_text_has_no_markup_at_all(text: str) -> None:
    plain = markdown_to_text(text)
    collector = TagCollector()
    collector.feed(plain)
    collector.close()
    assert collector.tags == []
    assert "\x00" not in plain


@pytest.fixture
def previewing(app: Any, make_user: Any, make_incident: Any, session: Any) -> Any:
    """A logged-in communicator and an incident whose update form previews Markdown."""
    incident = make_incident("Preview", public=False)
    user = make_user("communicator")
    session.commit()
    client = app.test_client()
    login = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert login.status_code == 302
    return client, f"/admin/incidents/{incident.id}/updates/new"


def test_the_preview_page_stays_inert_for_any_update_text(previewing: Any) -> None:
    client, url = previewing

    # The preview writes nothing, so one logged-in client serves every example.
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(text=hostile_markdown.filter(lambda t: t.strip() and "\x00" not in t))
    def check(text: str) -> None:
        response = client.post(url, data={"status": "investigating", "body": text})
        assert response.status_code in (200, 400), response.status_code
        page = response.get_data(as_text=True)
        # The page's own script and forms are allowed; nothing the text brought in is.
        assert_inert(page, allowed=frozenset({"script", "form"}))
        # Every script on the page is one of the site's own files.
        assert page.lower().count("<script") == page.count('<script src="/static/js/')
        if response.status_code == 200:
            # Sanitized text cannot close the div: nh3 allows no div.
            preview = page.split('<section aria-labelledby="preview-h"', 1)[1]
            assert_sanitized(preview.split('<div class="prose">', 1)[1].split("</div>", 1)[0])

    check()
