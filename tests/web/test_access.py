"""Who may call what: every route in `app.url_map`, as an anonymous visitor and as each role.

The expected table below must name every admin endpoint: a new route without an entry fails
`test_the_table_covers_every_admin_route`, so nobody adds an unguarded action by accident.
"""

import pytest

from statuspage.auth.models import Role
from statuspage.auth.permissions import ROLE_PERMISSIONS, Permission

V, W, P, C, U = (
    Permission.VIEW,
    Permission.WORK_INCIDENTS,
    Permission.PUBLISH,
    Permission.CONFIGURE,
    Permission.MANAGE_USERS,
)
D = Permission.DRAFT_UPDATES

# endpoint -> {method: permission needed}
EXPECTED = {
    "admin.incidents": {"GET": V},
    "admin.incident": {"GET": V},
    "admin.incident_audit": {"GET": V},
    "admin.evidence_file": {"GET": V},
    "admin.dashboard": {"GET": V},
    "admin.dashboard_csv": {"GET": V},
    "admin.problems": {"GET": V},
    "admin.problem": {"GET": V},
    "admin.new_incident": {"GET": W, "POST": W},
    "admin.edit_incident": {"POST": W},
    "admin.categorize": {"POST": W},
    "admin.override_priority": {"POST": W},
    "admin.transition": {"POST": W},
    "admin.acknowledge": {"POST": W},
    "admin.assign": {"POST": W},
    "admin.add_role": {"POST": W},
    "admin.remove_role": {"POST": W},
    "admin.add_task": {"POST": W},
    "admin.set_task_status": {"POST": W},
    "admin.add_note": {"POST": W},
    "admin.add_evidence_link": {"POST": W},
    "admin.add_evidence_log": {"POST": W},
    "admin.add_evidence_file": {"POST": W},
    "admin.add_link": {"POST": W},
    "admin.link_problem": {"POST": W},
    "admin.new_problem": {"GET": W, "POST": W},
    "admin.closure_report": {"GET": V, "POST": P},
    "admin.subscribers": {"GET": P},
    "admin.reset_user_two_factor": {"POST": U},
    "admin.deliveries": {"GET": V},
    "admin.delivery": {"GET": V},
    "admin.publish_review": {"POST": P},
    "admin.add_review_action_item": {"POST": W},
    "admin.edit_review_action_item": {"GET": V, "POST": W},
    "admin.review_action_item_status": {"POST": W},
    "admin.remove_review_action_item": {"POST": W},
    "admin.maintenance_list": {"GET": V},
    "admin.maintenance_detail": {"GET": V},
    "admin.new_maintenance": {"GET": P, "POST": P},
    "admin.edit_maintenance": {"GET": P, "POST": P},
    "admin.move_maintenance": {"POST": P},
    "admin.post_maintenance_update": {"POST": P},
    "admin.new_update": {"GET": V, "POST": V},
    "admin.save_update_draft": {"POST": D},
    "admin.publish_update": {"POST": P},
    "admin.edit_update": {"GET": V, "POST": V},
    "admin.save_draft_changes": {"POST": D},
    "admin.publish_draft": {"POST": P},
    "admin.edit_published_update": {"POST": P},
    "admin.discard_draft": {"POST": P},
    "admin.set_next_update": {"POST": P},
    "admin.subscribers_csv": {"GET": P},
    "admin.import_subscribers": {"GET": P, "POST": P},
    "admin.remove_subscriber": {"POST": P},
    "admin.channels": {"GET": P},
    "admin.channel": {"GET": P},
    "admin.disable_channel": {"POST": P},
    "admin.enable_channel": {"POST": P},
    "admin.replay_channel_delivery": {"POST": P},
    "admin.review": {"GET": V, "POST": W},
    "admin.start_review": {"POST": W},
    "admin.move_review": {"POST": W},
    "admin.edit_problem": {"GET": W, "POST": W},
    "admin.components": {"GET": C},
    "admin.audiences": {"GET": C},
    "admin.create_audience": {"POST": C},
    "admin.audience": {"GET": C, "POST": C},
    "admin.delete_audience": {"POST": C},
    "admin.create_feed_token": {"POST": C},
    "admin.revoke_feed_token": {"POST": C},
    "admin.page_settings": {"GET": C},
    "admin.save_page_settings": {"POST": C},
    "admin.upload_page_image": {"POST": C},
    "admin.remove_page_image": {"POST": C},
    "admin.create_component": {"POST": C},
    "admin.create_group": {"POST": C},
    "admin.edit_component": {"GET": C, "POST": C},
    "admin.move_component": {"POST": C},
    "admin.remove_component": {"POST": C},
    "admin.restore_component": {"POST": C},
    "admin.edit_group": {"GET": C, "POST": C},
    "admin.move_group": {"POST": C},
    "admin.delete_group": {"POST": C},
    "admin.settings": {"GET": C},
    "admin.import_page": {"GET": C, "POST": C},
    "admin.categories": {"GET": C},
    "admin.create_category": {"POST": C},
    "admin.category": {"GET": C},
    "admin.rename_category": {"POST": C},
    "admin.delete_category": {"POST": C},
    "admin.priority_matrix": {"GET": C, "POST": C},
    "admin.sla_policies": {"GET": C},
    "admin.edit_sla_policy": {"GET": C, "POST": C},
    "admin.incident_templates": {"GET": C},
    "admin.new_template": {"GET": C, "POST": C},
    "admin.edit_template": {"GET": C, "POST": C},
    "admin.delete_template": {"POST": C},
    "admin.users": {"GET": U},
    "admin.user": {"GET": U},
    "admin.new_user": {"GET": U, "POST": U},
    "admin.change_user_role": {"POST": U},
    "admin.disable_user": {"POST": U},
    "admin.enable_user": {"POST": U},
    "admin.reset_user_password": {"POST": U},
    "admin.stakeholder_lists": {"GET": C},
    "admin.new_stakeholder_list": {"GET": C, "POST": C},
    "admin.edit_stakeholder_list": {"GET": C, "POST": C},
    "admin.delete_stakeholder_list": {"POST": C},
    "admin.new_stakeholder_template": {"POST": C},
    "admin.delete_stakeholder_template": {"POST": C},
    "admin.add_stakeholder_channel": {"POST": C},
    "admin.remove_stakeholder_channel": {"POST": C},
    "admin.incident_stakeholders": {"GET": V, "POST": P},
    "admin.tokens": {"GET": V},
    "admin.create_api_token": {"POST": V},
    "admin.revoke_api_token": {"POST": V},
    "admin.edit_translation": {"GET": V, "POST": P},
    "admin.remove_translation": {"POST": P},
}

