"""The admin screens read through the packages' queries: a fixed number of statements however
many users, categories, incidents or updates exist, and choice lists that offer only what may
be chosen (SQLite and PostgreSQL)."""

import re
from datetime import timedelta

import pytest

from statuspage.auth.models import Role, User
from statuspage.auth.users import disable_user
from statuspage.incidents import casework
from statuspage.incidents.models import Category, IncidentRole, PublicStatus, TaskKind
from statuspage.incidents.operations import post_update


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def select_options(page: str, select_id: str) -> dict[str, str]:
    """The options of one <select> on the page, value -> label."""
    found = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no select {select_id!r} on the page"
    return {
        re.search(r'value="([^"]*)"', attributes)[1]: label.strip()
        for attributes, label in re.findall(r"<option([^>]*)>([^<]*)</option>", found[1])
    }


@pytest.fixture
def responder(make_user, login):
    user = make_user("responder", name="Rita Responder")
    login(user)
    return user


def add_staff(session, count, start=0):
    """Accounts that never log in here: no password hashing, which is slow on purpose."""
    users = [
        User(
            email=f"person{n}@example.com",
            name=f"Person {n:03d}",
            password_hash="not-a-hash",
            role=Role.RESPONDER,
        )
        for n in range(start, start + count)
    ]
    session.add_all(users)
    session.flush()
    return users


def add_categories(session, count, start=0):
    for n in range(start, start + count):
        parent = Category(name=f"Area {n}")
        session.add(parent)
        session.flush()
        session.add(Category(name=f"Part {n}", parent_id=parent.id))
    session.flush()


def work_on(session, incident, people, components, now, start=0):
    """Each person does something the page names them for; each round adds an update that
    changes every component."""
    for n, person in enumerate(people, start=start):
        at = now + timedelta(seconds=n)
        casework.add_note(session, incident, f"Note {n}", actor_id=person.id, now=at)
        casework.add_task(
            session,
            incident,
            kind=TaskKind.FOLLOW_UP,
            title=f"Task {n}",
            owner_id=person.id,
            due_at=None,
            actor_id=person.id,
            now=at,
        )
        casework.set_incident_role(
            session, incident, person.id, IncidentRole.OBSERVER, actor_id=person.id, now=at
        )
        status = "partial_outage" if n % 2 else "major_outage"
        post_update(
            session,
            incident,
            status=PublicStatus.IDENTIFIED,
            body=f"Update {n}",
            component_statuses={c.id: status for c in components},
            actor_id=person.id,
            now=at,
        )
    session.commit()


def test_the_incident_page_runs_a_fixed_number_of_statements(
    client, session, responder, make_component, make_incident, count_queries, now
):
    components = [make_component(f"Component {n}") for n in range(3)]
    incident = make_incident(
        "Checkout fails", components={c.id: "major_outage" for c in components}
    )
    make_incident("Another one", components={components[0].id: "degraded_performance"})
    add_categories(session, 2)
    work_on(session, incident, add_staff(session, 2), components, now)
    path = f"/admin/incidents/{incident.id}"

    few = count_queries(lambda: client.get(path))

    add_categories(session, 25, start=2)
    for n in range(15):
        make_incident(f"Other {n}", components={components[n % 3].id: "degraded_performance"})
    work_on(session, incident, add_staff(session, 20, start=2), components, now, start=2)
    add_staff(session, 40, start=22)  # people the page does not name
    session.commit()

    many = count_queries(lambda: client.get(path))
    assert many == few
    # Each part of the page is read once, not once per row (31 today: the stakeholder checklist
    # and the updates' audiences added theirs).
    assert few <= 32
    page = text(client.get(path))
    assert "Update 21" in page and "Task 21" in page and "person21@example.com" in page


def test_choice_lists_offer_active_accounts_while_history_keeps_everyone_named(
    client, session, responder, make_user, make_component, make_incident, now
):
    api = make_component("API")
    incident = make_incident("API errors", components={api.id: "major_outage"})
    admin = make_user("admin")
    dora, sam = add_staff(session, 2)
    casework.add_note(session, incident, "Looked at the logs.", actor_id=dora.id, now=now)
    casework.assign_incident(session, incident, dora.id, actor_id=dora.id, now=now)
    session.commit()
    disable_user(session, dora.id, actor_id=admin.id, now=now)
    session.commit()

    page = client.get(f"/admin/incidents/{incident.id}").get_data(as_text=True)
    for select_id in ("assign-assignee", "role-user", "task-owner"):
        offered = select_options(page, select_id)
        assert str(sam.id) in offered and str(responder.id) in offered
        assert str(dora.id) not in offered, select_id  # a disabled account gets no work
    # The former colleague is still named for what she did, and as the assignee.
    assert "person0@example.com" in page
    assert "Assignee: Person 000" in text(client.get(f"/admin/incidents/{incident.id}"))
    # Active people by name, then address (no name sorts first).
    assert list(select_options(page, "assign-assignee").values()) == [
        "Nobody",
        admin.email,
        "Person 001 (person1@example.com)",
        "Rita Responder (responder1@example.com)",
    ]

    # Refused if the form is posted with her anyway: not a choice.
    refused = client.post(
        f"/admin/incidents/{incident.id}/tasks",
        data={"task-kind": "follow_up", "task-title": "Hand over", "task-owner": dora.id},
    )
    assert refused.status_code == 400


def test_the_incident_list_offers_active_assignees_and_still_finds_a_disabled_ones_work(
    client, session, responder, make_user, make_incident, now
):
    admin = make_user("admin")
    dora, sam = add_staff(session, 2)
    hers = make_incident("Hers")
    his = make_incident("His")
    casework.assign_incident(session, hers, dora.id, actor_id=None, now=now)
    casework.assign_incident(session, his, sam.id, actor_id=None, now=now)
    session.commit()
    disable_user(session, dora.id, actor_id=admin.id, now=now)
    session.commit()

    listing = client.get("/admin/incidents").get_data(as_text=True)
    offered = select_options(listing, "filter-assignee")
    assert str(sam.id) in offered and str(dora.id) not in offered
    assert "Person 000" in text(client.get("/admin/incidents"))  # her row still names her

    filtered = client.get(f"/admin/incidents?assignee={dora.id}")
    assert filtered.status_code == 200
    page = filtered.get_data(as_text=True)
    assert f'href="/admin/incidents/{hers.id}"' in page
    assert f'href="/admin/incidents/{his.id}"' not in page
    assert select_options(page, "filter-assignee")[str(dora.id)] == "Person 000"
    assert client.get("/admin/incidents?assignee=424242").status_code == 400


def test_one_category_list_serves_every_category_select(client, session, make_user, login):
    login(make_user("manager"))
    add_categories(session, 2)
    session.commit()
    expected_nested = ["—", "Area 0", "Area 0 › Part 0", "Area 1", "Area 1 › Part 1"]
    problem_form = client.get("/admin/problems/new").get_data(as_text=True)
    assert list(select_options(problem_form, "category").values()) == expected_nested
    template_form = client.get("/admin/settings/templates/new").get_data(as_text=True)
    assert list(select_options(template_form, "category").values()) == ["—", "Area 0", "Area 1"]
    assert list(select_options(template_form, "subcategory").values()) == [
        "—",
        "Area 0 › Part 0",
        "Area 1 › Part 1",
    ]
