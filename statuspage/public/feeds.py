"""RSS and Atom feeds of the public history, for the whole site and per component.

One entry per public incident and per maintenance (scheduled ones included: a feed is how
many readers hear about planned work in advance). An entry's content is what the public page
shows: for an incident its published closure report, the summary of its post-incident review
when that is published publicly (with a link to the whole review on the page and the action
items' progress), then its public updates newest first; for maintenance its window, text and
updates newest first. The entry is updated in place (same id) with each public change, so feed
readers show it again instead of adding a duplicate.

Building a feed is split in two: `incident_item` / `maintenance_item` / `render_feed` are pure
functions over model objects and plain URLs (tested without a database, with arbitrary text),
and the views below only load the entries and supply the URLs.

Text staff typed goes through `rendering.strip_control_characters` (titles, names) or
`rendering.render_markdown` (bodies): XML 1.0 refuses control characters, and the HTML in the
feed is the same sanitized HTML as on the page.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from flask import Response, abort, current_app, request, url_for
from flask_babel import gettext as _
from lxml import etree
from markupsafe import Markup

from statuspage.audiences import manage as audience_manage
from statuspage.audiences import visibility
from statuspage.components.models import Component
from statuspage.core.db import utcnow
from statuspage.core.rendering import render_markdown, strip_control_characters
from statuspage.extensions import db
from statuspage.incidents import queries as incident_queries
from statuspage.incidents.models import Incident, Maintenance
from statuspage.incidents.queries import PublicReview
from statuspage.incidents.translations import Kind, Localizer
from statuspage.public import translated
from statuspage.public.blueprint import bp
from statuspage.public.branding import current_page
from statuspage.templating import (
    maintenance_status_label,
    name_list,
    page_language,
    public_status_label,
    utc_text,
)

FEED_LIMIT = 50
RSS_TYPE = "application/rss+xml"
ATOM_TYPE = "application/atom+xml"
ATOM_NS = "http://www.w3.org/2005/Atom"

FeedKind = Literal["rss", "atom"]

_DNS_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")


@dataclass(frozen=True)
class FeedInfo:
    """What the feed itself says about itself; every URL absolute."""

    title: str
    description: str
    home_url: str  # the HTML page this feed mirrors
    rss_url: str
    atom_url: str
    author: str


@dataclass(frozen=True)
class FeedItem:
    guid: str
    title: str
    url: str
    published: datetime
    updated: datetime
    content: Markup


def tag_authority(site_url: str) -> str:
    """The host name for tag: URIs (RFC 4151 wants a DNS name, without a port)."""
    host = urlsplit(site_url).hostname or ""
    return host if _DNS_NAME.match(host) else "localhost"


def _clean(text: str | None, fallback: str) -> str:
    cleaned = strip_control_characters(text or "").strip()
    return cleaned or fallback


def _status_line(label: str, at: datetime, extra: Markup | None = None) -> Markup:
    return Markup("<p><strong>{}</strong> · {}{}</p>\n").format(label, utc_text(at), extra or "")


def incident_item(
    incident: Incident,
    *,
    url: str,
    authority: str,
    review: PublicReview | None = None,
    audience_ids: Collection[int] = (),
    localizer: Localizer | None = None,
) -> FeedItem:
    """A public incident as a feed entry; `review` is its publicly published review, if any.

    The id is a tag: URI made of the site's host, the day the incident was logged and its
    number: nothing staff can edit, so the entry keeps its identity when the text changes.
    """
    # Newest first, drafts left out; updates to audiences only in an audience's own feed.
    updates = incident.updates_for(audience_ids)
    report = incident.closure_report
    if report is not None and report.published_at is None:
        report = None
    # Texts in the feed's language where translated, else the default language's.
    localizer = localizer or Localizer.untranslated()
    if review is not None:
        review = localizer.review(review)

    parts: list[Markup] = []
    names = [
        link.component.name
        for link in incident.affected
        if link.component is not None
        and visibility.component_visible_to(link.component, audience_ids)
    ]
    if names:
        parts.append(
            Markup("<p>{}</p>\n").format(
                _(
                    "Affected components: %(names)s",
                    names=name_list(strip_control_characters(name) for name in names),
                )
            )
        )
    if report is not None:
        parts.append(Markup("<h3>{}</h3>\n").format(_("Closure report")))
        parts.append(
            Markup("<p>{}</p>\n").format(
                _("Published %(time)s", time=utc_text(report.published_at))
            )
        )
        for heading, text in (
            (_("Summary"), "summary"),
            (_("Impact"), "impact"),
            (_("Cause"), "cause"),
            (_("Resolution"), "resolution"),
            (_("What we are doing so it does not happen again"), "prevention"),
        ):
            parts.append(Markup("<h4>{}</h4>\n").format(heading))
            parts.append(render_markdown(localizer.field(Kind.CLOSURE_REPORT, report, text).text))
    if review is not None:
        parts.append(Markup("<h3>{}</h3>\n").format(_("Post-incident review")))
        parts.append(
            Markup("<p>{}</p>\n").format(
                _("Published %(time)s", time=utc_text(review.published_at))
            )
        )
        if review.summary:
            parts.append(render_markdown(review.summary))
        if review.action_items:
            # Cancelled items are said apart, as on the page (templates/public/_review.html).
            progress = (
                _(
                    "Action items: %(done)s of %(counted)s done (%(cancelled)s cancelled).",
                    done=review.done,
                    counted=review.counted,
                    cancelled=review.cancelled,
                )
                if review.cancelled
                else _(
                    "Action items: %(done)s of %(counted)s done.",
                    done=review.done,
                    counted=review.counted,
                )
            )
            parts.append(Markup("<p>{}</p>\n").format(progress))
        parts.append(
            Markup('<p><a href="{}#review">{}</a></p>\n').format(
                url, _("Read the full post-incident review")
            )
        )
    if updates:
        parts.append(Markup("<h3>{}</h3>\n").format(_("Updates")))
    moments: list[datetime] = []  # every public change: the entry's `updated` is the latest
    for update in updates:
        published_at = update.published_at or update.created_at  # always set on public ones
        edited = Markup("")
        if update.edited_at is not None:
            edited = Markup(" · {}").format(_("edited %(time)s", time=utc_text(update.edited_at)))
            moments.append(update.edited_at)
        parts.append(_status_line(public_status_label(update.status), published_at, edited))
        parts.append(render_markdown(localizer.update(update).text))
        moments.append(published_at)
    if report is not None and report.published_at is not None:
        moments.append(report.published_at)
    if review is not None:
        moments.append(review.updated_at)

    published = incident.published_at or min(
        (update.published_at or update.created_at for update in updates),
        default=incident.created_at,
    )
    updated = max([published, *moments])
    return FeedItem(
        guid=f"tag:{authority},{incident.created_at:%Y-%m-%d}:incident:{incident.id}",
        title=_clean(incident.title, _("Incident %(id)s", id=incident.id)),
        url=url,
        published=published,
        updated=updated,
        content=Markup("").join(parts),
    )


def maintenance_item(
    maintenance: Maintenance,
    *,
    url: str,
    authority: str,
    localizer: Localizer | None = None,
) -> FeedItem:
    """Maintenance as a feed entry, from its announcement on; id as for incidents. Its title,
    message and updates in the feed's language where translated."""
    localizer = localizer or Localizer.untranslated()
    texts = localizer.maintenance(maintenance)
    parts: list[Markup] = [
        Markup("<p><strong>{}</strong> · {}</p>\n").format(
            maintenance_status_label(maintenance.status),
            _(
                "scheduled for %(start)s to %(end)s",
                start=utc_text(maintenance.scheduled_for),
                end=utc_text(maintenance.scheduled_until),
            ),
        )
    ]
    if maintenance.components:
        parts.append(
            Markup("<p>{}</p>\n").format(
                _(
                    "Components: %(names)s",
                    names=name_list(
                        strip_control_characters(c.name) for c in maintenance.components
                    ),
                )
            )
        )
    parts.append(render_markdown(texts["body"].text))
    if maintenance.updates:
        parts.append(Markup("<h3>{}</h3>\n").format(_("Updates")))
    for update in maintenance.updates:  # newest first
        parts.append(_status_line(maintenance_status_label(update.status), update.created_at))
        parts.append(render_markdown(localizer.maintenance_update(maintenance, update).text))
    published = maintenance.created_at
    updated = max([published, maintenance.updated_at, *(u.created_at for u in maintenance.updates)])
    title = _clean(texts["title"].text, _("Maintenance %(id)s", id=maintenance.id))
    return FeedItem(
        guid=f"tag:{authority},{maintenance.created_at:%Y-%m-%d}:maintenance:{maintenance.id}",
        title=_("Maintenance: %(title)s", title=title),
        url=url,
        published=published,
        updated=updated,
        content=Markup("").join(parts),
    )


