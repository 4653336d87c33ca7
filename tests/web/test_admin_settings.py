"""Settings pages through the test client: categories, priority matrix, SLA policies,
templates. Managers and admins only."""

import pytest
import sqlalchemy as sa

from statuspage.core.models import AuditEntry
from statuspage.incidents import config
from statuspage.incidents.models import (
    Category,
    Incident,
    IncidentTemplate,
    Level,
    Priority,
    SlaPolicy,
    Task,
)
from statuspage.incidents.operations import NewIncident, categorize_incident, open_incident
from statuspage.incidents.priority import DEFAULT_MATRIX, priority_for
from tests.conftest import csrf_token_from, login_with_csrf

PAGES = [
    "/admin/settings",
    "/admin/settings/categories",
    "/admin/settings/matrix",
    "/admin/settings/sla",
    "/admin/settings/sla/P1",
    "/admin/settings/templates",
    "/admin/settings/templates/new",
]


def text(response):
    return response.get_data(as_text=True)


def count(session, model):
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def matrix_data(**changes):
    data = {f"{i.value}_{u.value}": p.value for (i, u), p in DEFAULT_MATRIX.items()}
    data.update(changes)
    return data


SLA_FORM = {
    "name": "Critical",
    "acknowledge_minutes": "15",
    "mitigate_minutes": "60",
    "resolve_minutes": "240",
    "update_cadence_minutes": "30",
    "escalation_contacts": "oncall@example.com\ncto@example.com",
}


@pytest.fixture
def manager(make_user, login):
    user = make_user("manager")
    login(user)
    return user


@pytest.fixture
def category(session, now):
    def make(name, parent=None):
        row = config.create_category(
            session, name, parent_id=parent.id if parent else None, actor_id=None, now=now
        )
        session.commit()
        return row

    return make


# --- who may see and use the settings -----------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "responder", "communicator"])
def test_other_roles_get_403_on_every_settings_page_and_form(
    client, make_user, login, session, role
):
    login(make_user(role))
    for page in PAGES:
        assert client.get(page).status_code == 403, page
    posts = {
        "/admin/settings/categories": {"new-name": "Network"},
        "/admin/settings/matrix": matrix_data(low_low="P1"),
        "/admin/settings/sla/P1": SLA_FORM,
        "/admin/settings/templates/new": {"name": "T"},
    }
    for url, data in posts.items():
        assert client.post(url, data=data).status_code == 403, url
    assert count(session, Category) == 0
    assert count(session, IncidentTemplate) == 0
    assert priority_for(session, Level.LOW, Level.LOW) == Priority.P4
    assert "Settings" not in text(client.get("/admin/incidents"))


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_managers_and_admins_see_every_settings_page(client, make_user, login, role):
    login(make_user(role))
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, text(response)[:300])
    nav = text(client.get("/admin/incidents"))
    assert 'href="/admin/settings"' in nav and 'href="/admin/problems"' in nav


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/admin/settings/categories")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/admin/settings/categories", data={"new-name": "X"}).status_code == 401


# --- categories ---------------------------------------------------------------------------


def test_categories_are_added_with_subcategories(client, manager, session):
    response = client.post("/admin/settings/categories", data={"new-name": "Network"})
    assert response.status_code == 302
    network = session.scalar(sa.select(Category).where(Category.name == "Network"))
    response = client.post(
        "/admin/settings/categories", data={"new-name": "DNS", "new-parent": str(network.id)}
    )
    assert response.status_code == 302
    page = text(client.get("/admin/settings/categories"))
    assert "Network" in page and "DNS" in page
    dns = session.scalar(sa.select(Category).where(Category.name == "DNS"))
    assert dns.parent_id == network.id
    audit = session.scalars(sa.select(AuditEntry).where(AuditEntry.entity_type == "category"))
    assert {entry.actor_id for entry in audit} == {manager.id}


def test_duplicate_category_name_is_shown_next_to_the_field(client, manager, category, session):
    category("Network")
    response = client.post("/admin/settings/categories", data={"new-name": "network"})
    assert response.status_code == 400
    assert "already a category named" in text(response)
    assert 'id="new-name-error"' in text(response)
    assert count(session, Category) == 1


