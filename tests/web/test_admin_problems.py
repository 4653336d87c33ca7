"""Problems and known errors through the test client."""

import pytest
import sqlalchemy as sa

from statuspage.core.models import AuditEntry
from statuspage.incidents.models import Problem, ProblemStatus
from statuspage.incidents.operations import NewIncident, open_incident
from statuspage.incidents.problems import ProblemText, create_problem, link_problem
from tests.conftest import csrf_token_from, login_with_csrf


def text(response):
    return response.get_data(as_text=True)


def count(session):
    session.expire_all()
    return session.scalar(sa.select(sa.func.count()).select_from(Problem))


@pytest.fixture
def make_problem(session, now):
    def make(title="Connection pool exhaustion", **fields):
        problem = create_problem(
            session, ProblemText(title=title, **fields), actor_id=None, now=now
        )
        session.commit()
        return problem

    return make


@pytest.fixture
def responder(make_user, login):
    user = make_user("responder")
    login(user)
    return user


def test_every_role_reads_problems_but_only_workers_edit(client, make_user, login, make_problem):
    problem = make_problem()
    login(make_user("viewer"))
    assert client.get("/admin/problems").status_code == 200
    page = text(client.get(f"/admin/problems/{problem.id}"))
    assert "Connection pool exhaustion" in page and "Edit problem" not in page
    assert 'href="/admin/problems"' in text(client.get("/admin/incidents"))
    assert client.get("/admin/problems/new").status_code == 403
    assert (
        client.post("/admin/problems/new", data={"title": "X", "status": "open"}).status_code == 403
    )
    assert client.get(f"/admin/problems/{problem.id}/edit").status_code == 403
    response = client.post(
        f"/admin/problems/{problem.id}/edit", data={"title": "Changed", "status": "open"}
    )
    assert response.status_code == 403


@pytest.mark.parametrize("role", ["communicator", "viewer"])
def test_roles_without_work_incidents_cannot_create(client, make_user, login, session, role):
    login(make_user(role))
    assert (
        client.post("/admin/problems/new", data={"title": "X", "status": "open"}).status_code == 403
    )
    assert count(session) == 0


def test_problem_is_recorded_and_edited_into_a_known_error(
    client, responder, session, make_component
):
    api = make_component("API")
    session.commit()
    assert client.get("/admin/problems/new").status_code == 200
    response = client.post(
        "/admin/problems/new",
        data={
            "title": "Connection pool exhaustion",
            "description": "Spikes *at* peak.",
            "status": "open",
            "components": [str(api.id)],
        },
    )
    assert response.status_code == 302
    problem = session.scalar(sa.select(Problem))
    assert response.headers["Location"].endswith(f"/admin/problems/{problem.id}")
    page = text(client.get(f"/admin/problems/{problem.id}"))
    assert "<em>at</em>" in page  # Markdown through the one renderer
    edit_page = text(client.get(f"/admin/problems/{problem.id}/edit"))
    assert 'value="Connection pool exhaustion"' in edit_page
    response = client.post(
        f"/admin/problems/{problem.id}/edit",
        data={
            "title": "Connection pool exhaustion",
            "status": "known_error",
            "root_cause": "Pool sized for last year's traffic.",
            "workaround": "Restart the API workers.",
            "components": [str(api.id)],
        },
    )
    assert response.status_code == 302
    session.expire_all()
    problem = session.get(Problem, problem.id)
    assert problem.status == ProblemStatus.KNOWN_ERROR
    assert [c.name for c in problem.components] == ["API"]
    actions = session.scalars(
        sa.select(AuditEntry.action).where(
            AuditEntry.entity_type == "problem", AuditEntry.entity_id == problem.id
        )
    ).all()
    assert actions == ["create", "edit"]


