"""Statuspage's public v2 API, read and turned into plain records.

Three documents, the ones every Statuspage page serves without a key:

- `/api/v2/summary.json`: the page (`page.id`, `page.name`), its components, where a group
  is a component with `group: true` and the ids of its members in `components`, and a member
  names its group in `group_id`;
- `/api/v2/incidents.json`: the latest incidents (Statuspage lists the 50 most recent), each
  with its `incident_updates` (newest first) and the `components` it affected;
- `/api/v2/scheduled-maintenances.json`: the latest maintenance, shaped like incidents with
  `scheduled_for` and `scheduled_until`.

Words are Statuspage's own and mostly ours too (see `DESIGN.md`): incident statuses
investigating, identified, monitoring, resolved, plus postmortem (read as resolved); impact
none, minor, major, critical; maintenance scheduled, in_progress, verifying, completed;
component statuses operational, degraded_performance, partial_outage, major_outage,
under_maintenance. A word we do not know is never guessed at silently: the record (or the
one update) is skipped, or, for a component's current status and an incident's impact, taken
as the mildest value, and each case is reported.

Texts are cleaned on the way in: HTML tags are removed (script and style with their content),
entities are decoded, control characters dropped. What remains is stored as plain text, which
the site renders as Markdown through `statuspage.core.rendering.render_markdown` like any
text staff type, so a `javascript:` link stays inert.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

import nh3

from statuspage.components.models import ComponentStatus
from statuspage.core.rendering import strip_control_characters
from statuspage.core.translation import N_
from statuspage.importing.fetch import FetchError, FetchLimits, fetch_json, parse_target
from statuspage.importing.models import EXTERNAL_ID_MAX
from statuspage.incidents.models import MaintenanceStatus, PublicImpact, PublicStatus

PATHS = {
    "summary": "/api/v2/summary.json",
    "incidents": "/api/v2/incidents.json",
    "maintenance": "/api/v2/scheduled-maintenances.json",
}

INCIDENT_STATUS_WORDS: dict[str, PublicStatus] = {
    "investigating": PublicStatus.INVESTIGATING,
    "identified": PublicStatus.IDENTIFIED,
    "monitoring": PublicStatus.MONITORING,
    "resolved": PublicStatus.RESOLVED,
    "postmortem": PublicStatus.RESOLVED,  # a resolved incident with its postmortem published
}
IMPACT_WORDS: dict[str, PublicImpact] = {impact.value: impact for impact in PublicImpact}
MAINTENANCE_STATUS_WORDS: dict[str, MaintenanceStatus] = {
    status.value: status for status in MaintenanceStatus
}
COMPONENT_STATUS_WORDS: dict[str, ComponentStatus] = {
    status.value: status for status in ComponentStatus
}


@dataclass(frozen=True)
class Problem:
    """Something of the source not imported as it was, and why."""

    kind: str  # component, component_group, incident, incident_update, maintenance, ...
    external_id: str
    name: str
    reason: str
    skipped: bool = True  # False: imported, with a word mapped (the reason says how)


@dataclass(frozen=True)
class SourceGroup:
    external_id: str
    name: str
    description: str
    position: int


@dataclass(frozen=True)
class SourceComponent:
    external_id: str
    name: str
    description: str
    position: int
    group_external_id: str | None
    status: ComponentStatus
    showcase: bool
    only_show_if_degraded: bool
    start_date: date | None


@dataclass(frozen=True)
class ComponentChange:
    component_external_id: str
    old_status: ComponentStatus
    new_status: ComponentStatus


@dataclass(frozen=True)
class SourceUpdate:
    external_id: str
    status: str  # a PublicStatus or MaintenanceStatus value
    body: str
    created_at: datetime
    component_changes: tuple[ComponentChange, ...] = ()


@dataclass(frozen=True)
class SourceIncident:
    external_id: str
    name: str
    status: PublicStatus
    impact: PublicImpact
    created_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    updates: tuple[SourceUpdate, ...]  # oldest first
    component_external_ids: tuple[str, ...]


@dataclass(frozen=True)
class SourceMaintenance:
    external_id: str
    name: str
    status: MaintenanceStatus
    created_at: datetime
    scheduled_for: datetime
    scheduled_until: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updates: tuple[SourceUpdate, ...]  # oldest first
    component_external_ids: tuple[str, ...]


@dataclass
class SourcePage:
    page_id: str
    name: str
    url: str
    groups: list[SourceGroup] = field(default_factory=list)
    components: list[SourceComponent] = field(default_factory=list)
    incidents: list[SourceIncident] = field(default_factory=list)
    maintenance: list[SourceMaintenance] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def source(self) -> str:
        return f"statuspage:{self.page_id}"


# --- cleaning ---------------------------------------------------------------------------------


def clean_text(value: Any, *, limit: int | None = None) -> str:
    """Plain text from whatever came in: tags removed, entities decoded, no control characters."""
    if value is None:
        return ""
    text = str(value)
    text = nh3.clean(text, tags=set(), clean_content_tags={"script", "style"})
    text = html.unescape(text)
    text = strip_control_characters(text).replace("\r\n", "\n").replace("\r", "\n").strip()
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def clean_line(value: Any, *, limit: int) -> str:
    """One line of plain text (names and titles)."""
    return clean_text(" ".join(clean_text(value).split()), limit=limit)


def external_id(value: Any) -> str | None:
    """The source id as text, or None when it is missing or too long to be an id."""
    if value is None or isinstance(value, (bool, dict, list)):
        return None
    text = str(value).strip()
    if not text or len(text) > EXTERNAL_ID_MAX:
        return None
    return text


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time as aware UTC; a time without a zone is taken as UTC."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def _position(value: Any, fallback: int) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**31:
        return value
    return fallback


def _word(value: Any) -> str:
    return str(value).strip().lower() if value is not None else ""


def _short(value: Any) -> str:
    text = clean_line(value, limit=80) if value is not None else ""
    return text or "(no name)"


# --- the documents ----------------------------------------------------------------------------


def read_components(page: SourcePage, items: Any) -> None:
    if not isinstance(items, list):
        page.problems.append(Problem("component", "", "", "summary.json has no component list"))
        return
    members: dict[str, str] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            page.problems.append(Problem("component", "", "", f"entry {index + 1} is no object"))
            continue
        ident = external_id(item.get("id"))
        kind = "component_group" if item.get("group") is True else "component"
        if ident is None:
            page.problems.append(
                Problem(kind, str(item.get("id"))[:40], _short(item.get("name")), "no usable id")
            )
            continue
        position = _position(item.get("position"), index + 1)
        if kind == "component_group":
            page.groups.append(
                SourceGroup(
                    external_id=ident,
                    name=clean_line(item.get("name"), limit=120),
                    description=clean_text(item.get("description"), limit=1000),
                    position=position,
                )
            )
            for member in item.get("components") or []:
                member_id = external_id(member)
                if member_id is not None:
                    members.setdefault(member_id, ident)
            continue
        word = _word(item.get("status"))
        status = COMPONENT_STATUS_WORDS.get(word)
        if status is None:
            status = ComponentStatus.OPERATIONAL
            page.problems.append(
                Problem(
                    "component",
                    ident,
                    _short(item.get("name")),
                    f"unknown status {word!r}: imported as operational",
                    skipped=False,
                )
            )
        page.components.append(
            SourceComponent(
                external_id=ident,
                name=clean_line(item.get("name"), limit=120),
                description=clean_text(item.get("description"), limit=1000),
                position=position,
                group_external_id=external_id(item.get("group_id")),
                status=status,
                showcase=bool(item.get("showcase", True)),
                only_show_if_degraded=bool(item.get("only_show_if_degraded", False)),
                start_date=_date(item.get("start_date")),
            )
        )
    group_ids = {group.external_id for group in page.groups}
    for index, component in enumerate(page.components):
        group_id = component.group_external_id or members.get(component.external_id)
        if group_id is not None and group_id not in group_ids:
            page.problems.append(
                Problem(
                    "component",
                    component.external_id,
                    _short(component.name),
                    "its group is not on the page: imported without a group",
                    skipped=False,
                )
            )
            group_id = None
        if group_id != component.group_external_id:
            page.components[index] = _replace_group(component, group_id)
    page.groups.sort(key=lambda g: g.position)
    page.components.sort(key=lambda c: c.position)


def _replace_group(component: SourceComponent, group_id: str | None) -> SourceComponent:
    return replace(component, group_external_id=group_id)


def _updates(
    raw: Any,
    *,
    kind: str,
    parent_name: str,
    words: Mapping[str, Any],
    page: SourcePage,
) -> list[SourceUpdate]:
    updates: list[SourceUpdate] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        ident = external_id(item.get("id"))
        if ident is None:
            page.problems.append(Problem(kind, "", parent_name, "an update without a usable id"))
            continue
        word = _word(item.get("status"))
        if word not in words:
            page.problems.append(
                Problem(kind, ident, parent_name, f"unknown status {word!r}: update skipped")
            )
            continue
        created = parse_time(item.get("display_at")) or parse_time(item.get("created_at"))
        if created is None:
            page.problems.append(Problem(kind, ident, parent_name, "an update without a time"))
            continue
        changes = []
        for affected in item.get("affected_components") or []:
            if not isinstance(affected, dict):
                continue
            code = external_id(affected.get("code"))
            old = COMPONENT_STATUS_WORDS.get(_word(affected.get("old_status")))
            new = COMPONENT_STATUS_WORDS.get(_word(affected.get("new_status")))
            if code is not None and old is not None and new is not None:
                changes.append(ComponentChange(code, old, new))
        updates.append(
            SourceUpdate(
                external_id=ident,
                status=words[word].value,
                body=clean_text(item.get("body"), limit=20_000),
                created_at=created,
                component_changes=tuple(changes),
            )
        )
    updates.sort(key=lambda u: u.created_at)
    return updates


def _component_ids(item: dict[str, Any]) -> tuple[str, ...]:
    found: list[str] = []
    for component in item.get("components") or []:
        ident = external_id(component.get("id") if isinstance(component, dict) else component)
        if ident is not None and ident not in found:
            found.append(ident)
    return tuple(found)


def read_incidents(page: SourcePage, items: Any, *, now: datetime) -> None:
    seen = {incident.external_id for incident in page.incidents}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        ident = external_id(item.get("id"))
        name = _short(item.get("name"))
        if ident is None:
            page.problems.append(
                Problem("incident", str(item.get("id"))[:40], name, "no usable id")
            )
            continue
        if ident in seen:
            continue
        seen.add(ident)
        word = _word(item.get("status"))
        status = INCIDENT_STATUS_WORDS.get(word)
        if status is None:
            page.problems.append(Problem("incident", ident, name, f"unknown status {word!r}"))
            continue
        created = parse_time(item.get("created_at"))
        if created is None:
            page.problems.append(Problem("incident", ident, name, "no creation time"))
            continue
        if created > now:
            page.problems.append(Problem("incident", ident, name, "created in the future"))
            continue
        impact_word = _word(item.get("impact"))
        impact = IMPACT_WORDS.get(impact_word)
        if impact is None:
            impact = PublicImpact.NONE
            page.problems.append(
                Problem(
                    "incident",
                    ident,
                    name,
                    f"unknown impact {impact_word!r}: imported as none",
                    skipped=False,
                )
            )
        updates = _updates(
            item.get("incident_updates"),
            kind="incident_update",
            parent_name=name,
            words=INCIDENT_STATUS_WORDS,
            page=page,
        )
        started = parse_time(item.get("started_at")) or created
        page.incidents.append(
            SourceIncident(
                external_id=ident,
                name=clean_line(item.get("name"), limit=200),
                status=status,
                impact=impact,
                created_at=created,
                started_at=min(started, created),
                monitoring_at=parse_time(item.get("monitoring_at")),
                resolved_at=parse_time(item.get("resolved_at")),
                updates=tuple(u for u in updates if u.created_at <= now),
                component_external_ids=_component_ids(item),
            )
        )


def read_maintenance(page: SourcePage, items: Any, *, now: datetime) -> None:
    seen = {maintenance.external_id for maintenance in page.maintenance}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        ident = external_id(item.get("id"))
        name = _short(item.get("name"))
        if ident is None:
            page.problems.append(
                Problem("maintenance", str(item.get("id"))[:40], name, "no usable id")
            )
            continue
        if ident in seen:
            continue
        seen.add(ident)
        word = _word(item.get("status"))
        status = MAINTENANCE_STATUS_WORDS.get(word)
        if status is None:
            page.problems.append(Problem("maintenance", ident, name, f"unknown status {word!r}"))
            continue
        created = parse_time(item.get("created_at"))
        scheduled_for = parse_time(item.get("scheduled_for"))
        scheduled_until = parse_time(item.get("scheduled_until"))
        if created is None or scheduled_for is None or scheduled_until is None:
            page.problems.append(
                Problem("maintenance", ident, name, "no creation time or no window")
            )
            continue
        if scheduled_until <= scheduled_for:
            page.problems.append(
                Problem("maintenance", ident, name, "the window ends before it starts")
            )
            continue
        updates = _updates(
            item.get("incident_updates"),
            kind="maintenance_update",
            parent_name=name,
            words=MAINTENANCE_STATUS_WORDS,
            page=page,
        )
        updates = [u for u in updates if u.created_at <= now]
        started = next((u.created_at for u in updates if u.status == "in_progress"), None)
        completed = next((u.created_at for u in updates if u.status == "completed"), None)
        if status == MaintenanceStatus.COMPLETED and completed is None:
            completed = parse_time(item.get("resolved_at")) or scheduled_until
        if status != MaintenanceStatus.SCHEDULED and started is None:
            started = parse_time(item.get("started_at")) or scheduled_for
        page.maintenance.append(
            SourceMaintenance(
                external_id=ident,
                name=clean_line(item.get("name"), limit=200),
                status=status,
                created_at=min(created, now),
                scheduled_for=scheduled_for,
                scheduled_until=scheduled_until,
                started_at=started,
                completed_at=completed,
                updates=tuple(updates),
                component_external_ids=_component_ids(item),
            )
        )


def page_from_documents(
    summary: Any, incidents: Any, maintenance: Any, *, base_url: str, now: datetime
) -> SourcePage:
    """The source page from the three documents; FetchError when summary.json is not one."""
    if not isinstance(summary, dict) or not isinstance(summary.get("page"), dict):
        raise FetchError(N_("summary.json is not a Statuspage summary (it has no `page`)."))
    page_id = external_id(summary["page"].get("id"))
    if page_id is None:
        raise FetchError(N_("summary.json names no page id."))
    page = SourcePage(
        page_id=page_id,
        name=clean_line(summary["page"].get("name"), limit=120),
        url=base_url,
    )
    read_components(page, summary.get("components"))
    lists: list[tuple[Any, str, Callable[..., None]]] = [
        (incidents, "incidents", read_incidents),
        (summary, "incidents", read_incidents),
        (maintenance, "scheduled_maintenances", read_maintenance),
        (summary, "scheduled_maintenances", read_maintenance),
    ]
    for document, key, reader in lists:
        if isinstance(document, dict):
            reader(page, document.get(key), now=now)
    return page


def base_url(url: str) -> str:
    """The page's root: an address given with `/api/v2/...` or a path is cut back to it."""
    target = parse_target(url)
    path = target.path.split("?", 1)[0]
    if "/api/v2" in path:
        path = path[: path.index("/api/v2")]
    return target.origin + path.rstrip("/")


def read_page(
    url: str,
    *,
    limits: FetchLimits,
    now: datetime,
    on_document: Callable[[str], None] | None = None,
) -> SourcePage:
    """Fetch the three documents (all of them before anything is written) and read them."""
    root = base_url(url)
    documents: dict[str, Any] = {}
    for name, path in PATHS.items():
        documents[name] = fetch_json(root + path, limits)
        if on_document is not None:
            on_document(name)
    return page_from_documents(
        documents["summary"],
        documents["incidents"],
        documents["maintenance"],
        base_url=root,
        now=now,
    )
