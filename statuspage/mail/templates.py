"""The one email composer: every email's bodies come from `templates/email/`.

Each email is a pair, `<name>.txt` and `<name>.html`, rendered through a Jinja environment of
its own (no Flask: the worker renders them). HTML templates autoescape, and staff-written
Markdown reaches them only through `rendering.render_markdown`, the one sanitizer pages and
feeds use too. Plain-text templates get text as it is (with the `plain` filter where it came
from a form); a plain-text body is text whatever it contains.

Filters: `markdown`, `plain` (control characters removed), `oneline` (what a header would
carry: no line breaks), `utc_text`, `duration`.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from statuspage.core import catalogs
from statuspage.core.languages import SOURCE_LANGUAGE, direction
from statuspage.core.paths import PROJECT_ROOT
from statuspage.core.rendering import render_markdown, strip_control_characters
from statuspage.core.timetext import human_duration, utc_text
from statuspage.mail.message import header_text

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "email"
# The language the email being rendered is written in (`render_email(language=...)`): the
# templates' `_()` and `ngettext()` read it.
_language: ContextVar[str] = ContextVar("email_language", default=SOURCE_LANGUAGE)


def _gettext(message: str) -> str:
    return catalogs.translations(_language.get()).gettext(message)


def _ngettext(singular: str, plural: str, number: int) -> str:
    return catalogs.translations(_language.get()).ngettext(singular, plural, number)


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    text: str
    html: str
    language: str = SOURCE_LANGUAGE


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["markdown"] = render_markdown
    env.filters["utc_text"] = utc_text
    env.filters["duration"] = human_duration
    env.filters["plain"] = lambda text: strip_control_characters(text or "").strip()
    env.filters["oneline"] = lambda text: header_text(text or "")
    return env


def render_email(
    name: str, subject: str, context: dict[str, Any], *, language: str = SOURCE_LANGUAGE
) -> ComposedEmail:
    """`<name>.txt` and `<name>.html` rendered with `context`, in `language` (the templates'
    `_()`, and `language` / `text_direction` for the layout).

    Every template may use `site_name` and `manage_url` (the layout's header and footer); they
    default to empty; `text_language` (the language staff text is in) and `translation_note`
    ("This update is available in English only") default to the email's language and "".
    """
    context = {
        "site_name": "",
        "manage_url": None,
        "language": language,
        "text_direction": direction(language),
        "text_language": language,
        "translation_note": "",
        **context,
    }
    env = environment()
    token = _language.set(language)
    try:
        text = env.get_template(f"{name}.txt").render(context)
        html = env.get_template(f"{name}.html").render(context)
    finally:
        _language.reset(token)
    return ComposedEmail(subject=subject, text=text, html=html, language=language)