def test_known_error_without_workaround_is_refused_and_nothing_saved(
    client, responder, session, make_problem
):
    response = client.post(
        "/admin/problems/new",
        data={"title": "Half known", "status": "known_error", "root_cause": "Known"},
    )
    assert response.status_code == 400
    page = text(response)
    assert 'id="workaround-error"' in page and "needs its root cause and a workaround" in page
    assert count(session) == 0
    problem = make_problem("Existing")
    response = client.post(
        f"/admin/problems/{problem.id}/edit",
        data={"title": "Renamed", "status": "known_error"},
    )
    assert response.status_code == 400
    session.expire_all()
    assert session.get(Problem, problem.id).title == "Existing"


@pytest.mark.parametrize(
    "data",
    [
        {"title": "", "status": "open"},
        {"title": "x" * 300, "status": "open"},
        {"title": "T", "status": "closed"},
        {"title": "T", "status": "open", "category": "9999"},
        {"title": "T", "status": "open", "category": "abc"},
        {"title": "T", "status": "open", "components": ["9999"]},
        {"title": "T", "status": "open", "components": ["abc"]},
    ],
)
def test_bad_problem_input_is_a_form_error_never_a_500(
    client, responder, session, make_problem, data
):
    problem = make_problem("Existing")
    for url in ("/admin/problems/new", f"/admin/problems/{problem.id}/edit"):
        response = client.post(url, data=data)
        assert response.status_code == 400, (url, data)
    assert count(session) == 1
    assert session.get(Problem, problem.id).title == "Existing"


def test_list_filters_by_status(client, responder, make_problem):
    make_problem("Still open")
    make_problem("Has a workaround", status="known_error", root_cause="C", workaround="W")
    make_problem("All fixed", status="resolved")
    everything = text(client.get("/admin/problems"))
    assert all(t in everything for t in ("Still open", "Has a workaround", "All fixed"))
    known = text(client.get("/admin/problems?status=known_error"))
    assert "Has a workaround" in known
    assert "Still open" not in known and "All fixed" not in known
    assert "All fixed" in text(client.get("/admin/problems?status=resolved"))
    assert client.get("/admin/problems?status=bogus").status_code == 400
    assert client.get("/admin/problems/9999").status_code == 404
    assert client.get("/admin/problems/9999/edit").status_code == 404


def test_detail_lists_linked_incidents(client, responder, session, make_problem, now):
    problem = make_problem()
    first = open_incident(session, NewIncident(title="API slow"), actor_id=None, now=now)
    second = open_incident(session, NewIncident(title="API timeouts"), actor_id=None, now=now)
    open_incident(session, NewIncident(title="Unrelated outage"), actor_id=None, now=now)
    link_problem(session, first, problem.id, actor_id=None, now=now)
    session.commit()
    # Linking from the incident page, as staff do.
    response = client.post(
        f"/admin/incidents/{second.id}/problems", data={"problem-problem_id": str(problem.id)}
    )
    assert response.status_code == 302
    page = text(client.get(f"/admin/problems/{problem.id}"))
    assert f'href="/admin/incidents/{first.id}"' in page
    assert f'href="/admin/incidents/{second.id}"' in page
    assert "Unrelated outage" not in page
    assert "<td>2</td>" in text(client.get("/admin/problems"))  # linked count in the list


def test_problem_forms_need_their_csrf_token(csrf_client, make_user, session, make_problem):
    problem = make_problem("Existing")
    login_with_csrf(csrf_client, make_user("responder"))
    cases = [
        ("/admin/problems/new", {"title": "Brand new", "status": "open"}),
        (f"/admin/problems/{problem.id}/edit", {"title": "Renamed", "status": "open"}),
    ]
    for url, data in cases:
        assert csrf_client.post(url, data=data).status_code == 400, url
        token = csrf_token_from(text(csrf_client.get(url)))
        response = csrf_client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 302, (url, text(response)[:300])
    session.expire_all()
    titles = set(session.scalars(sa.select(Problem.title)))
    assert titles == {"Brand new", "Renamed"}
