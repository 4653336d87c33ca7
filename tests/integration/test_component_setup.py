"""Setting up a page: components and groups created, edited, ordered, archived in the domain,
each change audited and shown at once to readers (page and JSON)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage.components import manage
from statuspage.components.manage import ComponentFields, GroupFields
from statuspage.components.models import Component, ComponentGroup, ComponentStatus
from statuspage.components.models import ComponentStatusChange as StatusChange
from statuspage.components.status import change_component_status
from statuspage.core.errors import DomainError, NotFound
from statuspage.core.models import AuditEntry, SiteState


def version(session: Any) -> int:
    session.expire_all()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def page(client: Any) -> str:
    return re.sub(r"\s+", " ", client.get("/").get_data(as_text=True))


def json_components(client: Any) -> dict[str, dict[str, Any]]:
    body = client.get("/api/v2/components.json").get_json()
    return {c["name"]: c for c in body["components"]}


def audits(session: Any, entity_type: str, entity_id: int) -> list[str]:
    return list(
        session.scalars(
            sa.select(AuditEntry.action)
            .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id)
        )
    )


@pytest.fixture
def setup(session: Any, now: Any) -> dict[str, Any]:
    groups = {
        name: manage.create_group(session, GroupFields(name=name), actor_id=None, now=now)
        for name in ("Web", "Data")
    }
    components = {}
    for name, group in (("Shop", "Web"), ("Login", "Web"), ("Search", "Web"), ("DB", "Data")):
        components[name] = manage.create_component(
            session,
            ComponentFields(name=name, group_id=groups[group].id, description=f"The {name}."),
            actor_id=None,
            now=now,
        )
    session.commit()
    return {"groups": groups, "components": components}


def test_created_components_are_ordered_audited_and_shown(client, session, setup):
    components = setup["components"]
    assert [components[n].position for n in ("Shop", "Login", "Search")] == [1, 2, 3]
    assert components["DB"].position == 1
    assert [g.position for g in setup["groups"].values()] == [1, 2]
    assert audits(session, "component", components["Shop"].id) == ["create"]
    assert audits(session, "component_group", setup["groups"]["Web"].id) == ["create"]
    listed = json_components(client)
    assert {"Shop", "Login", "Search", "DB", "Web", "Data"} <= set(listed)
    assert listed["Shop"]["description"] == "The Shop."
    assert listed["Shop"]["group_id"] == listed["Web"]["id"]
    html = page(client)
    assert html.index("Shop") < html.index("Login") < html.index("Search") < html.index(">DB<")
    assert "The Shop." in html


def test_every_change_bumps_the_public_version(session, setup, now):
    shop = setup["components"]["Shop"]
    before = version(session)
    manage.edit_component(
        session, shop.id, ComponentFields(name="Web shop"), actor_id=None, now=now
    )
    manage.move_component(session, shop.id, "down", actor_id=None, now=now)
    manage.edit_group(
        session, setup["groups"]["Web"].id, GroupFields(name="Website"), actor_id=None, now=now
    )
    session.commit()
    assert version(session) == before + 3
    # Nothing changed: no audit row, no new version.
    manage.edit_component(
        session, shop.id, ComponentFields(name="Web shop"), actor_id=None, now=now
    )
    session.commit()
    assert version(session) == before + 3
    assert audits(session, "component", shop.id) == ["create", "edit", "reorder"]


def test_names_are_one_line_and_bounded(session, setup, now):
    shop = setup["components"]["Shop"]
    manage.edit_component(
        session, shop.id, ComponentFields(name="  Web\r\nshop \n"), actor_id=None, now=now
    )
    assert shop.name == "Web shop"
    for name in ("", " \n ", "x" * 121):
        with pytest.raises(DomainError) as refused:
            manage.create_component(session, ComponentFields(name=name), actor_id=None, now=now)
        assert refused.value.field == "name"
    with pytest.raises(DomainError) as refused:
        manage.edit_component(
            session, shop.id, ComponentFields(description="x" * 1001), actor_id=None, now=now
        )
    assert refused.value.field == "description"
    with pytest.raises(NotFound):
        manage.create_component(
            session, ComponentFields(name="X", group_id=999_999), actor_id=None, now=now
        )


def test_moving_and_reordering(client, session, setup, now):
    c = setup["components"]
    assert manage.move_component(session, c["Search"].id, "up", actor_id=None, now=now)
    assert not manage.move_component(session, c["Shop"].id, "up", actor_id=None, now=now)
    session.commit()
    html = page(client)
    assert html.index("Shop") < html.index("Search") < html.index("Login")

    manage.reorder_components(
        session,
        setup["groups"]["Web"].id,
        [c["Login"].id, c["Shop"].id, c["Search"].id],
        actor_id=None,
        now=now,
    )
    session.commit()
    html = page(client)
    assert html.index("Login") < html.index("Shop") < html.index("Search")
    with pytest.raises(DomainError):
        manage.reorder_components(
            session, setup["groups"]["Web"].id, [c["Login"].id], actor_id=None, now=now
        )

    data = setup["groups"]["Data"]
    assert manage.move_group(session, data.id, "up", actor_id=None, now=now)
    session.commit()
    html = page(client)
    assert html.index(">DB<") < html.index("Login")


def test_a_component_changes_group_to_the_end_of_the_new_one(session, setup, now):
    c = setup["components"]
    manage.edit_component(
        session,
        c["Shop"].id,
        ComponentFields(group_id=setup["groups"]["Data"].id),
        actor_id=None,
        now=now,
    )
    assert (c["Shop"].group_id, c["Shop"].position) == (setup["groups"]["Data"].id, 2)
    manage.edit_component(
        session, c["Shop"].id, ComponentFields(ungroup=True), actor_id=None, now=now
    )
    assert c["Shop"].group_id is None


def test_a_component_without_history_is_deleted(client, session, setup, now):
    search = setup["components"]["Search"]
    assert manage.remove_component(session, search.id, actor_id=None, now=now) == "deleted"
    session.commit()
    assert session.get(Component, search.id) is None
    assert "Search" not in json_components(client)
    assert audits(session, "component", search.id) == ["create", "deleted"]


def test_a_component_with_history_is_archived_and_its_incidents_stay(
    client, session, setup, now, make_incident
):
    shop = setup["components"]["Shop"]
    incident = make_incident(
        "Checkout broken",
        components={shop.id: "major_outage"},
        started=now - timedelta(hours=2),
        resolved_after=timedelta(hours=1),
    )
    session.commit()
    assert manage.remove_component(session, shop.id, actor_id=None, now=now) == "archived"
    session.commit()
    assert session.get(Component, shop.id).archived_at is not None
    assert "Shop" not in json_components(client)
    assert "Shop" not in page(client)
    # Its incident and history stay readable.
    incident_page = client.get(f"/incidents/{incident.id}")
    assert incident_page.status_code == 200
    assert "Checkout broken" in incident_page.get_data(as_text=True)
    assert client.get(f"/components/{shop.id}/badge.svg").status_code == 404
    # Its own history and feed stay readable, with the incident in them.
    history = client.get(f"/history?component={shop.id}")
    assert history.status_code == 200 and "Checkout broken" in history.get_data(as_text=True)
    assert client.get(f"/components/{shop.id}/history.rss").status_code == 200
    with pytest.raises(DomainError, match="archived"):
        manage.edit_component(session, shop.id, ComponentFields(name="X"), actor_id=None, now=now)
    manage.restore_component(session, shop.id, actor_id=None, now=now)
    session.commit()
    assert "Shop" in json_components(client)
    assert audits(session, "component", shop.id)[-2:] == ["archived", "restore"]


def test_a_status_change_alone_is_history(session, setup, now):
    db = setup["components"]["DB"]
    change_component_status(session, db, ComponentStatus.DEGRADED_PERFORMANCE, now=now)
    assert manage.has_history(session, db.id)
    assert not manage.has_history(session, setup["components"]["Login"].id)


def test_hidden_and_uptime_flags(client, session, setup, now):
    c = setup["components"]
    manage.edit_component(
        session, c["Login"].id, ComponentFields(is_public=False), actor_id=None, now=now
    )
    manage.edit_component(
        session, c["Shop"].id, ComponentFields(showcase=False), actor_id=None, now=now
    )
    session.commit()
    listed = json_components(client)
    assert "Login" not in listed
    assert listed["Shop"]["showcase"] is False and listed["Search"]["showcase"] is True
    html = client.get("/").get_data(as_text=True)
    assert 'aria-label="Shop: daily uptime' not in html
    assert 'aria-label="Search: daily uptime' in html


def test_start_date_is_kept(session, setup, now):
    component = manage.create_component(
        session,
        ComponentFields(name="Legacy", start_date=date(2020, 1, 1)),
        actor_id=None,
        now=now,
    )
    assert component.start_date == date(2020, 1, 1)
    # Uptime counts from the start date: the first history row is there.
    first = session.scalar(
        sa.select(StatusChange.changed_at).where(StatusChange.component_id == component.id)
    )
    assert first.date() == date(2020, 1, 1)
    manage.edit_component(
        session, component.id, ComponentFields(start_date=date(2021, 6, 1)), actor_id=None, now=now
    )
    first = session.scalar(
        sa.select(StatusChange.changed_at).where(StatusChange.component_id == component.id)
    )
    assert first.date() == date(2021, 6, 1)


def test_deleting_a_group_keeps_its_components_ungrouped(client, session, setup, now):
    web = setup["groups"]["Web"]
    assert manage.delete_group(session, web.id, actor_id=None, now=now) == 3
    session.commit()
    assert session.get(ComponentGroup, web.id) is None
    listed = json_components(client)
    assert "Web" not in listed
    assert listed["Shop"]["group_id"] is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Component)) == 4


def test_an_archived_component_no_longer_counts_in_the_overall_status(client, session, setup, now):
    db = setup["components"]["DB"]
    change_component_status(session, db, ComponentStatus.MAJOR_OUTAGE, now=now)
    session.commit()
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] == "critical"
    manage.remove_component(session, db.id, actor_id=None, now=now)
    session.commit()
    assert client.get("/api/v2/status.json").get_json()["status"]["indicator"] == "none"


def test_a_new_component_counts_from_the_moment_it_is_added(session, now):
    """Without a start date, uptime starts when the component is added, not at midnight."""
    component = manage.create_component(
        session, ComponentFields(name="Fresh"), actor_id=None, now=now
    )
    first = session.scalar(
        sa.select(StatusChange.changed_at).where(StatusChange.component_id == component.id)
    )
    assert first == now