class _RssItemUpdated(BaseEntryExtension):
    """RSS 2.0 has no date for "this item changed". Atom's <updated>, in the Atom namespace
    every RSS feed here declares already, says it; feedparser and most readers understand it."""

    def __init__(self) -> None:
        self.updated: datetime | None = None

    def extend_rss(self, entry: etree._Element) -> etree._Element:
        if self.updated is not None:
            etree.SubElement(entry, f"{{{ATOM_NS}}}updated").text = self.updated.isoformat()
        return entry


def render_feed(
    info: FeedInfo,
    items: list[FeedItem],
    kind: FeedKind,
    *,
    now: datetime,
    language: str | None = None,
) -> bytes:
    """The feed as UTF-8 XML, entries in the order given.

    The feed's own date is its newest entry's, so the same data gives the same bytes (caches
    and snapshots can compare them); only an empty feed says `now`.
    """
    feed = FeedGenerator()
    self_url, self_type = (info.rss_url, RSS_TYPE) if kind == "rss" else (info.atom_url, ATOM_TYPE)
    feed.id(self_url)
    feed.title(_clean(info.title, _("Status history")))
    feed.description(_clean(info.description, _("Incidents and maintenance")))
    feed.author({"name": _clean(info.author, _("Status page"))})
    feed.register_extension("item_updated", BaseExtension, _RssItemUpdated, atom=False)
    # feedgen gives RSS's <link> the last link set: the page, not the feed itself.
    feed.link(href=self_url, rel="self", type=self_type)
    feed.link(href=info.home_url, rel="alternate", type="text/html")
    feed.language(language or page_language())
    feed.generator("statuspage")
    updated = max((item.updated for item in items), default=now)
    feed.updated(updated)
    feed.lastBuildDate(updated)
    for item in items:
        entry = feed.add_entry(order="append")
        entry.id(item.guid)
        entry.title(item.title)
        entry.link(href=item.url, rel="alternate", type="text/html")
        entry.published(item.published)
        entry.updated(item.updated)
        entry.item_updated.updated = item.updated
        entry.content(str(item.content), type="html")
    if kind == "rss":
        return feed.rss_str(pretty=True)
    return feed.atom_str(pretty=True)


