"""The embeddable status widget's script with its own words in the site's languages.

`/widget.js` is `static/js/status-widget.js` with its `WORDS` line filled from the catalogs:
"Checking status…" and the two fallbacks, per language, and `""` for the site's default
language (what the widget says when the embedding page gives no `data-lang`). The status
itself comes translated from `/api/v2/summary.json?lang=`; these are the words the widget
shows before or without it. The static file stays usable as it is, in English.
"""

from __future__ import annotations

import json
from functools import cache

from flask import Response

from statuspage.core import translation
from statuspage.core.languages import CODES
from statuspage.core.paths import PROJECT_ROOT
from statuspage.core.translation import N_
from statuspage.i18n import default_language
from statuspage.public.blueprint import bp

SCRIPT = PROJECT_ROOT / "static" / "js" / "status-widget.js"
PLACEHOLDER = "var WORDS = null;  // statuspage: widget words"
WORDS = {
    "checking": N_("Checking status…"),
    "unknown": N_("Status unknown"),
    "unavailable": N_("Status unavailable"),
}


@cache
def _source() -> str:
    source = SCRIPT.read_text(encoding="utf-8")
    if PLACEHOLDER not in source:
        raise RuntimeError(f"{SCRIPT} has lost its line {PLACEHOLDER!r}")
    return source


def words_by_language(default: str) -> dict[str, dict[str, str]]:
    """Each language's widget words, and the default language's again under ""."""
    table = {
        code: {key: translation.gettext(message, code) for key, message in WORDS.items()}
        for code in CODES
    }
    table[""] = table.get(default, table["en"])
    return table


def widget_script(default: str) -> str:
    # ASCII-only JSON: the script stays valid whatever charset the embedding page assumes.
    table = json.dumps(words_by_language(default), ensure_ascii=True, sort_keys=True)
    return _source().replace(PLACEHOLDER, f"var WORDS = {table};", 1)


@bp.get("/widget.js")
def widget() -> Response:
    # Cache-Control comes from the public cache (public/cache/policy.py), as for a badge.
    response = Response(
        widget_script(default_language()), content_type="text/javascript; charset=utf-8"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
