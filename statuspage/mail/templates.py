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

from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2

from statuspage.core.paths import PROJECT_ROOT
from statuspage.core.rendering import render_markdown, strip_control_characters
from statuspage.core.timetext import human_duration, utc_text
from statuspage.mail.message import header_text

TEMPLATE_DIR = PROJECT_ROOT / "templates" / "email"


@dataclass(frozen=True)
class ComposedEmail:
    subject: str
    text: str
    html: str


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
    env.filters["utc_text"] = utc_text
    env.filters["duration"] = human_duration
    env.filters["plain"] = lambda text: strip_control_characters(text or "").strip()
    env.filters["oneline"] = lambda text: header_text(text or "")
    return env


def render_email(name: str, subject: str, context: dict[str, Any]) -> ComposedEmail:
    """`<name>.txt` and `<name>.html` rendered with `context`.

    Every template may use `site_name` and `manage_url` (the layout's header and footer); they
    default to empty.
    """
    context = {"site_name": "", "manage_url": None, **context}
    env = environment()
    text = env.get_template(f"{name}.txt").render(context)
    html = env.get_template(f"{name}.html").render(context)
    return ComposedEmail(subject=subject, text=text, html=html)
