"""The one email composer: every email's bodies come from `templates/email/`.

Each email is a pair, `<name>.txt` and `<name>.html`, rendered through a Jinja environment of
its own (no Flask: the worker renders them). HTML templates autoescape, and staff-written
Markdown reaches them only through `rendering.render_markdown`, the one sanitizer pages and
feeds use too. Plain-text templates get text as it is (with the `plain` filter where it came
from a form); a plain-text body is text whatever it contains.

Filters: `markdown`, `plain` (control characters removed), `oneline` (what a header would
carry: no line breaks), `utc_text`, `duration`, `number`, `translate` (a msgid marked with
`N_()` elsewhere) and the status words (`status_label`, `public_status_label`,
`maintenance_status_label`, `impact_label`).

Languages: templates mark their text with `_()`/`ngettext()` (jinja2.ext.i18n, new style:
named placeholders, autoescaped in HTML). `render_email(..., language="de")` renders in
German: text, dates and numbers (`statuspage.core.translation.using_language`); without a
language, the current one of that module (English unless a caller set one).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from statuspage.core import timetext, translation, vocabulary
from statuspage.core.languages import SOURCE_LANGUAGE, direction
from statuspage.core.paths import PROJECT_ROOT
from statuspage.core.rendering import render_markdown, strip_control_characters
from statuspage.mail.message import header_text

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "email"


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    text: str
    html: str
    # The language the email is written in: delivery sends it as Content-Language.
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
    )
    env.filters["markdown"] = render_markdown
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]  # added by the extension
        lambda message: translation.gettext(message),
        lambda singular, plural, num: translation.translations(
            translation.current_language()
        ).ngettext(singular, plural, num),
        newstyle=True,
    )
    env.filters["utc_text"] = lambda value, with_date=True: timetext.utc_text(value, with_date)
    env.filters["duration"] = lambda value: timetext.human_duration(value)
    env.filters["number"] = lambda value: timetext.number(value)
    env.filters["translate"] = lambda message: translation.gettext(str(message or ""))
    for name, words in (
        ("status_label", vocabulary.COMPONENT_STATUS),
        ("public_status_label", vocabulary.PUBLIC_STATUS),
        ("maintenance_status_label", vocabulary.MAINTENANCE_STATUS),
        ("impact_label", vocabulary.IMPACT),
    ):
        env.filters[name] = lambda value, words=words: translation.gettext(
            vocabulary.label(words, value)
        )
    env.filters["plain"] = lambda text: strip_control_characters(text or "").strip()
    env.filters["oneline"] = lambda text: header_text(text or "")
    return env


def render_email(
    name: str, subject: str, context: dict[str, Any], language: str | None = None
) -> ComposedEmail:
    """`<name>.txt` and `<name>.html` rendered with `context`, in `language` (a code of
    statuspage.core.languages; None: the current language, English by default). The subject
    is the caller's, already in that language.

    Every template may use `site_name` and `manage_url` (the layout's header and footer); they
    default to empty. `language` is in the context too (the HTML's `lang` and `dir`);
    `text_language` (the language staff text is in) and `translation_note` ("This update is
    available in English only") default to the email's language and "".
    """
    env = environment()
    with translation.using_language(language or translation.explicit_language()) as code:
        context = {
            "site_name": "",
            "manage_url": None,
            "text_language": code,
            "translation_note": "",
            **context,
            "language": code,
            "text_direction": direction(code),
        }
        text = env.get_template(f"{name}.txt").render(context)
        html = env.get_template(f"{name}.html").render(context)
    return ComposedEmail(subject=subject, text=text, html=html, language=code)
