"""One publish entry point: the admin form, a draft and the write API publish alike.

The same update is published on three incidents that look the same (one affected component,
operational), once through each path, by the same user. What each publish step writes is
compared without ids and times: timeline events, audit rows, outbox rows, component history,
the update row, the incident's public face and the public version bump.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.auth.tokens import create_token
from statuspage.components.models import ComponentStatusChange
from statuspage.core.models import AuditEntry, SiteState, TimelineEvent
from statuspage.core.outbox import Notification
from statuspage.incidents.models import Incident, IncidentUpdate
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.incidents.publishing import BODY_MAX

BODY = "Card payments fail for some customers; we found the cause."


def _max_id(session: Any, model: Any) -> int:
    return session.scalar(sa.select(sa.func.coalesce(sa.func.max(model.id), 0)))


def _public_version(session: Any) -> int:
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


class Writes:
    """The rows one step adds (by id above the highest before it) and the version bump."""

    MODELS = (TimelineEvent, AuditEntry, Notification, ComponentStatusChange, IncidentUpdate)

    def __init__(self, session: Any) -> None:
        self.session = session
        session.rollback()
        session.expire_all()
        self.before = {model: _max_id(session, model) for model in self.MODELS}
        self.version = _public_version(session)

    def done(self) -> dict[Any, Any]:
        self.session.rollback()
        self.session.expire_all()
        rows = {
            model: list(
                self.session.scalars(
                    sa.select(model).where(model.id > self.before[model]).order_by(model.id)
                )
            )
            for model in self.MODELS
        }
        rows["version bump"] = _public_version(self.session) - self.version
        return rows


def _described(rows: dict[Any, Any], incident: Incident, user_id: int) -> dict[str, Any]:
    """What a publish step wrote, with ids checked against the incident, its update, its
    component and the user, then left out; times left out."""
    [component_link] = incident.affected
    component_id = component_link.component_id
    published = [u for u in incident.updates if u.published_at is not None]
    [update] = published

    def ref(value: Any, expected: int, name: str) -> Any:
        assert value == expected, (name, value, expected)
        return name

    def the_incident(value: Any) -> Any:
        return ref(value, incident.id, "incident")

    def the_update(value: Any) -> Any:
        return ref(value, update.id, "update")

    def the_component(value: Any) -> Any:
        return ref(int(value), component_id, "component")

    events = []
    for event in rows[TimelineEvent]:
        assert event.incident_id == incident.id and event.actor_id == user_id
        events.append(
            (
                event.kind,
                event.summary.replace("Draft published", "Public update published"),
                {**event.data, "update_id": the_update(event.data.get("update_id"))},
            )
        )
    audit = []
    for entry in rows[AuditEntry]:
        assert entry.actor_id == user_id
        changes = dict(entry.changes)
        changes.pop("from_draft", None)  # says which path; compared on its own below
        changes["incident_id"] = the_incident(changes.get("incident_id"))
        changes["components"] = {
            the_component(key): value for key, value in changes.get("components", {}).items()
        }
        audit.append((entry.entity_type, the_update(entry.entity_id), entry.action, changes))
    outbox = []
    for row in rows[Notification]:
        if row.incident_id is None:  # a component event: the component and its change only
            changed = [the_component(c) for c in row.component_ids]
            outbox.append((row.kind.value, row.state.value, None, None, changed))
            continue
        outbox.append(
            (
                row.kind.value,
                row.state.value,
                the_incident(row.incident_id),
                the_update(row.incident_update_id),
                [the_component(c) for c in row.component_ids],
            )
        )
    history = [
        (
            the_component(change.component_id),
            change.old_status,
            change.status,
            the_incident(change.incident_id),
        )
        for change in rows[ComponentStatusChange]
    ]
    for change in rows[ComponentStatusChange]:
        assert change.actor_id == user_id
    return {
        "timeline": events,
        "audit": audit,
        "outbox": outbox,
        "history": history,
        "version bump": rows["version bump"],
        "update": (
            update.status.value,
            update.body,
            update.deliver_notifications,
            update.author_id == user_id,
            [
                (the_component(c.component_id), c.old_status, c.new_status)
                for c in update.component_changes
            ],
        ),
        "incident": (
            incident.is_public,
            incident.public_status.value,
            incident.public_impact.value,
            incident.next_update_at,
            [(the_component(link.component_id), link.status) for link in incident.affected],
        ),
    }


@pytest.fixture
def publisher(session: Any, make_user: Callable[..., Any], now: Any) -> Any:
    user = make_user("manager")
    _, secret = create_token(session, user, "tests", actor_id=None, now=now)
    session.commit()
    user.secret = secret
    return user


@pytest.fixture
def incident_for(session: Any, make_component: Callable[..., Any], now: Any) -> Any:
    def make(name: str) -> tuple[int, int]:
        component = make_component(name)
        incident = open_incident(
            session,
            NewIncident(title=f"{name} fails", component_ids=[component.id]),
            actor_id=None,
            now=now - timedelta(minutes=5),
        )
        session.commit()
        return incident.id, component.id

    return make


def test_the_admin_form_a_draft_and_the_api_publish_the_same_update(
    app: Any, client: Any, session: Any, login: Any, publisher: Any, incident_for: Any
) -> None:
    login(publisher)
    results: dict[str, dict[str, Any]] = {}

    # 1. The admin form.
    incident_id, component_id = incident_for("Payments")
    writes = Writes(session)
    response = client.post(
        f"/admin/incidents/{incident_id}/updates",
        data={
            "status": "identified",
            "body": BODY,
            f"component-{component_id}": "partial_outage",
            "notify": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    results["form"] = _described(writes.done(), session.get(Incident, incident_id), publisher.id)

    # 2. A draft, saved and then published with the incident page's button.
    incident_id, component_id = incident_for("Checkout")
    response = client.post(
        f"/admin/incidents/{incident_id}/updates/draft",
        data={
            "status": "identified",
            "body": BODY,
            f"component-{component_id}": "partial_outage",
            "notify": "y",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    session.rollback()
    [draft] = session.get(Incident, incident_id).updates
    writes = Writes(session)
    response = client.post(f"/admin/incidents/{incident_id}/updates/{draft.id}/publish")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    results["draft"] = _described(writes.done(), session.get(Incident, incident_id), publisher.id)

    # 3. The write API.
    incident_id, component_id = incident_for("Invoices")
    writes = Writes(session)
    response = client.post(
        f"/api/v1/incidents/{incident_id}/updates",
        json={
            "status": "identified",
            "body": BODY,
            "component_statuses": {str(component_id): "partial_outage"},
            "deliver_notifications": True,
        },
        headers={"Authorization": f"Bearer {publisher.secret}"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    results["api"] = _described(writes.done(), session.get(Incident, incident_id), publisher.id)

    # The published update itself, spelled out once: every path must match it.
    assert results["form"]["timeline"] == [
        (
            "public_update",
            "Public update published (identified): incident is now public",
            {"update_id": "update"},
        )
    ]
    assert results["form"]["audit"] == [
        (
            "incident_update",
            "update",
            "publish",
            {
                "incident_id": "incident",
                "status": "identified",
                "components": {"component": "partial_outage"},
                "deliver_notifications": True,
                "next_update_at": None,
            },
        )
    ]
    assert results["form"]["outbox"] == [
        # The component event, for the channels only: written done for email.
        ("component_status", "done", None, None, ["component"]),
        ("incident_update", "pending", "incident", "update", ["component"]),
    ]
    assert results["form"]["history"] == [
        ("component", "operational", "partial_outage", "incident")
    ]
    assert results["form"]["version bump"] == 1
    assert results["draft"] == results["form"]
    assert results["api"] == results["form"]

    # The one difference the record keeps: the audit row says the draft path was a draft.
    publications = session.scalars(
        sa.select(AuditEntry).where(AuditEntry.action == "publish").order_by(AuditEntry.id)
    ).all()
    assert [entry.changes["from_draft"] for entry in publications] == [False, True, False]


def test_the_api_and_the_admin_form_refuse_the_same_message_length(
    client: Any, session: Any, login: Any, publisher: Any, incident_for: Any
) -> None:
    """One limit, `BODY_MAX` characters, whichever way the update comes in."""
    login(publisher)
    for too_long, expected in (("x" * (BODY_MAX + 1), (422, 400)), ("x" * BODY_MAX, (201, 302))):
        api_incident, _ = incident_for(f"API {len(too_long)}")
        form_incident, _ = incident_for(f"Form {len(too_long)}")
        api = client.post(
            f"/api/v1/incidents/{api_incident}/updates",
            json={"status": "investigating", "body": too_long},
            headers={"Authorization": f"Bearer {publisher.secret}"},
        )
        form = client.post(
            f"/admin/incidents/{form_incident}/updates",
            data={"status": "investigating", "body": too_long, "notify": "y"},
        )
        assert (api.status_code, form.status_code) == expected
        if api.status_code == 422:
            assert api.get_json()["error"]["field"] == "body"
    session.rollback()
    assert session.scalar(sa.select(sa.func.count(IncidentUpdate.id))) == 2
