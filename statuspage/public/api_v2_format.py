"""Statuspage v2 JSON shapes, built from the models. Flask-free: plain objects in, dicts out.

The keys, their nesting and the value vocabularies are those of Statuspage's public API
(`/api/v2/summary.json` and friends), so that existing readers, widgets and monitoring
integrations work unchanged. Differences that cannot be avoided are documented in docs/api.md.

Ids are strings, as in Statuspage, and each kind of object has its own prefix so that no two
objects anywhere in the API share an id (Statuspage's ids are unique across kinds too):

    component "c<id>", group "g<id>", incident "i<id>", incident update "iu<id>",
    maintenance "m<id>", maintenance update "mu<id>"

Groups sit in the same flat `components` list as components, which is why their ids must not
collide there; `group_id` and a group's `components` list use the same scheme.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from statuspage.audiences import visibility
from statuspage.components.models import Component, ComponentGroup, ComponentStatus, worst_status
from statuspage.components.status import OverallStatus
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    Maintenance,
    MaintenanceStatus,
    MaintenanceUpdate,
    PublicStatus,
)
from statuspage.incidents.queries import PublicReview
from statuspage.incidents.translations import Kind, Localizer

logger = logging.getLogger(__name__)


# Statuspage's incident status once a postmortem is published.
POSTMORTEM = "postmortem"
# Statuspage gives every scheduled maintenance this impact.
MAINTENANCE_IMPACT = "maintenance"


def component_id(value: int) -> str:
    return f"c{value}"


def group_id(value: int) -> str:
    return f"g{value}"


def incident_id(value: int) -> str:
    return f"i{value}"


def incident_update_id(value: int) -> str:
    return f"iu{value}"


def maintenance_id(value: int) -> str:
    return f"m{value}"


def maintenance_update_id(value: int) -> str:
    return f"mu{value}"


def default_page_id(site_name: str) -> str:
    """A stable 12-character id from the site name, shaped like Statuspage's page ids."""
    digest = hashlib.sha256(site_name.encode("utf-8")).digest()
    number = int.from_bytes(digest[:8], "big")
    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
    chars = []
    for _ in range(12):
        number, rest = divmod(number, 36)
        chars.append(alphabet[rest])
    return "".join(chars)


def page_zone(name: str) -> tuple[tzinfo, str]:
    """The page's time zone and its name. A name this system does not know falls back to UTC
    (and says so in `page.time_zone`) rather than failing the API."""
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r for the JSON API; using UTC", name)
        return UTC, "UTC"


@dataclass(frozen=True)
class Page:
    id: str
    name: str
    url: str
    time_zone: str
    updated_at: datetime


_UTC_NAMES = frozenset({"UTC", "UCT"})


def timestamp(value: datetime | None, zone: tzinfo = UTC) -> str | None:
    """ISO 8601 with milliseconds and the offset of the page's zone, as Statuspage writes them:
    "2014-05-14T14:22:39.441-06:00", and "Z" on a page kept in UTC."""
    if value is None:
        return None
    local = value.astimezone(zone)
    text = local.isoformat(timespec="milliseconds")
    if local.tzname() in _UTC_NAMES:
        text = text.removesuffix("+00:00") + "Z"
    return text


