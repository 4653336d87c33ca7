"""The flask commands, through `app.test_cli_runner()`."""

import sqlalchemy as sa

from statuspage.auth.models import Role, User
from statuspage.auth.passwords import verify_password
from statuspage.components.models import Component, ComponentGroup, ComponentStatus
from statuspage.incidents.models import Incident, Maintenance, MaintenanceStatus, PublicStatus


def test_seed_demo_builds_a_realistic_page(runner, session, client):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "Demo data ready." in result.output

    assert session.scalar(sa.select(sa.func.count(ComponentGroup.id))) == 3
    assert session.scalar(sa.select(sa.func.count(Component.id))) == 12
    incidents = session.scalars(sa.select(Incident)).all()
    assert len(incidents) >= 6
    assert len({i.public_impact for i in incidents}) >= 3  # different impacts
    durations = {
        i.public_resolved_at - i.impact_started_at for i in incidents if i.public_resolved_at
    }
    assert len(durations) >= 5  # different lengths
    active = [i for i in incidents if i.public_status != PublicStatus.RESOLVED]
    assert len(active) == 1 and len(active[0].public_updates) == 3
    statuses = {m.status for m in session.scalars(sa.select(Maintenance))}
    assert statuses == {MaintenanceStatus.COMPLETED, MaintenanceStatus.SCHEDULED}
    oldest = min(i.impact_started_at for i in incidents)
    newest = max(i.impact_started_at for i in incidents)
    assert (newest - oldest).days >= 60  # spread over the 90 days
    assert any(
        c.status != ComponentStatus.OPERATIONAL for c in session.scalars(sa.select(Component))
    )
    # No account is ever created by seeding.
    assert session.scalar(sa.select(sa.func.count(User.id))) == 0

    page = client.get("/").get_data(as_text=True)
    assert "Elevated API error rates" in page
    assert "Search cluster upgrade" in page


def test_seed_demo_refuses_a_database_with_data_unless_if_empty(runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code != 0
    assert "already has components" in again.output
    tolerant = runner.invoke(args=["seed-demo", "--if-empty"])
    assert tolerant.exit_code == 0
    assert "leaving it as it is" in tolerant.output


def test_users_create_prompts_for_the_password(runner, session):
    password = "correct horse battery staple"
    result = runner.invoke(
        args=["users", "create", "--email", "Ada@Example.com", "--role", "admin"],
        input=f"{password}\n{password}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Password" in result.output  # it asked
    user = session.scalar(sa.select(User))
    assert user.email == "ada@example.com"
    assert user.role == Role.ADMIN
    assert user.password_hash.startswith("$argon2id$")
    assert verify_password(user.password_hash, password)
    assert not verify_password(user.password_hash, "wrong password!!")


def test_users_create_refuses_short_passwords_and_duplicates(runner, session):
    short = runner.invoke(
        args=["users", "create", "--email", "a@example.com"], input="short\nshort\n"
    )
    assert short.exit_code != 0 and "at least 12" in short.output
    good = "a long enough password"
    args = ["users", "create", "--email", "a@example.com", "--role", "viewer"]
    assert runner.invoke(args=args, input=f"{good}\n{good}\n").exit_code == 0
    duplicate = runner.invoke(args=args, input=f"{good}\n{good}\n")
    assert duplicate.exit_code != 0 and "exists already" in duplicate.output
    assert session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_users_create_refuses_an_unknown_role(runner, session):
    result = runner.invoke(args=["users", "create", "--email", "a@example.com", "--role", "root"])
    assert result.exit_code != 0
    assert session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_components_are_set_up_from_the_command_line(runner, session, client):
    """Scripted set-up: groups, components, a move, a hidden one, an archive."""
    assert runner.invoke(args=["components", "add-group", "Web"]).exit_code == 0
    result = runner.invoke(
        args=["components", "add", "Shop", "--group", "Web", "--description", "Buy things"]
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["components", "add", "Login", "--group", "Web"]).exit_code == 0
    result = runner.invoke(args=["components", "add", "Intranet", "--hidden"])
    assert result.exit_code == 0
    listing = runner.invoke(args=["components", "list"]).output
    assert listing.index("[group") < listing.index("Shop") < listing.index("Login")
    login_id = int(listing.split("Login")[0].split()[-1])
    assert runner.invoke(args=["components", "move", str(login_id), "up"]).output.strip() == (
        "Moved."
    )
    names = [c["name"] for c in client.get("/api/v2/components.json").get_json()["components"]]
    assert names.index("Login") < names.index("Shop") and "Intranet" not in names

    refused = runner.invoke(args=["components", "add", "Ghost", "--group", "Nope"])
    assert refused.exit_code != 0 and "No group named 'Nope'" in refused.output
    refused = runner.invoke(args=["components", "edit", str(login_id), "--name", " "])
    assert refused.exit_code != 0 and "needs a name" in refused.output
    refused = runner.invoke(args=["components", "remove", "2147483648"])
    assert refused.exit_code == 2
    result = runner.invoke(args=["components", "remove", str(login_id)])
    assert result.output.strip() == f"Component {login_id} deleted."
