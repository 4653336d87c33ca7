"""Single sign-on's rules without a provider: the group -> role setting, which claims make an
identity, which role a set of groups gives, and the settings that stop start-up."""

from __future__ import annotations

import pytest

from statuspage import create_app
from statuspage.auth.models import Role
from statuspage.auth.sso import (
    GroupRolesError,
    SignInRefused,
    identity_from_claims,
    parse_group_roles,
    role_for_groups,
)
from statuspage.config import ConfigError

CLAIMS = {
    "sub": "u-1",
    "email": " Ana@Example.COM ",
    "email_verified": True,
    "name": "Ana\nLytic",
    "groups": ["comms", "x"],
}


def test_group_roles_keep_their_order_and_take_any_case_of_role():
    assert parse_group_roles("sre-admins=admin, comms = Communicator,,") == (
        ("sre-admins", Role.ADMIN),
        ("comms", Role.COMMUNICATOR),
    )
    assert parse_group_roles("") == ()
    assert parse_group_roles({"ops": "manager"}) == (("ops", Role.MANAGER),)


@pytest.mark.parametrize("value", ["admins", "=admin", "ops=root", "ops=admin,people"])
def test_group_roles_that_do_not_parse_are_refused(value):
    with pytest.raises(GroupRolesError):
        parse_group_roles(value)


def test_the_first_mapped_group_decides():
    pairs = parse_group_roles("support=viewer,sre=admin")
    assert role_for_groups(pairs, ["sre", "support"]) == Role.VIEWER
    assert role_for_groups(pairs, ["sre"]) == Role.ADMIN
    assert role_for_groups(pairs, ["marketing"]) is None
    assert role_for_groups(pairs, []) is None


def test_an_identity_needs_a_verified_email():
    identity = identity_from_claims(CLAIMS, groups_claim="groups")
    assert identity.email == "ana@example.com"
    assert identity.name == "Ana Lytic"  # one line
    assert identity.groups == ("comms", "x")
    for claims in (
        {**CLAIMS, "email_verified": False},
        {**CLAIMS, "email_verified": "true"},  # a string is not a verification
        {key: value for key, value in CLAIMS.items() if key != "email_verified"},
        {**CLAIMS, "email": ""},
        {key: value for key, value in CLAIMS.items() if key != "email"},
    ):
        with pytest.raises(SignInRefused):
            identity_from_claims(claims, groups_claim="groups")


@pytest.mark.parametrize(
    ("value", "groups"),
    [("solo", ("solo",)), (["a", 3, "", "b"], ("a", "b")), (None, ()), ({"a": 1}, ())],
)
def test_the_groups_claim_may_be_a_list_or_one_name(value, groups):
    claims = {**CLAIMS, "roles": value}
    assert identity_from_claims(claims, groups_claim="roles").groups == groups


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"OIDC_ISSUER": "https://id.example.com"}, "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET"),
        (
            {
                "OIDC_ISSUER": "http://id.example.com",
                "OIDC_CLIENT_ID": "a",
                "OIDC_CLIENT_SECRET": "b",
            },
            "https://",
        ),
        (
            {
                "OIDC_ISSUER": "https://id.example.com",
                "OIDC_CLIENT_ID": "a",
                "OIDC_CLIENT_SECRET": "b",
                "OIDC_SCOPES": "email profile",
            },
            "openid",
        ),
        ({"OIDC_STAFF_ROLES": "ops=root"}, "OIDC_STAFF_ROLES entry"),
    ],
)
def test_settings_that_cannot_work_stop_start_up(settings, message):
    with pytest.raises(ConfigError, match=message):
        create_app({"APP_ENV": "testing", **settings})


def test_the_staff_roles_setting_is_typed_and_shown_as_written():
    app = create_app(
        {
            "APP_ENV": "testing",
            "OIDC_ISSUER": "http://127.0.0.1:8080",
            "OIDC_CLIENT_ID": "statuspage",
            "OIDC_CLIENT_SECRET": "very-secret-client-value",
            "OIDC_STAFF_ROLES": "sre=admin,comms=communicator",
        }
    )
    assert app.config["OIDC_STAFF_ROLES"] == (("sre", "admin"), ("comms", "communicator"))
    output = app.test_cli_runner().invoke(args=["config", "show"]).output
    assert "sre=admin,comms=communicator" in output
    assert "very-secret-client-value" not in output
