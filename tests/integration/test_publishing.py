"""The publishing entry point's rules and the options that differ between callers.

Runs on SQLite and PostgreSQL. How the three callers compare end to end is in
tests/web/test_publish_paths.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from statuspage.components.models import Component, ComponentStatus, ComponentStatusChange
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry
from statuspage.core.outbox import Notification
from statuspage.incidents import updates
from statuspage.incidents.models import IncidentUpdate, PublicImpact
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.incidents.publishing import BODY_MAX, PublishUpdate, publish_update

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def site(session: Session, make_component: Callable[..., Component]) -> SimpleNamespace:
    """An incident (not public) affecting API; Billing is not affected and in major outage."""
    api, billing = make_component("API"), make_component("Billing")
    billing.status = ComponentStatus.MAJOR_OUTAGE
    incident = open_incident(
        session,
        NewIncident(title="Errors", impact_started_at=T0, detected_at=T0, component_ids=[api.id]),
        actor_id=None,
        now=T0,
    )
    session.commit()
    return SimpleNamespace(api=api, billing=billing, incident=incident)


def command(site: SimpleNamespace, **fields: Any) -> PublishUpdate:
    values: dict[str, Any] = {
        "incident_id": site.incident.id,
        "status": "investigating",
        "body": "Looking into it.",
    }
    values.update(fields)
    return PublishUpdate(**values)


def publish(session: Session, site: SimpleNamespace, **fields: Any) -> IncidentUpdate:
    return publish_update(
        session, command(site, **fields), actor_id=None, now=T0 + timedelta(minutes=5)
    )


def count(session: Session, model: Any) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_a_component_not_affected_is_refused_unless_the_command_adds_it(
    session: Session, site: Any
) -> None:
    billing = {site.billing.id: "partial_outage"}
    with pytest.raises(DomainError) as refused:
        publish(session, site, component_statuses=billing)
    assert refused.value.field == "components"
    assert "Add a component in the incident's details first" in refused.value.message
    session.rollback()
    assert count(session, IncidentUpdate) == 0

    update = publish(session, site, component_statuses=billing, add_unaffected_components=True)
    session.commit()
    assert {link.component_id for link in site.incident.affected} == {site.api.id, site.billing.id}
    assert [(c.component_id, c.old_status, c.new_status) for c in update.component_changes] == [
        (site.billing.id, ComponentStatus.MAJOR_OUTAGE, ComponentStatus.PARTIAL_OUTAGE)
    ]
    assert site.billing.status == ComponentStatus.PARTIAL_OUTAGE
    assert site.incident.public_impact == PublicImpact.MAJOR


def test_an_added_component_is_recorded_even_when_its_status_stays(
    session: Session, site: Any
) -> None:
    """Adding is a change: the update is what makes the component affected."""
    update = publish(
        session,
        site,
        component_statuses={site.billing.id: "major_outage", site.api.id: "operational"},
        add_unaffected_components=True,
    )
    session.commit()
    # API was affected and stays operational: not a change of this update.
    assert [(c.component_id, c.old_status, c.new_status) for c in update.component_changes] == [
        (site.billing.id, ComponentStatus.MAJOR_OUTAGE, ComponentStatus.MAJOR_OUTAGE)
    ]
    assert site.billing.id in {link.component_id for link in site.incident.affected}
    assert site.incident.public_impact == PublicImpact.CRITICAL
    history = session.scalars(
        sa.select(ComponentStatusChange).where(ComponentStatusChange.incident_id.is_not(None))
    ).all()
    assert history == []  # no status changed


@pytest.mark.parametrize("record_unchanged_components", [False, True])
def test_a_status_that_stays_is_recorded_only_when_the_command_says_so(
    session: Session, site: Any, record_unchanged_components: bool
) -> None:
    """The admin form names every affected component (only changes count); the API names
    what it means (each is recorded)."""
    site.api.status = ComponentStatus.DEGRADED_PERFORMANCE
    session.commit()
    update = publish(
        session,
        site,
        component_statuses={site.api.id: "degraded_performance"},
        record_unchanged_components=record_unchanged_components,
    )
    session.commit()
    recorded = [(c.component_id, c.old_status, c.new_status) for c in update.component_changes]
    if record_unchanged_components:
        degraded = ComponentStatus.DEGRADED_PERFORMANCE
        assert recorded == [(site.api.id, degraded, degraded)]
        assert site.incident.public_impact == PublicImpact.MINOR
    else:
        assert recorded == []
        assert site.incident.public_impact == PublicImpact.NONE
    [entry] = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "publish")).all()
    assert entry.changes["components"] == (
        {str(site.api.id): "degraded_performance"} if record_unchanged_components else {}
    )


def test_an_unknown_component_is_not_found_when_components_may_be_added(
    session: Session, site: Any
) -> None:
    with pytest.raises(NotFound) as refused:
        publish(
            session,
            site,
            component_statuses={424242: "major_outage"},
            add_unaffected_components=True,
        )
    assert refused.value.field == "components"
    session.rollback()
    with pytest.raises(DomainError) as refused_by_staff_rules:
        publish(session, site, component_statuses={424242: "major_outage"})
    assert refused_by_staff_rules.value.field == "components"
    session.rollback()
    assert count(session, IncidentUpdate) == 0


@pytest.mark.parametrize("add_unaffected_components", [False, True])
def test_one_message_length_limit_for_every_caller(
    session: Session, site: Any, add_unaffected_components: bool
) -> None:
    with pytest.raises(DomainError) as refused:
        publish(
            session,
            site,
            body="x" * (BODY_MAX + 1),
            add_unaffected_components=add_unaffected_components,
        )
    assert refused.value.field == "body"
    assert str(BODY_MAX) in refused.value.message
    session.rollback()
    # Counted once trimmed: surrounding blank space does not count.
    update = publish(
        session,
        site,
        body="  " + "x" * BODY_MAX + "\n",
        add_unaffected_components=add_unaffected_components,
    )
    assert len(update.body) == BODY_MAX


def test_the_next_update_time_is_checked_and_kept(session: Session, site: Any) -> None:
    with pytest.raises(DomainError) as refused:
        publish(session, site, status="resolved", next_update_at=T0 + timedelta(hours=1))
    assert refused.value.field == "next_update_at"
    session.rollback()
    publish(session, site, next_update_at=T0 + timedelta(hours=1))
    session.commit()
    assert site.incident.next_update_at == T0 + timedelta(hours=1)
    [entry] = session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "publish")).all()
    assert entry.changes["next_update_at"] == (T0 + timedelta(hours=1)).isoformat()


def test_a_draft_is_published_in_place_and_only_once(session: Session, site: Any) -> None:
    draft = updates.save_draft(
        session,
        site.incident,
        updates.UpdateText(status="identified", body="Draft text."),
        actor_id=None,
        now=T0,
    )
    session.commit()
    published = publish(session, site, draft_id=draft.id, status="monitoring", body="Final.")
    session.commit()
    assert published.id == draft.id and published.created_at == T0
    assert (published.status, published.body) == ("monitoring", "Final.")
    assert count(session, IncidentUpdate) == 1
    assert count(session, Notification) == 1
    with pytest.raises(DomainError, match="already published"):
        publish(session, site, draft_id=draft.id)
    session.rollback()
    with pytest.raises(NotFound):
        publish(session, site, draft_id=424242)


def test_an_unknown_incident_is_not_found(session: Session, site: Any) -> None:
    with pytest.raises(NotFound):
        publish_update(
            session,
            PublishUpdate(incident_id=424242, status="investigating", body="x"),
            actor_id=None,
            now=T0,
        )


def test_a_publish_costs_the_same_statements_for_one_component_or_five(
    session: Session, make_component: Callable[..., Component]
) -> None:
    """Each table's rows of a publish go in one batched statement on PostgreSQL, so the round
    trips of a publish (and its wait on a busy machine) do not grow with the components it
    changes. (SQLite, in the process, gets the new history and outbox rows one INSERT each:
    SQLAlchemy cannot batch inserts whose ids it needs back there.)"""

    def statements_to_publish(count: int) -> list[str]:
        components = [make_component(f"Part {count}-{n}") for n in range(count)]
        incident = open_incident(
            session,
            NewIncident(
                title=f"Errors on {count}",
                impact_started_at=T0,
                detected_at=T0,
                component_ids=[c.id for c in components],
            ),
            actor_id=None,
            now=T0,
        )
        session.commit()
        incident_id, component_ids = incident.id, [c.id for c in components]
        session.expire_all()  # as a new request finds it: nothing loaded
        seen: list[str] = []

        def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            seen.append(" ".join(statement.split()[:4]))

        engine = session.get_bind()
        sa.event.listen(engine, "before_cursor_execute", note)
        try:
            publish_update(
                session,
                PublishUpdate(
                    incident_id=incident_id,
                    status="identified",
                    body="Found it.",
                    component_statuses=dict.fromkeys(component_ids, "major_outage"),
                ),
                actor_id=None,
                now=T0 + timedelta(minutes=5),  # a past moment: stored days are checked too
            )
            session.commit()
        finally:
            sa.event.remove(engine, "before_cursor_execute", note)
        changes = session.scalars(
            sa.select(ComponentStatusChange).where(ComponentStatusChange.incident_id == incident_id)
        ).all()
        assert len(changes) == count
        return seen

    one, five = statements_to_publish(1), statements_to_publish(5)
    row_by_row = 2 * (5 - 1) if session.get_bind().dialect.name == "sqlite" else 0
    assert len(five) == len(one) + row_by_row, "\n".join(five)
    assert len(one) <= 16, "\n".join(one)
