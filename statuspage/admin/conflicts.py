"""The 409 page of an edit conflict: someone saved the record after the form was loaded.

Nothing was saved. The page lists what changed since (the domain's `ConflictError`) and, for
each field that differs, the person's own text beside the saved one, so no one's words are
lost: they compare, copy, open the current version and make their change again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import render_template
from flask_wtf import FlaskForm

from statuspage.core.errors import ConflictError


def render_conflict(
    *,
    heading: str,
    conflict: ConflictError,
    form: FlaskForm,
    saved: object | None,
    names: Iterable[str],
    back_url: str,
    saved_text: Callable[[str, Any], str] | None = None,
) -> tuple[str, int]:
    """`names` are the form's text fields to compare with `saved`'s attributes of the same
    name; `saved_text(name, value)` turns a saved value into the form's text (default str)."""
    fields = []
    for name in names:
        value = getattr(saved, name, "") if saved is not None else ""
        theirs = saved_text(name, value) if saved_text else ("" if value is None else str(value))
        field = form[name]
        fields.append({"label": field.label.text, "yours": str(field.data or ""), "theirs": theirs})
    return render_template(
        "admin/conflict.html",
        heading=heading,
        conflict=conflict,
        fields=fields,
        back_url=back_url,
    ), 409
