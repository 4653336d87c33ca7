"""`admin.actions.run_domain`: one commit, or a rollback and the refusal where it belongs.

Each case runs in a request of its own (its own app context and session, as a view does); the
`session` fixture, on a second app, sees only what was committed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask_wtf import FlaskForm
from werkzeug.exceptions import Conflict
from werkzeug.exceptions import NotFound as NotFoundPage
from wtforms import StringField

from statuspage.admin.actions import run_domain, show_refusal
from statuspage.core.errors import DomainError, InvalidTransition, NotFound
from statuspage.core.models import SiteState
from statuspage.core.records import bump_public_version
from statuspage.extensions import db


class NoteForm(FlaskForm):
    title = StringField()
    body = StringField()


def public_version(session: Any) -> int:
    session.rollback()
    return session.scalar(sa.select(SiteState.public_version).where(SiteState.id == 1))


def bump_then(error: DomainError | None) -> Callable[[], str]:
    """An operation that writes (the public version) and then, maybe, is refused."""

    def operation() -> str:
        bump_public_version(db.session, datetime.now(UTC))
        if error is not None:
            raise error
        return "done"

    return operation


def test_success_commits_and_returns_the_value(app: Any, session: Any) -> None:
    before = public_version(session)
    with app.test_request_context(method="POST"):
        outcome = run_domain(bump_then(None), form=NoteForm())
    assert not outcome.refused and outcome.value == "done" and outcome.error is None
    assert public_version(session) == before + 1


@pytest.mark.parametrize(
    ("error", "fallback", "where"),
    [
        (DomainError("Too long.", field="body"), "title", "body"),
        (DomainError("Bad.", field="not_a_field"), "title", "title"),
        (DomainError("No field.", field=None), "title", "title"),
        (InvalidTransition("Not now."), None, "form"),
        (NotFound("No such component.", field="body"), None, "body"),
    ],
)
def test_a_refusal_rolls_back_and_lands_on_its_field(
    app: Any, session: Any, error: DomainError, fallback: str | None, where: str
) -> None:
    before = public_version(session)
    with app.test_request_context(method="POST"):
        form = NoteForm()
        outcome = run_domain(bump_then(error), form=form, fallback=fallback)
        assert outcome.refused and outcome.error is error and outcome.value is None
        shown = {
            "title": form.title.errors,
            "body": form.body.errors,
            "form": form.form_errors,
        }
        assert shown.pop(where) == [error.message]
        assert all(not errors for errors in shown.values())
    assert public_version(session) == before


def test_fields_shown_elsewhere_are_left_to_the_view(app: Any, session: Any) -> None:
    with app.test_request_context(method="POST"):
        form = NoteForm()
        error = DomainError("Only affected components.", field="components")
        outcome = run_domain(bump_then(error), form=form, elsewhere=("components",))
        assert outcome.error is error
        assert not form.title.errors and not form.body.errors and not form.form_errors


def test_not_found_without_a_field_is_404_and_a_bare_button_gets_409(
    app: Any, session: Any
) -> None:
    before = public_version(session)
    with app.test_request_context(method="POST"), pytest.raises(NotFoundPage):
        run_domain(bump_then(NotFound("No such review.")), form=NoteForm())
    with app.test_request_context(method="POST"):
        with pytest.raises(Conflict) as conflict:
            run_domain(bump_then(InvalidTransition("The review is not approved.")))
        assert conflict.value.description == "The review is not approved."
    assert public_version(session) == before


def test_show_refusal_alone_uses_the_fallback_field(app: Any) -> None:
    with app.test_request_context(method="POST"):
        form = NoteForm()
        show_refusal(form, DomainError("Say something."), "body")
        assert form.body.errors == ["Say something."]
