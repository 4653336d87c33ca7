"""What a public change touched, so that an export re-renders only the pages it affects.

The session hooks (`statuspage.worker.hooks`) note the rows each flush writes and the tables
each bulk statement changes; at the commit that bumped the public version they hand the
result, a `SnapshotChanges`, to the export task. `changes_of` sorts rows into:

- incidents (an incident, its updates, closure report, review, affected components): its page,
  the history pages that list it, the feeds, JSON and badges, and the pages of the components
  it affects;
- maintenance (a maintenance or its updates): its page and the calendar, front page and JSON;
- components whose status changed (a status history row, or a component row whose only change
  is its status): their badge, uptime page, feeds and filtered history.

Anything else public (a component added, renamed or archived, a group, branding, page
settings, audiences, a bulk statement on a public table) is `full`: every page is rendered
again. Rows that no public page shows (timeline, audit, outbox, notes, tasks, stored uptime
days, tokens, users...) change nothing. A table this module does not know is treated as
public and `full`: a new public table costs a full export until it is sorted here, never a
stale page.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

# Rows that no exported page shows: writing them never makes a page stale.
PRIVATE_TABLES = frozenset(
    {
        "site_state",
        "timeline_event",
        "audit_entry",
        "notification",
        "delivery_batch",
        "channel_delivery",
        "channel_fanout",
        "channel_subscription",
        "channel_subscription_component",
        "channel_subscription_group",
        "subscriber",
        "subscriber_audience",
        "subscriber_component",
        "subscriber_group",
        "stakeholder_list",
        "stakeholder_member",
        "stakeholder_message",
        "stakeholder_recipient",
        "stakeholder_template",
        "provider_event",
        "reader_sign_in_token",
        "audience_feed_token",
        "user_session",
        "imported_record",
        "problem_component",
        "problem_incident",
        "uptime_day",
        "uptime_window",
        "sla_event",
        "incident_note",
        "evidence",
        "task",
        "incident_role_assignment",
        "incident_link",
        "alert",
        "api_token",
        "user",
        "category",
        "priority_rule",
        "sla_policy",
        "incident_template",
        "problem",
        "review_action_item",
    }
)
# An incident's rows: (table, the column naming the incident).
INCIDENT_TABLES = {
    "incident": "id",
    "incident_update": "incident_id",
    "closure_report": "incident_id",
    "post_incident_review": "incident_id",
    "incident_component": "incident_id",
}
MAINTENANCE_TABLES = {"maintenance": "id", "maintenance_update": "maintenance_id"}
# A component row whose only changes are these is a status change, not a new name or place.
COMPONENT_STATUS_COLUMNS = frozenset({"status", "updated_at"})


@dataclass
class SnapshotChanges:
    """Ids of what changed publicly; `full` when a change is not one of those kinds."""

    full: bool = False
    incidents: set[int] = field(default_factory=set)
    maintenance: set[int] = field(default_factory=set)
    components: set[int] = field(default_factory=set)

    def merge(self, other: SnapshotChanges) -> None:
        self.full = self.full or other.full
        self.incidents |= other.incidents
        self.maintenance |= other.maintenance
        self.components |= other.components

    def to_json(self) -> str:
        return json.dumps(
            {
                "full": self.full,
                "incidents": sorted(self.incidents),
                "maintenance": sorted(self.maintenance),
                "components": sorted(self.components),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> SnapshotChanges:
        """Raises ValueError on anything but what `to_json` writes."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("snapshot changes: not an object")

        def ids(name: str) -> set[int]:
            values = data.get(name, [])
            if not isinstance(values, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) for v in values
            ):
                raise ValueError(f"snapshot changes: {name} is not a list of ids")
            return set(values)

        return cls(
            full=bool(data.get("full", False)),
            incidents=ids("incidents"),
            maintenance=ids("maintenance"),
            components=ids("components"),
        )


def _table_name(instance: Any) -> str | None:
    table = getattr(type(instance), "__table__", None)
    return getattr(table, "name", None)


def note_row(changes: SnapshotChanges, instance: Any, *, dirty: bool) -> None:
    """Sort one written ORM row (new, changed when `dirty`, or deleted) into `changes`."""
    name = _table_name(instance)
    if name is None or name in PRIVATE_TABLES:
        return
    if name in INCIDENT_TABLES:
        incident_id = getattr(instance, INCIDENT_TABLES[name], None)
        if incident_id is None:
            changes.full = True
            return
        changes.incidents.add(incident_id)
        if name == "incident_component" and instance.component_id is not None:
            changes.components.add(instance.component_id)
        return
    if name == "incident_update_component":
        update = _loaded_update(instance)
        if update is None or update.incident_id is None:
            changes.full = True
            return
        changes.incidents.add(update.incident_id)
        changes.components.add(instance.component_id)
        return
    if name in MAINTENANCE_TABLES:
        maintenance_id = getattr(instance, MAINTENANCE_TABLES[name], None)
        if maintenance_id is None:
            changes.full = True
        else:
            changes.maintenance.add(maintenance_id)
        return
    if name == "component_status_change":
        changes.components.add(instance.component_id)
        return
    if name == "component" and dirty and _only_status_changed(instance):
        changes.components.add(instance.id)
        return
    changes.full = True


def _loaded_update(change: Any) -> Any:
    """The update a component change belongs to, from memory only: a flush hook emits no
    statements. None when it is not loaded (the caller then exports everything)."""
    state = sa.inspect(change)
    update = state.attrs["update"].loaded_value
    if update is not sa.orm.attributes.NO_VALUE and update is not None:
        return update
    session = state.session
    if session is None or change.update_id is None:
        return None
    mapper = state.mapper.relationships["update"].mapper
    return session.identity_map.get(mapper.identity_key_from_primary_key([change.update_id]))


def _only_status_changed(instance: Any) -> bool:
    state = sa.inspect(instance)
    changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
    return changed <= COMPONENT_STATUS_COLUMNS


def note_statement(changes: SnapshotChanges, tables: Iterable[str]) -> None:
    """A bulk INSERT, UPDATE or DELETE: which rows it wrote is unknown, so any public table
    makes the export full."""
    if any(name not in PRIVATE_TABLES for name in tables):
        changes.full = True
