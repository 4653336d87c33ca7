"""Status badges (SVG) and the embeddable status widget."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from xml.dom import minidom

import pytest

from statuspage import PROJECT_ROOT
from statuspage.core import translation
from statuspage.public import widget

SVG_NS = "http://www.w3.org/2000/svg"


def badge(client, path: str) -> tuple[str, list[str], minidom.Document]:
    """Get a badge; check its headers and XML; give back its <title> and its two texts."""
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'"
    document = minidom.parseString(response.data)  # noqa: S318 - our own badge under test
    root = document.documentElement
    assert root.tagName == "svg" and root.getAttribute("xmlns") == SVG_NS
    title = document.getElementsByTagName("title")[0].firstChild.data
    texts = [node.firstChild.data for node in document.getElementsByTagName("text")]
    assert root.getAttribute("aria-label") == title
    return title, texts, document


def test_overall_badge_says_all_systems_operational(client, session, make_component):
    make_component("API")
    session.commit()
    title, texts, _ = badge(client, "/badge.svg")
    assert title == "status: All Systems Operational"
    assert texts == ["status", "All Systems Operational"]


def test_badges_show_an_outage_in_words(client, session, make_component, make_incident):
    api = make_component("API")
    make_component("Website")
    make_incident("Errors", components={api.id: "partial_outage"})
    session.commit()

    title, texts, _ = badge(client, "/badge.svg")
    assert texts == ["status", "Partial System Outage"]

    title, texts, document = badge(client, f"/components/{api.id}/badge.svg")
    assert title == "API: Partial outage"
    assert texts == ["API", "Partial outage"]
    colours = {rect.getAttribute("fill") for rect in document.getElementsByTagName("rect")}
    assert "#bc4c00" in colours


def test_component_badge_escapes_a_hostile_name(client, session, make_component):
    name = "<script>alert(\"x\")</script> & <a onclick='y'>"
    component = make_component(name + "\x0b")
    session.commit()

    response = client.get(f"/components/{component.id}/badge.svg")
    raw = response.get_data(as_text=True)
    assert "<script" not in raw and "<a " not in raw and "\x0b" not in raw
    title, texts, document = badge(client, f"/components/{component.id}/badge.svg")
    assert title == f"{name}: Operational"
    assert texts == [name, "Operational"]
    assert not document.getElementsByTagName("script")
    assert not document.getElementsByTagName("a")


def test_badge_of_unknown_or_hidden_component_is_404(client, session, make_component):
    hidden = make_component("Internal", is_public=False)
    session.commit()
    for component_id in (hidden.id, hidden.id + 1000):
        response = client.get(f"/components/{component_id}/badge.svg")
        assert response.status_code == 404
        assert response.mimetype == "text/html"


WIDGET = PROJECT_ROOT / "static" / "js" / "status-widget.js"

# A minimal DOM for node: enough for the widget, and `innerHTML` refuses to be used.
HARNESS = r"""
const fs = require("fs");
function element(tag) {
  return {
    tagName: tag, style: {}, attributes: {}, children: [], textContent: "",
    setAttribute(name, value) { this.attributes[name] = String(value); },
    getAttribute(name) { return name in this.attributes ? this.attributes[name] : null; },
    appendChild(child) { this.children.push(child); return child; },
    insertBefore(child) { this.children.push(child); return child; },
    set innerHTML(value) { throw new Error("innerHTML used"); },
    set outerHTML(value) { throw new Error("outerHTML used"); },
    insertAdjacentHTML() { throw new Error("insertAdjacentHTML used"); },
  };
}
const parent = element("div");
const script = element("script");
script.src = "https://status.example.com/static/js/status-widget.js";
script.setAttribute("data-status-url", "https://status.example.com/");
script.setAttribute("data-refresh", "0");
if (process.argv[3]) { script.setAttribute("data-lang", process.argv[3]); }
script.parentNode = parent;
global.document = {
  currentScript: script, readyState: "complete", baseURI: "https://shop.example.net/",
  head: element("head"), body: element("body"),
  createElement: element,
  getElementById() { return null; },
  querySelectorAll() { return []; },
  write() { throw new Error("document.write used"); },
};
const summary = JSON.parse(process.argv[2]);
const network = process.argv[4] || "answers";  // or "waits" (no answer yet), "fails"
let requested = null;
global.fetch = (url, options) => {
  requested = url;
  if (network === "waits") { return new Promise(() => {}); }
  if (network === "fails") { return Promise.reject(new Error("offline")); }
  return Promise.resolve({ ok: true, status: 200, json: () => Promise.resolve(summary) });
};
eval(fs.readFileSync(process.argv[1], "utf8"));
setTimeout(() => {
  const link = parent.children[0];
  process.stdout.write(JSON.stringify({
    requested, href: link.href, dot: link.children[0].style.background,
    text: link.children[1].textContent, lang: link.lang || null,
  }));
}, 20);
"""


def run_widget(
    summary: dict, lang: str = "", *, script: Path = WIDGET, network: str = "answers"
) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    result = subprocess.run(
        [node, "-e", HARNESS, str(script), json.dumps(summary), lang, network],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_widget_shows_the_status_as_text():
    shown = run_widget(
        {
            "page": {"url": "https://status.example.com"},
            "status": {"indicator": "major", "description": "Partial System Outage"},
        }
    )
    assert shown == {
        "requested": "https://status.example.com/api/v2/summary.json",
        "href": "https://status.example.com/",
        "dot": "#bc4c00",
        "text": "Partial System Outage",
        "lang": None,
    }


def test_widget_asks_for_the_language_it_is_given():
    summary = {
        "page": {"url": "https://status.example.com"},
        "status": {"indicator": "none", "description": "All Systems Operational"},
    }
    shown = run_widget(summary, lang="de")
    assert shown["requested"] == "https://status.example.com/api/v2/summary.json?lang=de"
    assert shown["href"] == "https://status.example.com/?lang=de"
    assert shown["lang"] == "de"
    # Anything but a two-letter code is ignored: no parameter, no lang attribute.
    odd = run_widget(summary, lang="de&x=1")
    assert odd["requested"] == "https://status.example.com/api/v2/summary.json"
    assert odd["lang"] is None


def test_the_served_widget_says_its_own_words_in_the_language_it_is_given(client, tmp_path):
    response = client.get("/widget.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    script = tmp_path / "widget.js"
    script.write_bytes(response.data)

    checking, unavailable = (
        translation.gettext(message, "de") for message in ("Checking status…", "Status unavailable")
    )
    assert checking != "Checking status…" and unavailable != "Status unavailable"
    assert run_widget({}, "de", script=script, network="waits")["text"] == checking
    assert run_widget({}, "de", script=script, network="fails")["text"] == unavailable
    japanese = translation.gettext("Status unknown", "ja")
    assert run_widget({"status": {}}, "ja", script=script)["text"] == japanese
    # Without data-lang: the site's default language (English here), as the static file.
    assert run_widget({}, script=script, network="waits")["text"] == "Checking status…"
    assert run_widget({}, "de", network="waits")["text"] == "Checking status…"


def test_the_widget_falls_back_to_the_sites_default_language():
    french = widget.words_by_language("fr")
    assert french[""] == french["fr"]
    assert french[""]["checking"] == translation.gettext("Checking status…", "fr")
    assert widget.PLACEHOLDER not in widget.widget_script("fr")


def test_widget_keeps_hostile_data_inert():
    shown = run_widget(
        {
            "page": {"url": "javascript:alert(1)"},
            "status": {
                "indicator": "red; background-image: url(//evil.example)",
                "description": "<img src=x onerror=alert(2)>",
            },
        }
    )
    assert shown["text"] == "<img src=x onerror=alert(2)>"  # as text: the harness forbids HTML
    assert shown["href"] == "https://status.example.com"
    assert shown["dot"] == "#6e7781"


def test_widget_writes_no_html_anywhere():
    source = Path(WIDGET).read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source


def test_the_badge_cache_header_says_what_docs_api_md_says(client, session, make_component):
    """docs/api.md promises badge readers a cache lifetime; the header must keep it, whether
    the badge was just rendered or served from the public cache."""
    import re

    docs = (PROJECT_ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = docs.split("## Status badges", 1)[1].split("\n## ", 1)[0]
    promised = re.search(
        r"cached for (\d+) seconds \(`Cache-Control: public,\s+max-age=(\d+)", section
    )
    assert promised, "docs/api.md no longer says how long a badge is cached"
    seconds = int(promised.group(1))
    assert int(promised.group(2)) == seconds

    api = make_component("API")
    session.commit()
    for path in ("/badge.svg", "/badge.svg", f"/components/{api.id}/badge.svg"):
        header = client.get(path).headers["Cache-Control"]
        assert "public" in header
        assert re.search(r"(?:^|[ ,])max-age=(\d+)", header).group(1) == str(seconds), header
