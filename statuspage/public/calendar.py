"""The iCalendar feed of scheduled maintenance: `/maintenance.ics`.

One VEVENT per maintenance that is not completed, plus those completed in the last
`CALENDAR_DAYS` days, so a subscribed calendar shows what is planned and what just happened.
Each event keeps its UID (`maintenance-<id>@<host of SITE_URL>`) across edits, so calendar apps
update it in place, and a SEQUENCE that grows with every change (the seconds from `created_at`
to `updated_at`: calendar apps replace their copy only when it grows, so a moved window must
raise it). DTSTAMP and LAST-MODIFIED are the maintenance's `updated_at`: the same data gives
the same bytes, so the ETag answers 304 until something changes.

`render_calendar` is a pure function over model objects and plain URLs; the `icalendar`
package does the escaping of text values (commas, semicolons, backslashes, line breaks).
Text staff typed is plain text here, not HTML: the message goes through
`rendering.markdown_to_text`, whose output is HTML-escaped text, so it is unescaped once more.

The reader's language (`?lang=`, the cookie, Accept-Language: as every public page) gives the
fixed words (`CalendarWords`) and each maintenance's title and message where staff translated
them; the default language otherwise.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response, current_app, request, url_for
from flask_babel import gettext
from icalendar import Calendar, Event, vText
from sqlalchemy.orm import selectinload

from statuspage.core.db import utcnow
from statuspage.core.rendering import markdown_to_text, strip_control_characters
from statuspage.extensions import db
from statuspage.incidents.models import Maintenance, MaintenanceStatus
from statuspage.public.blueprint import bp
from statuspage.public.branding import current_page
from statuspage.public.translated import prime_maintenances, shown_maintenance
from statuspage.templating import term

CALENDAR_DAYS = 90
CALENDAR_LIMIT = 500
CALENDAR_TYPE = "text/calendar; charset=utf-8"
PRODID = "-//statuspage//Scheduled maintenance//EN"


def _one_line(text: str) -> str:
    return " ".join(strip_control_characters(text).split())


def _plain(text: str) -> str:
    """Plain text of a Markdown message, line breaks kept as LF (icalendar writes them as \\n)."""
    plain = html.unescape(markdown_to_text(text))
    return plain.replace("\r\n", "\n").replace("\r", "\n")


def sequence(maintenance: Maintenance) -> int:
    """RFC 5545's SEQUENCE without a counter to keep: whole seconds between creation and the
    last change. It grows with every edit (each sets `updated_at`), starts at 0, and stays an
    iCalendar INTEGER (below 2^31) for 68 years."""
    elapsed = maintenance.updated_at - maintenance.created_at
    return min(max(0, int(elapsed.total_seconds())), 2**31 - 1)


@dataclass(frozen=True)
class CalendarWords:
    """The calendar's own words: English unless the view passes the reader's."""

    status_line: str = "Status: %(status)s"
    components_line: str = "Affected components: %(names)s"
    calendar_name: str = "%(site)s maintenance"
    calendar_description: str = "Scheduled maintenance on %(site)s"
    status: Callable[[MaintenanceStatus], str] = lambda status: status.label


def _english_texts(maintenance: Maintenance) -> tuple[str, str]:
    return maintenance.title, maintenance.body


def maintenance_event(
    maintenance: Maintenance,
    *,
    url: str,
    host: str,
    words: CalendarWords = CalendarWords(),  # noqa: B008 - frozen, shared safely
    texts: Callable[[Maintenance], tuple[str, str]] = _english_texts,
) -> Event:
    event = Event()
    event.add("uid", f"maintenance-{maintenance.id}@{host}")
    changed = maintenance.updated_at.astimezone(UTC)
    event.add("dtstamp", changed)
    event.add("last-modified", changed)
    event.add("created", maintenance.created_at.astimezone(UTC))
    event.add("sequence", sequence(maintenance))
    event.add("dtstart", maintenance.scheduled_for.astimezone(UTC))
    event.add("dtend", maintenance.scheduled_until.astimezone(UTC))
    title, body = texts(maintenance)
    event.add("summary", vText(_one_line(title)))
    parts = [_plain(body)] if body else []
    parts.append(words.status_line % {"status": words.status(maintenance.status)})
    if maintenance.components:
        names = ", ".join(_one_line(c.name) for c in maintenance.components)
        parts.append(words.components_line % {"names": names})
    event.add("description", vText("\n\n".join(parts)))
    event.add("url", url)
    # We never cancel maintenance (it completes), so every event stands.
    event.add("status", "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # it does not make the reader busy
    event.add("class", "PUBLIC")
    return event


def render_calendar(
    maintenances: Iterable[Maintenance],
    *,
    site_name: str,
    host: str,
    url_for_maintenance: Callable[[int], str],
    words: CalendarWords = CalendarWords(),  # noqa: B008 - frozen, shared safely
    texts: Callable[[Maintenance], tuple[str, str]] = _english_texts,
) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    site = _one_line(site_name)
    name = words.calendar_name % {"site": site}
    calendar.add("x-wr-calname", vText(name))
    calendar.add("name", vText(name))
    calendar.add("x-wr-caldesc", vText(words.calendar_description % {"site": site}))
    # Ask subscribed calendars to look again every hour.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vText("PT1H"))
    for maintenance in maintenances:
        calendar.add_component(
            maintenance_event(
                maintenance,
                url=url_for_maintenance(maintenance.id),
                host=host,
                words=words,
                texts=texts,
            )
        )
    return calendar.to_ical()


def calendar_maintenances(session: sa.orm.Session, *, now: datetime) -> list[Maintenance]:
    """Maintenance not completed, and that completed in the last `CALENDAR_DAYS` days: two
    statements, at most `CALENDAR_LIMIT` rows, newest windows first."""
    since = now - timedelta(days=CALENDAR_DAYS)
    return list(
        session.scalars(
            sa.select(Maintenance)
            .where(
                sa.or_(
                    Maintenance.status != MaintenanceStatus.COMPLETED,
                    Maintenance.completed_at >= since,
                )
            )
            .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc())
            .limit(CALENDAR_LIMIT)
            .options(selectinload(Maintenance.components))
        )
    )


def _host() -> str:
    """The configured site's host name; the request's only when no SITE_URL is set."""
    configured = urlsplit(current_app.config.get("SITE_URL") or "").hostname
    return configured or request.host.split(":")[0] or "localhost"


def _absolute(endpoint: str, **values: object) -> str:
    base = (current_app.config.get("SITE_URL") or request.host_url).rstrip("/")
    return base + url_for(endpoint, **values)


def _reader_words() -> CalendarWords:
    """The fixed words in the reader's language (gettext without values keeps the
    placeholders, filled in by `render_calendar`)."""
    return CalendarWords(
        status_line=gettext("Status: %(status)s"),
        components_line=gettext("Affected components: %(names)s"),
        calendar_name=gettext("%(site)s maintenance"),
        calendar_description=gettext("Scheduled maintenance on %(site)s"),
        status=term,
    )


def _reader_texts(maintenance: Maintenance) -> tuple[str, str]:
    shown = shown_maintenance(maintenance)
    return shown["title"].text, shown["body"].text


@bp.get("/maintenance.ics")
def maintenance_calendar() -> Response:
    maintenances = calendar_maintenances(db.session, now=utcnow())
    prime_maintenances(maintenances)  # the reader's translations in one statement
    body = render_calendar(
        maintenances,
        site_name=current_page().name,
        host=_host(),
        url_for_maintenance=lambda maintenance_id: _absolute(
            "public.maintenance", maintenance_id=maintenance_id
        ),
        words=_reader_words(),
        texts=_reader_texts,
    )
    response = Response(body, content_type=CALENDAR_TYPE)
    response.headers["Content-Disposition"] = 'inline; filename="maintenance.ics"'
    # Calendar apps poll: a short shared cache, and 304 when nothing changed.
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)