def test_category_form_refuses_bad_input_without_a_500(client, manager, category, session):
    network = category("Network")
    dns = category("DNS", network)
    for data in (
        {"new-name": ""},
        {"new-name": "x" * 500},
        {"new-name": "Y", "new-parent": "9999"},
        {"new-name": "Y", "new-parent": "not-a-number"},
        {"new-name": "Y", "new-parent": str(dns.id)},  # a subcategory cannot be a parent
    ):
        response = client.post("/admin/settings/categories", data=data)
        assert response.status_code == 400, data
    assert count(session, Category) == 2


def test_category_is_renamed(client, manager, category, session):
    network = category("Network")
    category("Storage")
    url = f"/admin/settings/categories/{network.id}/rename"
    response = client.post(url, data={"rename-name": "Storage"})
    assert response.status_code == 400 and "already a category named" in text(response)
    assert client.post(url, data={"rename-name": "Networking"}).status_code == 302
    session.expire_all()
    assert session.get(Category, network.id).name == "Networking"
    assert client.get("/admin/settings/categories/9999").status_code == 404
    assert (
        client.post("/admin/settings/categories/9999/rename", data={"rename-name": "X"}).status_code
        == 404
    )


def test_used_category_is_deleted_only_with_somewhere_to_move_to(
    client, manager, category, session, now
):
    network = category("Network")
    storage = category("Storage")
    incident = open_incident(session, NewIncident(title="Broken"), actor_id=None, now=now)
    categorize_incident(
        session,
        incident,
        category_id=network.id,
        subcategory_id=None,
        impact=Level.HIGH,
        urgency=Level.HIGH,
        actor_id=None,
        now=now,
    )
    session.commit()
    network_id, storage_id = network.id, storage.id
    page = text(client.get(f"/admin/settings/categories/{network_id}"))
    assert "In use by 1 incident" in page
    url = f"/admin/settings/categories/{network_id}/delete"
    response = client.post(url, data={})
    assert response.status_code == 400
    assert "choose a category to move them to" in text(response)
    assert count(session, Category) == 2
    incident_id = incident.id
    response = client.post(url, data={"delete-reassign_to": str(storage_id)})
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Category, network_id) is None
    assert session.get(Incident, incident_id).category_id == storage_id
    # Storage is in use now; an unused category goes without question.
    assert client.post(f"/admin/settings/categories/{storage_id}/delete").status_code == 400
    spare = category("Spare")
    assert client.post(f"/admin/settings/categories/{spare.id}/delete").status_code == 302


# --- priority matrix ----------------------------------------------------------------------


def test_matrix_page_shows_the_current_matrix_and_saves_edits(client, manager, session):
    page = text(client.get("/admin/settings/matrix"))
    assert page.count("<select") == 9
    response = client.post("/admin/settings/matrix", data=matrix_data(low_low="P1"))
    assert response.status_code == 302
    session.expire_all()
    assert priority_for(session, Level.LOW, Level.LOW) == Priority.P1
    page = text(client.get("/admin/settings/matrix"))
    assert 'name="low_low"' in page


def test_matrix_with_a_missing_or_bad_cell_changes_nothing(client, manager, session):
    data = matrix_data(low_low="P1")
    del data["high_medium"]
    response = client.post("/admin/settings/matrix", data=data)
    assert response.status_code == 400
    assert 'id="high_medium-error"' in text(response)
    response = client.post("/admin/settings/matrix", data=matrix_data(low_low="P1", high_high="P0"))
    assert response.status_code == 400
    session.expire_all()
    assert config.priority_matrix(session) == DEFAULT_MATRIX


# --- SLA policies -------------------------------------------------------------------------


