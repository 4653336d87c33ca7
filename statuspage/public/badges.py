"""Status badges: small SVG images of the overall status or one component's, for READMEs,
dashboards and other sites.

The status is written in words (never colour alone) and repeated in a <title> and an
aria-label for screen readers. Every piece of text is escaped, and the response forbids any
script or external load, since an SVG opened on its own is a document.
"""

from __future__ import annotations

import unicodedata

from flask import Response, abort
from flask_babel import gettext as _
from markupsafe import Markup

from statuspage.components import queries as component_queries
from statuspage.components.models import Component, ComponentStatus
from statuspage.components.status import Indicator, overall_status
from statuspage.core.rendering import strip_control_characters
from statuspage.extensions import db
from statuspage.incidents import queries as incident_queries
from statuspage.public.blueprint import bp
from statuspage.templating import indicator_label, status_label

SVG_TYPE = "image/svg+xml"
LABEL_COLOUR = "#555"
# Dark enough for white text (contrast 4.5:1 or better).
INDICATOR_COLOURS = {
    Indicator.NONE: "#1a7f37",
    Indicator.MAINTENANCE: "#0b5cad",
    Indicator.MINOR: "#9a6700",
    Indicator.MAJOR: "#bc4c00",
    Indicator.CRITICAL: "#b42318",
}
COMPONENT_COLOURS = {
    ComponentStatus.OPERATIONAL: INDICATOR_COLOURS[Indicator.NONE],
    ComponentStatus.UNDER_MAINTENANCE: INDICATOR_COLOURS[Indicator.MAINTENANCE],
    ComponentStatus.DEGRADED_PERFORMANCE: INDICATOR_COLOURS[Indicator.MINOR],
    ComponentStatus.PARTIAL_OUTAGE: INDICATOR_COLOURS[Indicator.MAJOR],
    ComponentStatus.MAJOR_OUTAGE: INDICATOR_COLOURS[Indicator.CRITICAL],
}
MAX_TEXT = 80  # characters per half; a badge is not the place for a paragraph

_SVG = Markup(
    '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img"'
    ' aria-label="{label}: {message}">\n'
    "<title>{label}: {message}</title>\n"
    '<rect width="{label_width}" height="20" fill="{label_colour}"/>\n'
    '<rect x="{label_width}" width="{message_width}" height="20" fill="{colour}"/>\n'
    '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif"'
    ' font-size="11">\n'
    '<text x="{label_x}" y="14" textLength="{label_text}" lengthAdjust="spacingAndGlyphs">'
    "{label}</text>\n"
    '<text x="{message_x}" y="14" textLength="{message_text}" lengthAdjust="spacingAndGlyphs">'
    "{message}</text>\n"
    "</g>\n"
    "</svg>\n"
)


def _text_width(text: str) -> int:
    """Roughly how wide `text` is at 11px Verdana; `textLength` makes it fit exactly."""
    width = 0.0
    for char in text:
        if unicodedata.east_asian_width(char) in ("W", "F"):
            width += 11
        elif char.isupper() or char in "mwMW@%":
            width += 8
        elif char in "iljtfr.,:;'|! ":
            width += 4
        else:
            width += 6.5
    return max(int(width + 0.5), 1)


def _badge_text(text: str) -> str:
    text = " ".join(strip_control_characters(text).split())
    if len(text) > MAX_TEXT:
        text = text[: MAX_TEXT - 1] + "…"
    return text


def badge_svg(label: str, message: str, colour: str) -> str:
    """A two-part badge, "label | message"; both are plain text and escaped here."""
    label = _badge_text(label) or "status"
    message = _badge_text(message)
    label_text, message_text = _text_width(label), _text_width(message)
    label_width, message_width = label_text + 12, message_text + 12
    return str(
        _SVG.format(
            width=label_width + message_width,
            label=label,
            message=message,
            label_width=label_width,
            message_width=message_width,
            label_colour=LABEL_COLOUR,
            colour=colour,
            label_x=label_width / 2,
            message_x=label_width + message_width / 2,
            label_text=label_text,
            message_text=message_text,
        )
    )


def _svg_response(svg: str) -> Response:
    # Cache-Control comes from the public cache (public/cache.py), as for every public page.
    response = Response(svg, content_type=f"{SVG_TYPE}; charset=utf-8")
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/badge.svg")
def badge() -> Response:
    status = overall_status(
        component_queries.all_component_statuses(db.session),
        incident_queries.unresolved_public_impacts(db.session),
    )
    return _svg_response(
        badge_svg(
            _("status"), indicator_label(status.indicator), INDICATOR_COLOURS[status.indicator]
        )
    )


@bp.get("/components/<int:component_id>/badge.svg")
def component_badge(component_id: int) -> Response:
    component = db.session.get(Component, component_id)
    if component is None or not component.listed:
        abort(404)
    status = ComponentStatus(component.status)
    return _svg_response(badge_svg(component.name, status_label(status), COMPONENT_COLOURS[status]))
