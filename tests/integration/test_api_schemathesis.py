"""Property-based tests of the write API against its own OpenAPI document (schemathesis).

Schemathesis reads /api/v1/openapi.json and sends generated requests to every operation with an
admin token. Whatever it sends, the answer must not be a 5xx, its status code and content type
must be documented, and its body must match the documented schema. Bounded for CI: a few
examples per operation, no deadline.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from statuspage.auth.tokens import create_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


@pytest.fixture
def admin_token(session, make_user, make_component, make_incident, now):
    # A component and an incident with id 1, so some generated ids hit real records.
    make_component("API")
    make_incident("Existing", public=False)
    _, secret = create_token(session, make_user("admin"), "schemathesis", actor_id=None, now=now)
    session.commit()
    return secret


# Run each operation's strategy with plain Hypothesis: schemathesis' pytest plugin
# (`schemathesis.pytest.from_fixture`) does not work with this pytest version.
SETTINGS = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def test_api_conforms_to_its_openapi_document(api_schema, admin_token):
    headers = {"Authorization": f"Bearer {admin_token}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) == 11
    seen: dict[str, set[int]] = {}

    for operation in operations:

        @SETTINGS
        @given(case=operation.as_strategy())
        def check(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            seen.setdefault(case.operation.label, set()).add(response.status_code)
            case.validate_response(response, checks=CHECKS)

        check()

    # The token was accepted and generated bodies got through validation to the domain.
    assert all(401 not in codes for codes in seen.values()), seen
    assert seen["POST /incidents"] & {201}, seen
    assert seen["POST /maintenances"] & {201, 422}, seen
