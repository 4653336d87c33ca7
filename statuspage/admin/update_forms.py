"""Forms for public updates. Shape only; `incidents.publishing` checks meaning.

The component rows are not WTForms fields: their number depends on the incident. Each is a
select named `component-<id>`; `component_statuses` reads them back, and the domain refuses
components outside the incident and unknown statuses with a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectMultipleField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from statuspage.admin.forms import VersionedForm, ZonedDateTimeField, enum_choices, options
from statuspage.core.errors import DomainError
from statuspage.incidents.models import PublicStatus
from statuspage.incidents.publishing import BODY_MAX

COMPONENT_FIELD = re.compile(r"component-(.+)")


class UpdateForm(VersionedForm):
    """A new update (no version) or a draft (the version it was loaded with)."""

    status = RadioField(
        _l("Public status"),
        choices=options(enum_choices(PublicStatus)),
        validators=[InputRequired(message=_l("Choose a public status."))],
    )
    body = TextAreaField(
        _l("Message (Markdown, shown to customers)"), validators=[Length(max=BODY_MAX)]
    )
    notify = BooleanField(_l("Notify subscribers"), default=True)
    next_update_at = ZonedDateTimeField(
        _l("Next update by ({zone}, optional)"), validators=[Optional()]
    )
    # None ticked: a public update. The choices are the audiences, set by the view; the
    # domain refuses an unknown id.
    audiences = SelectMultipleField(
        _l("Addressed to"),
        coerce=int,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class UpdateTextForm(VersionedForm):
    """Editing a published update: the message only."""

    body = TextAreaField(
        _l("Message (Markdown, shown to customers)"), validators=[Length(max=BODY_MAX)]
    )


class NextUpdateForm(FlaskForm):
    next_update_at = ZonedDateTimeField(_l("Next update by ({zone})"), validators=[Optional()])


def component_statuses(form_data: Mapping[str, str]) -> dict[int, str]:
    """The `component-<id>` selects of a posted form, as component id -> status."""
    found: dict[int, str] = {}
    for key, value in form_data.items():
        match = COMPONENT_FIELD.fullmatch(key)
        if match is None:
            continue
        try:
            component_id = int(match.group(1))
        except ValueError:
            raise DomainError(f"{key!r} does not name a component.", field="components") from None
        found[component_id] = value
    return found
