"""Updates, closure reports, reviews and maintenance in the reader's language, on the web.

The Flask side of `statuspage.incidents.translations`: one `Localizer` per request for the
language `statuspage.i18n.choose_language()` picked (a default-language reader costs no query),
and template helpers. Templates show a text with `lang` on it when it is not in the page's
language, and the note "This update is available in English only" when no translation exists
(`templates/public/_translated_text.html`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import g, has_request_context
from flask_babel import gettext as _

from statuspage.core.translation import language_name
from statuspage.extensions import db
from statuspage.i18n import choose_language, default_language
from statuspage.incidents.translations import Kind, Localizer, Shown
from statuspage.public.blueprint import bp


def localizer(language: str | None = None) -> Localizer:
    """The request's localizer (the reader's language), or one for `language`."""
    if language is not None:
        return Localizer(db.session, language, default_language())
    found = g.get("content_localizer") if has_request_context() else None
    if found is None:
        found = Localizer(db.session, choose_language(), default_language())
        if has_request_context():
            g.content_localizer = found
    return found


def only_in_default_note(kind: Kind | str, language: str | None = None) -> str:
    """ "This update is available in English only", in the reader's language, naming the
    page's default language in it."""
    reader = language or localizer().language
    name = language_name(default_language(), reader)
    kind = Kind(kind)
    if kind == Kind.CLOSURE_REPORT:
        return _("This closure report is available in %(language)s only.", language=name)
    if kind == Kind.REVIEW:
        return _("This review is available in %(language)s only.", language=name)
    if kind == Kind.MAINTENANCE:
        return _("This maintenance notice is available in %(language)s only.", language=name)
    return _("This update is available in %(language)s only.", language=name)


def shown_update(update: Any) -> Shown:
    return localizer().update(update)


def shown_report(report: Any) -> dict[str, Shown]:
    return localizer().report(report)


def report_fallback(report: Any) -> bool:
    return localizer().report_fallback(report)


def shown_review(review: Any) -> Any:
    return localizer().review(review) if review is not None else None


def shown_maintenance(maintenance: Any) -> dict[str, Shown]:
    return localizer().maintenance(maintenance)


def shown_maintenance_update(maintenance: Any, update: Any) -> Shown:
    return localizer().maintenance_update(maintenance, update)


def prime_maintenances(maintenances: Iterable[Any], *, updates: bool = False) -> None:
    """Load the reader's translations of these maintenances (and their updates) at once:
    none for a reader of the default language, one statement per kind for the others."""
    found = list(maintenances)
    reader = localizer()
    reader.prime(Kind.MAINTENANCE, [m.id for m in found])
    if updates and not reader.is_default:
        reader.prime(Kind.MAINTENANCE_UPDATE, [u.id for m in found for u in m.updates])


@bp.app_context_processor
def translated_context() -> dict[str, Any]:
    return {
        "shown_update": shown_update,
        "shown_report": shown_report,
        "report_fallback": report_fallback,
        "shown_review": shown_review,
        "shown_maintenance": shown_maintenance,
        "shown_maintenance_update": shown_maintenance_update,
        "only_in_default_note": only_in_default_note,
    }