class StatuspageV2:
    """Builds the Statuspage v2 dictionaries for one page (its id, URL and time zone)."""

    def __init__(
        self,
        page: Page,
        *,
        audience_ids: Collection[int] = (),
        localizer: Localizer | None = None,
    ) -> None:
        self.page = page
        # The default language unless the request asked for one (`?lang=`) that has a
        # translation: Statuspage clients expect what they always got.
        self.localizer = localizer or Localizer.untranslated()
        # Empty: the public JSON. An audience's token adds what is addressed to it.
        self.audience_ids = frozenset(audience_ids)
        self.zone, self.zone_name = page_zone(page.time_zone)
        self.site_url = page.url.rstrip("/")

    def time(self, value: datetime | None) -> str | None:
        return timestamp(value, self.zone)

    def _date(self, value: date | None) -> str | None:
        return value.isoformat() if value is not None else None

    # page and status

    def page_dict(self) -> dict[str, Any]:
        return {
            "id": self.page.id,
            "name": self.page.name,
            "url": self.page.url,
            "time_zone": self.zone_name,
            "updated_at": self.time(self.page.updated_at),
        }

    def status_dict(self, overall: OverallStatus) -> dict[str, Any]:
        return {"indicator": overall.indicator.value, "description": overall.description}

    # components

    def component_dict(self, component: Component) -> dict[str, Any]:
        return {
            "id": component_id(component.id),
            "name": component.name,
            "status": ComponentStatus(component.status).value,
            "created_at": self.time(component.created_at),
            "updated_at": self.time(component.updated_at),
            "position": component.position,
            "description": component.description or None,
            "showcase": component.showcase,
            "start_date": self._date(component.start_date),
            "group_id": group_id(component.group_id) if component.group_id is not None else None,
            "page_id": self.page.id,
            "group": False,
            "only_show_if_degraded": component.only_show_if_degraded,
        }

    def group_dict(self, group: ComponentGroup, children: Sequence[Component]) -> dict[str, Any]:
        statuses = [ComponentStatus(child.status) for child in children]
        worst = worst_status(statuses)
        return {
            "id": group_id(group.id),
            "name": group.name,
            "status": worst.value,
            "created_at": self.time(group.created_at),
            "updated_at": self.time(group.updated_at),
            "position": group.position,
            "description": group.description or None,
            # Statuspage shows no uptime bar for a group itself.
            "showcase": False,
            "start_date": None,
            "group_id": None,
            "page_id": self.page.id,
            "group": True,
            "only_show_if_degraded": False,
            "components": [component_id(child.id) for child in children],
        }

    def component_list(self, components: Iterable[Component]) -> list[dict[str, Any]]:
        """Groups and components in one flat list: each group followed by its components,
        then the components outside any group. Components come in the order given."""
        grouped: dict[int, list[Component]] = {}
        groups: dict[int, ComponentGroup] = {}
        ungrouped: list[Component] = []
        for component in components:
            if component.group_id is None or component.group is None:
                ungrouped.append(component)
                continue
            groups[component.group_id] = component.group
            grouped.setdefault(component.group_id, []).append(component)
        entries: list[dict[str, Any]] = []
        for key in sorted(groups, key=lambda k: (groups[k].position, k)):
            children = grouped[key]
            entries.append(self.group_dict(groups[key], children))
            entries.extend(self.component_dict(child) for child in children)
        entries.extend(self.component_dict(component) for component in ungrouped)
        return entries

    # incidents

    def affected_components(self, update: IncidentUpdate) -> list[dict[str, str]] | None:
        """What the update did to components; null when it changed none, as Statuspage."""
        changes = [
            {
                "code": component_id(change.component_id),
                "name": change.component.name,
                "old_status": ComponentStatus(change.old_status).value,
                "new_status": ComponentStatus(change.new_status).value,
            }
            for change in sorted(update.component_changes, key=lambda c: c.component_id)
            if visibility.component_visible_to(change.component, self.audience_ids)
        ]
        return changes or None

    def incident_update_dict(self, update: IncidentUpdate) -> dict[str, Any]:
        shown = self.time(update.published_at)
        return {
            "id": incident_update_id(update.id),
            "status": PublicStatus(update.status).value,
            "body": self.localizer.update(update).text,
            "incident_id": incident_id(update.incident_id),
            # Customers saw the update when it was published; the draft's creation is internal.
            "created_at": shown,
            "updated_at": self.time(update.edited_at or update.published_at),
            "display_at": shown,
            "affected_components": self.affected_components(update),
            "deliver_notifications": update.deliver_notifications,
            "custom_tweet": None,
            "tweet_id": None,
        }

    def postmortem_body(self, review: PublicReview, shortlink: str) -> str:
        """Statuspage's `postmortem_body` from a review published publicly: its sections as
        Markdown (each under a "## " heading), the action items' progress, and a link to the
        whole review (with its timeline and each action item) on the incident's page. Staff
        names are never part of it."""
        review = self.localizer.review(review)
        parts = [f"## {heading}\n\n{text.strip()}" for heading, text in review.sections]
        if review.action_items:
            parts.append(f"Action items: {review.progress_words}.")
        parts.append(f"The full review: {shortlink}#review")
        return "\n\n".join(parts)

    def incident_dict(
        self, incident: Incident, *, review: PublicReview | None = None
    ) -> dict[str, Any]:
        """An incident; `review` is its post-incident review when published publicly (it
        fills `postmortem_body` and `postmortem_published_at`, and a resolved incident with
        one has Statuspage's status `postmortem`)."""
        updates = incident.updates_for(self.audience_ids)  # newest first
        changed = [u.edited_at or u.published_at for u in updates]
        updated_at = max((at for at in changed if at is not None), default=incident.published_at)
        status = PublicStatus(incident.public_status or PublicStatus.INVESTIGATING).value
        if review is not None and status == PublicStatus.RESOLVED:
            status = POSTMORTEM
        shortlink = f"{self.site_url}/incidents/{incident.id}"
        components = sorted(
            (
                link.component
                for link in incident.affected
                if visibility.component_visible_to(link.component, self.audience_ids)
            ),
            key=lambda c: (c.position, c.id),
        )
        return {
            "id": incident_id(incident.id),
            "name": incident.title,
            "status": status,
            # Customers' view of it: it exists for them from its first public update.
            "created_at": self.time(incident.published_at),
            "updated_at": self.time(updated_at),
            "monitoring_at": self.time(incident.monitoring_at),
            "resolved_at": self.time(incident.public_resolved_at),
            "impact": incident.public_impact.value,
            "shortlink": shortlink,
            "started_at": self.time(incident.impact_started_at),
            "page_id": self.page.id,
            "incident_updates": [self.incident_update_dict(u) for u in updates],
            "components": [self.component_dict(c) for c in components],
            "postmortem_body": (
                self.postmortem_body(review, shortlink) if review is not None else None
            ),
            "postmortem_published_at": (
                self.time(review.published_at) if review is not None else None
            ),
        }

    # scheduled maintenance

    def maintenance_update_dict(
        self, maintenance: Maintenance, update: MaintenanceUpdate
    ) -> dict[str, Any]:
        at = self.time(update.created_at)
        return {
            "id": maintenance_update_id(update.id),
            "status": MaintenanceStatus(update.status).value,
            "body": self.localizer.maintenance_update(maintenance, update).text,
            "incident_id": maintenance_id(maintenance.id),
            "created_at": at,
            "updated_at": at,
            "display_at": at,
            # Component changes are recorded per maintenance, not per update.
            "affected_components": None,
            # Maintenance updates send no notifications yet.
            "deliver_notifications": False,
            "custom_tweet": None,
            "tweet_id": None,
        }

    def maintenance_dict(self, maintenance: Maintenance) -> dict[str, Any]:
        updates = list(maintenance.updates)  # newest first
        verifying = [u.created_at for u in updates if u.status == MaintenanceStatus.VERIFYING]
        components = sorted(
            (c for c in maintenance.components if c.listed), key=lambda c: (c.position, c.id)
        )
        return {
            "id": maintenance_id(maintenance.id),
            "name": self.localizer.field(Kind.MAINTENANCE, maintenance, "title").text,
            "status": MaintenanceStatus(maintenance.status).value,
            "created_at": self.time(maintenance.created_at),
            "updated_at": self.time(maintenance.updated_at),
            # Statuspage's "monitoring" for maintenance is our "verifying".
            "monitoring_at": self.time(min(verifying) if verifying else None),
            "resolved_at": self.time(maintenance.completed_at),
            "impact": MAINTENANCE_IMPACT,
            "shortlink": f"{self.site_url}/maintenance/{maintenance.id}",
            "started_at": self.time(maintenance.started_at or maintenance.scheduled_for),
            "page_id": self.page.id,
            "incident_updates": [self.maintenance_update_dict(maintenance, u) for u in updates],
            "components": [self.component_dict(c) for c in components],
            "scheduled_for": self.time(maintenance.scheduled_for),
            "scheduled_until": self.time(maintenance.scheduled_until),
        }
