"""`flask tokens create` prints a working secret once and keeps only its hash."""

import sqlalchemy as sa

from statuspage.auth.models import ApiToken


def test_tokens_create_prints_a_working_secret(runner, session, make_user, client):
    user = make_user("communicator", email="ops@example.com")
    result = runner.invoke(
        args=["tokens", "create", "--email", "OPS@example.com", "--name", "Grafana"]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip().splitlines()[-1]
    assert secret.startswith("sp_")
    token = session.scalars(sa.select(ApiToken)).one()
    assert token.user_id == user.id and token.name == "Grafana"
    assert secret not in token.token_hash
    response = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200


def test_tokens_create_refuses_unknown_accounts_and_empty_names(runner, session, make_user):
    make_user("viewer", email="v@example.com")
    unknown = runner.invoke(args=["tokens", "create", "--email", "x@example.com", "--name", "a"])
    assert unknown.exit_code != 0 and "no account" in unknown.output
    empty = runner.invoke(args=["tokens", "create", "--email", "v@example.com", "--name", " "])
    assert empty.exit_code != 0 and "Name the token" in empty.output
    assert session.scalars(sa.select(ApiToken)).all() == []
