"""Sorting what a commit wrote into the pages it affects (statuspage.snapshot.changes)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import make_transient_to_detached

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.core.models import TimelineEvent
from statuspage.incidents.models import (
    Incident,
    IncidentUpdate,
    IncidentUpdateComponent,
    Maintenance,
    MaintenanceUpdate,
)
from statuspage.snapshot.changes import SnapshotChanges, note_row, note_statement


def loaded_component(**changed) -> Component:
    """A component as a session holds it after loading, then `changed`."""
    component = Component(id=5, name="API", status=ComponentStatus.OPERATIONAL)
    make_transient_to_detached(component)
    for name, value in changed.items():
        setattr(component, name, value)
    return component


def sorted_rows(*rows, dirty: bool = False) -> SnapshotChanges:
    changes = SnapshotChanges()
    for row in rows:
        note_row(changes, row, dirty=dirty)
    return changes


def test_incident_rows_name_their_incident_and_components():
    update = IncidentUpdate(incident_id=7)
    change = IncidentUpdateComponent(component_id=3, update=update)
    assert sorted_rows(Incident(id=7), update, change) == SnapshotChanges(
        incidents={7}, components={3}
    )


def test_status_history_and_a_status_only_component_change_name_the_component():
    assert sorted_rows(ComponentStatusChange(component_id=4)) == SnapshotChanges(components={4})
    moved = loaded_component(status=ComponentStatus.MAJOR_OUTAGE)
    assert sorted_rows(moved, dirty=True) == SnapshotChanges(components={5})


def test_maintenance_rows_name_the_maintenance():
    assert sorted_rows(Maintenance(id=2), MaintenanceUpdate(maintenance_id=2)) == (
        SnapshotChanges(maintenance={2})
    )


def test_anything_else_public_is_full_and_private_rows_change_nothing():
    assert sorted_rows(loaded_component(name="Renamed"), dirty=True).full
    assert sorted_rows(Component(id=6, name="New")).full  # a new component: every page
    assert sorted_rows(TimelineEvent(incident_id=1)) == SnapshotChanges()
    # A component change whose update is not in memory: nothing is loaded from a flush hook.
    assert sorted_rows(IncidentUpdateComponent(component_id=3, update_id=99)).full


def test_bulk_statements_on_public_tables_are_full():
    changes = SnapshotChanges()
    note_statement(changes, ["uptime_window", "notification"])
    assert not changes.full
    note_statement(changes, ["incident"])
    assert changes.full


def test_changes_travel_as_json_and_merge():
    changes = SnapshotChanges(incidents={1, 2}, components={3})
    assert SnapshotChanges.from_json(changes.to_json()) == changes
    changes.merge(SnapshotChanges(maintenance={4}, full=True))
    assert changes == SnapshotChanges(True, {1, 2}, {4}, {3})
    for bad in ("[]", '{"incidents": ["1"]}', '{"components": [true]}', "not json"):
        with pytest.raises(ValueError):
            SnapshotChanges.from_json(bad)
