"""The staff page that sets up components and groups (/admin/components)."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from statuspage.components.models import Component, ComponentGroup
from statuspage.core.models import AuditEntry


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def component_named(session: Any, name: str) -> Component:
    session.expire_all()
    return session.scalar(sa.select(Component).where(Component.name == name))


def add_group(client: Any, name: str) -> ComponentGroup:
    response = client.post("/admin/components/groups", data={"group-name": name})
    assert response.status_code == 302, text(response)[:400]


def add_component(client: Any, name: str, group_id: int | None = None, **extra: Any) -> Any:
    data = {"component-name": name, "component-group": str(group_id or ""), **extra}
    data.setdefault("component-is_public", "y")
    data.setdefault("component-showcase", "y")
    return client.post("/admin/components", data=data)


def test_a_new_page_shows_how_to_start(client, make_user, login):
    login(make_user("manager"))
    page = text(client.get("/admin/components"))
    assert "No components yet" in page
    assert 'href="/admin/components"' in text(client.get("/admin/incidents"))
    # The public page is honest about it, never an error.
    assert client.get("/").status_code == 200


def test_setting_up_groups_and_components(client, session, make_user, login):
    login(make_user("manager"))
    add_group(client, "Web")
    web = session.scalar(sa.select(ComponentGroup).where(ComponentGroup.name == "Web"))
    assert (
        add_component(client, "Shop", web.id, **{"component-description": "Buy things"}).status_code
        == 302
    )
    assert add_component(client, "Login", web.id).status_code == 302
    assert add_component(client, "Status API").status_code == 302

    page = text(client.get("/admin/components"))
    assert page.index("Shop") < page.index("Login") < page.index("Outside any group")
    public = text(client.get("/"))
    assert "Shop" in public and "Buy things" in public and "Status API" in public

    login_component = component_named(session, "Login")
    response = client.post(f"/admin/components/{login_component.id}/move/up")
    assert response.status_code == 302
    public = text(client.get("/"))
    assert public.index("Login") < public.index("Shop")

    # Edit: rename, hide from the public.
    response = client.post(
        f"/admin/components/{login_component.id}/edit",
        data={"name": "Sign-in", "group": str(web.id), "description": "", "showcase": "y"},
    )
    assert response.status_code == 302
    assert component_named(session, "Sign-in").is_public is False
    assert "Sign-in" not in text(client.get("/"))
    names = {c["name"] for c in client.get("/api/v2/components.json").get_json()["components"]}
    assert "Sign-in" not in names and "Shop" in names
    actions = session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.entity_type == "component", AuditEntry.entity_id == login_component.id
        )
    ).all()
    assert actions == ["create", "reorder", "edit"]


def test_bad_input_is_refused_next_to_the_field_and_saves_nothing(
    client, session, make_user, login
):
    login(make_user("manager"))
    for name in ("", "x" * 121):
        response = add_component(client, name)
        assert response.status_code == 400
        assert 'class="error"' in text(response)
    response = add_component(client, "Ghost", **{"component-group": "99999"})
    assert response.status_code == 400
    assert session.scalar(sa.select(sa.func.count()).select_from(Component)) == 0
    assert client.get("/admin/components/2147483647/edit").status_code == 404
    assert client.post("/admin/components/12345/remove").status_code in (302, 404)
    assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_removing_archives_what_has_history(client, session, make_user, login, make_incident):
    login(make_user("manager"))
    add_component(client, "Shop")
    add_component(client, "Spare")
    shop, spare = component_named(session, "Shop"), component_named(session, "Spare")
    incident = make_incident("Checkout down", components={shop.id: "major_outage"})
    session.commit()

    response = client.post(f"/admin/components/{spare.id}/remove", follow_redirects=True)
    assert "no history and is deleted" in text(response)
    response = client.post(f"/admin/components/{shop.id}/remove", follow_redirects=True)
    assert "is archived" in text(response)
    assert "Archived" in text(client.get("/admin/components"))
    assert client.get(f"/incidents/{incident.id}").status_code == 200
    names = {c["name"] for c in client.get("/api/v2/components.json").get_json()["components"]}
    assert names == set()
    client.post(f"/admin/components/{shop.id}/restore")
    names = {c["name"] for c in client.get("/api/v2/components.json").get_json()["components"]}
    assert names == {"Shop"}


def test_deleting_a_group_keeps_its_components(client, session, make_user, login):
    login(make_user("manager"))
    add_group(client, "Web")
    web = session.scalar(sa.select(ComponentGroup).where(ComponentGroup.name == "Web"))
    add_component(client, "Shop", web.id)
    assert client.get(f"/admin/components/groups/{web.id}/edit").status_code == 200
    response = client.post(f"/admin/components/groups/{web.id}/delete", follow_redirects=True)
    assert "Group “Web” deleted" in response.get_data(as_text=True)
    assert component_named(session, "Shop").group_id is None


def test_only_configurers_may_set_up(client, make_user, login):
    login(make_user("communicator"))
    assert client.get("/admin/components").status_code == 403
    assert client.post("/admin/components", data={"component-name": "X"}).status_code == 403
