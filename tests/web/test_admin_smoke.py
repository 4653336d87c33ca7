def test_log_and_work_an_incident(client, session, make_user, login, make_component):
    admin = make_user("admin")
    api = make_component("API")
    session.commit()
    login(admin)
    r = client.post(
        "/admin/incidents/new",
        data={"title": "API down", "source": "staff", "components": [api.id]},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    page = client.get(r.headers["Location"])
    assert page.status_code == 200, page.get_data(as_text=True)
    assert "API down" in page.get_data(as_text=True)
