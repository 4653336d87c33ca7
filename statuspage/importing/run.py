"""An import, step by step: groups, components, incidents, maintenance, each remembered.

`plan_import` returns the steps (so the CLI can draw a progress bar) and the report they fill
in. Each source record is looked up in `ImportedRecord` first: one imported by an earlier run
is counted as already there and left alone, so running the import again creates nothing
twice, changes nothing and does not bump the public version. Groups and components go through
`statuspage.components.manage` like any made by hand; incidents and maintenance through
`statuspage.importing.history`. Nothing notifies subscribers.

Every step runs in the caller's transaction: the caller commits once at the end (or rolls
back, and nothing at all was imported).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components import manage
from statuspage.components.models import Component, ComponentGroup, ComponentStatus
from statuspage.components.status import set_component_status
from statuspage.core.errors import DomainError
from statuspage.core.translation import N_
from statuspage.importing.history import (
    PastIncident,
    PastMaintenance,
    PastUpdate,
    record_past_incident,
    record_past_maintenance,
)
from statuspage.importing.models import ImportedRecord
from statuspage.importing.statuspage_v2 import (
    Problem,
    SourceComponent,
    SourceGroup,
    SourceIncident,
    SourceMaintenance,
    SourcePage,
    SourceUpdate,
)
from statuspage.incidents.models import (
    Incident,
    Maintenance,
    MaintenanceStatus,
    PublicStatus,
)

logger = logging.getLogger(__name__)

# The plural is also a msgid: the staff import page translates it.
KIND_LABELS = {
    "component_group": ("group", N_("groups")),
    "component": ("component", N_("components")),
    "incident": ("incident", N_("incidents")),
    "incident_update": ("incident update", N_("incident updates")),
    "maintenance": ("maintenance", N_("maintenance windows")),
    "maintenance_update": ("maintenance update", N_("maintenance updates")),
}
KINDS = tuple(KIND_LABELS)
LOCAL_MODELS: dict[str, type] = {
    "component_group": ComponentGroup,
    "component": Component,
    "incident": Incident,
    "maintenance": Maintenance,
}


@dataclass
class ImportReport:
    source: str
    page_name: str
    url: str
    created: Counter[str] = field(default_factory=Counter)
    already: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)

    @property
    def skipped(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.skipped]

    @property
    def mapped(self) -> list[Problem]:
        return [problem for problem in self.problems if not problem.skipped]

    @property
    def changed(self) -> bool:
        return sum(self.created.values()) > 0

    def lines(self) -> list[str]:
        """The summary, one line per kind, in words."""
        lines = []
        for kind in KINDS:
            if kind not in self.created and kind not in self.already:
                continue
            label = KIND_LABELS[kind][1]
            lines.append(
                f"{label.capitalize()}: {self.created[kind]} created, "
                f"{self.already[kind]} already imported"
            )
        return lines


Step = tuple[str, Callable[[], None]]


class _Memory:
    """The ids of one source already imported, per kind: source id -> local id."""

    def __init__(self, session: Session, source: str, now: datetime) -> None:
        self.session = session
        self.source = source
        self.now = now
        self.known: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        rows = session.execute(
            sa.select(
                ImportedRecord.kind, ImportedRecord.external_id, ImportedRecord.local_id
            ).where(ImportedRecord.source == source)
        )
        for kind, external_id, local_id in rows:
            self.known.setdefault(kind, {})[external_id] = local_id

    def get(self, kind: str, external_id: str) -> int | None:
        return self.known[kind].get(external_id)

    def remember(self, kind: str, external_id: str, local_id: int) -> None:
        self.session.add(
            ImportedRecord(
                source=self.source,
                kind=kind,
                external_id=external_id,
                local_id=local_id,
                imported_at=self.now,
            )
        )
        self.known[kind][external_id] = local_id

    def existing(self, kind: str, external_ids: list[str]) -> dict[str, int]:
        """Source id -> local id, for those still present here (not deleted since)."""
        local = {
            external_id: self.known[kind][external_id]
            for external_id in external_ids
            if external_id in self.known[kind]
        }
        if not local:
            return {}
        model = LOCAL_MODELS[kind]
        present = set(
            self.session.scalars(sa.select(model.id).where(model.id.in_(set(local.values()))))  # type: ignore[attr-defined]
        )
        return {key: value for key, value in local.items() if value in present}


def plan_import(
    session: Session, page: SourcePage, *, actor_id: int | None, now: datetime
) -> tuple[ImportReport, list[Step]]:
    """The report, and the steps that fill it in when run in order."""
    report = ImportReport(
        source=page.source, page_name=page.name, url=page.url, problems=list(page.problems)
    )
    memory = _Memory(session, page.source, now)
    origin = f"Statuspage ({page.url})"

    def skip(kind: str, external_id: str, name: str, reason: str) -> None:
        report.problems.append(Problem(kind, external_id, name or "(no name)", reason))

    def group_step(group: SourceGroup) -> Callable[[], None]:
        def run() -> None:
            if memory.get("component_group", group.external_id) is not None:
                report.already["component_group"] += 1
                return
            try:
                created = manage.create_group(
                    session,
                    manage.GroupFields(name=group.name, description=group.description),
                    actor_id=actor_id,
                    now=now,
                )
            except DomainError as error:
                skip("component_group", group.external_id, group.name, error.message)
                return
            memory.remember("component_group", group.external_id, created.id)
            report.created["component_group"] += 1

        return run

    def component_step(component: SourceComponent) -> Callable[[], None]:
        def run() -> None:
            if memory.get("component", component.external_id) is not None:
                report.already["component"] += 1
                return
            group_id = None
            if component.group_external_id is not None:
                group_id = memory.existing("component_group", [component.group_external_id]).get(
                    component.group_external_id
                )
            try:
                created = manage.create_component(
                    session,
                    manage.ComponentFields(
                        name=component.name,
                        description=component.description,
                        group_id=group_id,
                        showcase=component.showcase,
                        only_show_if_degraded=component.only_show_if_degraded,
                        start_date=component.start_date,
                        is_public=True,
                    ),
                    actor_id=actor_id,
                    now=now,
                )
            except DomainError as error:
                skip("component", component.external_id, component.name, error.message)
                return
            if component.status != ComponentStatus.OPERATIONAL:
                # Today's status, as the source shows it now.
                set_component_status(
                    session, created, component.status, now=now, actor_id=actor_id, announce=False
                )
            memory.remember("component", component.external_id, created.id)
            report.created["component"] += 1

        return run

    def later(updates: tuple[SourceUpdate, ...], kind: str, parent: str) -> None:
        """Updates of a record imported before: counted, and those posted since reported."""
        for update in updates:
            if memory.get(kind, update.external_id) is not None:
                report.already[kind] += 1
            else:
                skip(
                    kind,
                    update.external_id,
                    parent,
                    "posted on Statuspage after an earlier import: not added (post it here)",
                )

    def past_updates(updates: tuple[SourceUpdate, ...], kind: str) -> list[PastUpdate]:
        codes = [c.component_external_id for u in updates for c in u.component_changes]
        local = memory.existing("component", codes)
        result = []
        for update in updates:
            status = (
                PublicStatus(update.status)
                if kind == "incident_update"
                else MaintenanceStatus(update.status)
            )
            result.append(
                PastUpdate(
                    status=status,
                    body=update.body,
                    created_at=update.created_at,
                    component_changes={
                        local[c.component_external_id]: (c.old_status, c.new_status)
                        for c in update.component_changes
                        if c.component_external_id in local
                    },
                )
            )
        return result

    def incident_step(incident: SourceIncident) -> Callable[[], None]:
        def run() -> None:
            if memory.get("incident", incident.external_id) is not None:
                report.already["incident"] += 1
                later(incident.updates, "incident_update", incident.name)
                return
            components = memory.existing("component", list(incident.component_external_ids))
            try:
                created = record_past_incident(
                    session,
                    PastIncident(
                        title=incident.name,
                        public_status=incident.status,
                        public_impact=incident.impact,
                        created_at=incident.created_at,
                        impact_started_at=incident.started_at,
                        updates=past_updates(incident.updates, "incident_update"),
                        component_ids=[
                            components[c]
                            for c in incident.component_external_ids
                            if c in components
                        ],
                        monitoring_at=incident.monitoring_at,
                        resolved_at=incident.resolved_at,
                        origin=origin,
                    ),
                    actor_id=actor_id,
                    now=now,
                )
            except DomainError as error:
                skip("incident", incident.external_id, incident.name, error.message)
                return
            memory.remember("incident", incident.external_id, created.id)
            # Updates come back newest first; pair them with the source's by time and order.
            rows = sorted(created.updates, key=lambda u: (u.created_at, u.id))
            for source_update, row in zip(incident.updates, rows, strict=True):
                memory.remember("incident_update", source_update.external_id, row.id)
            report.created["incident"] += 1
            report.created["incident_update"] += len(incident.updates)

        return run

    def maintenance_step(maintenance: SourceMaintenance) -> Callable[[], None]:
        def run() -> None:
            if memory.get("maintenance", maintenance.external_id) is not None:
                report.already["maintenance"] += 1
                later(maintenance.updates, "maintenance_update", maintenance.name)
                return
            components = memory.existing("component", list(maintenance.component_external_ids))
            completed = maintenance.completed_at
            try:
                created = record_past_maintenance(
                    session,
                    PastMaintenance(
                        title=maintenance.name,
                        status=maintenance.status,
                        created_at=maintenance.created_at,
                        scheduled_for=maintenance.scheduled_for,
                        scheduled_until=maintenance.scheduled_until,
                        updates=past_updates(maintenance.updates, "maintenance_update"),
                        component_ids=[
                            components[c]
                            for c in maintenance.component_external_ids
                            if c in components
                        ],
                        started_at=min(maintenance.started_at, now)
                        if maintenance.started_at
                        else None,
                        completed_at=min(completed, now) if completed else None,
                        origin=origin,
                    ),
                    actor_id=actor_id,
                    now=now,
                )
            except DomainError as error:
                skip("maintenance", maintenance.external_id, maintenance.name, error.message)
                return
            memory.remember("maintenance", maintenance.external_id, created.id)
            rows = sorted(created.updates, key=lambda u: (u.created_at, u.id))
            for source_update, row in zip(maintenance.updates, rows, strict=True):
                memory.remember("maintenance_update", source_update.external_id, row.id)
            report.created["maintenance"] += 1
            report.created["maintenance_update"] += len(maintenance.updates)

        return run

    steps: list[Step] = []
    steps += [(f"group {g.name}", group_step(g)) for g in page.groups]
    steps += [(f"component {c.name}", component_step(c)) for c in page.components]
    # Oldest first: the incidents get ids in the order they happened, as if made here.
    steps += [
        (f"incident {i.name}", incident_step(i))
        for i in sorted(page.incidents, key=lambda i: i.created_at)
    ]
    steps += [
        (f"maintenance {m.name}", maintenance_step(m))
        for m in sorted(page.maintenance, key=lambda m: m.scheduled_for)
    ]

    def finish() -> None:
        session.flush()
        logger.info(
            "import from %s by %s: created %s, already there %s, %d skipped",
            page.source,
            actor_id,
            dict(report.created),
            dict(report.already),
            len(report.skipped),
        )

    steps.append(("done", finish))
    return report, steps


def run_import(
    session: Session, page: SourcePage, *, actor_id: int | None, now: datetime
) -> ImportReport:
    """All the steps at once (the staff page); the caller commits."""
    report, steps = plan_import(session, page, actor_id=actor_id, now=now)
    for _label, step in steps:
        step()
    return report


def component_aliases(session: Session) -> dict[str, int]:
    """Statuspage component id -> local component id, for every page imported: a subscriber
    export from Statuspage may name components by their id."""
    rows = session.execute(
        sa.select(ImportedRecord.external_id, ImportedRecord.local_id).where(
            ImportedRecord.kind == "component"
        )
    )
    return {external_id: local_id for external_id, local_id in rows}