def test_sla_policy_is_edited(client, manager, session):
    page = text(client.get("/admin/settings/sla"))
    assert "Edit P1" in page and "Edit P4" in page
    assert 'value="60"' in text(client.get("/admin/settings/sla/P1"))
    response = client.post("/admin/settings/sla/P1", data={**SLA_FORM, "business_hours_only": "y"})
    assert response.status_code == 302
    session.expire_all()
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == Priority.P1))
    assert policy.acknowledge_minutes == 15 and policy.business_hours_only
    assert policy.escalation_contacts == ["oncall@example.com", "cto@example.com"]
    assert "oncall@example.com, cto@example.com" in text(client.get("/admin/settings/sla"))


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"escalation_contacts": "oncall@example.com\nnot an address"},
            "escalation_contacts",
            "is not an email",
        ),
        ({"escalation_contacts": "ops@@example"}, "escalation_contacts", "is not an email"),
        ({"acknowledge_minutes": "0"}, "acknowledge_minutes", "between 1 and"),
        ({"mitigate_minutes": "-10"}, "mitigate_minutes", "between 1 and"),
        ({"resolve_minutes": "99999999999999999999"}, "resolve_minutes", "between 1 and"),
        ({"update_cadence_minutes": "soon"}, "update_cadence_minutes", "Not a valid integer"),
        ({"resolve_minutes": ""}, "resolve_minutes", ""),
        ({"resolve_minutes": "30"}, "resolve_minutes", "before mitigation"),
        ({"name": ""}, "name", ""),
    ],
)
def test_bad_sla_input_is_refused_next_to_its_field(
    client, manager, session, changes, field, message
):
    response = client.post("/admin/settings/sla/P2", data={**SLA_FORM, **changes})
    assert response.status_code == 400
    page = text(response)
    assert f'id="{field}-error"' in page
    assert message in page
    session.expire_all()
    policy = session.scalar(sa.select(SlaPolicy).where(SlaPolicy.priority == Priority.P2))
    assert (policy.acknowledge_minutes, policy.escalation_contacts) == (240, [])


def test_unknown_priority_is_404(client, manager):
    assert client.get("/admin/settings/sla/P9").status_code == 404
    assert client.post("/admin/settings/sla/P9", data=SLA_FORM).status_code == 404


# --- incident templates -------------------------------------------------------------------


def template_form(**changes):
    data = {
        "name": "DNS outage",
        "title": "DNS resolution failing",
        "description": "Check the *resolvers*.",
        "impact": "high",
        "urgency": "high",
        "task_checklist": "Page the network on-call\n\nCheck resolver health\n",
        "message_investigating": "We are investigating DNS errors.",
        "message_resolved": "DNS works again.",
    }
    data.update(changes)
    return data


def test_template_is_created_and_used_to_log_an_incident(client, manager, category, session):
    network = category("Network")
    dns = category("DNS", network)
    response = client.post(
        "/admin/settings/templates/new",
        data=template_form(category=str(network.id), subcategory=str(dns.id)),
    )
    assert response.status_code == 302, text(response)[:500]
    template = session.scalar(sa.select(IncidentTemplate))
    assert template.task_checklist == ["Page the network on-call", "Check resolver health"]
    assert template.message_templates == {
        "investigating": "We are investigating DNS errors.",
        "resolved": "DNS works again.",
    }
    listing = text(client.get("/admin/settings/templates"))
    link = f"/admin/incidents/new?template={template.id}"
    assert link in listing and "New incident from this template" in listing
    assert "DNS resolution failing" in text(client.get(link))  # pre-filled
    response = client.post(
        "/admin/incidents/new",
        data={"title": "DNS resolution failing", "source": "staff", "template": str(template.id)},
    )
    assert response.status_code == 302
    incident = session.scalar(sa.select(Incident))
    assert incident.priority == Priority.P1 and incident.subcategory_id == dns.id
    tasks = session.scalars(sa.select(Task.title).where(Task.incident_id == incident.id)).all()
    assert sorted(tasks) == ["Check resolver health", "Page the network on-call"]


