from tests.conftest import csrf_token_from, login_with_csrf


def test_login_without_csrf_token_is_refused(csrf_client, make_user):
    user = make_user("viewer")
    response = csrf_client.post(
        "/login", data={"email": user.email, "password": "a perfectly long password"}
    )
    assert response.status_code == 400
    assert csrf_client.get("/admin/incidents").status_code == 302  # still anonymous


def test_login_with_csrf_token_works(csrf_client, make_user):
    user = make_user("viewer")
    login_with_csrf(csrf_client, user)
    assert csrf_client.get("/admin/incidents").status_code == 200
    page = csrf_client.get("/admin/incidents").get_data(as_text=True)
    assert csrf_token_from(page)  # the logout button carries one
