"""Forms for the settings pages (categories, priority matrix, SLA policies, templates).

Shape only: the domain (`statuspage.incidents.config`) checks meaning, and its errors are put
back onto these fields by `show_domain_error`.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length

from statuspage.admin.forms import VersionedForm, enum_choices, lazy_term, optional_int, options
from statuspage.core.errors import DomainError
from statuspage.i18n import refusal_text
from statuspage.incidents.config import (
    CATEGORY_NAME_MAX,
    DESCRIPTION_MAX,
    MESSAGE_MAX,
    MESSAGE_STATUSES,
    SLA_NAME_MAX,
    TEMPLATE_NAME_MAX,
    TITLE_MAX,
    cell_field,
)
from statuspage.incidents.models import Level, Priority

LEVEL_CHOICES: list[tuple[str, Any]] = enum_choices(Level)


def show_domain_error(form: FlaskForm, error: DomainError, fallback: str | None = None) -> None:
    """Put a domain refusal next to the field it names (or `fallback`, or the whole form)."""
    name = error.field if error.field and hasattr(form, error.field) else fallback
    if name is None:
        form.form_errors.append(refusal_text(error))
        return
    field = getattr(form, name)
    field.errors = list(field.errors) + [refusal_text(error)]


def split_lines(text: str | None) -> list[str]:
    """Non-empty lines, stripped."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def split_addresses(text: str | None) -> list[str]:
    """Addresses separated by new lines, commas, semicolons or spaces."""
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=CATEGORY_NAME_MAX)])
    parent = SelectField(_l("Parent"), coerce=optional_int)


class RenameCategoryForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=CATEGORY_NAME_MAX)])


class DeleteCategoryForm(FlaskForm):
    reassign_to = SelectField(_l("Move what uses it to"), coerce=optional_int)


class MatrixForm(FlaskForm):
    """One select per cell, named impact_urgency (e.g. high_medium); fields added below."""


for _impact in Level:
    for _urgency in Level:
        setattr(
            MatrixForm,
            cell_field(_impact, _urgency),
            SelectField(
                _l(
                    "Impact %(impact)s, urgency %(urgency)s",
                    impact=lazy_term(_impact),
                    urgency=lazy_term(_urgency),
                ),
                choices=options((p.value, p.value) for p in Priority),
                validators=[InputRequired()],
            ),
        )


class SlaPolicyForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=SLA_NAME_MAX)])
    acknowledge_minutes = IntegerField(
        _l("Acknowledge within (minutes)"), validators=[InputRequired()]
    )
    mitigate_minutes = IntegerField(_l("Mitigate within (minutes)"), validators=[InputRequired()])
    resolve_minutes = IntegerField(_l("Resolve within (minutes)"), validators=[InputRequired()])
    update_cadence_minutes = IntegerField(
        _l("Public update at least every (minutes)"), validators=[InputRequired()]
    )
    business_hours_only = BooleanField(_l("Count business hours only"))
    escalation_contacts = TextAreaField(_l("Escalation contacts"), validators=[Length(max=10_000)])


class TemplateForm(VersionedForm):
    name = StringField(
        _l("Template name"), validators=[DataRequired(), Length(max=TEMPLATE_NAME_MAX)]
    )
    title = StringField(_l("Incident title"), validators=[Length(max=TITLE_MAX)])
    description = TextAreaField(
        _l("Description (internal, Markdown)"), validators=[Length(max=DESCRIPTION_MAX)]
    )
    category = SelectField(_l("Category"), coerce=optional_int)
    subcategory = SelectField(_l("Subcategory"), coerce=optional_int)
    impact = SelectField(_l("Impact"), choices=options([("", "—")] + LEVEL_CHOICES))
    urgency = SelectField(_l("Urgency"), choices=options([("", "—")] + LEVEL_CHOICES))
    task_checklist = TextAreaField(
        _l("Response tasks, one per line"), validators=[Length(max=20_000)]
    )
    message_investigating = TextAreaField(
        _l("Public message: investigating"), validators=[Length(max=MESSAGE_MAX)]
    )
    message_identified = TextAreaField(
        _l("Public message: identified"), validators=[Length(max=MESSAGE_MAX)]
    )
    message_monitoring = TextAreaField(
        _l("Public message: monitoring"), validators=[Length(max=MESSAGE_MAX)]
    )
    message_resolved = TextAreaField(
        _l("Public message: resolved"), validators=[Length(max=MESSAGE_MAX)]
    )

    def messages(self) -> dict[str, str]:
        return {
            status: getattr(self, f"message_{status}").data or "" for status in MESSAGE_STATUSES
        }