def prime_feed(localizer: Localizer, entries: list[Any], reviews: dict[int, PublicReview]) -> None:
    """Load the feed's translations in five statements, not one per entry."""
    incidents = [entry for entry in entries if isinstance(entry, Incident)]
    maintenances = [entry for entry in entries if isinstance(entry, Maintenance)]
    localizer.prime(Kind.MAINTENANCE, [m.id for m in maintenances])
    localizer.prime(Kind.MAINTENANCE_UPDATE, [u.id for m in maintenances for u in m.updates])
    localizer.prime(Kind.UPDATE, [u.id for i in incidents for u in i.updates])
    localizer.prime(
        Kind.CLOSURE_REPORT, [i.closure_report.id for i in incidents if i.closure_report]
    )
    localizer.prime(Kind.REVIEW, [r.review_id for r in reviews.values() if r.review_id])


# Views


def _absolute(endpoint: str, **values: object) -> str:
    """An absolute URL on the configured site address, not on whatever Host the request named
    (a feed is cached and shared: a forged Host header must not end up in its links)."""
    return current_app.config["SITE_URL"].rstrip("/") + url_for(endpoint, **values)


def _feed_response(
    kind: FeedKind,
    component_id: int | None = None,
    *,
    audience_id: int | None = None,
    token: str | None = None,
) -> Response:
    site_name = current_page().name
    audience_ids = [audience_id] if audience_id is not None else []
    component = None
    if component_id is not None:
        component = db.session.get(Component, component_id)
        # An archived component's history stays readable; a hidden one's never was.
        if component is None or not component.is_public:
            abort(404)
    if audience_id is not None:
        info = FeedInfo(
            title=_("%(site)s history (private)", site=site_name),
            description=_(
                "Incidents and maintenance on %(site)s, with private updates", site=site_name
            ),
            home_url=_absolute("public.history"),
            rss_url=_absolute("public.audience_history_rss", token=token),
            atom_url=_absolute("public.audience_history_atom", token=token),
            author=site_name,
        )
    elif component is None:
        info = FeedInfo(
            title=_("%(site)s history", site=site_name),
            description=_("Incidents and maintenance on %(site)s", site=site_name),
            home_url=_absolute("public.history"),
            rss_url=_absolute("public.history_rss"),
            atom_url=_absolute("public.history_atom"),
            author=site_name,
        )
    else:
        name = strip_control_characters(component.name)
        info = FeedInfo(
            title=_("%(site)s: %(component)s history", site=site_name, component=name),
            description=_(
                "Incidents and maintenance affecting %(component)s on %(site)s",
                component=name,
                site=site_name,
            ),
            home_url=_absolute("public.history", component=component.id),
            rss_url=_absolute("public.component_history_rss", component_id=component.id),
            atom_url=_absolute("public.component_history_atom", component_id=component.id),
            author=site_name,
        )
    authority = tag_authority(current_app.config["SITE_URL"])
    entries = incident_queries.feed_entries(
        db.session, limit=FEED_LIMIT, component_id=component_id, audience_ids=audience_ids
    )
    reviews = incident_queries.published_reviews(
        db.session, [entry.id for entry in entries if isinstance(entry, Incident)]
    )
    localizer = translated.localizer()
    prime_feed(localizer, entries, reviews)
    items = [
        incident_item(
            entry,
            url=_absolute("public.incident", incident_id=entry.id),
            authority=authority,
            review=reviews.get(entry.id),
            audience_ids=audience_ids,
            localizer=localizer,
        )
        if isinstance(entry, Incident)
        else maintenance_item(
            entry,
            url=_absolute("public.maintenance", maintenance_id=entry.id),
            authority=authority,
            localizer=localizer,
        )
        for entry in entries
    ]
    body = render_feed(info, items, kind, now=utcnow(), language=localizer.language)
    content_type = RSS_TYPE if kind == "rss" else ATOM_TYPE
    response = Response(body, content_type=f"{content_type}; charset=utf-8")
    # Readers poll: a short shared cache, and 304 when nothing changed (same data, same bytes).
    # An audience's feed is nobody else's: no shared cache, no search engine.
    if audience_id is None:
        response.headers["Cache-Control"] = "public, max-age=60"
    else:
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["Referrer-Policy"] = "no-referrer"
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/history.rss")
def history_rss() -> Response:
    return _feed_response("rss")


@bp.get("/history.atom")
def history_atom() -> Response:
    return _feed_response("atom")


@bp.get("/components/<int:component_id>/history.rss")
def component_history_rss(component_id: int) -> Response:
    return _feed_response("rss", component_id)


@bp.get("/components/<int:component_id>/history.atom")
def component_history_atom(component_id: int) -> Response:
    return _feed_response("atom", component_id)


def audience_of_token(token: str) -> int:
    """The audience a feed token reads as; 404 for an unknown or revoked one."""
    audience_id = audience_manage.audience_for_feed_token(db.session, token)
    if audience_id is None:
        abort(404)
    return audience_id


@bp.get("/private/<token>/history.rss")
def audience_history_rss(token: str) -> Response:
    return _feed_response("rss", audience_id=audience_of_token(token), token=token)


@bp.get("/private/<token>/history.atom")
def audience_history_atom(token: str) -> Response:
    return _feed_response("atom", audience_id=audience_of_token(token), token=token)
