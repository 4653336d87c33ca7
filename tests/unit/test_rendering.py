"""The one Markdown renderer (statuspage.core.rendering): markdown-it-py in CommonMark mode with
tables and strikethrough, then nh3.

Besides safety (raw HTML shown as text, links with rel, only http/https/mailto), these pin the
CommonMark behaviour staff texts already rely on, which Python-Markdown renders differently
(docs/architecture.md says why markdown-it-py stays): a list right after a sentence, a list
nested by two spaces, a second paragraph inside a list item, a backslash line break, `1)`.
"""

import pytest

from statuspage.core.rendering import markdown_to_text, render_markdown


def html(text: str) -> str:
    return str(render_markdown(text))


def test_raw_html_is_shown_as_text_never_passed_through():
    rendered = html("<b>bold?</b> <script>alert(1)</script>\n\n<div onclick=x>block</div>")
    assert "&lt;b&gt;bold?&lt;/b&gt;" in rendered
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert "&lt;div onclick=x&gt;block&lt;/div&gt;" in rendered
    assert "<b>" not in rendered and "<div" not in rendered


def test_links_carry_rel_and_only_safe_schemes():
    rendered = html('[docs](https://example.com/a "Docs") and [bad](javascript:alert(1))')
    assert (
        '<a href="https://example.com/a" title="Docs" rel="nofollow noopener noreferrer">docs</a>'
        in rendered
    )
    assert 'href="javascript' not in rendered  # shown as text, never a link
    assert html("<ops@example.com>") == (
        '<p><a href="mailto:ops@example.com" rel="nofollow noopener noreferrer">'
        "ops@example.com</a></p>\n"
    )


def test_tables_strikethrough_and_fenced_code():
    rendered = html("| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ new\n\n```\n<code> & more\n```")
    assert "<thead>\n<tr>\n<th>a</th>\n<th>b</th>" in rendered
    assert "<tbody>\n<tr>\n<td>1</td>\n<td>2</td>" in rendered
    assert "<s>old</s> new" in rendered
    assert "<pre><code>&lt;code&gt; &amp; more\n</code></pre>" in rendered


def test_a_list_right_after_a_sentence_is_a_list():
    assert html("We are investigating.\n- API\n- Web") == (
        "<p>We are investigating.</p>\n<ul>\n<li>API</li>\n<li>Web</li>\n</ul>\n"
    )
    assert "<ol>\n<li>one</li>\n<li>two</li>\n</ol>" in html("Steps:\n1. one\n2. two")
    assert "<ol>\n<li>first</li>" in html("1) first")


def test_a_list_nested_by_two_spaces_is_nested():
    assert html("- API\n  - EU\n- Web") == (
        "<ul>\n<li>API\n<ul>\n<li>EU</li>\n</ul>\n</li>\n<li>Web</li>\n</ul>\n"
    )


def test_a_second_paragraph_stays_inside_its_list_item():
    assert html("- item\n\n  more about it") == (
        "<ul>\n<li>\n<p>item</p>\n<p>more about it</p>\n</li>\n</ul>\n"
    )


@pytest.mark.parametrize("source", ["one\\\ntwo", "one  \ntwo"])
def test_hard_line_breaks(source):
    assert html(source) == "<p>one<br>\ntwo</p>\n"


def test_headings_above_h3_lose_their_tag_not_their_text():
    assert html("# Big\n\n### Small") == "Big\n<h3>Small</h3>\n"


def test_plain_text_drops_every_tag():
    assert markdown_to_text("**Fixed** the [cache](https://example.com).\n- one") == (
        "Fixed the cache.\n\none"
    )
    assert markdown_to_text(None) == "" and str(render_markdown("")) == ""


def test_short_and_long_texts_are_sanitized_alike_cached_or_not():
    from statuspage.core import rendering

    hostile = "**Down** <script>alert(1)</script> [x](javascript:alert(1))\n\n"
    short = hostile * 2
    long = hostile * (rendering.CACHED_TEXT_MAX // len(hostile) + 1)
    assert len(short) <= rendering.CACHED_TEXT_MAX < len(long)
    for text in (short, long):
        first, again = str(rendering.render_markdown(text)), str(rendering.render_markdown(text))
        assert first == again == rendering._sanitized_html(text)
        assert "<script" not in first and 'href="javascript' not in first
        assert "<strong>Down</strong>" in first
