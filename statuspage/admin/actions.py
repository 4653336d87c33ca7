"""Running one domain operation from an admin view: one commit, or a rollback and a refusal.

Every writing view has the same shape: validate the form, call one domain function, commit,
flash, redirect; when the domain refuses (`DomainError`), roll back so nothing is written and
show the refusal where the person will see it. `run_domain` is that shape's middle part:

    outcome = run_domain(lambda: reviews.update_review(...), form=form, fallback="summary")
    if outcome.refused:
        return render_template(...), 400
    flash("Review saved.")
    return redirect(...)

What a refusal becomes:

- `NotFound` naming no field: the page is gone, 404;
- with a form: the message next to the field it names (or the fallback field), else at the top
  of the form (a button's empty form); the view renders the page again with the status it
  chooses (`outcome.error` says what was refused);
- without a form (a bare button whose page has no place for a message): 409 with the message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import abort
from flask_wtf import FlaskForm

from statuspage.core.errors import DomainError, NotFound
from statuspage.extensions import db
from statuspage.i18n import refusal_text

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """What came of a domain operation: its result (committed), or the refusal (rolled back)."""

    value: T | None = None
    error: DomainError | None = None

    @property
    def refused(self) -> bool:
        return self.error is not None


def run_domain(
    operation: Callable[[], T],
    *,
    form: FlaskForm | None = None,
    fallback: str | None = None,
    elsewhere: Collection[str] = (),
) -> Outcome[T]:
    """Run `operation` in the request's transaction and commit it, or roll back on a refusal.

    `elsewhere` names error fields the view shows outside the form itself (the update form's
    component rows): those refusals are left to the view, through `outcome.error`.
    """
    try:
        value = operation()
    except DomainError as error:
        db.session.rollback()
        if isinstance(error, NotFound) and error.field is None:
            abort(404, description=refusal_text(error))
        if form is None:
            abort(409, description=refusal_text(error))
        if error.field is None or error.field not in elsewhere:
            show_refusal(form, error, fallback)
        return Outcome(error=error)
    db.session.commit()
    return Outcome(value=value)


def show_refusal(form: FlaskForm, error: DomainError, fallback: str | None = None) -> None:
    """Show a domain refusal next to its field, or the form's fallback field; a form with
    neither (a bare button) gets it as a form-level error."""
    name = error.field if error.field and error.field in form else fallback
    field = form[name] if name and name in form else None
    if field is None:
        form.form_errors.append(refusal_text(error))
        return
    field.errors = list(field.errors) + [refusal_text(error)]
