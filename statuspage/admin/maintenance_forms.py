"""Forms for scheduled maintenance. Shape only; the domain checks the window, the components and
the moves."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from statuspage.admin.forms import ZonedDateTimeField
from statuspage.incidents.maintenance import BODY_MAX, REMINDER_MAX_MINUTES, TITLE_MAX

TIME_FORMAT = "%Y-%m-%dT%H:%M"
DEFAULT_REMINDER_MINUTES = 60


def _time_field(label: str) -> ZonedDateTimeField:
    return ZonedDateTimeField(
        label,
        validators=[InputRequired(message=_l("Give a date and time ({zone})."))],
        format=TIME_FORMAT,
    )


class _Versioned(FlaskForm):
    # The maintenance's `updated_at` when the form was loaded: a save based on an older copy
    # is refused instead of silently undoing someone else's edit.
    loaded = HiddenField()


class MaintenanceForm(_Versioned):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=TITLE_MAX)])
    body = TextAreaField(_l("Message to customers (Markdown)"), validators=[Length(max=BODY_MAX)])
    scheduled_for = _time_field(_l("Starts at ({zone})"))
    scheduled_until = _time_field(_l("Ends at ({zone})"))
    components = SelectMultipleField(
        _l("Affected components"),
        coerce=int,
        validate_choice=True,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    auto_start = BooleanField(
        _l("Start automatically at the start time (components go under maintenance)")
    )
    auto_complete = BooleanField(
        _l("Complete automatically at the end time (components go back to operational)")
    )
    reminder_minutes_before = IntegerField(
        _l("Remind subscribers this many minutes before the start"),
        validators=[Optional(), NumberRange(min=1, max=REMINDER_MAX_MINUTES)],
        default=DEFAULT_REMINDER_MINUTES,
    )
    silent = BooleanField(_l("Do not email subscribers that this is scheduled"))


class RunningMaintenanceForm(_Versioned):
    """Once it has started, only the end of the window and the message can change."""

    body = TextAreaField(_l("Message to customers (Markdown)"), validators=[Length(max=BODY_MAX)])
    scheduled_until = _time_field(_l("Ends at ({zone})"))
    auto_complete = BooleanField(
        _l("Complete automatically at the end time (components go back to operational)")
    )


class MaintenanceMoveForm(FlaskForm):
    body = TextAreaField(_l("Message (optional, Markdown)"), validators=[Length(max=BODY_MAX)])
    silent = BooleanField(_l("Do not email subscribers"))


class MaintenanceUpdateForm(FlaskForm):
    body = TextAreaField(_l("Update (Markdown)"), validators=[DataRequired(), Length(max=BODY_MAX)])