ARGUMENTS = {
    "priority": "P1",
    "status": "done",
    "target": "in_review",
    "direction": "up",
    "kind": "logo",
    "what": "update",
    "language": "fr",
}


def admin_calls(app):
    """(endpoint, method, url) for every admin route, with placeholder ids."""
    calls = []
    with app.test_request_context():
        adapter = app.url_map.bind("localhost")
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin."):
                continue
            values = {name: ARGUMENTS.get(name, 1) for name in rule.arguments}
            url = adapter.build(rule.endpoint, values)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                calls.append((rule.endpoint, method, url))
    return calls


def test_the_table_covers_every_admin_route(app):
    routed = {(endpoint, method) for endpoint, method, _ in admin_calls(app)}
    expected = {(endpoint, method) for endpoint, methods in EXPECTED.items() for method in methods}
    assert routed == expected


def test_no_admin_route_answers_an_anonymous_visitor(app, client):
    calls = admin_calls(app)
    assert len(calls) > 40
    for endpoint, method, url in calls:
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, (endpoint, response.status_code)
            assert response.headers["Location"].startswith("/login?next="), endpoint
        else:
            assert response.status_code == 401, (endpoint, response.status_code)


def test_anonymous_post_is_refused_before_anything_else_even_with_csrf_on(
    csrf_client, make_incident
):
    incident = make_incident("Target")
    response = csrf_client.post(f"/admin/incidents/{incident.id}/notes", data={"note-body": "x"})
    assert response.status_code in (400, 401)  # no token, no login: refused either way


@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_what_the_table_allows(
    app, client, make_user, login, make_incident, role
):
    make_incident("Something")
    user = make_user(role.value)
    login(user)
    allowed = ROLE_PERMISSIONS[role]
    for endpoint, method, url in admin_calls(app):
        if (
            endpoint
            in ("admin.disable_user", "admin.change_user_role", "admin.reset_user_password")
            and role == Role.ADMIN
        ):
            # Placeholder id 1 is this admin: acting on oneself is a separate, tested rule.
            continue
        response = client.open(url, method=method)
        needed = EXPECTED[endpoint][method]
        if needed in allowed:
            assert response.status_code != 403, (role, endpoint, method)
            assert response.status_code < 500, (role, endpoint, method, response.status_code)
        else:
            assert response.status_code == 403, (role, endpoint, method, response.status_code)
    # Still logged in at the end: no action logged this user out by accident.
    assert client.get("/admin/incidents").status_code == 200


def test_public_routes_need_no_login(app, client):
    for url in ("/", "/history", "/login"):
        assert client.get(url).status_code == 200