def test_template_is_edited_and_deleted(client, manager, session, now):
    template = config.create_template(
        session, config.TemplateFields(name="Old name"), actor_id=None, now=now
    )
    session.commit()
    template_id = template.id
    page = text(client.get(f"/admin/settings/templates/{template_id}"))
    assert 'value="Old name"' in page
    response = client.post(
        f"/admin/settings/templates/{template_id}", data=template_form(name="New name")
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(IncidentTemplate, template_id).name == "New name"
    response = client.post(f"/admin/settings/templates/{template_id}/delete")
    assert response.status_code == 302
    assert count(session, IncidentTemplate) == 0
    assert client.get(f"/admin/settings/templates/{template_id}").status_code == 404
    assert client.post(f"/admin/settings/templates/{template_id}/delete").status_code == 404


def test_template_subcategory_of_another_category_is_refused(client, manager, category, session):
    network = category("Network")
    storage = category("Storage")
    disks = category("Disks", storage)
    response = client.post(
        "/admin/settings/templates/new",
        data=template_form(category=str(network.id), subcategory=str(disks.id)),
    )
    assert response.status_code == 400
    page = text(response)
    assert 'id="subcategory-error"' in page and "belongs to another category" in page
    assert count(session, IncidentTemplate) == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": ""}, "name"),
        ({"urgency": ""}, "urgency"),
        ({"impact": "extreme"}, "impact"),
        ({"category": "9999"}, "category"),
        ({"category": "abc"}, "category"),
        ({"title": "t" * 300}, "title"),
        ({"task_checklist": "x" * 300}, "task_checklist"),
        ({"message_monitoring": "m" * 10_001}, "message_monitoring"),
    ],
)
def test_bad_template_input_never_half_saves(client, manager, session, now, changes, field):
    existing = config.create_template(
        session, config.TemplateFields(name="Keep me", title="Original"), actor_id=None, now=now
    )
    session.commit()
    for url in ("/admin/settings/templates/new", f"/admin/settings/templates/{existing.id}"):
        response = client.post(url, data=template_form(**changes))
        assert response.status_code == 400, (url, changes)
        assert f'id="{field}-error"' in text(response)
    session.expire_all()
    assert count(session, IncidentTemplate) == 1
    assert session.get(IncidentTemplate, existing.id).title == "Original"


def test_template_names_stay_unique_through_the_form(client, manager, session, now):
    config.create_template(
        session, config.TemplateFields(name="DNS outage"), actor_id=None, now=now
    )
    session.commit()
    response = client.post("/admin/settings/templates/new", data=template_form(name="dns OUTAGE"))
    assert response.status_code == 400 and "already a template named" in text(response)


# --- CSRF ---------------------------------------------------------------------------------


def _csrf_cases(session, now):
    network = config.create_category(session, "Network", actor_id=None, now=now)
    doomed = config.create_category(session, "Doomed", actor_id=None, now=now)
    template = config.create_template(
        session, config.TemplateFields(name="Existing"), actor_id=None, now=now
    )
    session.commit()
    return [
        ("/admin/settings/categories", "/admin/settings/categories", {"new-name": "Storage"}),
        (
            f"/admin/settings/categories/{network.id}",
            f"/admin/settings/categories/{network.id}/rename",
            {"rename-name": "Networking"},
        ),
        (
            f"/admin/settings/categories/{doomed.id}",
            f"/admin/settings/categories/{doomed.id}/delete",
            {},
        ),
        ("/admin/settings/matrix", "/admin/settings/matrix", matrix_data(low_low="P3")),
        ("/admin/settings/sla/P3", "/admin/settings/sla/P3", SLA_FORM),
        ("/admin/settings/templates/new", "/admin/settings/templates/new", template_form()),
        (
            f"/admin/settings/templates/{template.id}",
            f"/admin/settings/templates/{template.id}",
            template_form(name="Existing", title="Changed"),
        ),
        (
            "/admin/settings/templates",
            f"/admin/settings/templates/{template.id}/delete",
            {},
        ),
    ]


def test_every_settings_form_needs_its_csrf_token(csrf_client, make_user, session, now):
    login_with_csrf(csrf_client, make_user("manager"))
    for page, url, data in _csrf_cases(session, now):
        before = session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
        refused = csrf_client.post(url, data=data)
        assert refused.status_code == 400, url
        session.expire_all()
        assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before, url
        token = csrf_token_from(text(csrf_client.get(page)))
        accepted = csrf_client.post(url, data={**data, "csrf_token": token})
        assert accepted.status_code == 302, (url, text(accepted)[:500])
    session.expire_all()
    assert session.scalar(sa.select(Category.name).where(Category.name == "Networking"))
    assert priority_for(session, Level.LOW, Level.LOW) == Priority.P3
